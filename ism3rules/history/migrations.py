"""Versioned schema migrations of the history store: ordered steps, one transaction.

The version of a store is the highest row of `ism3_schema_version`. Opening a
store applies every step above its version, in order, in one transaction (on
PostgreSQL under an advisory lock, on SQLite under the write lock), so two
processes opening a new store at once build it once. A store whose version is
newer than this tool knows is refused: an older ism3 must not write to it.

Each step's tables are written out as they were at that version (not taken from
`schema.py`), so a later change to the current schema cannot change what an old
step builds.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from .. import __version__
from ..errors import HistoryError
from .schema import SCHEMA_VERSION

_ADVISORY_LOCK = 0x15B3_4157   # any constant: serialises migrations of one database


@dataclass(frozen=True)
class Migration:
    """One step: the schema version it brings a store to, and how."""

    version: int
    description: str
    apply: Callable[[sa.Connection], None]


def _append_only(conn: sa.Connection, table: str) -> None:
    """Triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) on `table`."""
    if conn.dialect.name == "sqlite":
        for op in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, 'ism3 history is append-only: {op} on {table} refused'); "
                "END")
        return
    conn.exec_driver_sql(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION ism3_append_only()")
    conn.exec_driver_sql(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION ism3_append_only()")


def _v1(conn: sa.Connection) -> None:
    """Runs with their report, chain and queryable rows; the heads of the chains."""
    md = sa.MetaData()
    sa.Table("ism3_schema_version", md,
             sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("description", sa.Text, nullable=False),
             sa.Column("applied_at", sa.Text, nullable=False),
             sa.Column("tool_version", sa.Text, nullable=False))
    sa.Table("ism3_runs", md,
             sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
             sa.Column("organization_id", sa.Text, nullable=False),
             sa.Column("seq", sa.Integer, nullable=False),
             sa.Column("organization_name", sa.Text, nullable=False),
             sa.Column("as_of", sa.Text, nullable=True),
             sa.Column("period_start", sa.Text, nullable=True),
             sa.Column("period_end", sa.Text, nullable=True),
             sa.Column("tool_version", sa.Text, nullable=False),
             sa.Column("rules_sha256", sa.Text, nullable=False),
             sa.Column("bundle_sha256", sa.Text, nullable=False),
             sa.Column("report_sha256", sa.Text, nullable=False),
             sa.Column("source", sa.Text, nullable=False),
             sa.Column("recorded_at", sa.Text, nullable=False),
             sa.Column("previous_hash", sa.Text, nullable=True),
             sa.Column("chain_hash", sa.Text, nullable=False),
             sa.UniqueConstraint("report_sha256", name="ism3_runs_report_sha256"),
             sa.UniqueConstraint("organization_id", "seq", name="ism3_runs_org_seq"),
             sa.Index("ism3_runs_org_as_of", "organization_id", "as_of", "id"))

    def run_id() -> sa.Column[int]:
        return sa.Column("run_id", sa.Integer, sa.ForeignKey("ism3_runs.id"), primary_key=True,
                         autoincrement=False)

    sa.Table("ism3_run_reports", md,
             run_id(),
             sa.Column("encoding", sa.Text, nullable=False),
             sa.Column("body", sa.LargeBinary, nullable=False))
    sa.Table("ism3_run_processes", md,
             run_id(),
             sa.Column("process_id", sa.Text, primary_key=True),
             sa.Column("capability", sa.Text, nullable=False),
             sa.Column("rank", sa.Integer, nullable=False))
    sa.Table("ism3_run_profiles", md,
             run_id(),
             sa.Column("profile_id", sa.Text, primary_key=True),
             sa.Column("position", sa.Integer, nullable=False),
             sa.Column("profile_name", sa.Text, nullable=True),
             sa.Column("source", sa.Text, nullable=True),
             sa.Column("profile_sha256", sa.Text, nullable=True),
             sa.Column("achieved_level", sa.Integer, nullable=False),
             sa.Column("max_level", sa.Integer, nullable=False))
    sa.Table("ism3_run_findings", md,
             run_id(),
             sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("finding_id", sa.Text, nullable=True),
             sa.Column("finding_key", sa.Text, nullable=False),
             sa.Column("rule", sa.Text, nullable=True),
             sa.Column("kind", sa.Text, nullable=True),
             sa.Column("process_id", sa.Text, nullable=True),
             sa.Column("severity", sa.Text, nullable=True),
             sa.Column("status", sa.Text, nullable=True),
             sa.Column("message", sa.Text, nullable=True))
    sa.Table("ism3_heads", md,
             sa.Column("organization_id", sa.Text, primary_key=True),
             sa.Column("run_id", sa.Integer, nullable=False),
             sa.Column("seq", sa.Integer, nullable=False),
             sa.Column("chain_hash", sa.Text, nullable=False))
    md.create_all(conn)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION ism3_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$fn$ BEGIN RAISE EXCEPTION USING MESSAGE = 'ism3 history is append-only: ' "
            "|| TG_OP || ' on ' || TG_TABLE_NAME || ' refused'; END $fn$")
    for table in ("ism3_runs", "ism3_run_reports", "ism3_run_processes", "ism3_run_profiles",
                  "ism3_run_findings"):
        _append_only(conn, table)


def _stored(run_id: int, body: Any) -> dict[str, Any]:
    """A stored report, read as strictly as `Store.report` reads it. Raises HistoryError."""
    from ..errors import ReportError
    from .rows import decompress, stored_report

    try:
        return stored_report(decompress(body), f"run {run_id}")
    except (ReportError, ValueError, TypeError, zlib.error) as exc:
        raise HistoryError(f"run {run_id}: its stored report cannot be read ({exc}); the store "
                           "was altered: nothing was migrated") from None


def _gaps_of(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The gap rows of schema version 2, as that version derives them from a report."""
    rows: list[dict[str, Any]] = []
    for prof in report["profiles"]:
        seen: set[tuple[str, str]] = set()
        for level in prof["levels"]:
            for gap in level.get("gaps") or []:
                key = (str(gap.get("process")), str(gap.get("required")))
                if key not in seen:
                    seen.add(key)
                    actual = gap.get("actual")
                    rows.append({"profile_id": prof["id"], "process_id": key[0],
                                 "required": key[1], "level": level["level"],
                                 "actual": None if actual is None else str(actual)})
    return rows


