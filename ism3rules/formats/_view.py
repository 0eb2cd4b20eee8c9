"""What the human formats show, computed once from the report document: plain data.

The HTML template and the Markdown renderer both read these views, so they say the
same things; nothing here escapes (each format escapes for itself) and nothing here
decides a verdict (everything is read off the document).
"""

from __future__ import annotations

from typing import Any

from ._common import (CAPABILITIES, highest_requirements, item_detail, new_gaps, next_unmet,
                      rank_of, requirement_state, text)

SEVERITY_ORDER = ("critical", "high", "medium", "low")
# Sequential palette for capability ranks 0..5 (light to dark), readable in greyscale.
RANK_FILL = ("#f1f3f5", "#d0e2f2", "#9ec5e8", "#5b9bd5", "#2e75b6", "#1f4e79")
RANK_INK = ("#495057", "#1b2a38", "#1b2a38", "#ffffff", "#ffffff", "#ffffff")
MET_FILL, UNMET_FILLS, OTHER_FILL = "#b7e1c1", ("#f8d7a8", "#f4a582", "#e8705b", "#c23b32",
                                              "#8e1b16"), "#e9ecef"
TOP_GAPS = 5      # gaps per profile in the executive summary


def percent(value: Any) -> str:
    """A share (0..1) as a percentage for people: 0.962963 -> '96.3%'."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    shown = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return f"{shown}%"


def number(value: Any) -> str:
    """A number as a person reads it (no trailing zeros); other values as text."""
    if isinstance(value, float):
        return f"{value:g}"
    return text(value)


def capability_counts(document: dict[str, Any]) -> list[tuple[str, int]]:
    """(capability, number of processes at it), highest capability first, zeros dropped."""
    counts: dict[tuple[int, str], int] = {}
    for proc in document.get("processes", {}).values():
        key = (int(proc.get("rank", 0)), str(proc.get("capability")))
        counts[key] = counts.get(key, 0) + 1
    return [(name, n) for (_rank, name), n in sorted(counts.items(), reverse=True)]


def header_rows(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, plain text) pairs of the report header: who, when, from what."""
    org = document.get("organization", {})
    assessment = document.get("assessment") or {}
    inputs = document.get("inputs") or {}
    tool = document.get("tool") or {}
    period = assessment.get("period")
    rows = [("Organization", f"{text(org.get('name'))} ({text(org.get('id'))})")]
    if period:
        rows.append(("Evidence period", f"{period.get('start')} to {period.get('end')}"))
    rows.append(("As of", text(assessment.get("as_of")) or "not given"))
    rows.append(("Tool", f"{text(tool.get('name'))} {text(tool.get('version'))}"))
    if document.get("generated_at"):
        rows.append(("Generated at", text(document["generated_at"])))
    if inputs.get("bundle_sha256"):
        rows.append(("Bundle sha256", text(inputs["bundle_sha256"])))
    rows.append(("Manifest sha256", text(inputs.get("bundle_manifest_sha256"))))
    rows.append(("Rules sha256", text(inputs.get("rules_sha256"))))
    for prof in document.get("profiles", []):
        rows.append((f"Profile {text(prof.get('id'))} sha256", text(prof.get("sha256"))))
    review = document.get("review")
    if isinstance(review, dict) and review.get("sha256"):
        rows.append(("Review sha256", text(review.get("sha256"))))
    return rows


def gap_missing(gap: dict[str, Any]) -> str:
    """What a gap lacks, as plain text."""
    return ", ".join(text(m) for m in gap.get("missing", []))


def gap_rejected(gap: dict[str, Any]) -> str:
    """The rejected items that would have closed a gap, with their reasons, as plain text."""
    return "; ".join(f"{text(n.get('id'))}: {text(n.get('reason'))}"
                     for n in gap.get("not_counted", []))


def summary(document: dict[str, Any]) -> dict[str, Any]:
    """Counts for the summary: processes by capability, evidence, findings."""
    evidence = document.get("evidence", [])
    rejected = sum(1 for e in evidence if e.get("status") != "accepted")
    return {"processes": len(document.get("processes", {})),
            "capabilities": capability_counts(document),
            "evidence": len(evidence), "accepted": len(evidence) - rejected,
            "rejected": rejected,
            "has_findings": "findings" in document,
            "findings": len(document.get("findings") or []),
            "any_not_standard": any(p.get("source") != "standard"
                                    for p in document.get("profiles", []))}


