"""Renderings of history documents: runs, trend and portfolio as table, JSON, CSV and HTML.

Organization names and every other string in the store came from reports, so they
are untrusted: `text` for terminals, `csv_cell` for spreadsheets, and HTML through
Jinja2 with autoescaping (an SVG chart inline, no script: the page's
Content-Security-Policy forbids scripts and any network access).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from .. import safe
from ._common import csv_cell, text
from .fit import STABLE_WIDTH, fit_lines, fit_table


TEMPLATES = Path(__file__).resolve().parent.parent / "templates"   # one home for templates
ARROWS = {"up": "↑", "down": "↓", "same": "→", "new": "·"}
CAPABILITIES = ("none", "initial", "managed", "defined", "controlled", "optimized")
SHORT = ("none", "init", "man", "def", "ctrl", "opt")
# the report's capability palette (formats/html.py), light to dark
RANK_FILL = ("#f1f3f5", "#d0e2f2", "#9ec5e8", "#5b9bd5", "#2e75b6", "#1f4e79")
LINE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
                "#17becf")


def _json(document: dict[str, Any]) -> str:
    return safe.json_dumps(document)   # invisible characters as \uXXXX, no NaN or infinity


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(h) for h in header])    # profile ids come from reports too
    for row in rows:
        writer.writerow([csv_cell(c) if isinstance(c, str) else ("" if c is None else c)
                         for c in row])
    return buffer.getvalue()


# rows, headers, text columns, columns whose cells keep their line breaks (never narrowed)
Layout = tuple[list[list[Any]], list[str], tuple[int, ...], tuple[int, ...]]


def _narrowest_fitting(width: int | None, layouts: tuple[Layout, ...]) -> str:
    """The first of `layouts` (rows, headers, text columns, columns whose cells keep their
    line breaks) whose table fits `width`, else the last: a column per profile while they
    fit, else one `levels` column holding a line per profile."""
    limit = STABLE_WIDTH if width is None else width
    table = ""
    for rows, headers, wrap, multiline in layouts:
        table = fit_table(rows, headers, width, text_columns=wrap, multiline=multiline,
                          keep=multiline)
        if max(len(line) for line in table.split("\n")) <= limit:
            return table
    return table


# -- runs (history list) -------------------------------------------------------------------

def render_runs_table(document: dict[str, Any], width: int | None = None) -> str:
    """One line per run: id, organization, date, levels, tool, source; fitted to `width`
    (default: formats.fit.STABLE_WIDTH) by wrapping the levels and organization."""
    if not document["runs"]:
        return "no runs recorded\n"
    rows = [[r["run"], text(r["organization"]["id"]), text(r["as_of"]),
             ", ".join(f"{text(p)} {lv['achieved']}/{lv['max']}" for p, lv in r["levels"].items()),
             text(r["source"]), text(r["recorded_at"])[:16].replace("T", " ")]
            for r in document["runs"]]
    return fit_table(rows, ["run", "organization", "as of", "levels", "source",
                            "recorded (UTC)"], width, text_columns=(3, 1, 4)) + "\n"


def render_runs_csv(document: dict[str, Any]) -> str:
    """One row per run; levels as `profile=achieved/max` joined by `; `."""
    return _csv(["run", "organization_id", "organization_name", "position", "as_of", "levels",
                 "tool_version", "rules_sha256", "bundle_sha256", "report_sha256", "source",
                 "recorded_at", "chain_hash"],
                [[r["run"], r["organization"]["id"], r["organization"]["name"], r["position"],
                  r["as_of"], "; ".join(f"{p}={lv['achieved']}/{lv['max']}"
                                        for p, lv in r["levels"].items()),
                  r["tool_version"], r["rules_sha256"], r["bundle_sha256"], r["report_sha256"],
                  r["source"], r["recorded_at"], r["chain_hash"]] for r in document["runs"]])


# Each table renderer also takes a width (the CLI passes the terminal's, see fit.py).
RUNS_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "table": render_runs_table,
    "json": _json,
    "csv": render_runs_csv,
}


# -- trend ----------------------------------------------------------------------------------

def render_trend_table(trend: dict[str, Any], width: int | None = None) -> str:
    """A line per point: date, run, level per profile (arrow against the point before),
    capability counts; `*` marks a point whose criteria changed. Fitted to `width`."""
    org = trend["organization"]
    profiles = [p["id"] for p in trend["profiles"]]
    columns, folded = [], []   # a column per profile; or one `levels` column, wrapped
    for point in trend["points"]:
        levels = []
        for pid in profiles:
            lv = point["levels"].get(pid)
            levels.append("-" if lv is None else
                          f"{lv['achieved']}/{lv['max']} {ARROWS[lv['change']]}")
        rest = [point["capabilities"][c] for c in CAPABILITIES]
        rest.append("* " + ", ".join(text(c) for c in point["criteria_changed"])
                    if point["criteria_changed"] else "")
        head = [text(point["as_of"]), point["run"]]
        columns.append([*head, *levels, *rest])
        folded.append([*head, "\n".join(f"{text(p)} {lv}" for p, lv in zip(profiles, levels,
                                                                             strict=True)),
                       *rest])
    table = _narrowest_fitting(width, (
        (columns, ["as of", "run", *(text(p) for p in profiles), *SHORT, "criteria"],
         (len(profiles) + 8,), ()),
        (folded, ["as of", "run", "levels", *SHORT, "criteria"], (9,), (2,))))
    rows = columns
    notes = ["Level reached / levels, with the change since the run before; processes at "
             "each capability (none, initial, managed, defined, controlled, optimized)."]
    if any(p["criteria_changed"] for p in trend["points"]):
        notes += ["", "* the rules or a profile changed since the point before: a level that "
                  "moved there may have moved because the criteria moved, not by progress."]
    out = [*fit_lines([f"Trend: {text(org['name'])} ({text(org['id'])}), {len(rows)} run(s)"],
                      width), "", table, "", *fit_lines(notes, width)]
    return "\n".join(out) + "\n"


def render_trend_csv(trend: dict[str, Any]) -> str:
    """A row per point: as_of, run, achieved level per profile, capability counts."""
    profiles = [p["id"] for p in trend["profiles"]]
    return _csv(["as_of", "run", *profiles, *CAPABILITIES, "criteria_changed", "rules_sha256",
                 "report_sha256"],
                [[p["as_of"], p["run"],
                  *((p["levels"][pid]["achieved"] if pid in p["levels"] else None)
                    for pid in profiles),
                  *(p["capabilities"][c] for c in CAPABILITIES),
                  "; ".join(p["criteria_changed"]), p["rules_sha256"], p["report_sha256"]]
                 for p in trend["points"]])


def _x_positions(days: list[str | None], left: float, width: float) -> list[float]:
    """x of each point: by date when every point has one, else evenly spaced."""
    n = len(days)
    if n == 1:
        return [left + width / 2]
    try:
        ordinals = [date.fromisoformat(d).toordinal() for d in days if d]
    except ValueError:
        ordinals = []
    if len(ordinals) == n and ordinals[-1] > ordinals[0]:
        span = ordinals[-1] - ordinals[0]
        return [left + width * (o - ordinals[0]) / span for o in ordinals]
    return [left + width * i / (n - 1) for i in range(n)]


def trend_chart(trend: dict[str, Any]) -> dict[str, Any]:
    """Geometry of the trend's SVG charts (numbers and labels; strings escaped later)."""
    points = trend["points"]
    left, top, width, height = 48.0, 16.0, 640.0, 180.0
    xs = _x_positions([p["as_of"] for p in points], left + 36, width - 84)
    top_level = int(max([p["max_level"] for p in trend["profiles"]] + [1]))

    def y(level: float) -> float:
        return top + height - height * level / top_level

    lines = []
    count = len(trend["profiles"])
    for i, prof in enumerate(trend["profiles"]):
        # profiles at the same level would hide each other: a few pixels apart
        nudge = (i - (count - 1) / 2) * 3.0
        coords = [(x, y(p["levels"][prof["id"]]["achieved"]) + nudge, p)
                  for x, p in zip(xs, points, strict=True) if prof["id"] in p["levels"]]
        lines.append({
            "id": prof["id"], "name": prof.get("name") or prof["id"],
            "colour": LINE_COLOURS[i % len(LINE_COLOURS)],
            "path": " ".join(f"{x:.1f},{yy:.1f}" for x, yy, _ in coords),
            "dots": [{"x": round(x, 1), "y": round(yy, 1),
                      "label": f"{p['as_of']}: level {p['levels'][prof['id']]['achieved']} of "
                               f"{p['levels'][prof['id']]['max']} (run {p['run']})",
                      "changed": "rules" in p["criteria_changed"]
                      or f"profile {prof['id']}" in p["criteria_changed"]}
                     for x, yy, p in coords],
        })
    bars = []
    gaps = [b - a for a, b in zip(xs, xs[1:], strict=False) if b > a]
    bar_width = max(2.0, min(28.0, 0.7 * min(gaps, default=40.0)))
    for x, p in zip(xs, points, strict=True):
        total = sum(p["capabilities"].values()) or 1
        base = top + height
        segments = []
        for rank, name in enumerate(CAPABILITIES):
            h = height * p["capabilities"][name] / total
            if h > 0:
                base -= h
                segments.append({"y": round(base, 1), "h": round(h, 1), "fill": RANK_FILL[rank],
                                 "label": f"{p['as_of']}: {p['capabilities'][name]} {name}"})
        bars.append({"x": round(x - bar_width / 2, 1), "w": round(bar_width, 1),
                     "segments": segments})
    marks = [{"x": round(x, 1), "label": f"{p['as_of']}: " + ", ".join(p["criteria_changed"])
              + " changed"} for x, p in zip(xs, points, strict=True) if p["criteria_changed"]]
    ticks = [{"y": round(y(level), 1), "label": str(level)} for level in range(top_level + 1)]
    xlabels: list[dict[str, Any]] = []
    for x, p in zip(xs, points, strict=True):     # no label over another; the last one kept
        label = {"x": round(x, 1), "label": str(p["as_of"] or p["run"])}
        if not xlabels or x - xlabels[-1]["x"] >= 76:
            xlabels.append(label)
        elif p is points[-1]:
            xlabels[-1] = label
    return {"width": left + width + 8, "height": top + height + 40, "left": left, "top": top,
            "plot_width": width, "plot_height": height, "bottom": top + height,
            "lines": lines, "bars": bars, "marks": marks, "ticks": ticks, "xlabels": xlabels}


