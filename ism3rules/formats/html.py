"""The HTML format: one self-contained page with inline SVG charts, printable to PDF.

No script, no external resource (a Content-Security-Policy forbids both), so the
file opens offline and cannot be made to run code by a hostile bundle: every
bundle-supplied string goes through `h` (HTML escaping), in text and in SVG.
Charts: a capability heat map (processes by management level, against each
profile's requirement) and a maturity ladder per profile.
"""

from __future__ import annotations

from typing import Any

from ._common import (CAPABILITIES, finding_cells, h, highest_requirements, item_detail,
                      new_gaps, next_unmet, rank_of, requirement_state, text)
from .markdown import capability_counts, gap_missing, gap_rejected, header_rows

# Sequential palette for capability ranks 0..5 (light to dark), readable in greyscale.
RANK_FILL = ("#f1f3f5", "#d0e2f2", "#9ec5e8", "#5b9bd5", "#2e75b6", "#1f4e79")
RANK_INK = ("#495057", "#1b2a38", "#1b2a38", "#ffffff", "#ffffff", "#ffffff")
MET_FILL, UNMET_FILLS, OTHER_FILL = "#b7e1c1", ("#f8d7a8", "#f4a582", "#e8705b", "#c23b32",
                                              "#8e1b16"), "#e9ecef"

CSS = """
:root { --ink: #1b1e21; --muted: #5c636a; --line: #ced4da; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 6px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 12.5px; }
th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left;
         vertical-align: top; }
th { background: #f1f3f5; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11.5px;
              overflow-wrap: anywhere; }
.meta td:first-child { width: 190px; color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
        flex: 1 1 260px; break-inside: avoid; }
.card .level { font-size: 22px; font-weight: 700; }
.muted { color: var(--muted); }
.cap { display: inline-block; padding: 0 6px; border-radius: 3px; }
.unmet { color: #a51d2d; font-weight: 600; }
.met { color: #1e6b34; font-weight: 600; }
.rejected td { background: #fff5f5; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.chart { overflow-x: auto; }
.legend span { display: inline-block; margin-right: 12px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
            vertical-align: -2px; border: 1px solid #adb5bd; }
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; }
  tr, .card, svg { break-inside: avoid; }
  thead { display: table-header-group; }
  .chart { overflow: visible; }
  svg { max-width: 100%; height: auto; }
}
"""


def render_html(document: dict[str, Any]) -> str:
    """The whole report as one HTML5 document (UTF-8), ending in a newline."""
    org = document.get("organization", {})
    title = f"O-ISM3 assessment: {text(org.get('name'))}"
    body: list[str] = [f"<h1>{h(title)}</h1>"]
    body.append('<table class="meta"><tbody>')
    for label, value in header_rows(document):
        cell = f"<code>{h(value)}</code>" if "sha256" in label else h(value)
        body.append(f"<tr><td>{h(label)}</td><td>{cell}</td></tr>")
    body.append("</tbody></table>")
    body += _summary(document)
    body += _heatmap_section(document)
    for prof in document.get("profiles", []):
        body += _profile_section(prof)
    if "findings" in document:
        body += _findings(document.get("findings") or [])
    body += _processes(document)
    body += _evidence(document)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        # No script, no network: only inline styles and inline images may load.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{h(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
    ]) + "\n"


def _cap(capability: Any) -> str:
    rank = rank_of(capability)
    return (f'<span class="cap" style="background:{RANK_FILL[rank]};color:{RANK_INK[rank]}">'
            f"{h(capability)}</span>")


