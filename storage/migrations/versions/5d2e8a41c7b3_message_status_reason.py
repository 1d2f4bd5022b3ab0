"""message.error is message.status_reason: why a message is in its state (a policy reason, or what failed it)

Revision ID: 5d2e8a41c7b3
Revises: 3b9c2f6a1d04
Create Date: 2026-12-07 00:30:00
"""

from __future__ import annotations

from alembic import op


revision = '5d2e8a41c7b3'
down_revision = '3b9c2f6a1d04'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.alter_column('error', new_column_name='status_reason')


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.alter_column('status_reason', new_column_name='error')
