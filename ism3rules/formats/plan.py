"""Table renderings of gap plans and multi-profile comparisons (tabulate)."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from ..safe import neutral
from ._common import strip_controls
from .json_format import render_json


def _cell(required: str | None, status: str | None) -> str:
    if required is None:
        return "-"
    return {"met": required, "excluded": f"{required} (excluded)"}.get(
        status or "", f"{required} (gap)")


def render_plan_table(plan: dict[str, Any]) -> str:
    """The remediation plan: one row per process to raise, then the evidence snippet."""
    plan = neutral(plan, keep=("snippet",))   # the snippet is made safe where it is written
    org, prof, target = plan["organization"], plan["profile"], plan["target"]
    out = [f"{org['name']} ({org['id']}): profile {prof['id']} ({prof['source']}), "
           f"achieved level {prof['achieved_level']} / {prof['max_level']}",
           f"Target: level {target['level']} ({target['name']})"]
    if not plan["steps"]:
        out.append("Already met: nothing to add.")
        return strip_controls("\n".join(out)) + "\n"
    out.append(f"{len(plan['steps'])} process(es) to raise, {plan['evidence_to_add']} evidence "
               "item(s) to add, cheapest first:")
    out.append("")
    rows = []
    for n, step in enumerate(plan["steps"], start=1):
        todo = ", ".join(step["missing"])
        if step["not_counted"]:
            todo += "; not counting yet: " + "; ".join(
                f"{i['id']} ({i['reason']})" for i in step["not_counted"])
        rows.append([n, step["process"], step["name"], f"{step['from']} -> {step['to']}",
                     step["cost"], todo])
    out.append(tabulate(rows, headers=["#", "process", "name", "raise", "items", "evidence to collect"],
                        tablefmt="simple", disable_numparse=True,
                        maxcolwidths=[None, None, 28, None, None, 60]))
    out.append("")
    out.append(plan["snippet"].rstrip("\n"))
    return strip_controls("\n".join(out)) + "\n"


def side_by_side(comparison: dict[str, Any], max_fixes: int | None = None) -> list[str]:
    """The comparison's three tables as lines: levels, processes x profiles, shared fixes."""
    profiles = comparison["profiles"]
    ids = [p["id"] for p in profiles]
    out = ["Profiles side by side"]
    out.append(tabulate(
        [[p["id"], p["source"], f"{p['achieved_level']} / {p['max_level']}",
          f"{p['next_level']} ({p['next_level_name']})" if p["next_level"] else "all met",
          p["gaps"]] for p in profiles],
        headers=["profile", "source", "achieved", "next level", "gaps"],
        tablefmt="simple", disable_numparse=True))
    out.append("")
    if comparison["processes"]:
        out.append("Processes against each profile's next level (required capability)")
        out.append(tabulate(
            [[r["process"], r["capability"], *(_cell(r["required"][i], r["status"][i])
                                               for i in ids)]
             for r in comparison["processes"]],
            headers=["process", "actual", *ids], tablefmt="simple", disable_numparse=True))
        out.append("")
    fixes = comparison["shared_fixes"]
    if fixes:
        shown = fixes if max_fixes is None else fixes[:max_fixes]
        out.append("Shared fixes (most profiles first)")
        out.append(tabulate(
            [[f["process"], f"{f['from']} -> {f['to']}", ", ".join(f["missing"]),
              ", ".join(f["closes"]), ", ".join(f["advances"]) or "-"] for f in shown],
            headers=["process", "raise", "evidence to collect", "closes a gap in",
                     "alone advances"],
            tablefmt="simple", disable_numparse=True, maxcolwidths=[None, None, 40, 40, 30]))
        if len(shown) < len(fixes):
            out.append(f"  +{len(fixes) - len(shown)} more (ism3 compare shows all)")
        out.append("")
    return out


def render_comparison_table(comparison: dict[str, Any]) -> str:
    """The comparison as a person reads it in a terminal."""
    comparison = neutral(comparison)
    org = comparison["organization"]
    return strip_controls("\n".join([f"{org['name']} ({org['id']})", "",
                                      *side_by_side(comparison)]).rstrip("\n")) + "\n"


PLAN_FORMATS = {"table": render_plan_table, "json": render_json}
COMPARISON_FORMATS = {"table": render_comparison_table, "json": render_json}
