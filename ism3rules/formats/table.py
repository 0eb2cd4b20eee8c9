"""The table format: what a person reads in a terminal (tabulate)."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from ..gap import compare
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
    # A bundle may carry terminal control sequences (YAML "\e"); a terminal must not run them.
    return strip_controls("\n".join(out)) + "\n"