def _environment() -> Any:
    """Jinja2 with autoescaping on: every value is HTML-escaped unless marked safe."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                       undefined=StrictUndefined, keep_trailing_newline=True)


def render_trend_html(trend: dict[str, Any]) -> str:
    """One self-contained page: level and capability charts (inline SVG) and the data."""
    return str(_environment().get_template("history_trend.html.j2").render(
        org=trend["organization"], profile=trend["profile"], tool=trend["tool"],
        points=trend["points"], profiles=trend["profiles"], chart=trend_chart(trend),
        capabilities=CAPABILITIES, fills=RANK_FILL, arrows=ARROWS))


TREND_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "table": render_trend_table,
    "json": _json,
    "csv": render_trend_csv,
    "html": render_trend_html,
}


# -- portfolio ------------------------------------------------------------------------------

def _findings_text(findings: dict[str, Any]) -> str:
    if not findings["open"]:
        return "0"
    return f"{findings['open']} (" + ", ".join(
        f"{n} {text(sev)}" for sev, n in findings["by_severity"].items()) + ")"


def render_portfolio_table(portfolio: dict[str, Any], width: int | None = None) -> str:
    """A line per organization: latest run, level per profile with its trend arrow, open
    findings by severity. Fitted to `width` by wrapping the names and findings."""
    profiles = [p["id"] for p in portfolio["profiles"]]
    columns, folded = [], []   # a column per profile; or one `levels` column, wrapped
    for org in portfolio["organizations"]:
        head = [text(org["id"]), text(org["name"]), text(org["as_of"]), org["run"], org["runs"]]
        levels = []
        for pid in profiles:
            lv = org["levels"].get(pid)
            levels.append("-" if lv is None else f"{lv['achieved']}/{lv['max']} "
                          f"{ARROWS[lv['trend']]}{' *' if lv['criteria_changed'] else ''}")
        findings = _findings_text(org["findings"])
        columns.append([*head, *levels, findings])
        folded.append([*head, "\n".join(f"{text(p)} {lv}" for p, lv in zip(profiles, levels,
                                                                             strict=True)),
                       "\n".join([f"{org['findings']['open']} open", *(
                           f"{n} {text(sev)}"
                           for sev, n in org["findings"]["by_severity"].items())])])
    if not columns:
        return "no runs recorded\n"
    out = [_narrowest_fitting(width, (
               (columns, ["organization", "name", "as of", "run", "runs",
                          *(text(p) for p in profiles), "open findings"],
                (1, len(profiles) + 5), ()),
               (folded, ["organization", "name", "as of", "run", "runs", "levels",
                         "findings"], (1,), (5, 6)))),
           "",
           *fit_lines(["↑ up, ↓ down, → same as the run before, · first run; * the rules or "
                       "the profile changed since the run before."], width)]
    return "\n".join(out) + "\n"


def render_portfolio_csv(portfolio: dict[str, Any]) -> str:
    """A row per organization: level, previous level and trend per profile, findings."""
    profiles = [p["id"] for p in portfolio["profiles"]]
    severities: list[str] = []
    for org in portfolio["organizations"]:
        for sev in org["findings"]["by_severity"]:
            if sev not in severities:
                severities.append(sev)
    header = ["organization_id", "organization_name", "as_of", "run", "runs"]
    for pid in profiles:
        header += [pid, f"{pid}_max", f"{pid}_previous", f"{pid}_trend",
                   f"{pid}_criteria_changed"]
    header += ["open_findings", *(f"findings_{s}" for s in severities)]
    rows = []
    for org in portfolio["organizations"]:
        row: list[Any] = [org["id"], org["name"], org["as_of"], org["run"], org["runs"]]
        for pid in profiles:
            lv = org["levels"].get(pid)
            row += ([lv["achieved"], lv["max"], lv["previous"], lv["trend"],
                     "yes" if lv["criteria_changed"] else "no"] if lv else [None] * 5)
        row += [org["findings"]["open"],
                *(org["findings"]["by_severity"].get(s, 0) for s in severities)]
        rows.append(row)
    return _csv(header, rows)


def render_portfolio_html(portfolio: dict[str, Any]) -> str:
    """One self-contained page: the portfolio table with trend arrows."""
    return str(_environment().get_template("history_portfolio.html.j2").render(
        organizations=portfolio["organizations"], profiles=portfolio["profiles"],
        profile=portfolio["profile"], tool=portfolio["tool"], arrows=ARROWS))


PORTFOLIO_FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {
    "table": render_portfolio_table,
    "json": _json,
    "csv": render_portfolio_csv,
    "html": render_portfolio_html,
}
