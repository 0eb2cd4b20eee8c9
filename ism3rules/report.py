"""The report document (ism3-report/1): an Assessment as plain, ordered data.

Every formatter starts from this one structure, so all formats say the same thing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from .digests import normalise
from .evidence import EvidenceItem
from .results import Assessment, Gap, NotCounted, ProcessResult, ProfileResult, Shortfall

SCHEMA = "ism3-report/1"


def _date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _not_counted(items: tuple[NotCounted, ...]) -> list[dict[str, str]]:
    return [{"id": n.evidence, "reason": n.reason} for n in items]


def _shortfall(short: Shortfall | None) -> dict[str, Any] | None:
    if short is None:
        return None
    return {"capability": short.capability, "rank": short.rank, "rules": list(short.rules),
            "missing": list(short.missing), "not_counted": _not_counted(short.not_counted)}


def _process(proc: ProcessResult, file_sha: dict[str, str | None]) -> dict[str, Any]:
    return {
        "name": proc.name,
        "management_level": proc.level,
        "group": proc.group,
        "capability": proc.capability,
        "rank": proc.rank,
        "practices": list(proc.practices),
        "rules": list(proc.rules),
        "evidence": list(proc.evidence),
        "other_evidence": list(proc.other_evidence),
        "rejected_evidence": list(proc.rejected_evidence),
        "next": _shortfall(proc.next),
        # the sha256 of the file behind each item of `evidence` (metrics given inline: none)
        "evidence_sha256": {e: file_sha[e] for e in proc.evidence if e in file_sha},
    }


def _gap(gap: Gap) -> dict[str, Any]:
    return {"process": gap.process, "required": gap.required, "actual": gap.actual,
            "missing": list(gap.missing), "not_counted": _not_counted(gap.not_counted),
            "rationale": gap.rationale}


def _profile(prof: ProfileResult) -> dict[str, Any]:
    return {
        "id": prof.id,
        "name": prof.name,
        "source": prof.source,
        "achieved_level": prof.achieved_level,
        "max_level": prof.max_level,
        "sha256": prof.sha256,
        "mandatory": list(prof.mandatory),
        "levels": [
            {"level": lvl.level, "name": lvl.name, "met": lvl.met,
             "requirements": [{"process": r.process, "required": r.required, "actual": r.actual,
                               "met": r.met, "rule": r.rule, "status": r.status,
                               "excluded_by": r.excluded_by} for r in lvl.requirements],
             "gaps": [_gap(g) for g in lvl.gaps]}
            for lvl in prof.levels
        ],
    }


def _evidence(item: EvidenceItem) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": item.id, "status": item.status}
    if item.reason:
        entry["reason"] = item.reason
    entry.update({"process": item.process, "kind": item.kind, "line": item.line})
    if item.title:
        entry["title"] = item.title
    if item.path:
        entry["path"] = item.path
    if item.kind == "exclusion":
        entry.update({"justification": item.justification, "approver": item.approver,
                      "expires": _date(item.expires)})
    elif item.kind == "documentation":
        entry["sha256"] = item.sha256
    else:
        entry["metric_type"] = item.metric_type
        entry["observations"] = len(item.observations)
        entry["observations_in_period"] = item.observations_in_period
    return entry


def to_document(assessment: Assessment) -> dict[str, Any]:
    """The ism3-report/1 document, with keys in a fixed order (byte-stable JSON)."""
    period = None
    if assessment.period_start or assessment.period_end:
        period = {"start": _date(assessment.period_start), "end": _date(assessment.period_end)}
    by_path = {f.path: f.sha256 for f in assessment.bundle_files}
    file_sha = {i.id: by_path.get(normalise(i.path)) for i in assessment.evidence if i.path}
    return {
        "schema": SCHEMA,
        "tool": {"name": "ism3rules", "version": assessment.tool_version},
        "organization": {"id": assessment.organization_id, "name": assessment.organization_name},
        "assessment": {"period": period, "as_of": _date(assessment.as_of)},
        "inputs": {"bundle_manifest_sha256": assessment.bundle_manifest_sha256,
                   "rules_sha256": assessment.rules_sha256,
                   "bundle_sha256": assessment.bundle_sha256,
                   "bundle_files": [{"path": f.path, "sha256": f.sha256}
                                    for f in assessment.bundle_files],
                   "profiles": [{"id": p.id, "sha256": p.sha256} for p in assessment.profiles]},
        "processes": {p.id: _process(p, file_sha) for p in assessment.processes},
        "profiles": [_profile(p) for p in assessment.profiles],
        "evidence": [_evidence(i) for i in assessment.evidence],
    }


def with_timestamp(document: dict[str, Any], when: datetime) -> dict[str, Any]:
    """A copy of `document` with `generated_at` (ISO 8601, UTC) after `tool`.

    Only on request (`--timestamp`): without it a report holds no wall-clock time,
    so the same inputs give byte-identical output.
    """
    out: dict[str, Any] = {}
    for key, value in document.items():
        out[key] = value
        if key == "tool":
            out["generated_at"] = when.isoformat(timespec="seconds")
    return out
