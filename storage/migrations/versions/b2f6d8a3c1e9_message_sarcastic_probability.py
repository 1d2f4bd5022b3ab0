"""message.sarcastic_probability: the sarcasm head's reading, kept so a reply drafted later (after a restart) still reads the message as it was understood

Revision ID: b2f6d8a3c1e9
Revises: e7a3c9d1b5f8
Create Date: 2026-12-07 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'b2f6d8a3c1e9'
down_revision = 'e7a3c9d1b5f8'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sarcastic_probability', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('sarcastic_probability')