def _v2(conn: sa.Connection) -> None:
    """Gap rows per run and profile, filled from the reports already stored."""
    md = sa.MetaData()
    sa.Table("ism3_runs", md, sa.Column("id", sa.Integer, primary_key=True))  # referred to only
    gaps = sa.Table("ism3_run_gaps", md,
                    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=False),
                    sa.Column("profile_id", sa.Text, primary_key=True),
                    sa.Column("process_id", sa.Text, primary_key=True),
                    sa.Column("required", sa.Text, primary_key=True),
                    sa.Column("level", sa.Integer, nullable=False),
                    sa.Column("actual", sa.Text, nullable=True),
                    sa.ForeignKeyConstraint(["run_id"], ["ism3_runs.id"]))
    gaps.create(conn)
    reports = sa.table("ism3_run_reports", sa.column("run_id", sa.Integer),
                       sa.column("body", sa.LargeBinary))
    for run_id, body in conn.execute(sa.select(reports.c.run_id, reports.c.body)
                                     .order_by(reports.c.run_id)):
        rows = _gaps_of(_stored(run_id, body))
        if rows:
            conn.execute(sa.insert(gaps), [{"run_id": run_id, **r} for r in rows])
    _append_only(conn, "ism3_run_gaps")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "runs, reports, chains, process, profile and finding rows", _v1),
    Migration(2, "gap rows per run and profile", _v2),
)


def stored_version(conn: sa.Connection) -> int:
    """The schema version of the store behind `conn` (0: no store yet).

    Raises:
        HistoryError: the database holds ism3 tables but no version (not a store
            this tool made).
    """
    inspector = sa.inspect(conn)
    if not inspector.has_table("ism3_schema_version"):
        if inspector.has_table("ism3_runs"):
            raise HistoryError("the database has ism3 tables but no ism3_schema_version: not "
                               "a history store made by ism3; give another database with --db")
        return 0
    table = sa.table("ism3_schema_version", sa.column("version", sa.Integer))
    return int(conn.execute(sa.select(sa.func.max(table.c.version))).scalar() or 0)


def check_version(version: int, where: str) -> None:
    """Refuse a store this tool is too old to read.

    Raises:
        HistoryError: `version` is newer than SCHEMA_VERSION.
    """
    if version > SCHEMA_VERSION:
        raise HistoryError(f"{where}: the history store has schema version {version}; this ism3 "
                           f"({__version__}) knows versions up to {SCHEMA_VERSION}: upgrade "
                           "ism3rules (pip install -U ism3rules) or use another --db")


def migrate(conn: sa.Connection, where: str, target: int = SCHEMA_VERSION) -> int:
    """Bring the store to `target` inside the caller's write transaction; return the
    version it was at before.

    Raises:
        HistoryError: the store is newer than this tool, or not an ism3 store.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK)))
    before = stored_version(conn)
    check_version(before, where)
    versions = sa.table("ism3_schema_version", sa.column("version", sa.Integer),
                        sa.column("description", sa.Text), sa.column("applied_at", sa.Text),
                        sa.column("tool_version", sa.Text))
    for step in MIGRATIONS:
        if before < step.version <= target:
            step.apply(conn)
            conn.execute(sa.insert(versions).values(
                version=step.version, description=step.description,
                applied_at=datetime.now(UTC).isoformat(timespec="seconds"),
                tool_version=__version__))
    return before


__all__ = ["MIGRATIONS", "Migration", "check_version", "migrate", "stored_version"]
