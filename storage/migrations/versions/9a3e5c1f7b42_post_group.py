"""post.group_id: the rows of one post drafted for several platforms (the first row's id)

Revision ID: 9a3e5c1f7b42
Revises: 9e2a7c5b1f38
Create Date: 2026-12-07 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '9a3e5c1f7b42'
down_revision = '9e2a7c5b1f38'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_post_group_id'), ['group_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_group_id'))
        batch_op.drop_column('group_id')
