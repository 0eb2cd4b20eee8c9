"""Renderings of the report diff (ism3-diff/1): table, JSON and Markdown. Registered explicitly.

Every string from a report (organization, ids, messages, reasons) is untrusted: it
reaches the terminal through `text` and Markdown through `md`/`md_code`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import safe
from ._common import md, md_code, md_table, text
from .fit import fit_lines, fit_table

EVIDENCE_ROWS = 12   # per kind of change in the table; json and markdown list every item


def _describe(entry: dict[str, Any]) -> str:
    org = entry["organization"]
    where = f"run {entry['run']}" if entry.get("run") is not None else text(entry["report"])
    return (f"{where}: {text(org['name'])} ({text(org['id'])}), as of "
            f"{text(entry.get('as_of')) or 'no date'}, ism3rules "
            f"{text(entry.get('tool_version'))}, report sha256 "
            f"{text(entry['report_sha256'])[:12]}...")


def _summary_line(summary: dict[str, Any]) -> str:
    return (f"capabilities {summary['capabilities_up']} up, {summary['capabilities_down']} down; "
            f"levels {summary['levels_up']} up, {summary['levels_down']} down; "
            f"gaps {summary['gaps_closed']} closed, {summary['gaps_opened']} opened; "
            f"findings {summary['findings_new']} new, {summary['findings_resolved']} resolved, "
            f"{summary['findings_open']} still open; evidence {summary['evidence_added']} added, "
            f"{summary['evidence_removed']} removed, {summary['evidence_newly_rejected']} newly "
            f"rejected, {summary['evidence_newly_accepted']} newly accepted, "
            f"{summary['evidence_changed']} changed")


def _level(value: Any, maximum: Any) -> str:
    return "-" if value is None else f"{value} / {maximum}"


def _finding_label(finding: dict[str, Any]) -> str:
    return text(finding.get("id") or finding.get("rule"))


def render_diff_table(diff: dict[str, Any], width: int | None = None) -> str:
    """What changed, for a person at a terminal; the notes on changed criteria first.
    Fitted to `width` (default: formats.fit.STABLE_WIDTH), identifiers never split."""
    out = fit_lines([f"old  {_describe(diff['old'])}", f"new  {_describe(diff['new'])}"], width)
    out.append("")
    out += fit_lines([f"NOTE: {text(note)}" for note in diff["notes"]], width)
    if diff["notes"]:
        out.append("")
    out += fit_lines([f"Summary: {_summary_line(diff['summary'])}"], width)
    if diff["regressions"]:
        out.append(f"REGRESSION ({len(diff['regressions'])}):")
        out += fit_lines([f"  - {text(r)}" for r in diff["regressions"]], width)
    out.append("")
    if diff["profiles"]:
        out.append("Maturity")
        out.append(fit_table(
            [[text(p["id"]), _level(p["old_level"], p["old_max_level"]),
              _level(p["new_level"], p["new_max_level"]),
              p["change"] + (" (criteria changed)" if p["criteria_changed"] else ""),
              len(p["gaps_closed"]), len(p["gaps_opened"])] for p in diff["profiles"]],
            ["profile", "old level", "new level", "change", "gaps closed", "gaps opened"],
            width, text_columns=(3,)))
        out.append("")
    if diff["processes"]:
        out.append("Capabilities that changed")
        out.append(fit_table([[text(p["process"]), text(p["name"]), text(p["old"]),
                               text(p["new"]), p["change"]] for p in diff["processes"]],
                             ["process", "name", "old", "new", "change"], width,
                             text_columns=(1,)))
        out.append("")
    gap_rows = [[text(p["id"]), what, g["level"], text(g["process"]), text(g["required"]),
                 text(g["actual"]), text(g["missing"])]
                for p in diff["profiles"]
                for what, gaps in (("closed", p["gaps_closed"]), ("opened", p["gaps_opened"]))
                for g in gaps]
    if gap_rows:
        out.append("Gaps")
        out.append(fit_table(gap_rows, ["profile", "gap", "level", "process", "required",
                                        "actual", "missing"], width, text_columns=(6,)))
        out.append("")
    findings = diff["findings"]
    listed = [(status, f) for status, key in (("new", "new"), ("resolved", "resolved"),
                                              ("still open", "open")) for f in findings[key]]
    # a finding id names its process (RULE/PROCESS/hash); reports without ids need the column
    by_id = all(f.get("id") for _, f in listed)
    finding_rows = [[status, *([] if by_id else [text(f.get("process"))]),
                     text(f.get("severity")),
                     f"{_finding_label(f)}\n{text(f.get('message'))}"] for status, f in listed]
    if finding_rows:
        out.append(f"Findings (matched by {findings['matched_by']})")
        last = len(finding_rows[0]) - 1   # the id, and under it the message, wrapped
        out.append(fit_table(finding_rows, ["status", *([] if by_id else ["process"]),
                                            "severity", "finding / message"], width,
                             text_columns=(last,), multiline=(last,)))
        out.append("")
    evidence = diff["evidence"]
    evidence_rows = []
    for key, label in (("added", "added"), ("removed", "removed"),
                       ("newly_rejected", "newly rejected"), ("newly_accepted", "newly accepted"),
                       ("changed", "file changed")):
        for e in evidence[key][:EVIDENCE_ROWS]:
            detail = e.get("reason") or (f"sha256 {text(e.get('old_sha256'))[:12]}... -> "
                                         f"{text(e.get('new_sha256'))[:12]}..."
                                         if key == "changed" else "")
            evidence_rows.append([label, text(e["id"]), text(e.get("process")),
                                  text(e.get("kind")), text(detail)])
        if len(evidence[key]) > EVIDENCE_ROWS:
            evidence_rows.append([label, f"... {len(evidence[key]) - EVIDENCE_ROWS} more",
                                  "", "", "all of them: -f json or -f markdown"])
    if evidence_rows:
        out.append("Evidence")
        out.append(fit_table(evidence_rows, ["change", "item", "process", "kind",
                                             "reason / detail"], width, text_columns=(4,)))
        out.append("")
    if not (diff["processes"] or gap_rows or finding_rows or evidence_rows) and all(
            p["change"] == "same" for p in diff["profiles"]):
        out.append("No change in capabilities, levels, gaps, findings or evidence.")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def render_diff_json(diff: dict[str, Any]) -> str:
    """Indented JSON in the document's own key order, with a final newline."""
    return safe.json_dumps(diff)   # invisible characters as \uXXXX, no NaN or infinity