def ladder(prof: dict[str, Any]) -> dict[str, Any]:
    """Geometry of a staircase chart: one step per level, filled when met."""
    levels = prof.get("levels", [])
    count = max(len(levels), 1)
    width, height, pad = 300, 120, 18
    step_w = (width - 2) / count
    steps = []
    for i, lvl in enumerate(levels):
        step_h = (height - 20) * (i + 1) / count
        x, y = 1 + i * step_w, height - step_h
        met = bool(lvl.get("met"))
        gaps = len(lvl.get("gaps", []))
        steps.append({
            "met": met, "level": lvl.get("level"), "gaps": gaps,
            "label": f"level {text(lvl.get('level'))} {text(lvl.get('name'))}: "
                     + ("met" if met else f"not met, {gaps} gap(s)"),
            "x": f"{x:.1f}", "y": f"{y:.1f}", "w": f"{step_w - 3:.1f}", "h": f"{step_h:.1f}",
            "cx": f"{x + (step_w - 3) / 2:.1f}", "base": f"{height - 6:.1f}",
            "top": f"{y - 4:.1f}",
            "fill": "#2e7d4f" if met else "#ffffff", "stroke": "#2e7d4f" if met else "#adb5bd",
            "ink": "#ffffff" if met else "#495057",
            "gap_text": f"{gaps} gap{'s' if gaps != 1 else ''}"})
    return {"width": width, "height": height + pad, "legend_y": height + 13, "steps": steps,
            "max_level": prof.get("max_level"), "id": prof.get("id")}


def heatmap(document: dict[str, Any]) -> dict[str, Any]:
    """Geometry of the capability heat map: processes by management level x profiles."""
    processes = document.get("processes", {})
    profiles = document.get("profiles", [])
    reqs = [highest_requirements(p) for p in profiles]
    label_w, cap_w, prof_w, row_h, head_h, group_h = 300, 96, 128, 17, 46, 20
    levels: list[str] = []
    for proc in processes.values():
        if proc.get("management_level") not in levels:
            levels.append(proc.get("management_level"))
    total_h = head_h + len(processes) * row_h + len(levels) * group_h + 4
    width = label_w + cap_w + prof_w * len(profiles) + 2
    heads = [{"id": p.get("id"), "cx": f"{label_w + cap_w + i * prof_w + prof_w / 2:.1f}"}
             for i, p in enumerate(profiles)]
    groups = []
    y = head_h
    for level in levels:
        group: dict[str, Any] = {"y": y, "text_y": y + 14, "name": str(level).capitalize(),
                                 "rows": []}
        y += group_h
        for pid, proc in processes.items():
            if proc.get("management_level") != level:
                continue
            rank = rank_of(proc.get("capability"))
            name = text(proc.get("name"))
            row: dict[str, Any] = {
                "id": pid, "name": name if len(name) <= 38 else name[:37] + "…",
                "capability": proc.get("capability"), "y": y + 1, "text_y": y + 12.5,
                "fill": RANK_FILL[rank], "ink": RANK_INK[rank], "cells": []}
            for i, req in enumerate(reqs):
                x = label_w + cap_w + i * prof_w
                if pid not in req:
                    row["cells"].append({"x": x, "blank": True, "fill": OTHER_FILL})
                    continue
                required, first, state = req[pid]
                short_by = max(rank_of(required) - rank, 0)
                met = state != "unmet"
                label = f"{required} (L{first})" if state in ("met", "unmet") else state
                if state not in ("met", "unmet"):
                    fill, ink = OTHER_FILL, "#1b2a38"
                elif met or short_by == 0:
                    fill, ink = MET_FILL, "#1b2a38"
                else:
                    fill = UNMET_FILLS[min(short_by, len(UNMET_FILLS)) - 1]
                    ink = "#1b2a38" if short_by < 3 else "#ffffff"
                row["cells"].append({
                    "x": x, "blank": False, "fill": fill, "ink": ink, "label": label,
                    "met": met, "cx": x + prof_w / 2 - 1,
                    "tip": f"{pid}: {profiles[i].get('id')} requires {required} from level "
                           f"{first}; actual {proc.get('capability')}; {state}"})
            group["rows"].append(row)
            y += row_h
        groups.append(group)
    return {"width": width, "height": total_h, "label_w": label_w, "cap_w": cap_w,
            "cap_cx": label_w + cap_w / 2, "cap_text_cx": label_w + cap_w / 2 - 1,
            "prof_w": prof_w, "row_h": row_h, "head_h": head_h, "group_h": group_h,
            "heads": heads, "groups": groups,
            "legend_ranks": [{"name": c, "fill": RANK_FILL[r]} for r, c in enumerate(CAPABILITIES)],
            "met_fill": MET_FILL,
            "legend_short": [{"n": n, "fill": f} for n, f in enumerate(UNMET_FILLS, start=1)]}


