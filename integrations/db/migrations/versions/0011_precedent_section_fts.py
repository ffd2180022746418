"""precedent search on SQLite: SOP sections get their own FTS5 index, requests their domain

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 14:15:00.000000

Measured at 10,000 decided requests (docs/benchmarks.md), where SQLite's time went:
- One FTS5 index held both kinds of document, so a search for SOP passages (60 rows) walked
  the posting lists of every decided request sharing a word with the request before the
  join kept the sections. Sections move to `precedent_section_fts`; the triggers route each
  row by its kind, and each index's bm25 statistics are those of its own kind.
- bm25 was computed for every request sharing any word, of every domain, before the join
  kept the request's domain. The requests' index gains the `domain` column, so the search
  matches the domain inside FTS5 and scores half as many rows.
PostgreSQL filters by kind and domain before it ranks and is not changed.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SECTION = "'sop_section'"
TRIGGERS = ("precedent_fts_ai", "precedent_fts_ad", "precedent_fts_au")


# The columns each index holds: requests also their domain, matched but never scored.
COLUMNS = {"precedent_fts": ("title", "body", "domain"), "precedent_section_fts": ("title", "body")}


def _add(table: str, row: str, where: str) -> str:
    columns = COLUMNS[table]
    values = ", ".join(f"{row}.{c}" for c in columns)
    return (
        f"INSERT INTO {table}(rowid, {', '.join(columns)}) SELECT {row}.id, {values} WHERE {where};"
    )


def _remove(table: str, row: str, where: str) -> str:
    columns = COLUMNS[table]
    values = ", ".join(f"{row}.{c}" for c in columns)
    return (
        f"INSERT INTO {table}({table}, rowid, {', '.join(columns)}) "
        f"SELECT 'delete', {row}.id, {values} WHERE {where};"
    )


def _routed(row: str, change: str) -> str:
    """The two statements that add (`_add`) or remove (`_remove`) `row` in its kind's index."""
    step = _add if change == "add" else _remove
    return step("precedent_section_fts", row, f"{row}.kind = {SECTION}") + step(
        "precedent_fts", row, f"{row}.kind <> {SECTION}"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # Both indexes are made anew from the table: its rows are the truth.
    op.execute("DROP TABLE precedent_fts")
    op.execute(
        "CREATE VIRTUAL TABLE precedent_fts USING fts5(title, body, domain, "
        "content='precedent_documents', content_rowid='id', tokenize='porter unicode61')"
    )
    op.execute(
        "CREATE VIRTUAL TABLE precedent_section_fts USING fts5(title, body, "
        "content='precedent_documents', content_rowid='id', tokenize='porter unicode61')"
    )
    op.execute(
        "CREATE TRIGGER precedent_fts_ai AFTER INSERT ON precedent_documents BEGIN "
        + _routed("new", "add")
        + " END"
    )
    op.execute(
        "CREATE TRIGGER precedent_fts_ad AFTER DELETE ON precedent_documents BEGIN "
        + _routed("old", "remove")
        + " END"
    )
    op.execute(
        "CREATE TRIGGER precedent_fts_au AFTER UPDATE ON precedent_documents BEGIN "
        + _routed("old", "remove")
        + _routed("new", "add")
        + " END"
    )
    op.execute(
        "INSERT INTO precedent_fts(rowid, title, body, domain) "
        "SELECT id, title, body, domain FROM precedent_documents WHERE kind <> 'sop_section'"
    )
    op.execute(
        "INSERT INTO precedent_section_fts(rowid, title, body) "
        "SELECT id, title, body FROM precedent_documents WHERE kind = 'sop_section'"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS precedent_section_fts")
    op.execute("DROP TABLE IF EXISTS precedent_fts")
    # 0009's index over every row, and its triggers.
    op.execute(
        "CREATE VIRTUAL TABLE precedent_fts USING fts5(title, body, "
        "content='precedent_documents', content_rowid='id', tokenize='porter unicode61')"
    )
    op.execute(
        "CREATE TRIGGER precedent_fts_ai AFTER INSERT ON precedent_documents BEGIN "
        "INSERT INTO precedent_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END"
    )
    op.execute(
        "CREATE TRIGGER precedent_fts_ad AFTER DELETE ON precedent_documents BEGIN "
        "INSERT INTO precedent_fts(precedent_fts, rowid, title, body) "
        "VALUES ('delete', old.id, old.title, old.body); END"
    )
    op.execute(
        "CREATE TRIGGER precedent_fts_au AFTER UPDATE ON precedent_documents BEGIN "
        "INSERT INTO precedent_fts(precedent_fts, rowid, title, body) "
        "VALUES ('delete', old.id, old.title, old.body); "
        "INSERT INTO precedent_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END"
    )
    op.execute("INSERT INTO precedent_fts(precedent_fts) VALUES ('rebuild')")
