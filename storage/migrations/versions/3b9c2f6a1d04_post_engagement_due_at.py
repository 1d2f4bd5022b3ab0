"""post.engagement_due_at and an index on (status, scheduled_at): the post table is the schedule

Revision ID: 3b9c2f6a1d04
Revises: 3b1c0f7d2a91
Create Date: 2026-12-04 02:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '3b9c2f6a1d04'
down_revision = '3b1c0f7d2a91'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.add_column(sa.Column('engagement_due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_post_engagement_due_at'), ['engagement_due_at'], unique=False)
        batch_op.create_index('ix_post_status_scheduled_at', ['status', 'scheduled_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_index('ix_post_status_scheduled_at')
        batch_op.drop_index(batch_op.f('ix_post_engagement_due_at'))
        batch_op.drop_column('engagement_due_at')