def _summary(document: dict[str, Any]) -> list[str]:
    evidence = document.get("evidence", [])
    rejected = sum(1 for e in evidence if e.get("status") != "accepted")
    counts = ", ".join(f"{n} {h(name)}" for name, n in capability_counts(document))
    out = ['<h2 id="summary">Summary</h2>',
           f"<p>{len(document.get('processes', {}))} processes assessed: {counts}. "
           f"{len(evidence)} evidence items: {len(evidence) - rejected} accepted, "
           f"{rejected} rejected."
           + (f" {len(document.get('findings') or [])} findings." if "findings" in document
              else "") + "</p>",
           '<div class="cards">']
    for prof in document.get("profiles", []):
        nxt = next_unmet(prof)
        todo = (f"Next: level {h(nxt.get('level'))} ({h(nxt.get('name'))}), "
                f"{len(nxt.get('gaps', []))} gap(s)" if nxt else "Every level met")
        out.append(f'<div class="card profile-card" data-profile="{h(prof.get("id"))}">'
                   f"<div><strong>{h(prof.get('name'))}</strong> "
                   f'<span class="muted">({h(prof.get("id"))}, {h(prof.get("source"))})</span>'
                   "</div>"
                   f'<div class="level">level {h(prof.get("achieved_level"))} of '
                   f'{h(prof.get("max_level"))}</div>'
                   f"{_ladder(prof)}"
                   f'<div class="muted">{todo}</div></div>')
    out.append("</div>")
    if any(p.get("source") != "standard" for p in document.get("profiles", [])):
        out.append('<p class="muted">Profiles with source <em>derived</em> or <em>custom</em> '
                   "are not the standard's own level table.</p>")
    return out


def _ladder(prof: dict[str, Any]) -> str:
    """A staircase: one step per level, filled when met, with the gaps of unmet ones."""
    levels = prof.get("levels", [])
    count = max(len(levels), 1)
    width, height, pad = 300, 120, 18
    step_w = (width - 2) / count
    parts = [f'<svg class="ladder" role="img" width="{width}" height="{height + pad}" '
             f'viewBox="0 0 {width} {height + pad}" '
             f'aria-label="maturity ladder of {h(prof.get("id"))}">']
    for i, lvl in enumerate(levels):
        step_h = (height - 20) * (i + 1) / count
        x, y = 1 + i * step_w, height - step_h
        met = bool(lvl.get("met"))
        fill = "#2e7d4f" if met else "#ffffff"
        stroke = "#2e7d4f" if met else "#adb5bd"
        ink = "#ffffff" if met else "#495057"
        gaps = len(lvl.get("gaps", []))
        label = f"level {text(lvl.get('level'))} {text(lvl.get('name'))}: " + (
            "met" if met else f"not met, {gaps} gap(s)")
        parts.append(f'<g class="step {"met" if met else "unmet"}"><title>{h(label)}</title>'
                     f'<rect x="{x:.1f}" y="{y:.1f}" width="{step_w - 3:.1f}" '
                     f'height="{step_h:.1f}" rx="2" fill="{fill}" stroke="{stroke}" '
                     f'stroke-width="1.5"/>'
                     f'<text x="{x + (step_w - 3) / 2:.1f}" y="{height - 6:.1f}" '
                     f'text-anchor="middle" font-size="13" font-weight="700" '
                     f'fill="{ink}">{h(lvl.get("level"))}</text>')
        if not met:
            parts.append(f'<text x="{x + (step_w - 3) / 2:.1f}" y="{y - 4:.1f}" '
                         f'text-anchor="middle" font-size="10" fill="#a51d2d">'
                         f"{gaps} gap{'s' if gaps != 1 else ''}</text>")
        parts.append("</g>")
    parts.append(f'<text x="1" y="{height + 13}" font-size="10" fill="#5c636a">'
                 "levels 1 to "
                 f'{h(prof.get("max_level"))}; filled = met</text>')
    parts.append("</svg>")
    return "".join(parts)


def _heatmap_section(document: dict[str, Any]) -> list[str]:
    return ['<h2 id="heatmap">Capability heat map</h2>',
            '<p class="muted">Each process, grouped by management level: the capability it '
            "demonstrably operates at, and for each profile the capability its top level "
            "requires (and from which level). Green: met; orange to "
            "dark red: how many capability steps are missing; grey: not required (or "
            "excluded from scope).</p>",
            '<div class="legend">'
            + "".join(f'<span><i style="background:{RANK_FILL[r]}"></i>{h(c)}</span>'
                      for r, c in enumerate(CAPABILITIES))
            + f'<span><i style="background:{MET_FILL}"></i>met</span>'
            + "".join(f'<span><i style="background:{f}"></i>{n} short</span>'
                      for n, f in enumerate(UNMET_FILLS, start=1))
            + "</div>",
            f'<div class="chart">{_heatmap(document)}</div>']


