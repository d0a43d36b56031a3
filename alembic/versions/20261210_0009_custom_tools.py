"""Custom tools: an organization's own HTTP endpoints and MCP servers in the tool catalogue.

Catalogue rows gain an owner (NULL: a code tool shared by every organization), a kind and a
display title; each custom tool keeps its URL, method, timeout and encrypted headers in
``custom_tools``, next to its catalogue row. Existing rows are code tools.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql


revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('platform_tools', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organization_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default='code'))
        batch_op.add_column(sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.create_index(batch_op.f('ix_platform_tools_organization_id'), ['organization_id'], unique=False)
        batch_op.create_foreign_key('fk_platform_tools_organization', 'organizations', ['organization_id'], ['id'], ondelete='CASCADE')
    with op.batch_alter_table('platform_tools', schema=None) as batch_op:
        batch_op.alter_column('kind', server_default=None)

    op.create_table('custom_tools',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('platform_tool_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('timeout_seconds', sa.Float(), nullable=False),
    sa.Column('headers_encrypted', sa.Text(), nullable=True),
    sa.Column('header_names', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_tool_id'], ['platform_tools.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform_tool_id')
    )
    with op.batch_alter_table('custom_tools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custom_tools_organization_id'), ['organization_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('custom_tools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custom_tools_organization_id'))
    op.drop_table('custom_tools')
    op.execute("DELETE FROM agent_tools WHERE tool_id IN (SELECT id FROM platform_tools WHERE organization_id IS NOT NULL)")
    op.execute("DELETE FROM platform_tools WHERE organization_id IS NOT NULL")
    with op.batch_alter_table('platform_tools', schema=None) as batch_op:
        batch_op.drop_constraint('fk_platform_tools_organization', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_platform_tools_organization_id'))
        batch_op.drop_column('title')
        batch_op.drop_column('kind')
        batch_op.drop_column('organization_id')