def profile_view(prof: dict[str, Any]) -> dict[str, Any]:
    """A profile's levels (with requirement counts), its new gaps and next level."""
    levels = []
    for lvl in prof.get("levels", []):
        reqs = lvl.get("requirements", [])
        states = [requirement_state(r) for r in reqs]
        other = len(reqs) - states.count("met") - states.count("unmet")
        levels.append({"level": lvl.get("level"), "name": lvl.get("name"),
                       "met": bool(lvl.get("met")), "requirements": len(reqs),
                       "requirements_met": states.count("met"), "other": other,
                       "gaps": len(lvl.get("gaps", []))})
    nxt = next_unmet(prof)
    return {"id": prof.get("id"), "name": prof.get("name"), "source": prof.get("source"),
            "achieved_level": prof.get("achieved_level"), "max_level": prof.get("max_level"),
            "levels": levels, "ladder": ladder(prof),
            "next": None if nxt is None else {"level": nxt.get("level"), "name": nxt.get("name"),
                                              "gaps": [_gap(g) for g in nxt.get("gaps", [])]},
            "gaps": [{"level": level, **_gap(gap)} for level, gap in new_gaps(prof)]}


def _gap(gap: dict[str, Any]) -> dict[str, Any]:
    return {"process": gap.get("process"), "required": gap.get("required"),
            "actual": gap.get("actual"), "missing": gap_missing(gap),
            "rejected": gap_rejected(gap), "rationale": gap.get("rationale"),
            "required_rank": rank_of(gap.get("required")), "actual_rank": rank_of(gap.get("actual"))}


