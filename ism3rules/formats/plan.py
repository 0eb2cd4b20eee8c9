"""Table renderings of gap plans and multi-profile comparisons (tabulate)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..safe import neutral
from ._common import strip_controls
from .fit import fit_lines, fit_table
from .json_format import render_json


# "(declared <sha256>, file has <sha256>)" in a reason: two 64-digit words no table can wrap;
# the plan's table leaves them out (the snippet below it, and `ism3 validate`, show them)
_HASHES = re.compile(r" \([^()]*\b[0-9a-fA-F]{64}\b[^()]*\)")


def _cell(required: str | None, status: str | None) -> str:
    if required is None:
        return "-"
    return {"met": required, "excluded": f"{required} (excluded)"}.get(
        status or "", f"{required} (gap)")


def render_plan_table(plan: dict[str, Any], width: int | None = None) -> str:
    """The remediation plan: one row per process to raise, then the evidence snippet.

    The table is fitted to `width` columns (default: fit.STABLE_WIDTH); the snippet is
    YAML to paste and is never wrapped.
    """
    plan = neutral(plan, keep=("snippet",))   # the snippet is made safe where it is written
    org, prof, target = plan["organization"], plan["profile"], plan["target"]
    out = fit_lines([f"{org['name']} ({org['id']}): profile {prof['id']} ({prof['source']}), "
                     f"achieved level {prof['achieved_level']} / {prof['max_level']}",
                     f"Target: level {target['level']} ({target['name']})"], width)
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
                f"{i['id']} ({_HASHES.sub('', i['reason'])})" for i in step["not_counted"])
        rows.append([n, step["process"], step["name"], f"{step['from']} -> {step['to']}",
                     step["cost"], todo])
    out.append(fit_table(rows, ["#", "process", "name", "raise", "items", "evidence to collect"],
                         width, text_columns=[2, 5]))
    out.append("")
    out.append(plan["snippet"].rstrip("\n"))
    return strip_controls("\n".join(out)) + "\n"


def side_by_side(comparison: dict[str, Any], max_fixes: int | None = None,
                 width: int | None = None) -> list[str]:
    """The comparison's three tables as lines: levels, processes x profiles, shared fixes,
    fitted to `width` columns (default: fit.STABLE_WIDTH)."""
    profiles = comparison["profiles"]
    ids = [p["id"] for p in profiles]
    out = ["Profiles side by side"]
    out.append(fit_table(
        [[p["id"], p["source"], f"{p['achieved_level']} / {p['max_level']}",
          f"{p['next_level']} ({p['next_level_name']})" if p["next_level"] else "all met",
          p["gaps"]] for p in profiles],
        ["profile", "source", "achieved", "next level", "gaps"], width, text_columns=[3]))
    out.append("")
    if comparison["processes"]:
        out.append("Processes against each profile's next level (required capability)")
        out.append(fit_table(
            [[r["process"], r["capability"], *(_cell(r["required"][i], r["status"][i])
                                               for i in ids)]
             for r in comparison["processes"]],
            ["process", "actual", *ids], width))
        out.append("")
    fixes = comparison["shared_fixes"]
    if fixes:
        shown = fixes if max_fixes is None else fixes[:max_fixes]
        out.append("Shared fixes (most profiles first)")
        out.append(fit_table(
            [[f["process"], f"{f['from']} -> {f['to']}", ", ".join(f["missing"]),
              ", ".join(f["closes"]), ", ".join(f["advances"]) or "-"] for f in shown],
            ["process", "raise", "evidence to collect", "closes a gap in", "alone advances"],
            width, text_columns=[2, 3, 4]))
        if len(shown) < len(fixes):
            out.append(f"  +{len(fixes) - len(shown)} more (ism3 compare shows all)")
        out.append("")
    return out


def render_comparison_table(comparison: dict[str, Any], width: int | None = None) -> str:
    """The comparison as a person reads it in a terminal, fitted to `width` columns."""
    comparison = neutral(comparison)
    org = comparison["organization"]
    return strip_controls("\n".join([*fit_lines([f"{org['name']} ({org['id']})"], width), "",
                                      *side_by_side(comparison, width=width)]).rstrip("\n")) + "\n"


PLAN_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "table": render_plan_table, "json": render_json}
COMPARISON_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "table": render_comparison_table, "json": render_json}