def _heatmap(document: dict[str, Any]) -> str:
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
    parts = [f'<svg class="heatmap" role="img" width="{width}" height="{total_h}" '
             f'viewBox="0 0 {width} {total_h}" aria-label="capability heat map">',
             f'<text x="{label_w + cap_w / 2}" y="{head_h - 8}" text-anchor="middle" '
             'font-size="12" font-weight="700">capability</text>']
    for i, prof in enumerate(profiles):
        cx = label_w + cap_w + i * prof_w + prof_w / 2
        parts.append(f'<text x="{cx:.1f}" y="{head_h - 22}" text-anchor="middle" font-size="12" '
                     f'font-weight="700">{h(prof.get("id"))}</text>'
                     f'<text x="{cx:.1f}" y="{head_h - 8}" text-anchor="middle" font-size="10" '
                     'fill="#5c636a">requires (from level)</text>')
    y = head_h
    for level in levels:
        parts.append(f'<rect x="0" y="{y}" width="{width}" height="{group_h}" fill="#343a40"/>'
                     f'<text x="6" y="{y + 14}" font-size="12" font-weight="700" fill="#ffffff">'
                     f"{h(str(level).capitalize())}</text>")
        y += group_h
        for pid, proc in processes.items():
            if proc.get("management_level") != level:
                continue
            rank = rank_of(proc.get("capability"))
            name = text(proc.get("name"))
            short = name if len(name) <= 38 else name[:37] + "…"
            parts.append(f'<g class="hm-row" data-process="{h(pid)}">'
                         f'<text x="4" y="{y + 12.5}" font-size="11.5">'
                         f'<tspan font-weight="700">{h(pid)}</tspan> {h(short)}</text>'
                         f'<rect x="{label_w}" y="{y + 1}" width="{cap_w - 2}" '
                         f'height="{row_h - 2}" fill="{RANK_FILL[rank]}"/>'
                         f'<text x="{label_w + cap_w / 2 - 1}" y="{y + 12.5}" '
                         f'text-anchor="middle" font-size="11" fill="{RANK_INK[rank]}">'
                         f'{h(proc.get("capability"))}</text>')
            for i, req in enumerate(reqs):
                x = label_w + cap_w + i * prof_w
                if pid not in req:
                    parts.append(f'<rect x="{x}" y="{y + 1}" width="{prof_w - 2}" '
                                 f'height="{row_h - 2}" fill="{OTHER_FILL}"/>')
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
                tip = (f"{pid}: {profiles[i].get('id')} requires {required} from level {first}; "
                       f"actual {proc.get('capability')}; {state}")
                parts.append(f'<g class="hm-cell {"met" if met else "unmet"}">'
                             f"<title>{h(tip)}</title>"
                             f'<rect x="{x}" y="{y + 1}" width="{prof_w - 2}" '
                             f'height="{row_h - 2}" fill="{fill}"/>'
                             f'<text x="{x + prof_w / 2 - 1}" y="{y + 12.5}" text-anchor="middle" '
                             f'font-size="11" fill="{ink}">{h(label)}</text></g>')
            parts.append("</g>")
            y += row_h
    parts.append("</svg>")
    return "".join(parts)


