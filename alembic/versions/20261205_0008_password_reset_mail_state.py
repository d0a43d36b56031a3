"""Password resets: whether the link's e-mail left, and the lease of the process sending it.

A reset's mail used to live only in memory between the commit and the SMTP server; a process
that stopped then lost it. Rows from before this revision were handled by that code and count
as sent.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 12:10:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mailed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('mail_lease_until', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE password_resets SET mailed_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.drop_column('mail_lease_until')
        batch_op.drop_column('mailed_at')