def _md_describe(entry: dict[str, Any]) -> str:
    org = entry["organization"]
    where = f"run {entry['run']}" if entry.get("run") is not None else md_code(entry["report"])
    return (f"{where}: {md(org['name'])} ({md_code(org['id'])}), as of "
            f"{md(entry.get('as_of') or 'no date')}, ism3rules {md_code(entry.get('tool_version'))}, "
            f"report sha256 {md_code(entry['report_sha256'])}")


def render_diff_markdown(diff: dict[str, Any]) -> str:
    """The diff as a Markdown page: notes first, then each kind of change as a table."""
    org = diff["new"]["organization"]
    out = [f"# Changes: {md(org['name'])}", "",
           f"- old: {_md_describe(diff['old'])}", f"- new: {_md_describe(diff['new'])}", ""]
    if diff["notes"]:
        out += [f"> **Note:** {md(n)}" + "  " for n in diff["notes"]]
        out.append("")
    out += [f"**Summary:** {md(_summary_line(diff['summary']))}", ""]
    if diff["regressions"]:
        out += ["**Regressions:**", ""] + [f"- {md(r)}" for r in diff["regressions"]] + [""]
    if diff["profiles"]:
        out += ["## Maturity", ""] + md_table(
            ["profile", "old level", "new level", "change", "gaps closed", "gaps opened"],
            [[md_code(p["id"]), md(_level(p["old_level"], p["old_max_level"])),
              md(_level(p["new_level"], p["new_max_level"])),
              md(p["change"] + (" (criteria changed)" if p["criteria_changed"] else "")),
              str(len(p["gaps_closed"])), str(len(p["gaps_opened"]))]
             for p in diff["profiles"]]) + [""]
    if diff["processes"]:
        out += ["## Capabilities that changed", ""] + md_table(
            ["process", "name", "old", "new", "change"],
            [[md_code(p["process"]), md(p["name"]), md(p["old"]), md(p["new"]), p["change"]]
             for p in diff["processes"]]) + [""]
    gaps = [[md_code(p["id"]), what, str(g["level"]), md_code(g["process"]), md(g["required"]),
             md(g["actual"]), md(g["missing"])]
            for p in diff["profiles"]
            for what, found in (("closed", p["gaps_closed"]), ("opened", p["gaps_opened"]))
            for g in found]
    if gaps:
        out += ["## Gaps", ""] + md_table(
            ["profile", "gap", "level", "process", "required", "actual", "missing"], gaps) + [""]
    findings = diff["findings"]
    rows = [[status, md_code(f.get("id") or f.get("rule")), md_code(f.get("process")),
             md(f.get("severity")), md(f.get("message"))]
            for status, key in (("new", "new"), ("resolved", "resolved"),
                                ("still open", "open"))
            for f in findings[key]]
    if rows:
        out += [f"## Findings (matched by {md(findings['matched_by'])})", ""] + md_table(
            ["status", "finding", "process", "severity", "message"], rows) + [""]
    evidence = diff["evidence"]
    rows = [[label, md_code(e["id"]), md_code(e.get("process")), md(e.get("kind")),
             md(e.get("reason") or (f"{e.get('old_sha256')} -> {e.get('new_sha256')}"
                                    if key == "changed" else ""))]
            for key, label in (("added", "added"), ("removed", "removed"),
                               ("newly_rejected", "newly rejected"),
                               ("newly_accepted", "newly accepted"), ("changed", "file changed"))
            for e in evidence[key]]
    if rows:
        out += ["## Evidence", ""] + md_table(
            ["change", "item", "process", "kind", "reason / detail"], rows) + [""]
    return "\n".join(out).rstrip("\n") + "\n"


DIFF_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "table": render_diff_table,
    "json": render_diff_json,
    "markdown": render_diff_markdown,
}
