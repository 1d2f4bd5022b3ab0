"""message.escalated_at: a lasting record that a message was handed to the owner, so answering it keeps it counted

Revision ID: e7a3c9d1b5f8
Revises: d5b8e1f4a7c2
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = 'e7a3c9d1b5f8'
down_revision = 'd5b8e1f4a7c2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.drop_index('ix_message_received_at')
        batch_op.create_index(
            'ix_message_received_at', ['received_at', 'status', 'intent', 'sentiment', 'escalated_at'], unique=False
        )
    # Messages escalated before the column: only those still waiting say so. When they were
    # escalated is not stored; the bot escalates as a message arrives, so its received time stands in.
    op.execute("UPDATE message SET escalated_at = received_at WHERE status = 'escalated'")


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_received_at')
        batch_op.create_index('ix_message_received_at', ['received_at', 'status', 'intent', 'sentiment'], unique=False)
        batch_op.drop_column('escalated_at')
