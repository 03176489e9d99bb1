"""staged candidates: a sharded round's extracted entries, processed as one batch

`staged_candidate` holds what each shard's run extracted, `staged_shard` which shards have
arrived in the monitor's open round (`pipeline.stage`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staged_candidate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("monitor", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("shard", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("feed", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("staged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staged_candidate", schema=None) as batch_op:
        batch_op.create_index("ix_staged_candidate_monitor", ["monitor"], unique=False)
    op.create_table(
        "staged_shard",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("monitor", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("shard", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("staged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staged_shard", schema=None) as batch_op:
        batch_op.create_index("ix_staged_shard_monitor", ["monitor"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staged_shard", schema=None) as batch_op:
        batch_op.drop_index("ix_staged_shard_monitor")
    op.drop_table("staged_shard")
    with op.batch_alter_table("staged_candidate", schema=None) as batch_op:
        batch_op.drop_index("ix_staged_candidate_monitor")
    op.drop_table("staged_candidate")