def findings(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings as table rows, most severe first (then in report order)."""
    rows = []
    for n, finding in enumerate(document.get("findings") or []):
        if not isinstance(finding, dict):
            finding = {"message": finding}
        occurrences = finding.get("occurrences") or []
        rows.append({
            "n": n, "id": finding.get("id") or f"#{n + 1}",
            "severity": finding.get("severity") or "",
            "process": finding.get("process") or "",
            "kind": finding.get("finding") or finding.get("kind") or "",
            "rule": finding.get("rule") or "",
            "message": finding.get("message") or finding.get("title") or "",
            "more": [o.get("message") for o in occurrences[1:] if isinstance(o, dict)],
            "evidence": text(finding.get("evidence")),
            "owner": finding.get("owner") or "", "due": finding.get("due") or "",
            "response": finding.get("response") or "", "status": finding.get("status") or ""})
    order = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(rows, key=lambda r: (order.get(r["severity"], len(order)), r["n"]))


def service_levels(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The service levels as table rows."""
    return [{"id": s.get("id"), "process": s.get("process"), "provider": s.get("provider") or "",
             "metric": s.get("metric"), "target": s.get("target"), "window": s.get("window"),
             "status": s.get("status"), "rules": text(s.get("rules")),
             "observations": "; ".join(f"{text(o.get('date'))}: {number(o.get('value'))}"
                                       for o in s.get("observations", []))}
            for s in document.get("service_levels") or []]


def metric_specs(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per metric item: its specification and how it was judged."""
    rows = []
    for item in document.get("evidence", []):
        if item.get("kind") != "metric":
            continue
        spec = item.get("specification") or {}
        cadence = item.get("cadence") or {}
        band = item.get("band") or {}
        target = item.get("target") or {}
        thresholds = spec.get("thresholds") or {}
        rows.append({
            "id": item.get("id"), "process": item.get("process"),
            "metric_type": item.get("metric_type"), "status": item.get("status"),
            "frequency": spec.get("frequency") or cadence.get("frequency") or "",
            "units": spec.get("units") or "",
            "thresholds": " to ".join(number(thresholds.get(k)) if k in thresholds else "-"
                                      for k in ("lower", "upper")) if thresholds else "",
            "cadence": (f"{cadence.get('periods_reported')} of {cadence.get('periods_expected')}"
                        f" periods ({percent(cadence.get('coverage'))})") if cadence else "",
            "band": (f"{text(band.get('bounds'))} {number(band.get('lower'))} to "
                     f"{number(band.get('upper'))}, {band.get('anomalies')} outside"
                     if band else ""),
            "target": (f"{number(target.get('value'))} ({text(target.get('better'))} is better)"
                       f", latest {number(target.get('latest'))}: "
                       + ("met" if target.get("met") else "missed") if target else ""),
            "counted_by": item.get("counted_by") or ""})
    return rows


def evidence(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The evidence items as table rows, with the auditor's decision when reviewed."""
    rows = []
    for item in document.get("evidence", []):
        review = item.get("review") if isinstance(item.get("review"), dict) else None
        decision = review.get("decision") if review else None
        who = ", ".join(text(review.get(k)) for k in ("reviewer", "date")
                        if review and review.get(k))
        rows.append({"id": item.get("id"), "process": item.get("process"),
                     "kind": item.get("kind"), "status": item.get("status"),
                     "title": item.get("title") or "", "path": item.get("path") or "",
                     "detail": item_detail(item), "sha256": item.get("sha256") or "",
                     "reason": item.get("reason") or "",
                     "decision": decision or "", "reviewed_by": who,
                     "unreviewed": decision == "pending"})
    return rows


def processes(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per process: capability, what it rests on, what the next one needs."""
    rows = []
    for pid, proc in document.get("processes", {}).items():
        nxt = proc.get("next")
        review = proc.get("review") if isinstance(proc.get("review"), dict) else {}
        rows.append({"id": pid, "name": proc.get("name"), "level": proc.get("management_level"),
                     "capability": proc.get("capability"),
                     "rank": rank_of(proc.get("capability")),
                     "practices": text(proc.get("practices")), "rules": text(proc.get("rules")),
                     "evidence": text(proc.get("evidence")),
                     "next_capability": nxt.get("capability") if nxt else "",
                     "next_rank": rank_of(nxt.get("capability")) if nxt else 0,
                     "next_missing": text(nxt.get("missing")) if nxt else "",
                     "rejected": text(proc.get("rejected_evidence")),
                     "methods": text(review.get("methods")), "notes": review.get("notes") or ""})
    return rows


def applicability(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Statement of applicability: each process in scope or excluded, and by what."""
    exclusions: dict[str, list[dict[str, Any]]] = {}
    for item in document.get("evidence", []):
        if item.get("kind") == "exclusion":
            exclusions.setdefault(str(item.get("process")), []).append(item)
    rows = []
    for row in processes(document):
        excluded = [e for e in exclusions.get(str(row["id"]), []) if e.get("status") == "accepted"]
        refused = [e for e in exclusions.get(str(row["id"]), []) if e.get("status") != "accepted"]
        if excluded:
            applies = "excluded: " + "; ".join(
                f"{text(e.get('id'))} ({text(e.get('justification'))}, approved by "
                f"{text(e.get('approver'))})" for e in excluded)
        else:
            applies = "applicable" + ("; exclusion not accepted: " + "; ".join(
                f"{text(e.get('id'))}: {text(e.get('reason'))}" for e in refused)
                if refused else "")
        rows.append({**row, "applicability": applies, "excluded": bool(excluded)})
    return rows


def engagement(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) rows of the engagement, from the review section."""
    review = document.get("review") or {}
    eng = review.get("engagement") or {}
    dates = eng.get("dates") or {}
    org = document.get("organization", {})
    when = " to ".join(text(dates.get(k)) for k in ("start", "end") if dates.get(k))
    return [("Client", f"{text(org.get('name'))} ({text(eng.get('client'))})"),
            ("Auditor", text(eng.get("auditor")) or "not given"),
            ("Firm", text(eng.get("firm")) or "not given"),
            ("Audit type", text(eng.get("audit_type")) or "not given"),
            ("Fieldwork", when or "not given")]


def review_view(document: dict[str, Any]) -> dict[str, Any] | None:
    """The deliverable's own parts (engagement, executive summary, sign-off), or None
    without a review."""
    review = document.get("review")
    if not isinstance(review, dict):
        return None
    counts = review.get("evidence") or {}
    by_severity = (review.get("findings") or {}).get("by_severity") or {}
    profiles = [profile_view(p) for p in document.get("profiles", [])]
    return {
        "engagement": engagement(document),
        "scope": (review.get("engagement") or {}).get("scope") or "",
        "severity_counts": [(s, int(by_severity.get(s, 0))) for s in SEVERITY_ORDER],
        "by_status": list(((review.get("findings") or {}).get("by_status") or {}).items()),
        "decisions": [(d, int(counts.get(d, 0))) for d in ("accepted", "rejected", "pending")],
        "unreviewed": list(counts.get("unreviewed") or []),
        "top_gaps": [{"profile": p["id"], "level": p["next"]["level"],
                      "gaps": p["next"]["gaps"][:TOP_GAPS],
                      "more": max(len(p["next"]["gaps"]) - TOP_GAPS, 0)}
                     for p in profiles if p["next"] and p["next"]["gaps"]],
        "signoff": review.get("signoff"),
        "applicability": applicability(document),
    }


def build(document: dict[str, Any]) -> dict[str, Any]:
    """Everything the HTML template and the Markdown renderer show."""
    org = document.get("organization", {})
    return {
        "title": f"O-ISM3 assessment: {text(org.get('name'))}",
        "header": header_rows(document),
        "summary": summary(document),
        "profiles": [profile_view(p) for p in document.get("profiles", [])],
        "heatmap": heatmap(document),
        "has_findings": "findings" in document,
        "findings": findings(document),
        "processes": processes(document),
        "service_levels": service_levels(document),
        "metrics": metric_specs(document),
        "evidence": evidence(document),
        "review": review_view(document),
    }
