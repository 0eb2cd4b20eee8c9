"""The table format: what a person reads in a terminal (tabulate)."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from ..gap import compare
from ..safe import neutral
from ._common import strip_controls
from .plan import side_by_side


def _gap_text(gap: dict[str, Any]) -> str:
    text = f"{gap['process']} {gap['actual']}->{gap['required']}"
    if gap["missing"]:
        text += f" (needs {', '.join(gap['missing'])})"
    if gap["not_counted"]:
        text += f" [{', '.join(n['id'] for n in gap['not_counted'])} rejected]"
    return text


def render_table(document: dict[str, Any]) -> str:
    """Maturity per profile, capability per process, and the evidence that did not count."""
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
        out.append(tabulate(rows, headers=["profile", "source", "level", "missing for next level"],
                            tablefmt="simple", disable_numparse=True,
                            maxcolwidths=[None, None, None, 80]))
        if any(p["source"] != "standard" for p in document["profiles"]):
            out.append("  source 'derived' or 'custom': the levels are not the standard's own "
                       "table (see README).")
        for prof in document["profiles"]:
            excluded = sorted({(r["process"], r["excluded_by"]) for lvl in prof["levels"]
                               for r in lvl["requirements"] if r["status"] == "excluded"})
            if excluded:
                out.append(f"  {prof['id']}: excluded from scope (satisfied, not met): "
                           + ", ".join(f"{p} by {e}" for p, e in excluded))
        out.append("")
        if len(document["profiles"]) > 1:
            out.extend(side_by_side(compare(document), max_fixes=5))

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
    out.append(tabulate(rows, headers=["process", "name", "capability", "practices enabled",
                                       "missing for next capability"],
                        tablefmt="simple", disable_numparse=True,
                        maxcolwidths=[None, 32, None, 36, 44]))
    out.append("")

    evidence = document["evidence"]
    rejected = [e for e in evidence if e["status"] != "accepted"]
    out.append(f"Evidence: {len(evidence)} items, {len(evidence) - len(rejected)} accepted, "
               f"{len(rejected)} rejected")
    if rejected:
        out.append(tabulate([[e["id"], e["process"], e["reason"]] for e in rejected],
                            headers=["rejected item", "process", "reason"], tablefmt="simple",
                            disable_numparse=True))
    out.extend(_metric_sections(document))
    # A bundle may carry terminal control sequences (YAML "\e"); a terminal must not run them.
    return strip_controls("\n".join(out)) + "\n"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _metric_sections(document: dict[str, Any]) -> list[str]:
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
                f"{cadence['periods_expected']} = {_num(cadence['coverage'])}" if cadence else "-",
                "counted" if e["status"] == "accepted" else "not counted",
                f"{band['bounds']} {_num(band['lower'])}..{_num(band['upper'])}"
                + (f" ({band['samples']} obs)" if band["bounds"] == "control" else "")
                if band else "-",
                (f"{_num(target['latest'])} vs {_num(target['value'])} ({target['better']} "
                 f"better): {'met' if target['met'] else 'missed' if target['met'] is False else '-'}")
                if target else "-"])
        out.append("")
        out.append("Metric specifications")
        out.append(tabulate(rows, headers=["metric", "process", "cadence (coverage)", "status",
                                           "band", "target (latest)"],
                            tablefmt="simple", disable_numparse=True))
    if document.get("service_levels"):
        out.append("")
        out.append("Service levels")
        out.append(tabulate(
            [[s["id"], s["process"], s["provider"] or "-", f"{s['metric']} {s['target']}",
              s["window"], s["status"],
              ", ".join(f"{o['date']}={_num(o['value'])}" for o in s["observations"][-6:])
              + (f" (+{len(s['observations']) - 6})" if len(s["observations"]) > 6 else "")]
             for s in document["service_levels"]],
            headers=["service level", "process", "provider", "target", "window", "status",
                     "deciding observations"],
            tablefmt="simple", disable_numparse=True, maxcolwidths=[None] * 6 + [60]))
    findings = document.get("findings", [])
    out.append("")
    out.append(f"Findings: {len(findings)}")
    if findings:
        out.append(tabulate([[f["rule"], f["process"], f["message"], ", ".join(f["evidence"])]
                             for f in findings],
                            headers=["rule", "process", "finding", "evidence"], tablefmt="simple",
                            disable_numparse=True, maxcolwidths=[None, None, 80, None]))
    return out