def _profile_section(prof: dict[str, Any]) -> list[str]:
    out = [f'<h2 id="profile-{h(prof.get("id"))}">Profile {h(prof.get("id"))}: '
           f'{h(prof.get("name"))}</h2>',
           f"<p>Level reached: <strong>{h(prof.get('achieved_level'))} of "
           f"{h(prof.get('max_level'))}</strong> (source: {h(prof.get('source'))}).</p>",
           "<table><thead><tr><th>level</th><th>name</th><th>result</th>"
           "<th>requirements met</th><th>gaps</th></tr></thead><tbody>"]
    for lvl in prof.get("levels", []):
        reqs = lvl.get("requirements", [])
        met = sum(1 for r in reqs if requirement_state(r) == "met")
        result = ('<span class="met">met</span>' if lvl.get("met")
                  else '<span class="unmet">not met</span>')
        out.append(f"<tr><td>{h(lvl.get('level'))}</td><td>{h(lvl.get('name'))}</td>"
                   f"<td>{result}</td><td>{met} of {len(reqs)}</td>"
                   f"<td>{len(lvl.get('gaps', []))}</td></tr>")
    out.append("</tbody></table>")
    gaps = new_gaps(prof)
    if gaps:
        out.append("<h3>Gaps, each at the first level that needs it</h3>")
        out.append("<table><thead><tr><th>level</th><th>process</th><th>required</th>"
                   "<th>actual</th><th>missing</th><th>rejected evidence that would count</th>"
                   "<th>why the level needs it</th></tr></thead><tbody>")
        for level, gap in gaps:
            out.append(f"<tr class=\"gap\"><td>{level}</td><td><code>{h(gap.get('process'))}</code>"
                       f"</td><td>{_cap(gap.get('required'))}</td><td>{_cap(gap.get('actual'))}</td>"
                       f"<td>{h(gap_missing(gap)) or '-'}</td>"
                       f"<td>{h(gap_rejected(gap)) or '-'}</td>"
                       f"<td>{h(gap.get('rationale')) or '-'}</td></tr>")
        out.append("</tbody></table>")
    return out


def _findings(findings: list[Any]) -> list[str]:
    out = ['<h2 id="findings">Findings</h2>']
    if not findings:
        return out + ["<p>No findings.</p>"]
    out.append('<ol class="findings">')
    for finding in findings:
        cells = finding_cells(finding) if isinstance(finding, dict) else [("finding", finding)]
        out.append("<li>" + "; ".join(f"<strong>{h(k)}</strong>: {h(v)}" for k, v in cells)
                   + "</li>")
    return out + ["</ol>"]


def _processes(document: dict[str, Any]) -> list[str]:
    out = ['<h2 id="processes">Processes</h2>',
           "<table><thead><tr><th>process</th><th>name</th><th>level</th><th>capability</th>"
           "<th>practices</th><th>rules fired</th><th>evidence behind it</th>"
           "<th>next capability needs</th><th>rejected evidence</th></tr></thead><tbody>"]
    for pid, proc in document.get("processes", {}).items():
        nxt = proc.get("next")
        todo = (f"{_cap(nxt.get('capability'))} {h(nxt.get('missing'))}" if nxt else "-")
        out.append(f'<tr class="process" id="process-{h(pid)}"><td><code>{h(pid)}</code></td>'
                   f"<td>{h(proc.get('name'))}</td><td>{h(proc.get('management_level'))}</td>"
                   f"<td>{_cap(proc.get('capability'))}</td>"
                   f"<td>{h(proc.get('practices')) or '-'}</td>"
                   f"<td>{h(proc.get('rules')) or '-'}</td>"
                   f"<td>{h(proc.get('evidence')) or '-'}</td><td>{todo}</td>"
                   f"<td>{h(proc.get('rejected_evidence')) or '-'}</td></tr>")
    return out + ["</tbody></table>"]


def _evidence(document: dict[str, Any]) -> list[str]:
    out = ['<h2 id="evidence">Evidence appendix</h2>',
           "<table><thead><tr><th>id</th><th>process</th><th>kind</th><th>status</th>"
           "<th>title</th><th>path</th><th>detail</th><th>sha256</th>"
           "<th>reason it does not count</th></tr></thead><tbody>"]
    for item in document.get("evidence", []):
        metric = item_detail(item)
        status = item.get("status")
        out.append(f'<tr class="evidence{" rejected" if status != "accepted" else ""}">'
                   f"<td><code>{h(item.get('id'))}</code></td><td>{h(item.get('process'))}</td>"
                   f"<td>{h(item.get('kind'))}</td><td>{h(status)}</td>"
                   f"<td>{h(item.get('title'))}</td><td><code>{h(item.get('path'))}</code></td>"
                   f"<td>{h(metric)}</td><td><code>{h(item.get('sha256'))}</code></td>"
                   f"<td>{h(item.get('reason'))}</td></tr>")
    return out + ["</tbody></table>"]
