"""Indexes for date-range reads: messages by received_at (covering their labels), sent replies by sent_at, posts by published_at

Revision ID: a4d7e2c9b613
Revises: 9a3e5c1f7b42
Create Date: 2026-12-07 02:40:00
"""

from __future__ import annotations

from alembic import op


revision = 'a4d7e2c9b613'
down_revision = '9a3e5c1f7b42'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_received_at', ['received_at', 'status', 'intent', 'sentiment'], unique=False)
    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.create_index('ix_reply_status_sent_at', ['status', 'sent_at', 'automatic', 'message_id'], unique=False)
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.create_index('ix_post_published_at', ['published_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_index('ix_post_published_at')
    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.drop_index('ix_reply_status_sent_at')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_received_at')
