"""The Markdown format: the report a person reads and signs, in plain text.

Without a review: header with digests, summary, per-profile result and gaps,
findings (a table with severity), one row per process, service levels, metric
specifications, and an appendix of every evidence item with its digest. With a
review (`--review`) it is the auditor's deliverable, in the same order as the HTML:
engagement, executive summary, scope and statement of applicability, managed
findings, unreviewed evidence, then the assessment, the sign-off and the input
digests. Every bundle-supplied string goes through `md` (no raw HTML, no table breaks).
"""

from __future__ import annotations

from typing import Any

from . import _view
from ._common import md, md_code, md_table, text
from ._view import capability_counts, gap_missing, gap_rejected, header_rows

__all__ = ["capability_counts", "gap_missing", "gap_rejected", "header_rows", "render_markdown"]


def _dash(value: Any) -> str:
    return md(value) or "-"


def _header(rows: list[tuple[str, str]]) -> list[str]:
    return md_table(["", ""], [[md(label), md_code(value) if "sha256" in label else md(value)]
                               for label, value in rows]) + [""]


def render_markdown(document: dict[str, Any]) -> str:
    """The whole report as GitHub-flavoured Markdown, ending in a newline."""
    view = _view.build(document)
    review = view["review"]
    out: list[str] = [f"# {md(view['title'])}", ""]
    if review:
        out += [("Audit report." if review["signoff"] else
                 "Audit report (draft: not signed off)."), ""]
        out += _header(review["engagement"])
        out += _executive_summary(view, review)
        out += _applicability(review)
        out += ["## Findings", ""] + _findings(view["findings"], managed=True)
        if review["unreviewed"]:
            out += ["## Unreviewed evidence", "",
                    f"{len(review['unreviewed'])} item(s) still pending the auditor's decision; "
                    "they count, as the bundle check judged them: "
                    + ", ".join(md_code(i) for i in review["unreviewed"]) + ".", ""]
    else:
        out += _header(view["header"])
    out += _summary(view)
    for prof in view["profiles"]:
        out += _profile_section(prof)
    if view["has_findings"] and not review:
        out += ["## Findings", ""] + _findings(view["findings"], managed=False)
    out += _processes(view)
    out += _service_levels(view)
    out += _metrics(view)
    out += _evidence(view, reviewed=bool(review))
    if review:
        out += ["", "## Sign-off", ""]
        signoff = review["signoff"]
        if signoff:
            if signoff.get("statement"):
                out += [md(signoff["statement"]), ""]
            out += [f"**{md(signoff.get('name'))}**, {md(signoff.get('date'))}"]
        else:
            out += ["Not signed off: this report is a draft."]
        out += ["", "## Appendix: input digests", ""] + _header(view["header"])[:-1]
    return "\n".join(out) + "\n"


def _summary(view: dict[str, Any]) -> list[str]:
    s = view["summary"]
    counts = ", ".join(f"{n} {name}" for name, n in s["capabilities"])
    out = ["## Summary", "", f"- {s['processes']} processes assessed: {md(counts)}.",
           f"- {s['evidence']} evidence items: {s['accepted']} accepted, {s['rejected']} rejected."]
    if s["has_findings"]:
        out.append(f"- {s['findings']} findings.")
    out.append("")
    if view["profiles"]:
        rows = [[md_code(p["id"]), md(p["name"]), md(p["source"]),
                 f"**{p['achieved_level']}** of {p['max_level']}",
                 md(f"{p['next']['level']} ({text(p['next']['name'])})") if p["next"] else "all met",
                 str(len(p["next"]["gaps"])) if p["next"] else "0"] for p in view["profiles"]]
        out += md_table(["profile", "name", "source", "level reached", "next level",
                         "gaps to it"], rows)
        if s["any_not_standard"]:
            out += ["", "Profiles with source *derived* or *custom* are not the standard's own "
                        "level table."]
        out.append("")
    return out


def _executive_summary(view: dict[str, Any], review: dict[str, Any]) -> list[str]:
    out = ["## Executive summary", ""]
    if view["profiles"]:
        out += md_table(["profile", "name", "level reached", "next level", "gaps to it"], [
            [md_code(p["id"]), md(p["name"]), f"**{p['achieved_level']}** of {p['max_level']}",
             md(f"{p['next']['level']} ({text(p['next']['name'])})") if p["next"] else "all met",
             str(len(p["next"]["gaps"])) if p["next"] else "0"] for p in view["profiles"]])
        out.append("")
    out += ["Findings by severity: "
            + ", ".join(f"{n} {sev}" for sev, n in review["severity_counts"]) + ".",
            "Evidence reviewed: " + ", ".join(f"{n} {d}" for d, n in review["decisions"]) + ".",
            ""]
    rows = []
    for top in review["top_gaps"]:
        rows += [[md_code(top["profile"]), str(top["level"]), md_code(g["process"]),
                  md(g["required"]), md(g["actual"]), _dash(g["missing"])] for g in top["gaps"]]
        if top["more"]:
            rows.append([md_code(top["profile"]), str(top["level"]),
                         f"and {top['more']} more (see the profile's section)", "", "", ""])
    if rows:
        out += ["### Top gaps", ""]
        out += md_table(["profile", "level", "process", "required", "actual", "missing"], rows)
        out.append("")
    return out


