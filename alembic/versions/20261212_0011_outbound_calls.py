"""Outbound calls: campaigns and their contacts, the do-not-call list, voicemail and transfer modes.

Every existing call was answered, so ``direction`` defaults to inbound; ``variables`` are an
outbound call's {{placeholder}} values; ``answered_by`` is Twilio's machine detection; ``transfer``
a warm transfer's stages. Agents get what to do on a voicemail and how to transfer (existing
agents: hang up, cold, as before). ``background_leases`` holds the one campaign dialer.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-12 09:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('background_leases',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('campaigns',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('window', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('max_concurrent', sa.Integer(), nullable=False),
    sa.Column('retry_attempts', sa.Integer(), nullable=False),
    sa.Column('retry_delay_minutes', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['voice_agents.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaigns_organization_id'), ['organization_id'], unique=False)

    op.create_table('campaign_contacts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('campaign_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('to_number', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('variables', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_call_id', sa.Uuid(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('campaign_contacts', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_contacts_due', ['campaign_id', 'state', 'next_attempt_at'], unique=False)

    op.create_table('do_not_call_numbers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('call_session_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_session_id'], ['call_sessions.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organization_id', 'number', name='uq_do_not_call_number')
    )
    with op.batch_alter_table('do_not_call_numbers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_do_not_call_numbers_organization_id'), ['organization_id'], unique=False)

    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(length=10), server_default='inbound', nullable=False))
        batch_op.add_column(sa.Column('variables', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('campaign_contact_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('answered_by', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True))
        batch_op.add_column(sa.Column('transfer', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.create_index(batch_op.f('ix_call_sessions_campaign_contact_id'), ['campaign_contact_id'], unique=False)
        batch_op.create_foreign_key('fk_call_sessions_campaign_contact', 'campaign_contacts', ['campaign_contact_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('voice_agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voicemail_action', sqlmodel.sql.sqltypes.AutoString(length=20), server_default='hangup', nullable=False))
        batch_op.add_column(sa.Column('voicemail_message', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True))
        batch_op.add_column(sa.Column('transfer_mode', sqlmodel.sql.sqltypes.AutoString(length=10), server_default='cold', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('voice_agents', schema=None) as batch_op:
        batch_op.drop_column('transfer_mode')
        batch_op.drop_column('voicemail_message')
        batch_op.drop_column('voicemail_action')

    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint('fk_call_sessions_campaign_contact', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_call_sessions_campaign_contact_id'))
        batch_op.drop_column('transfer')
        batch_op.drop_column('answered_by')
        batch_op.drop_column('campaign_contact_id')
        batch_op.drop_column('variables')
        batch_op.drop_column('direction')

    with op.batch_alter_table('do_not_call_numbers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_do_not_call_numbers_organization_id'))

    op.drop_table('do_not_call_numbers')
    with op.batch_alter_table('campaign_contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_contacts_due')

    op.drop_table('campaign_contacts')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaigns_organization_id'))
        batch_op.drop_index(batch_op.f('ix_campaigns_agent_id'))

    op.drop_table('campaigns')
    op.drop_table('background_leases')
