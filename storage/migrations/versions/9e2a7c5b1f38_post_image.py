"""post.image_path and post.image_alt: a scheduled post may carry an image and its description

Revision ID: 9e2a7c5b1f38
Revises: 7c4e1a9b5d20
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '9e2a7c5b1f38'
down_revision = '7c4e1a9b5d20'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image_path', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('image_alt', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_column('image_alt')
        batch_op.drop_column('image_path')
