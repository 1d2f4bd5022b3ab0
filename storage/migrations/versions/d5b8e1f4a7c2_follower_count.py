"""follower_count: an account's followers per day, as its platform reports them (/report, analytics, best time)

Revision ID: d5b8e1f4a7c2
Revises: a4d7e2c9b613
Create Date: 2026-12-07 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = 'd5b8e1f4a7c2'
down_revision = 'a4d7e2c9b613'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'follower_count',
        sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('followers', sa.Integer(), nullable=False),
        sa.Column('fetched_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('platform', 'day'),
    )


def downgrade() -> None:
    op.drop_table('follower_count')
