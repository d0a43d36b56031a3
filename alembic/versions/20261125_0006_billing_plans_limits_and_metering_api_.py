"""Billing plans, limits and metering; API keys, audit log, password resets, Google sign-in; trace context on calls.

Seeds the three plans, gives every organization a subscription (Free, the current UTC month as its
period) and counts each organization's open phone calls into ``active_calls``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 09:13:15.642820
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
from sqlalchemy.dialects import postgresql
from sqlalchemy import Text

revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


# id, name, position, monthly price (cents), included minutes, overage (cents/min), cap, concurrent calls, agents
PLANS = [
    ('free', 'Free', 0, 0, 60, 0, 60, 2, 3),
    ('starter', 'Starter', 1, 4900, 1000, 9, 10000, 10, 10),
    ('pro', 'Pro', 2, 19900, 5000, 7, None, 20, 50),
]


def upgrade() -> None:
    op.create_table('plans',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('monthly_price_cents', sa.Integer(), nullable=False),
    sa.Column('included_minutes', sa.Integer(), nullable=False),
    sa.Column('overage_cents_per_minute', sa.Integer(), nullable=False),
    sa.Column('minute_cap', sa.Integer(), nullable=True),
    sa.Column('max_concurrent_calls', sa.Integer(), nullable=False),
    sa.Column('max_agents', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    plans = sa.table('plans', *(sa.column(c) for c in (
        'id', 'name', 'position', 'monthly_price_cents', 'included_minutes', 'overage_cents_per_minute', 'minute_cap',
        'max_concurrent_calls', 'max_agents')))
    op.bulk_insert(plans, [dict(zip(plans.c.keys(), row)) for row in PLANS])
    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_keys_prefix'), ['prefix'], unique=False)

    op.create_table('password_resets',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_resets_user_id'), ['user_id'], unique=False)

    op.create_table('signin_states',
    sa.Column('nonce', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('code_verifier_encrypted', sa.Text(), nullable=True),
    sa.Column('next_path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('consumed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('nonce')
    )
    op.create_table('audit_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('actor_user_id', sa.Uuid(), nullable=True),
    sa.Column('actor_api_key_id', sa.Uuid(), nullable=True),
    sa.Column('actor_label', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('target_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('target_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_api_key_id'], ['api_keys.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_action'), ['action'], unique=False)
        batch_op.create_index('ix_audit_events_org_created', ['organization_id', 'created_at'], unique=False)

    with op.batch_alter_table('billing_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_events_organization_id'))
        batch_op.create_index('ix_billing_events_org_created', ['organization_id', 'created_at'], unique=False)

    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trace_context', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))

    _backfill_subscriptions()
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('minutes_used', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('active_calls', sa.Integer(), nullable=False, server_default='0'))
        batch_op.alter_column('plan',
               existing_type=sa.VARCHAR(length=50),
               type_=sqlmodel.sql.sqltypes.AutoString(length=32),
               existing_nullable=False)
        batch_op.alter_column('current_period_start',
               existing_type=sa.DATETIME(),
               nullable=False)
        batch_op.alter_column('current_period_end',
               existing_type=sa.DATETIME(),
               nullable=False)
        batch_op.create_foreign_key('fk_subscriptions_plan', 'plans', ['plan'], ['id'], ondelete='RESTRICT')
        batch_op.drop_column('included_minutes')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.alter_column('minutes_used', server_default=None)
        batch_op.alter_column('active_calls', server_default=None)
    _count_open_calls()

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('google_subject', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column('google_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True))
        batch_op.create_unique_constraint('uq_users_google_subject', ['google_subject'])



def _backfill_subscriptions() -> None:
    """Every organization gets a subscription; an unknown plan name or a missing period is repaired."""
    import uuid
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    bind = op.get_bind()
    subs = sa.table('subscriptions', sa.column('id', sa.Uuid()), sa.column('organization_id', sa.Uuid()),
                    sa.column('plan', sa.String()), sa.column('status', sa.String()),
                    sa.column('included_minutes', sa.Integer()),
                    sa.column('current_period_start', sa.DateTime(timezone=True)),
                    sa.column('current_period_end', sa.DateTime(timezone=True)),
                    sa.column('created_at', sa.DateTime(timezone=True)), sa.column('updated_at', sa.DateTime(timezone=True)))
    orgs = sa.table('organizations', sa.column('id', sa.Uuid()))
    missing = bind.execute(sa.select(orgs.c.id).where(~sa.exists().where(subs.c.organization_id == orgs.c.id))).scalars()
    rows = [dict(id=uuid.uuid4(), organization_id=org_id, plan='free', status='active', included_minutes=60,
                 current_period_start=start, current_period_end=end, created_at=now, updated_at=now) for org_id in missing]
    if rows:
        op.bulk_insert(subs, rows)
    bind.execute(subs.update().where(subs.c.plan.notin_([p[0] for p in PLANS])).values(plan='free'))
    bind.execute(subs.update().where(sa.or_(subs.c.current_period_start.is_(None), subs.c.current_period_end.is_(None)))
                 .values(current_period_start=start, current_period_end=end))


def _count_open_calls() -> None:
    """``active_calls`` starts as the number of open phone sessions (each holds a slot until it ends)."""
    op.execute(
        "UPDATE subscriptions SET active_calls = (SELECT count(*) FROM call_sessions c "
        "WHERE c.organization_id = subscriptions.organization_id AND c.kind = 'phone' "
        "AND c.status IN ('pending', 'active'))"
    )


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_google_subject', type_='unique')
        batch_op.drop_column('google_subject')
        batch_op.drop_column('google_email')

    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('included_minutes', sa.INTEGER(), nullable=False, server_default='60'))
        batch_op.drop_constraint('fk_subscriptions_plan', type_='foreignkey')
        batch_op.alter_column('current_period_end',
               existing_type=sa.DATETIME(),
               nullable=True)
        batch_op.alter_column('current_period_start',
               existing_type=sa.DATETIME(),
               nullable=True)
        batch_op.alter_column('plan',
               existing_type=sqlmodel.sql.sqltypes.AutoString(length=32),
               type_=sa.VARCHAR(length=50),
               existing_nullable=False)
        batch_op.drop_column('active_calls')
        batch_op.drop_column('minutes_used')

    with op.batch_alter_table('call_sessions', schema=None) as batch_op:
        batch_op.drop_column('trace_context')

    with op.batch_alter_table('billing_events', schema=None) as batch_op:
        batch_op.drop_index('ix_billing_events_org_created')
        batch_op.create_index(batch_op.f('ix_billing_events_organization_id'), ['organization_id'], unique=False)

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_org_created')
        batch_op.drop_index(batch_op.f('ix_audit_events_action'))

    op.drop_table('audit_events')
    op.drop_table('signin_states')
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_resets_user_id'))

    op.drop_table('password_resets')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_prefix'))
        batch_op.drop_index(batch_op.f('ix_api_keys_organization_id'))

    op.drop_table('api_keys')
    op.drop_table('plans')
