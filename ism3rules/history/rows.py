"""What a run stores: its columns and queryable rows, all derived from the report alone.

Recording and `history verify` both derive the rows here, so verify can tell a row
that no longer says what the stored report says.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any

from ..diff import finding_key, findings_have_ids
from ..report_check import MAX_REPORT_BYTES, MAX_REPORT_DEPTH, parse_report

ENCODING = "zlib"
CHAIN_SCHEMA = "ism3-history-chain/1"


def effective_as_of(document: dict[str, Any]) -> str | None:
    """The date a report judges at: `assessment.as_of`, else the period's end."""
    assessment = document.get("assessment") or {}
    return assessment.get("as_of") or (assessment.get("period") or {}).get("end")


def run_values(document: dict[str, Any]) -> dict[str, Any]:
    """The columns of a run that come from its report."""
    period = (document.get("assessment") or {}).get("period") or {}
    return {
        "organization_id": document["organization"]["id"],
        "organization_name": document["organization"]["name"],
        "as_of": effective_as_of(document),
        "period_start": period.get("start"),
        "period_end": period.get("end"),
        "tool_version": document["tool"]["version"],
        "rules_sha256": document["inputs"]["rules_sha256"],
        "bundle_sha256": document["inputs"]["bundle_sha256"],
    }


def process_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per process: its capability and rank."""
    return [{"process_id": pid, "capability": p["capability"], "rank": p["rank"]}
            for pid, p in document["processes"].items()]


def profile_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per profile: the level reached, of how many, with the profile's digest."""
    return [{"profile_id": p["id"], "position": i, "profile_name": p.get("name"),
             "source": p.get("source"), "profile_sha256": p.get("sha256"),
             "achieved_level": p["achieved_level"], "max_level": p["max_level"]}
            for i, p in enumerate(document["profiles"])]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def finding_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per finding, in report order, with its stable id when it has one."""
    findings = document.get("findings") or []
    return [{"position": i,
             "finding_id": f["id"] if findings_have_ids([f]) else None,
             "finding_key": finding_key(f, False),
             "rule": _text(f.get("rule")), "kind": _text(f.get("finding")),
             "process_id": _text(f.get("process")), "severity": _text(f.get("severity")),
             "status": _text(f.get("status")), "message": _text(f.get("message"))}
            for i, f in enumerate(findings)]


def gap_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per gap of each profile, at the first level that asks for it."""
    rows: list[dict[str, Any]] = []
    for prof in document["profiles"]:
        seen: set[tuple[str, str]] = set()
        for level in prof["levels"]:
            for gap in level.get("gaps") or []:
                key = (str(gap.get("process")), str(gap.get("required")))
                if key in seen:
                    continue
                seen.add(key)
                rows.append({"profile_id": prof["id"], "process_id": key[0],
                             "required": key[1], "level": level["level"],
                             "actual": _text(gap.get("actual"))})
    return rows


def compress(canonical: str) -> bytes:
    """The stored form of a report's canonical JSON."""
    return zlib.compress(canonical.encode("utf-8"), 6)


def decompress(body: bytes, max_bytes: int = MAX_REPORT_BYTES) -> str:
    """The canonical JSON of a stored report, at most `max_bytes` of it once decompressed
    (a store is input too: a small row must not stand for a huge report).

    Raises:
        zlib.error, UnicodeDecodeError, TypeError: the stored bytes were altered.
        ValueError: the report is larger than `max_bytes` (--max-report-bytes).
    """
    inflater = zlib.decompressobj()
    raw = inflater.decompress(body, max_bytes + 1)
    if len(raw) > max_bytes or inflater.unconsumed_tail:
        raise ValueError(f"the stored report is larger than the limit of {max_bytes} bytes "
                         "once decompressed (--max-report-bytes changes it)")
    if not inflater.eof:
        raise zlib.error("the stored report is cut short")
    return raw.decode("utf-8")


def stored_report(text: str, source: str, max_depth: int = MAX_REPORT_DEPTH) -> dict[str, Any]:
    """The report document of a stored report's canonical JSON, read as strictly as a
    report file (strict JSON, nesting bounded, shape and own digests checked).

    Raises:
        ReportError: it is not a complete ism3-report/1 document (the store was altered).
    """
    return parse_report(text.encode("utf-8"), source, max_depth)


def chain_hash(organization_id: str, seq: int, previous_hash: str | None, report_sha256: str,
               recorded_at: str, source: str) -> str:
    """The hash that links a run to the one before it in its organization's chain."""
    payload = json.dumps({"schema": CHAIN_SCHEMA, "organization": organization_id, "seq": seq,
                          "previous": previous_hash, "report_sha256": report_sha256,
                          "recorded_at": recorded_at, "source": source},
                         sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
