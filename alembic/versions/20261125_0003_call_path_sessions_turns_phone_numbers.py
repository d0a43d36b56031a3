"""call path: sessions, turns, phone numbers

Existing agents' numbers become manual entries of their organization's inventory
before voice_agents.phone_number turns into a foreign key to it. Existing call
sessions are phone calls; added NOT NULL columns get server defaults for old rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
import uuid
from datetime import datetime, timezone
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('phone_numbers',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('e164', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('provider_sid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('friendly_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('e164'),
    sa.UniqueConstraint('provider_sid')
    )
    with op.batch_alter_table('phone_numbers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_numbers_organization_id'), ['organization_id'], unique=False)

    op.create_table('call_turns',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('call_session_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_session_id'], ['call_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('call_session_id', 'position', name='uq_call_turn_position')
    )
    with op.batch_alter_table('call_turns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_turns_call_session_id'), ['call_session_id'], unique=False)

    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default='phone'))
        batch_op.add_column(sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('end_reason', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('setup_ours_ms', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('setup_model_ms', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('recording_sid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('recording_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('recording_duration_seconds', sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f('ix_call_sessions_started_at'), ['started_at'], unique=False)
        batch_op.drop_column('transcript')

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default='UTC'))

    _register_existing_numbers()
    with op.batch_alter_table('voice_agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transfer_number', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('record_calls', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('recording_notice', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
    _drop_server_defaults()
    with op.batch_alter_table('voice_agents', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_voice_agents_phone_number', 'phone_numbers', ['phone_number'], ['e164'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('voice_agents', schema=None) as batch_op:
        batch_op.drop_constraint('fk_voice_agents_phone_number', type_='foreignkey')
        batch_op.drop_column('recording_notice')
        batch_op.drop_column('record_calls')
        batch_op.drop_column('transfer_number')

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('timezone')

    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transcript', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, server_default='[]'))
        batch_op.drop_index(batch_op.f('ix_call_sessions_started_at'))
        batch_op.drop_column('recording_duration_seconds')
        batch_op.drop_column('recording_url')
        batch_op.drop_column('recording_sid')
        batch_op.drop_column('setup_model_ms')
        batch_op.drop_column('setup_ours_ms')
        batch_op.drop_column('end_reason')
        batch_op.drop_column('answered_at')
        batch_op.drop_column('kind')

    with op.batch_alter_table('call_turns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_turns_call_session_id'))

    op.drop_table('call_turns')
    with op.batch_alter_table('phone_numbers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_numbers_organization_id'))

    op.drop_table('phone_numbers')


def _register_existing_numbers() -> None:
    """Every number an agent already has becomes a manual number of the agent's organization."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT organization_id, phone_number FROM voice_agents WHERE phone_number IS NOT NULL"
    )).all()
    numbers = sa.table(
        "phone_numbers", sa.column("id", sa.Uuid()), sa.column("organization_id", sa.Uuid()),
        sa.column("e164", sa.String()), sa.column("source", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)), sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(timezone.utc)
    for org_id, number in rows:
        org = org_id if isinstance(org_id, uuid.UUID) else uuid.UUID(str(org_id))
        conn.execute(numbers.insert().values(
            id=uuid.uuid4(), organization_id=org, e164=number, source="manual", created_at=now, updated_at=now,
        ))


def _drop_server_defaults() -> None:
    """The defaults were for rows that existed; new rows get theirs from the models.

    PostgreSQL drops a default in place. SQLite would rebuild the whole table for it,
    so there the harmless defaults stay (the models still set every value).
    """
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column('call_sessions', 'kind', server_default=None)
    op.alter_column('organizations', 'timezone', server_default=None)
    op.alter_column('voice_agents', 'record_calls', server_default=None)
