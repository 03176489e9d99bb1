"""development parent: a new fact split off a running story

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 05:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("development", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("development", schema=None) as batch_op:
        batch_op.drop_column("parent_id")
