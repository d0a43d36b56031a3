"""After the call: post-call analysis, webhooks to the customer's systems, e-mailed summaries.

Calls gain the webhook events they owe (``pending_events`` bits, set by the statement that starts
or ends the call) and their analysis; agents their analysis plan. New tables: webhook endpoints,
events and deliveries (the outbox), call-summary subscriptions and the summary mails to send.
Existing calls owe nothing and have no analysis (NULL): only calls ending from now on get one.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-11 09:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('call_summary_subscriptions',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('agent_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'organization_id', name='uq_call_summary_subscription')
    )
    with op.batch_alter_table('call_summary_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_summary_subscriptions_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_summary_subscriptions_user_id'), ['user_id'], unique=False)

    op.create_table('webhook_endpoints',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=True),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('events', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['voice_agents.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoints_organization_id'), ['organization_id'], unique=False)

    op.create_table('call_summary_mails',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('call_session_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_session_id'], ['call_sessions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('call_summary_mails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_summary_mails_call_session_id'), ['call_session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_summary_mails_user_id'), ['user_id'], unique=False)

    op.create_table('webhook_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('call_session_id', sa.Uuid(), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_session_id'], ['call_sessions.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_events_call_session_id'), ['call_session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_events_organization_id'), ['organization_id'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('endpoint_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Float(), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['webhook_events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_endpoint_status_created', ['endpoint_id', 'status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_event_id'), ['event_id'], unique=False)

    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_events', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('analysis_status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
        batch_op.add_column(sa.Column('analysis', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('analysis_success', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('analysis_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('analysis_lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_call_sessions_analysis_pending', ['id'], unique=False, postgresql_where=sa.text("analysis_status = 'pending'"), sqlite_where=sa.text("analysis_status = 'pending'"))
        batch_op.create_index('ix_call_sessions_pending_events', ['id'], unique=False, postgresql_where=sa.text('pending_events <> 0'), sqlite_where=sa.text('pending_events <> 0'))

    with op.batch_alter_table('voice_agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('analysis_plan', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('voice_agents', schema=None) as batch_op:
        batch_op.drop_column('analysis_plan')

    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_call_sessions_pending_events', postgresql_where=sa.text('pending_events <> 0'), sqlite_where=sa.text('pending_events <> 0'))
        batch_op.drop_index('ix_call_sessions_analysis_pending', postgresql_where=sa.text("analysis_status = 'pending'"), sqlite_where=sa.text("analysis_status = 'pending'"))
        batch_op.drop_column('analysis_lease_until')
        batch_op.drop_column('analysis_attempts')
        batch_op.drop_column('analysis_success')
        batch_op.drop_column('analysis')
        batch_op.drop_column('analysis_status')
        batch_op.drop_column('pending_events')

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_event_id'))
        batch_op.drop_index('ix_webhook_deliveries_endpoint_status_created')

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_events_organization_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_events_call_session_id'))

    op.drop_table('webhook_events')
    with op.batch_alter_table('call_summary_mails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_summary_mails_user_id'))
        batch_op.drop_index(batch_op.f('ix_call_summary_mails_call_session_id'))

    op.drop_table('call_summary_mails')
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_endpoints_organization_id'))

    op.drop_table('webhook_endpoints')
    with op.batch_alter_table('call_summary_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_summary_subscriptions_user_id'))
        batch_op.drop_index(batch_op.f('ix_call_summary_subscriptions_organization_id'))

    op.drop_table('call_summary_subscriptions')
