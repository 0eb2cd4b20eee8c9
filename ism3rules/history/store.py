"""The history store: where runs are recorded, append-only, chained per organization.

One code path for SQLite (the default, a file in the user's data folder) and
PostgreSQL (for teams), through SQLAlchemy Core. A run is a checked ism3-report/1
document with the columns and rows derived from it (`rows.py`); the same report
twice is recorded once (by its sha256). Each run holds the hash of the previous run
of the same organization, so `verify` finds a run deleted, altered or reordered.

Concurrency: on SQLite every write transaction starts with BEGIN IMMEDIATE (one
writer at a time, others wait up to the busy timeout; WAL lets readers go on); on
PostgreSQL two writers that extend the same chain at once conflict on the chain's
head (a unique key and a compare-and-set), and the loser retries on the new head.
Every write is one transaction: a failure leaves nothing half written.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..errors import HistoryError
from ..inputfiles import file_type
from ..report_check import MAX_REPORT_BYTES, MAX_REPORT_DEPTH, canonical_json, check_report
from . import rows as derive
from .migrations import check_version, migrate, stored_version
from .schema import (SCHEMA_VERSION, heads, run_findings, run_gaps, run_processes, run_profiles,
                     run_reports, runs)

BUSY_TIMEOUT_S = 30
CONNECT_TIMEOUT_S = 10
MAX_ATTEMPTS = 50
ENV_VAR = "ISM3_DB"
SOURCES = ("evaluate", "batch", "record", "backfill")


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """$XDG_DATA_HOME/ism3/history.sqlite (~/.local/share when unset or not absolute)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "share"
    return root / "ism3" / "history.sqlite"


@dataclass(frozen=True)
class Location:
    """Where a store is: its SQLAlchemy URL, how to name it (no password), its file."""

    url: sa.URL
    display: str
    path: Path | None          # the SQLite file, when it is one
    default: bool              # the default location (its folder is created on first use)


def locate(db: str | None, environ: Mapping[str, str] | None = None) -> Location:
    """The store named by `db` (a URL or a file path), else $ISM3_DB, else the default.

    Raises:
        HistoryError: a URL of another database, or an unusable SQLite location.
    """
    env = os.environ if environ is None else environ
    given = db if db else env.get(ENV_VAR) or None
    if given is None:
        path = default_path(env)
        return Location(sa.URL.create("sqlite", database=str(path)), str(path), path, True)
    if "://" not in given:
        path = Path(given)
        return Location(sa.URL.create("sqlite", database=str(path)), str(path), path, False)
    try:
        url = sa.make_url(given)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise HistoryError(f"--db {given!r}: not a database URL ({exc}); give a file path, "
                           "sqlite:///PATH or postgresql://USER@HOST/DATABASE") from exc
    display = url.render_as_string(hide_password=True)
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise HistoryError(f"{display}: an in-memory database keeps nothing; give a file "
                               "(sqlite:///PATH)")
        uri = str(url.query.get("uri", "")).lower() in ("true", "1")
        return Location(url, display, None if uri else Path(url.database), False)
    if backend in ("postgresql", "postgres"):
        if driver not in ("psycopg", "postgresql", "postgres", ""):
            raise HistoryError(f"{display}: the driver {driver!r} is not supported; use "
                               "postgresql:// (psycopg 3)")
        return Location(url.set(drivername="postgresql+psycopg"), display, None, False)
    raise HistoryError(f"{display}: {backend} is not supported; the history store is SQLite "
                       "(a file path) or PostgreSQL (postgresql://...)")


@dataclass(frozen=True)
class Recorded:
    """The outcome of recording one report."""

    run_id: int
    organization_id: str
    as_of: str | None
    new: bool                  # False: the same report was recorded before, as run_id


@dataclass(frozen=True)
class ProfileLevel:
    """The level a run reached in one profile."""

    profile_id: str
    achieved_level: int
    max_level: int
    profile_sha256: str | None


@dataclass(frozen=True)
class Run:
    """A recorded run, without its report."""

    id: int
    organization_id: str
    organization_name: str
    seq: int
    as_of: str | None
    period_start: str | None
    period_end: str | None
    tool_version: str
    rules_sha256: str
    bundle_sha256: str
    report_sha256: str
    source: str
    recorded_at: str
    previous_hash: str | None
    chain_hash: str
    levels: tuple[ProfileLevel, ...] = ()


