"""The CSV formats: one row per process (`csv`) or per evidence item (`csv-evidence`).

For spreadsheets: every text cell goes through `csv_cell`, which neutralises a
leading `=`, `+`, `-`, `@`, tab or carriage return (formula injection) with a `'`.
Lists are joined with `; `. Line endings are `\\r\\n`, as RFC 4180 says.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ._common import csv_cell, highest_requirements, text

PROCESS_COLUMNS = ("process", "name", "management_level", "group", "capability", "rank",
                   "practices", "rules", "evidence", "evidence_sha256", "other_evidence",
                   "rejected_evidence", "next_capability", "next_rules", "next_missing",
                   "next_not_counted")
EVIDENCE_COLUMNS = ("id", "status", "reason", "process", "kind", "title", "path", "sha256",
                    "metric_type", "observations", "observations_in_period", "line")


# With an auditor's review (`--review`): the decision on each item (`pending`: unreviewed).
REVIEW_COLUMNS = ("decision", "reason", "reviewer", "date")


def _join(values: Any) -> str:
    return "; ".join(text(v) for v in (values or []))


def _write(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([v if isinstance(v, int) and not isinstance(v, bool) else csv_cell(v)
                         for v in row])
    return buffer.getvalue()


def render_csv(document: dict[str, Any]) -> str:
    """One row per process; a `<profile> required` and `<profile> met` column pair per
    profile, then a `<profile> source` column each (derived, standard or custom)."""
    profiles = document.get("profiles", [])
    reqs = [highest_requirements(p) for p in profiles]
    header = list(PROCESS_COLUMNS)
    reviewed = isinstance(document.get("review"), dict)
    decision = {e.get("id"): (e.get("review") or {}).get("decision")
                for e in document.get("evidence", [])}
    if reviewed:
        header.append("unreviewed_evidence")
    for prof in profiles:
        header += [f"{text(prof.get('id'))} required", f"{text(prof.get('id'))} met"]
    # where each profile's levels come from (standard, derived, custom), last so that
    # the columns before keep their places
    header += [f"{text(prof.get('id'))} source" for prof in profiles]
    rows = []
    for pid, proc in document.get("processes", {}).items():
        nxt = proc.get("next") or {}
        shas = proc.get("evidence_sha256") or {}
        row: list[Any] = [
            pid, proc.get("name"), proc.get("management_level"), proc.get("group"),
            proc.get("capability"), proc.get("rank"), _join(proc.get("practices")),
            _join(proc.get("rules")), _join(proc.get("evidence")),
            "; ".join(f"{text(k)}={text(v)}" for k, v in shas.items()),
            _join(proc.get("other_evidence")), _join(proc.get("rejected_evidence")),
            nxt.get("capability"), _join(nxt.get("rules")), _join(nxt.get("missing")),
            "; ".join(f"{text(n.get('id'))}: {text(n.get('reason'))}"
                      for n in nxt.get("not_counted", [])),
        ]
        if reviewed:
            row.append(_join(e.get("id") for e in document.get("evidence", [])
                             if e.get("process") == pid and decision.get(e.get("id")) == "pending"))
        for req in reqs:
            if pid in req:
                required, first, state = req[pid]
                row += [f"{required} (level {first})",
                        {"met": "yes", "unmet": "no"}.get(state, state)]
            else:
                row += ["", ""]
        row += [prof.get("source") for prof in profiles]
        rows.append(row)
    return _write(header, rows)


def render_csv_evidence(document: dict[str, Any]) -> str:
    """One row per evidence item of the bundle, accepted or rejected, in bundle order."""
    reviewed = isinstance(document.get("review"), dict)
    rows = [[item.get(col) if col in ("observations", "observations_in_period", "line")
             else text(item.get(col)) for col in EVIDENCE_COLUMNS]
            + ([text((item.get("review") or {}).get(k)) for k in REVIEW_COLUMNS] if reviewed
               else [])
            for item in document.get("evidence", [])]
    header = list(EVIDENCE_COLUMNS) + ([f"review_{k}" for k in REVIEW_COLUMNS] if reviewed else [])
    return _write(header, rows)
