"""Calls by organization and start time: the calls list and the overview read them that way.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 08:04:41.374126
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_call_sessions_org_started', ['organization_id', 'started_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_call_sessions_org_started')

