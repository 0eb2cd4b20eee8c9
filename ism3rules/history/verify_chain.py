"""`history verify`: walk each organization's chain and re-derive every run from its report.

A run is linked to the one before it by `previous_hash`, and its `chain_hash`
covers its organization, position, report sha256, recording time and source; the
head table names the last run of each chain. A deleted run leaves a gap in the
positions and a broken link (or a head pointing past the end); an altered run
fails its own hash, its report's sha256, or the columns and rows re-derived from
the stored report.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from ..errors import ReportError
from ..report_check import MAX_REPORT_BYTES
from . import rows as derive
from .schema import heads, run_findings, run_gaps, run_processes, run_profiles, run_reports, runs
from .store import ChainCheck

_DETAILS: tuple[tuple[sa.Table, Callable[[dict[str, Any]], list[dict[str, Any]]], str], ...] = (
    (run_processes, derive.process_rows, "process"),
    (run_profiles, derive.profile_rows, "profile"),
    (run_findings, derive.finding_rows, "finding"),
    (run_gaps, derive.gap_rows, "gap"),
)


def _rows_by_run(conn: sa.Connection, table: sa.Table,
                 run_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    columns = [c for c in table.c if c.name != "run_id"]
    for start in range(0, len(run_ids), 500):
        chunk = list(run_ids[start:start + 500])
        for row in conn.execute(sa.select(table).where(table.c.run_id.in_(chunk))):
            mapping = row._mapping
            out.setdefault(mapping["run_id"], []).append({c.name: mapping[c.name]
                                                          for c in columns})
    return out


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def _check_run(run: Any, body: bytes | None, details: dict[str, dict[int, list[dict[str, Any]]]],
               problems: list[str], max_bytes: int = MAX_REPORT_BYTES) -> None:
    label = f"run {run.id}"
    recomputed = derive.chain_hash(run.organization_id, run.seq, run.previous_hash,
                                   run.report_sha256, run.recorded_at, run.source)
    if recomputed != run.chain_hash:
        problems.append(f"{label}: its chain hash does not match its columns (organization, "
                        "position, report sha256, time or source were altered)")
    try:
        text = derive.decompress(body, max_bytes) if body is not None else None
    except ValueError as exc:         # over the limit: say so, it may be honest
        problems.append(f"{label}: not checked: {exc}")
        return
    except Exception:  # noqa: BLE001 - zlib.error, UnicodeDecodeError: altered bytes
        text = None
    if text is None:
        problems.append(f"{label}: its stored report is missing or unreadable")
        return
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != run.report_sha256:
        problems.append(f"{label}: its stored report does not match its report sha256 "
                        "(the report was altered)")
        return
    try:
        document = derive.stored_report(text, label)
    except ReportError as exc:
        problems.append(f"{label}: its stored report is not a complete ism3 report (the store "
                        f"was altered): {str(exc).splitlines()[-1]}")
        return
    for column, value in derive.run_values(document).items():
        if getattr(run, column) != value:
            problems.append(f"{label}: column {column} is {getattr(run, column)!r}, its report "
                            f"says {value!r}")
    for table, make, name in _DETAILS:
        stored = sorted(_key(r) for r in details[table.name].get(run.id, []))
        expected = sorted(_key(r) for r in make(document))
        if stored != expected:
            problems.append(f"{label}: its {name} rows differ from its report "
                            f"({len(stored)} stored, {len(expected)} in the report)")


def check_chains(conn: sa.Connection, organization: str | None = None,
                 max_bytes: int = MAX_REPORT_BYTES) -> list[ChainCheck]:
    """A ChainCheck per organization (or for `organization` only), sorted by id; each
    stored report read within `max_bytes` once decompressed."""
    query = sa.select(runs).order_by(runs.c.organization_id, runs.c.seq, runs.c.id)
    head_query = sa.select(heads)
    if organization is not None:
        query = query.where(runs.c.organization_id == organization)
        head_query = head_query.where(heads.c.organization_id == organization)
    by_org: dict[str, list[Any]] = {}
    for row in conn.execute(query):
        by_org.setdefault(row.organization_id, []).append(row)
    head_of = {h.organization_id: h for h in conn.execute(head_query)}
    checks = []
    for org in sorted(set(by_org) | set(head_of)):
        chain = by_org.get(org, [])
        ids = [r.id for r in chain]
        details = {t.name: _rows_by_run(conn, t, ids) for t, _, _ in _DETAILS}
        problems: list[str] = []
        previous: Any = None
        for run in chain:
            expected = previous.seq + 1 if previous is not None else 1
            if run.seq > expected:
                missing = (f"position {expected}" if run.seq == expected + 1
                           else f"positions {expected} to {run.seq - 1}")
                problems.append(f"{org}: the run(s) at {missing} of the chain are missing "
                                f"(deleted); run {run.id} follows "
                                + (f"run {previous.id}" if previous is not None else "nothing"))
            elif run.seq < expected:
                problems.append(f"run {run.id}: position {run.seq} repeats or goes back "
                                f"(expected {expected})")
            elif run.previous_hash != (previous.chain_hash if previous is not None else None):
                problems.append(f"run {run.id}: its previous hash does not match "
                                + (f"run {previous.id}" if previous is not None
                                   else "the start of the chain"))
            body = conn.execute(sa.select(run_reports.c.body)
                                .where(run_reports.c.run_id == run.id)).scalar()
            _check_run(run, body, details, problems, max_bytes)
            previous = run
        head = head_of.get(org)
        last = chain[-1] if chain else None
        if head is None:
            problems.append(f"{org}: no head recorded for the chain (the head table was "
                            "altered)")
        elif last is None:
            problems.append(f"{org}: every run was deleted (the head names run {head.run_id}, "
                            f"position {head.seq})")
        elif head.seq > last.seq:
            problems.append(f"{org}: the last {head.seq - last.seq} run(s) of the chain are "
                            f"missing (deleted): the head names run {head.run_id}, position "
                            f"{head.seq}")
        elif (head.run_id, head.seq, head.chain_hash) != (last.id, last.seq, last.chain_hash):
            problems.append(f"{org}: the head does not name the last run ({last.id})")
        checks.append(ChainCheck(org, len(chain), last.chain_hash if last else None,
                                 tuple(problems)))
    return checks