def _applicability(review: dict[str, Any]) -> list[str]:
    out = ["## Scope and statement of applicability", "",
           md(review["scope"]) or "No scope statement given.", ""]
    out += md_table(["process", "name", "applicability", "capability", "audit methods",
                     "auditor's notes"],
                    [[md_code(p["id"]), md(p["name"]), md(p["applicability"]),
                      md(p["capability"]), _dash(p["methods"]), _dash(p["notes"])]
                     for p in review["applicability"]])
    return out + [""]


def _findings(rows: list[dict[str, Any]], managed: bool) -> list[str]:
    if not rows:
        return ["No findings.", ""]
    cells = []
    for f in rows:
        message = "; ".join([md(f["message"]), *(md(m) for m in f["more"])])
        base = [md_code(f["id"]), f"**{md(f['severity'])}**", md_code(f["process"]), message]
        cells.append(base + ([_dash(f["owner"]), _dash(f["due"]), _dash(f["response"]),
                              md(f["status"])] if managed
                             else [md(f["rule"]), _dash(f["evidence"])]))
    headers = ["id", "severity", "process", "finding"] + (
        ["owner", "due", "management response", "status"] if managed else ["rule", "evidence"])
    return md_table(headers, cells) + [""]


def _profile_section(prof: dict[str, Any]) -> list[str]:
    out = [f"## Profile {md(prof['id'])}: {md(prof['name'])}", "",
           f"Level reached: **{prof['achieved_level']} of {prof['max_level']}** "
           f"(source: {md(prof['source'])}).", ""]
    out += md_table(["level", "name", "result", "requirements met", "gaps"], [
        [str(lv["level"]), md(lv["name"]), "met" if lv["met"] else "**not met**",
         f"{lv['requirements_met']} of {lv['requirements']}"
         + (f" ({lv['other']} other)" if lv["other"] else ""), str(lv["gaps"])]
        for lv in prof["levels"]])
    out.append("")
    if prof["gaps"]:
        out += ["Gaps, each at the first level that needs it (levels are cumulative):", ""]
        out += md_table(["level", "process", "required", "actual", "missing",
                         "rejected evidence that would count", "why the level needs it"],
                        [[str(g["level"]), md_code(g["process"]), md(g["required"]),
                          md(g["actual"]), _dash(g["missing"]), _dash(g["rejected"]),
                          _dash(g["rationale"])] for g in prof["gaps"]])
        out.append("")
    return out


def _processes(view: dict[str, Any]) -> list[str]:
    rows = [[md_code(p["id"]), md(p["name"]), md(p["level"]), f"**{md(p['capability'])}**",
             _dash(p["practices"]), _dash(p["rules"]), _dash(p["evidence"]),
             md(f"{p['next_capability']}: {p['next_missing']}") if p["next_capability"] else "-",
             _dash(p["rejected"])] for p in view["processes"]]
    return ["## Processes", ""] + md_table(
        ["process", "name", "level", "capability", "practices", "rules fired",
         "evidence behind it", "next capability needs", "rejected evidence"], rows) + [""]


def _service_levels(view: dict[str, Any]) -> list[str]:
    if not view["service_levels"]:
        return []
    rows = [[md_code(s["id"]), md_code(s["process"]), _dash(s["provider"]), md(s["metric"]),
             md(s["target"]), md(s["window"]),
             md(s["status"]) if s["status"] == "met" else f"**{md(s['status'])}**",
             _dash(s["observations"])] for s in view["service_levels"]]
    return ["## Service levels", ""] + md_table(
        ["id", "process", "provider", "metric", "target", "window", "status",
         "deciding observations"], rows) + [""]


def _metrics(view: dict[str, Any]) -> list[str]:
    if not view["metrics"]:
        return []
    rows = [[md_code(m["id"]), md_code(m["process"]), md(m["metric_type"]), md(m["status"]),
             _dash(m["frequency"]), _dash(m["units"]), _dash(m["thresholds"]),
             _dash(m["cadence"]), _dash(m["band"]), _dash(m["target"]), _dash(m["counted_by"])]
            for m in view["metrics"]]
    return ["## Metric specifications", ""] + md_table(
        ["metric", "process", "type", "status", "frequency", "units", "thresholds",
         "reporting cadence", "band", "target", "counted by"], rows) + [""]


def _evidence(view: dict[str, Any], reviewed: bool) -> list[str]:
    rows = []
    for e in view["evidence"]:
        decision = ("**unreviewed**" if e["unreviewed"] else md(e["decision"])) + (
            f" ({md(e['reviewed_by'])})" if e["reviewed_by"] else "")
        rows.append([md_code(e["id"]), md_code(e["process"]), md(e["kind"]), md(e["status"])]
                    + ([decision] if reviewed else [])
                    + [md(e["title"]), md(e["path"]), md(e["detail"]), md_code(e["sha256"]),
                       md(e["reason"])])
    headers = ["id", "process", "kind", "status"] + (["auditor's decision"] if reviewed else []) \
        + ["title", "path", "detail", "sha256", "reason it does not count"]
    return ["## Evidence appendix", ""] + md_table(headers, rows)
