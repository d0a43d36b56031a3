"""Two indexes for background sweeps: webhook events by age (deleted after
WEBHOOK_RETENTION_DAYS), and the outbound calls opened but not yet placed with Twilio (the
dialer's sweep of never-placed calls), partial so that other calls cost it nothing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-13 09:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: Union[str, None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_events_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_call_sessions_undialed', ['started_at'], unique=False,
                              postgresql_where=sa.text("status = 'pending' AND provider_call_id IS NULL"),
                              sqlite_where=sa.text("status = 'pending' AND provider_call_id IS NULL"))


def downgrade() -> None:
    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_call_sessions_undialed', postgresql_where=sa.text("status = 'pending' AND provider_call_id IS NULL"),
                            sqlite_where=sa.text("status = 'pending' AND provider_call_id IS NULL"))
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_created_at')
