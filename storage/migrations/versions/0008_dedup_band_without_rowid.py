"""dedup_band as a WITHOUT ROWID table on SQLite: each band row is one b-tree insert

A pass writes ~80 band rows per new article into a table of millions. As an ordinary SQLite
table each row went into the rowid table and into the primary-key index (a second b-tree
holding every column again); WITHOUT ROWID the primary key is the table. Same columns, key,
index and rows; existing rows are copied. PostgreSQL has no such option (its table is a heap
with the primary-key index): nothing changes there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 01:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = '"monitor", "band", "key", "article_id"'


def _rebuild(*, with_rowid: bool) -> None:
    """Copy dedup_band into a new table of the given kind and put it in the old one's place."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "dedup_band_new",
        sa.Column("monitor", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("band", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("article_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("monitor", "band", "key", "article_id"),
        sqlite_with_rowid=with_rowid,
    )
    # in key order: the new b-tree is filled by appends
    op.execute(
        f"INSERT INTO dedup_band_new ({_COLUMNS}) SELECT {_COLUMNS} FROM dedup_band "
        f"ORDER BY {_COLUMNS}"
    )
    op.drop_index("ix_dedup_band_article", table_name="dedup_band")
    op.drop_table("dedup_band")
    op.rename_table("dedup_band_new", "dedup_band")
    op.create_index("ix_dedup_band_article", "dedup_band", ["article_id"], unique=False)


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
