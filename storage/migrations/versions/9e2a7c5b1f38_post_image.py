"""post.image_alt: the description of a post's images, for people who cannot see them

Revision ID: 9e2a7c5b1f38
Revises: c81f3b5e2d47
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '9e2a7c5b1f38'
down_revision = 'c81f3b5e2d47'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image_alt', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_column('image_alt')
