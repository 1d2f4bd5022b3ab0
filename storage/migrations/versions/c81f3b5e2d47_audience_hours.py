"""audience_hours: followers online per UTC hour, as a platform reports them (the best-time prior)

Revision ID: c81f3b5e2d47
Revises: a4d7e2c9f1b3
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = 'c81f3b5e2d47'
down_revision = 'a4d7e2c9f1b3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audience_hours',
        sa.Column('platform', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('hours', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('fetched_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('platform'),
    )


def downgrade() -> None:
    op.drop_table('audience_hours')