@dataclass(frozen=True)
class ChainCheck:
    """What `verify` found for one organization's chain."""

    organization_id: str
    runs: int
    head: str | None            # chain hash of the last run (note it to anchor the chain)
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        """Whether nothing was found deleted, altered or reordered."""
        return not self.problems


class _Conflict(Exception):
    """Another writer extended the chain first: retry on the new head."""


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__


def _is_duplicate(exc: BaseException) -> bool:
    """Whether a write failed on a unique key: another writer got there first."""
    return _sqlstate(exc) == "23505" or "UNIQUE constraint failed" in _first_line(exc)


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None)


class Store:
    """An open history store. Use `open_store`; close it (or use it as a context)."""

    def __init__(self, engine: sa.Engine, location: Location) -> None:
        self.engine = engine
        self.location = location

    # -- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    def _error(self, exc: BaseException, action: str) -> HistoryError:
        """A user-facing error for a database failure while doing `action`."""
        where = self.location.display
        detail = _first_line(exc)
        lowered = detail.lower()
        if "readonly" in lowered or "read-only" in lowered or _sqlstate(exc) == "25006":
            return HistoryError(f"{where}: the history database is read-only ({detail}); "
                                f"nothing was {action}; give a writable one with --db or "
                                f"{ENV_VAR}")
        if "database is locked" in lowered or "database is busy" in lowered:
            return HistoryError(f"{where}: the history database stayed locked by another "
                                f"process for {BUSY_TIMEOUT_S} s; nothing was {action}; try "
                                "again")
        if "not a database" in lowered:
            return HistoryError(f"{where}: not an SQLite database; give another file with "
                                f"--db or {ENV_VAR}")
        if isinstance(exc, sa.exc.OperationalError) or isinstance(
                exc, sa.exc.InterfaceError):
            return HistoryError(f"{where}: cannot use the history database ({detail}); nothing "
                                f"was {action}; check the URL (--db or {ENV_VAR}) and that the "
                                "server is running")
        return HistoryError(f"{where}: database error ({detail}); nothing was {action}")

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except sa.exc.DBAPIError as exc:
            raise self._error(exc, "read") from exc

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One write transaction (BEGIN IMMEDIATE on SQLite). Database errors other than
        conflicts become HistoryError."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(ism3_write=True)
            with conn.begin():
                yield conn

    # -- writing --------------------------------------------------------------------

    def record(self, documents: Sequence[dict[str, Any]], source: str) -> list[Recorded]:
        """Record report documents in one transaction; a report recorded before is a
        no-op (its run is returned with `new` False).

        Raises:
            ReportError: a document fails `check_report` (nothing is recorded).
            HistoryError: the database cannot be written (nothing is recorded).
        """
        return self.record_from([functools.partial(lambda d: d, d) for d in documents], source)

    def record_from(self, loaders: Sequence[Callable[[], dict[str, Any]]],
                    source: str) -> list[Recorded]:
        """As `record`, with each report read by calling its loader inside the transaction
        (and again if the transaction is retried), so only one report is in memory at a
        time however many are recorded.

        Raises:
            ReportError: a loader raises it, or a report fails `check_report`
                (nothing is recorded).
            HistoryError: the database cannot be written (nothing is recorded).
        """
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self._write() as conn:
                    return [self._record_one(conn, load(), source) for load in loaders]
            except (_Conflict, sa.exc.IntegrityError) as exc:
                if isinstance(exc, sa.exc.IntegrityError) and not _is_duplicate(exc):
                    raise self._error(exc, "recorded") from exc
                if attempt == MAX_ATTEMPTS - 1:
                    raise HistoryError(f"{self.location.display}: other processes kept "
                                       f"recording the same organizations ({exc}); nothing "
                                       "was recorded; try again") from exc
                time.sleep(random.uniform(0.005, 0.05) * (1 + attempt % 5))
            except sa.exc.DBAPIError as exc:
                if _sqlstate(exc) in ("40001", "40P01") and attempt < MAX_ATTEMPTS - 1:
                    continue   # serialization failure or deadlock: retry
                raise self._error(exc, "recorded") from exc
        raise AssertionError("unreachable")

    def _record_one(self, conn: sa.Connection, document: dict[str, Any],
                    source: str) -> Recorded:
        check_report(document, "report")
        text = canonical_json(document)
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        values = derive.run_values(document)
        org = values["organization_id"]
        found = conn.execute(sa.select(runs.c.id, runs.c.organization_id, runs.c.as_of)
                             .where(runs.c.report_sha256 == sha)).first()
        if found is not None:
            return Recorded(found.id, found.organization_id, found.as_of, False)
        head = conn.execute(sa.select(heads.c.seq, heads.c.chain_hash)
                            .where(heads.c.organization_id == org)).first()
        seq = head.seq + 1 if head else 1
        previous = head.chain_hash if head else None
        recorded_at = datetime.now(UTC).isoformat(timespec="microseconds")
        chain = derive.chain_hash(org, seq, previous, sha, recorded_at, source)
        inserted = conn.execute(sa.insert(runs).values(
            **values, seq=seq, report_sha256=sha, source=source, recorded_at=recorded_at,
            previous_hash=previous, chain_hash=chain)).inserted_primary_key
        assert inserted is not None
        run_id = int(inserted[0])
        conn.execute(sa.insert(run_reports).values(run_id=run_id, encoding=derive.ENCODING,
                                                   body=derive.compress(text)))
        for table, made in ((run_processes, derive.process_rows(document)),
                            (run_profiles, derive.profile_rows(document)),
                            (run_findings, derive.finding_rows(document)),
                            (run_gaps, derive.gap_rows(document))):
            if made:
                conn.execute(sa.insert(table), [{"run_id": run_id, **row} for row in made])
        if head is None:
            conn.execute(sa.insert(heads).values(organization_id=org, run_id=run_id, seq=seq,
                                                 chain_hash=chain))
        else:
            moved = conn.execute(sa.update(heads).where(heads.c.organization_id == org,
                                                        heads.c.chain_hash == previous)
                                 .values(run_id=run_id, seq=seq, chain_hash=chain))
            if moved.rowcount != 1:
                raise _Conflict(f"the chain of {org} moved")
        return Recorded(run_id, org, values["as_of"], True)

    # -- reading --------------------------------------------------------------------

    def runs(self, organization: str | None = None) -> list[Run]:
        """Every run (of `organization`), by organization, evaluation date and id."""
        query = sa.select(runs)
        if organization is not None:
            query = query.where(runs.c.organization_id == organization)
        with self._read() as conn:
            # sorted here, not by the database: the same order whatever its collation
            found = sorted(conn.execute(query).all(),
                           key=lambda r: (r.organization_id, r.as_of or "", r.id))
            levels = self._levels(conn, [r.id for r in found])
        return [_run(r, levels.get(r.id, ())) for r in found]

    def _levels(self, conn: sa.Connection,
                run_ids: Sequence[int]) -> dict[int, tuple[ProfileLevel, ...]]:
        out: dict[int, list[ProfileLevel]] = {}
        ids = list(run_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for row in conn.execute(sa.select(run_profiles)
                                    .where(run_profiles.c.run_id.in_(chunk))
                                    .order_by(run_profiles.c.run_id, run_profiles.c.position)):
                out.setdefault(row.run_id, []).append(ProfileLevel(
                    row.profile_id, row.achieved_level, row.max_level, row.profile_sha256))
        return {k: tuple(v) for k, v in out.items()}

    def run(self, run_id: int) -> Run:
        """One run.

        Raises:
            HistoryError: no run with that id.
        """
        with self._read() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
            if row is None:
                last = conn.execute(sa.select(sa.func.max(runs.c.id))).scalar()
                hint = (f"the last run is {last}" if last else "the store has no runs")
                raise HistoryError(f"{self.location.display}: no run {run_id} ({hint}); "
                                   "`ism3 history list` shows them")
            levels = self._levels(conn, [run_id])
        return _run(row, levels.get(run_id, ()))

    def report(self, run_id: int, max_bytes: int = MAX_REPORT_BYTES,
               max_depth: int = MAX_REPORT_DEPTH) -> dict[str, Any]:
        """The stored report of a run, checked against the sha256 recorded with it, and read
        as strictly as a report file, within `max_bytes` and `max_depth`.

        Raises:
            HistoryError: no such run, its stored report was altered, or it is larger
                than `max_bytes` once decompressed.
            ReportError: the stored report is not a complete ism3-report/1 document.
        """
        run = self.run(run_id)
        with self._read() as conn:
            body = conn.execute(sa.select(run_reports.c.body)
                                .where(run_reports.c.run_id == run_id)).scalar()
        try:
            text = derive.decompress(body, max_bytes) if body is not None else None
        except ValueError as exc:     # a bound, not an alteration
            raise HistoryError(f"{self.location.display}: run {run_id}: {exc}") from None
        except Exception:  # noqa: BLE001 - zlib.error, UnicodeDecodeError: altered bytes
            text = None
        if text is None or hashlib.sha256(text.encode("utf-8")).hexdigest() != run.report_sha256:
            raise HistoryError(f"{self.location.display}: the stored report of run {run_id} does "
                               "not match its recorded sha256: the store was altered; run "
                               "`ism3 history verify`")
        return derive.stored_report(text, f"{self.location.display}: run {run_id}", max_depth)

    def organizations(self) -> list[str]:
        """The organizations with at least one run, sorted."""
        with self._read() as conn:
            return sorted(conn.execute(sa.select(runs.c.organization_id).distinct()).scalars())

    # -- verifying ------------------------------------------------------------------

    def verify(self, organization: str | None = None,
               max_bytes: int = MAX_REPORT_BYTES) -> list[ChainCheck]:
        """Check every chain (or `organization`'s): links, hashes, stored reports (each read
        within `max_bytes` once decompressed), rows.

        Raises:
            HistoryError: the database cannot be read.
        """
        from .verify_chain import check_chains

        with self._read() as conn:
            return check_chains(conn, organization, max_bytes)


def _run(row: Any, levels: tuple[ProfileLevel, ...]) -> Run:
    return Run(row.id, row.organization_id, row.organization_name, row.seq, row.as_of,
               row.period_start, row.period_end, row.tool_version, row.rules_sha256,
               row.bundle_sha256, row.report_sha256, row.source, row.recorded_at,
               row.previous_hash, row.chain_hash, levels)


def _sqlite_engine(location: Location) -> sa.Engine:
    if location.path is not None:
        path = location.path
        if path.is_dir():
            raise HistoryError(f"{path}: a folder, not a database file; give a file path with "
                               f"--db or {ENV_VAR}")
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            mode = None               # absent (created on first use), or refused below
        if mode is not None and not stat.S_ISREG(mode):   # never opened: it could block
            raise HistoryError(f"{path}: expected an SQLite database file, found not a regular "
                               f"file ({file_type(mode)}: never opened); give a file path with "
                               f"--db or {ENV_VAR}")
        if not path.parent.is_dir():
            if not location.default:
                raise HistoryError(f"{path}: the folder {path.parent} does not exist; create it "
                                   f"or give another path with --db or {ENV_VAR}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(f"{path.parent}: cannot create the folder of the history "
                                   f"database ({exc.strerror or exc}); set {ENV_VAR} or use "
                                   "--db") from exc
    engine = sa.create_engine(location.url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None          # transactions are begun below, not by sqlite3
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys = ON")
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except Exception:  # noqa: BLE001 - a read-only file keeps its mode; reading still works
            pass
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("ism3_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(location: Location) -> sa.Engine:
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise HistoryError(f"{location.display}: PostgreSQL needs psycopg 3: pip install "
                           "'ism3rules[postgres]'") from exc
    return sa.create_engine(location.url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


def open_store(db: str | None = None, environ: Mapping[str, str] | None = None,
               target_version: int = SCHEMA_VERSION) -> Store:
    """Open (and on first use create) the store named by `db`, $ISM3_DB or the default,
    migrated to the current schema version (`target_version` is for tests).

    Raises:
        HistoryError: unreachable, read-only where a migration is due, a schema
            newer than this tool, or not an ism3 store.
    """
    location = locate(db, environ)
    engine = (_sqlite_engine(location) if location.url.get_backend_name() == "sqlite"
              else _postgres_engine(location))
    store = Store(engine, location)
    try:
        with engine.connect() as conn, conn.begin():
            version = stored_version(conn)
        check_version(version, location.display)
        if version < target_version:
            with store._write() as conn:
                migrate(conn, location.display, target_version)
    except HistoryError:
        engine.dispose()
        raise
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise store._error(exc, "changed") from exc
    return store


__all__ = ["ChainCheck", "Location", "ProfileLevel", "Recorded", "Run", "Store", "default_path",
           "locate", "open_store"]
