"""The report document (ism3-report/1): an Assessment as plain, ordered data.

Every formatter starts from this one structure, so all formats say the same thing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from .digests import normalise
from .evidence import EvidenceItem
from .results import (Assessment, Finding, Gap, MetricResult, NotCounted, ProcessResult,
                      ProfileResult, ServiceLevelResult, Shortfall)

SCHEMA = "ism3-report/1"


def _date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _not_counted(items: tuple[NotCounted, ...]) -> list[dict[str, str]]:
    return [{"id": n.evidence, "reason": n.reason} for n in items]


def _shortfall(short: Shortfall | None) -> dict[str, Any] | None:
    if short is None:
        return None
    return {"capability": short.capability, "rank": short.rank, "rules": list(short.rules),
            "missing": list(short.missing), "not_counted": _not_counted(short.not_counted),
            "add": [i.as_dict() for i in short.add], "reachable": short.reachable}


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
            "rationale": gap.rationale, "add": [i.as_dict() for i in gap.add],
            "reachable": gap.reachable}


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


def _metric(entry: dict[str, Any], item: EvidenceItem, metric: MetricResult | None) -> None:
    """Per-metric additions: specification, what counted it, cadence, band, target."""
    if item.specification is not None:
        entry["specification"] = item.specification.as_dict()
    if item.observations_after_as_of:
        entry["observations_after_as_of"] = item.observations_after_as_of
    if metric is None:
        return
    if metric.counted_by:
        entry["counted_by"] = metric.counted_by
    if metric.coverage is not None:
        entry["cadence"] = {"frequency": metric.frequency,
                            "periods_expected": metric.periods_expected,
                            "periods_reported": metric.periods_reported,
                            "coverage": metric.coverage}
    if metric.bounds is not None:
        band: dict[str, Any] = {"bounds": metric.bounds, "lower": metric.lower,
                                "upper": metric.upper}
        if metric.bounds == "control":
            band.update({"mean": metric.mean, "sigma": metric.sigma, "sigma_kind": "moving-range",
                         "samples": metric.observations_in_window})
        band["anomalies"] = metric.anomalies
        entry["band"] = band
    if metric.target is not None:
        entry["target"] = {"value": metric.target, "better": metric.better,
                           "latest": metric.latest_value, "date": _date(metric.latest_date),
                           "met": metric.target_met}


def _facts(finding: Finding) -> dict[str, Any]:
    return {alias: {"fact": fact_type, **dict(attrs)} for alias, fact_type, attrs in finding.facts}


def _findings(findings: tuple[Finding, ...]) -> list[dict[str, Any]]:
    """One entry per finding id, in the order of its first occurrence.

    Several firings about the same thing (a metric outside its band on several
    dates) share an id: the entry keeps the first one's message and facts, as
    version 0.1 had them, and lists every one under `occurrences`.
    """
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.id, []).append(finding)
    out = []
    for fid, group in grouped.items():
        first = group[0]
        out.append({"id": fid, "rule": first.rule, "finding": first.finding,
                    "process": first.process, "severity": first.severity,
                    "message": first.message,
                    "evidence": sorted({e for f in group for e in f.evidence}),
                    "facts": _facts(first),
                    "occurrences": [{"message": f.message, "facts": _facts(f)} for f in group]})
    return out


def _service_level(sla: ServiceLevelResult) -> dict[str, Any]:
    return {"id": sla.id, "process": sla.process, "provider": sla.provider,
            "metric": sla.metric, "target": sla.target, "window": sla.window,
            "status": sla.status, "rules": list(sla.rules),
            "observations": [{"item": i, "date": _date(d), "value": v}
                             for i, d, v in sla.deciding]}


def _evidence(item: EvidenceItem, metric: MetricResult | None = None,
              admitted_by: str | None = None) -> dict[str, Any]:
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
    elif item.kind == "role":
        entry.update({"role": item.role, "person": item.person})
    else:
        entry["metric_type"] = item.metric_type
        entry["observations"] = len(item.observations)
        entry["observations_in_period"] = item.observations_in_period
        _metric(entry, item, metric)
    if item.effective:
        entry["date"] = _date(item.effective)
    if item.expires:
        entry["expires"] = _date(item.expires)
    if admitted_by:   # documentation and roles: the rule that admitted it
        entry["counted_by"] = admitted_by
    return entry


def to_document(assessment: Assessment) -> dict[str, Any]:
    """The ism3-report/1 document, with keys in a fixed order (byte-stable JSON)."""
    metrics = {m.item: m for m in assessment.metrics}
    period = None
    if assessment.period_start or assessment.period_end:
        period = {"start": _date(assessment.period_start), "end": _date(assessment.period_end)}
    by_path = {f.path: f.sha256 for f in assessment.bundle_files}
    file_sha = {i.id: by_path.get(normalise(i.path)) for i in assessment.evidence if i.path}
    admitted = dict(assessment.admitted_by)
    inputs: dict[str, Any] = {
        "bundle_manifest_sha256": assessment.bundle_manifest_sha256,
        "rules_sha256": assessment.rules_sha256,
        "bundle_sha256": assessment.bundle_sha256,
        "bundle_files": [{"path": f.path, "sha256": f.sha256} for f in assessment.bundle_files],
        "profiles": [{"id": p.id, "sha256": p.sha256} for p in assessment.profiles]}
    if assessment.bundle_archive is not None:   # only then: a folder's report is unchanged
        fmt, sha = assessment.bundle_archive
        inputs["bundle_archive"] = {"format": fmt, "sha256": sha}
    return {
        "schema": SCHEMA,
        "tool": {"name": "ism3rules", "version": assessment.tool_version},
        "organization": {"id": assessment.organization_id, "name": assessment.organization_name},
        "assessment": {"period": period, "as_of": _date(assessment.as_of)},
        "inputs": inputs,
        "processes": {p.id: _process(p, file_sha) for p in assessment.processes},
        "profiles": [_profile(p) for p in assessment.profiles],
        "evidence": [_evidence(i, metrics.get(i.id), admitted.get(i.id))
                     for i in assessment.evidence],
        "findings": _findings(assessment.findings),
        "service_levels": [_service_level(s) for s in assessment.service_levels],
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
