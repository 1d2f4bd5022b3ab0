"""receive cursor: a polled platform's offset, stored with the messages it delivered

Revision ID: 3b1c0f7d2a91
Revises: ee6e31fccd1e
Create Date: 2026-12-04 02:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '3b1c0f7d2a91'
down_revision = 'ee6e31fccd1e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('receive_cursor',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('receive_cursor')
