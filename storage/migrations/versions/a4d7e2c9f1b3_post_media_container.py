"""post.media (the post's images) and post.container_id (a platform's prepared, unpublished post)

Revision ID: a4d7e2c9f1b3
Revises: 7c4e1a9b5d20
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = 'a4d7e2c9f1b3'
down_revision = '7c4e1a9b5d20'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('container_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_column('container_id')
        batch_op.drop_column('media')
