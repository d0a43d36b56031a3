"""Call sessions: drop the indexes no query uses (organization alone, status, start time alone).

Every read of call_sessions is an organization's (served by ix_call_sessions_org_started, whose
leading column also serves the organization's cascade delete), an id or a CallSid; each index
was paid on every incoming call's insert and status change.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 12:20:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_call_sessions_organization_id')
        batch_op.drop_index('ix_call_sessions_status')
        batch_op.drop_index('ix_call_sessions_started_at')


def downgrade() -> None:
    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_call_sessions_started_at', ['started_at'], unique=False)
        batch_op.create_index('ix_call_sessions_status', ['status'], unique=False)
        batch_op.create_index('ix_call_sessions_organization_id', ['organization_id'], unique=False)
