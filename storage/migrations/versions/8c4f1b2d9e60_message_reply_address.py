"""message.kind, visibility, reply_to_id, thread_id: where a reply goes, as columns instead of packed into ids

Revision ID: 8c4f1b2d9e60
Revises: 5d2e8a41c7b3
Create Date: 2026-12-07 00:45:00

Rows stored before read their address from the ids the connectors packed then: Telegram's
"chat:message" and Slack's "channel:ts[:thread_ts]"; every other platform's (the console's) were
private conversations.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '8c4f1b2d9e60'
down_revision = '5d2e8a41c7b3'
branch_labels = None
depends_on = None

KIND = sa.Enum('private', 'comment', 'mention', name='messagekind')
VISIBILITY = sa.Enum('direct', 'group', 'followers', 'unlisted', 'public', name='visibility')


def _address(platform: str, platform_message_id: str, chat_id: str) -> dict[str, str]:
    """kind, visibility, reply_to_id and thread_id of a row stored before this revision."""
    if platform == 'telegram':
        chat, _, number = platform_message_id.rpartition(':')
        private = not (chat_id or chat).startswith('-')  # private chats have the user's id; groups negative ones
        kind = 'private' if private else 'mention'
        return {'kind': kind, 'visibility': 'direct' if private else 'group', 'reply_to_id': number, 'thread_id': ''}
    if platform == 'slack':
        channel, ts, *thread = platform_message_id.split(':')
        if channel.startswith('D'):
            return {'kind': 'private', 'visibility': 'direct', 'reply_to_id': ts, 'thread_id': thread[0] if thread else ''}
        kind = 'comment' if thread else 'mention'
        return {'kind': kind, 'visibility': 'group', 'reply_to_id': ts, 'thread_id': thread[0] if thread else ''}
    return {'kind': 'private', 'visibility': 'direct', 'reply_to_id': platform_message_id, 'thread_id': ''}


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', KIND, nullable=True))
        batch_op.add_column(sa.Column('visibility', VISIBILITY, nullable=True))
        batch_op.add_column(sa.Column('reply_to_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('thread_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    connection = op.get_bind()
    message = sa.table(
        'message',
        sa.column('id', sa.Integer()),
        sa.column('platform', sa.String()),
        sa.column('platform_message_id', sa.String()),
        sa.column('chat_id', sa.String()),
        sa.column('kind', sa.String()),
        sa.column('visibility', sa.String()),
        sa.column('reply_to_id', sa.String()),
        sa.column('thread_id', sa.String()),
    )
    rows = connection.execute(sa.select(message.c.id, message.c.platform, message.c.platform_message_id, message.c.chat_id)).all()
    for row in rows:
        values = _address(row.platform, row.platform_message_id, row.chat_id)
        connection.execute(sa.update(message).where(message.c.id == row.id).values(**values))
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=KIND, nullable=False)
        batch_op.alter_column('visibility', existing_type=VISIBILITY, nullable=False)
        batch_op.alter_column('reply_to_id', existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=False)
        batch_op.alter_column('thread_id', existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('thread_id')
        batch_op.drop_column('reply_to_id')
        batch_op.drop_column('visibility')
        batch_op.drop_column('kind')
