"""The Markdown format: the report a person reads and signs, in plain text.

Summary, per-profile result and gaps, findings (when the document has them), one
row per process, and an appendix of every evidence item with its digest. Every
bundle-supplied string goes through `md` (no raw HTML, no table breaks).
"""

from __future__ import annotations

from typing import Any

from ._common import (finding_cells, item_detail, md, md_code, md_table, new_gaps, next_unmet,
                      requirement_state, text)


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
    return rows


def gap_missing(gap: dict[str, Any]) -> str:
    """What a gap lacks, as plain text."""
    return ", ".join(text(m) for m in gap.get("missing", []))


def gap_rejected(gap: dict[str, Any]) -> str:
    """The rejected items that would have closed a gap, with their reasons, as plain text."""
    return "; ".join(f"{text(n.get('id'))}: {text(n.get('reason'))}"
                     for n in gap.get("not_counted", []))


def render_markdown(document: dict[str, Any]) -> str:
    """The whole report as GitHub-flavoured Markdown, ending in a newline."""
    org = document.get("organization", {})
    out: list[str] = [f"# O-ISM3 assessment: {md(org.get('name'))}", ""]
    out += md_table(["", ""], [[md(label), md_code(value) if "sha256" in label else md(value)]
                               for label, value in header_rows(document)])
    out.append("")

    out += ["## Summary", ""]
    evidence = document.get("evidence", [])
    rejected = [e for e in evidence if e.get("status") != "accepted"]
    processes = document.get("processes", {})
    counts = ", ".join(f"{n} {name}" for name, n in capability_counts(document))
    out.append(f"- {len(processes)} processes assessed: {counts}.")
    out.append(f"- {len(evidence)} evidence items: {len(evidence) - len(rejected)} accepted, "
               f"{len(rejected)} rejected.")
    if "findings" in document:
        out.append(f"- {len(document.get('findings') or [])} findings.")
    out.append("")
    profiles = document.get("profiles", [])
    if profiles:
        rows = []
        for prof in profiles:
            nxt = next_unmet(prof)
            rows.append([md_code(prof.get("id")), md(prof.get("name")), md(prof.get("source")),
                         f"**{prof.get('achieved_level')}** of {prof.get('max_level')}",
                         md(f"{nxt['level']} ({text(nxt.get('name'))})") if nxt else "all met",
                         str(len(nxt.get("gaps", []))) if nxt else "0"])
        out += md_table(["profile", "name", "source", "level reached", "next level",
                         "gaps to it"], rows)
        if any(p.get("source") != "standard" for p in profiles):
            out += ["", "Profiles with source *derived* or *custom* are not the standard's own "
                        "level table."]
        out.append("")

    for prof in profiles:
        out += _profile_section(prof)

    if "findings" in document:
        out += _findings_section(document.get("findings") or [])

    out += ["## Processes", ""]
    rows = []
    for pid, proc in processes.items():
        nxt = proc.get("next")
        rows.append([
            md_code(pid), md(proc.get("name")), md(proc.get("management_level")),
            f"**{md(proc.get('capability'))}**", md(proc.get("practices")) or "-",
            md(proc.get("rules")) or "-", md(proc.get("evidence")) or "-",
            md(f"{nxt['capability']}: {', '.join(nxt.get('missing', []))}") if nxt else "-",
            md(proc.get("rejected_evidence")) or "-",
        ])
    out += md_table(["process", "name", "level", "capability", "practices", "rules fired",
                     "evidence behind it", "next capability needs", "rejected evidence"], rows)
    out.append("")

    out += ["## Evidence appendix", ""]
    rows = []
    for item in evidence:
        detail = item_detail(item)
        rows.append([md_code(item.get("id")), md_code(item.get("process")), md(item.get("kind")),
                     md(item.get("status")), md(item.get("title")), md(item.get("path")),
                     md(detail), md_code(item.get("sha256")), md(item.get("reason"))])
    out += md_table(["id", "process", "kind", "status", "title", "path", "detail",
                     "sha256", "reason it does not count"], rows)
    return "\n".join(out) + "\n"


def _profile_section(prof: dict[str, Any]) -> list[str]:
    out = [f"## Profile {md(prof.get('id'))}: {md(prof.get('name'))}", "",
           f"Level reached: **{prof.get('achieved_level')} of {prof.get('max_level')}** "
           f"(source: {md(prof.get('source'))}).", ""]
    rows = []
    for lvl in prof.get("levels", []):
        reqs = lvl.get("requirements", [])
        states = [requirement_state(r) for r in reqs]
        rows.append([str(lvl.get("level")), md(lvl.get("name")),
                     "met" if lvl.get("met") else "**not met**",
                     f"{states.count('met')} of {len(reqs)}"
                     + (f" ({len(reqs) - states.count('met') - states.count('unmet')} other)"
                        if len(reqs) - states.count("met") - states.count("unmet") else ""),
                     str(len(lvl.get("gaps", [])))])
    out += md_table(["level", "name", "result", "requirements met", "gaps"], rows)
    out.append("")
    gap_rows = [[str(level), md_code(gap.get("process")), md(gap.get("required")),
                 md(gap.get("actual")), md(gap_missing(gap)) or "-",
                 md(gap_rejected(gap)) or "-", md(gap.get("rationale")) or "-"]
                for level, gap in new_gaps(prof)]
    if gap_rows:
        out += ["Gaps, each at the first level that needs it (levels are cumulative):", ""]
        out += md_table(["level", "process", "required", "actual", "missing",
                         "rejected evidence that would count", "why the level needs it"],
                        gap_rows)
        out.append("")
    return out


def _findings_section(findings: list[dict[str, Any]]) -> list[str]:
    out = ["## Findings", ""]
    if not findings:
        return out + ["No findings.", ""]
    for number, finding in enumerate(findings, start=1):
        cells = finding_cells(finding) if isinstance(finding, dict) else [("finding", finding)]
        out.append(f"{number}. " + "; ".join(f"{md(k)}: {md(v)}" for k, v in cells))
    return out + [""]

