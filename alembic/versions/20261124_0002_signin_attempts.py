"""signin_throttles counts attempts; the block's end is derived, not stored

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("signin_throttles", schema=None) as batch_op:
        batch_op.alter_column("failures", new_column_name="attempts", existing_type=sa.Integer(), existing_nullable=False)
        batch_op.drop_column("blocked_until")


def downgrade() -> None:
    with op.batch_alter_table("signin_throttles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("attempts", new_column_name="failures", existing_type=sa.Integer(), existing_nullable=False)
