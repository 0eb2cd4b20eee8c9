"""The table format: what a person reads in a terminal (tabulate)."""

from __future__ import annotations

import re
from typing import Any

from ..gap import compare
from ..safe import neutral
from ._common import strip_controls
from .fit import fit_lines, fit_table
from .plan import side_by_side

# "coverage 0.192308 < 0.8" in a reason (read off a rule's condition): shown as percentages
_COVERAGE = re.compile(r"\bcoverage (\d+(?:\.\d+)?) (<|<=|>|>=|==|!=) (\d+(?:\.\d+)?)\b")


def _gap_text(gap: dict[str, Any]) -> str:
    text = f"{gap['process']} {gap['actual']}->{gap['required']}"
    if gap["missing"]:
        text += f" (needs {', '.join(gap['missing'])})"
    if gap["not_counted"]:
        text += f" [{', '.join(n['id'] for n in gap['not_counted'])} rejected]"
    return text


def percent(value: Any) -> str:
    """A fraction (0.192308) as a percentage ("19.2%"): at most one decimal, none when whole."""
    if value is None:
        return "-"
    shown = f"{float(value) * 100:.1f}".removesuffix(".0")
    return f"{shown}%"


def coverage_in_percent(reason: Any) -> str:
    """A reason with its coverage figures as percentages (`coverage 19.2% < 80%`)."""
    return _COVERAGE.sub(lambda m: f"coverage {percent(m[1])} {m[2]} {percent(m[3])}",
                         str(reason or ""))


def section_headings(processes: list[dict[str, Any]]) -> dict[int, str]:
    """Row index -> heading, where the management level or the group of a process changes.

    `processes` are catalogue entries in catalogue order (which is by level, then group).
    """
    out: dict[int, str] = {}
    last: tuple[Any, Any] | None = None
    for index, proc in enumerate(processes):
        key = (proc.get("management_level"), proc.get("group"))
        if key != last:
            out[index] = (f"{key[0]} processes" + (f": {key[1]}" if key[1] else ""))
            last = key
    return out


def render_table(document: dict[str, Any], width: int | None = None) -> str:
    """Maturity per profile, capability per process, and the evidence that did not count.

    Tables are fitted to `width` columns (default: fit.STABLE_WIDTH) by wrapping
    their text at spaces; identifiers are never split.
    """
    document = neutral(document)   # nothing from an input reaches the layout raw
    org = document["organization"]
    out: list[str] = []
    period = document["assessment"]["period"]
    head = f"{org['name']} ({org['id']})"
    if period:
        head += f", evidence period {period['start']} to {period['end']}"
    out.append(head)
    out.append("")

    if document["profiles"]:
        rows = []
        for prof in document["profiles"]:
            next_level = next((lv for lv in prof["levels"] if not lv["met"]), None)
            if next_level is None:
                todo = "all levels met"
            else:
                gaps = next_level["gaps"]
                shown = "; ".join(_gap_text(g) for g in gaps[:3])
                more = f"; +{len(gaps) - 3} more" if len(gaps) > 3 else ""
                todo = f"level {next_level['level']} ({next_level['name']}): {shown}{more}"
            rows.append([prof["id"], prof["source"],
                         f"{prof['achieved_level']} / {prof['max_level']}", todo])
        out.append("Maturity")
        out.append(fit_table(rows, ["profile", "source", "level", "missing for next level"],
                             width, text_columns=[3]))
        if any(p["source"] != "standard" for p in document["profiles"]):
            out.extend(fit_lines(["  source 'derived' or 'custom': the levels are not the "
                                  "standard's own table (see README)."], width))
        for prof in document["profiles"]:
            excluded = sorted({(r["process"], r["excluded_by"]) for lvl in prof["levels"]
                               for r in lvl["requirements"] if r["status"] == "excluded"})
            if excluded:
                out.extend(fit_lines([f"  {prof['id']}: excluded from scope (satisfied, not met): "
                                  + ", ".join(f"{p} by {e}" for p, e in excluded)], width))
        out.append("")
        if len(document["profiles"]) > 1:
            out.extend(side_by_side(compare(document), max_fixes=5, width=width))

    rows = []
    for pid, proc in document["processes"].items():
        nxt = proc["next"]
        if nxt is None:
            todo = "-"
        else:
            todo = f"{nxt['capability']}: {', '.join(nxt['missing'])}"
            if nxt["not_counted"]:
                todo += f" ({len(nxt['not_counted'])} item(s) rejected)"
        rows.append([pid, proc["name"], proc["capability"], ", ".join(proc["practices"]) or "-",
                     todo])
    out.append("Processes")
    out.append(fit_table(rows, ["process", "name", "capability", "practices enabled",
                                "missing for next capability"], width, text_columns=[1, 3, 4],
                         sections=section_headings(list(document["processes"].values()))))
    out.append("")

    evidence = document["evidence"]
    rejected = [e for e in evidence if e["status"] != "accepted"]
    out.append(f"Evidence: {len(evidence)} items, {len(evidence) - len(rejected)} accepted, "
               f"{len(rejected)} rejected")
    # one line per rejected item (wrapped under itself): a reason may hold two whole sha256
    out.extend(fit_lines([f"  {e['id']} ({e['process']}): {coverage_in_percent(e['reason'])}"
                          for e in rejected], width))
    out.extend(fit_lines(_review_lines(document), width))
    out.extend(_metric_sections(document, width))
    # A bundle may carry terminal control sequences (YAML "\e"); a terminal must not run them.
    return strip_controls("\n".join(out)) + "\n"


