"""Agents: the hold music a caller hears while a warm transfer briefs the person.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-14 09:00:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0013'
down_revision: Union[str, None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('voice_agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_music_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('voice_agents', schema=None) as batch_op:
        batch_op.drop_column('hold_music_url')