def _review_lines(document: dict[str, Any]) -> list[str]:
    """With an auditor's review: the decisions, and the items still unreviewed."""
    review = document.get("review")
    if not isinstance(review, dict):
        return []
    counts = review.get("evidence") or {}
    out = [f"Review: {counts.get('accepted', 0)} accepted, {counts.get('rejected', 0)} rejected "
           f"by the auditor, {counts.get('pending', 0)} unreviewed"
           + (f" (signed off by {(review.get('signoff') or {}).get('name')})"
              if review.get("signoff") else " (not signed off)")]
    if counts.get("unreviewed"):
        out.append("  unreviewed: " + ", ".join(str(i) for i in counts["unreviewed"]))
    return out


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _metric_sections(document: dict[str, Any], width: int | None = None) -> list[str]:
    """Specified metrics (cadence, band, target), service levels and findings."""
    out: list[str] = []
    specified = [e for e in document["evidence"] if e.get("specification")]
    if specified:
        rows = []
        for e in specified:
            cadence = e.get("cadence")
            band = e.get("band")
            target = e.get("target")
            rows.append([
                e["id"], e["process"],
                f"{cadence['frequency']} {cadence['periods_reported']}/"
                f"{cadence['periods_expected']} = {percent(cadence['coverage'])}" if cadence else "-",
                "counted" if e["status"] == "accepted" else "not counted",
                f"{band['bounds']} {_num(band['lower'])}..{_num(band['upper'])}"
                + (f" ({band['samples']} obs)" if band["bounds"] == "control" else "")
                if band else "-",
                (f"{_num(target['latest'])} vs {_num(target['value'])} ({target['better']} "
                 f"better): {'met' if target['met'] else 'missed' if target['met'] is False else '-'}")
                if target else "-"])
        out.append("")
        out.append("Metric specifications")
        out.append(fit_table(rows, ["metric", "process", "cadence (coverage)", "status", "band",
                                    "target (latest)"], width, text_columns=[2, 4, 5]))
    if document.get("service_levels"):
        out.append("")
        out.append("Service levels")
        out.append(fit_table(
            [[f"{s['id']} ({s['process']}" + (f", {s['provider']})" if s["provider"] else ")"),
              f"{s['metric']} {s['target']}, {s['window']}", s["status"],
              ", ".join(f"{o['date']}={_num(o['value'])}" for o in s["observations"][-6:])
              + (f" (+{len(s['observations']) - 6})" if len(s["observations"]) > 6 else "")]
             for s in document["service_levels"]],
            ["service level (process, provider)", "target, window", "status",
             "deciding observations"], width, text_columns=[0, 1, 3]))
    findings = document.get("findings", [])
    out.append("")
    out.append(f"Findings: {len(findings)}")
    if findings:
        out.append(fit_table([[f["rule"], f["process"], coverage_in_percent(f["message"]),
                               ", ".join(f["evidence"])] for f in findings],
                             ["rule", "process", "finding", "evidence"], width,
                             text_columns=[2, 3]))
    return out
