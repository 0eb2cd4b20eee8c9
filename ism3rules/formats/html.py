"""The HTML format: one self-contained page with inline SVG charts, printable to PDF.

Rendered with Jinja2 from a template shipped in the package (`templates/
report.html.j2`), or from a firm's own (`--template`), with autoescaping, in a
sandbox, and with every value passed through one neutralising hook (`_neutral`,
which calls `_common.text`): no bundle-supplied string reaches the page unescaped.
No script, no external resource: a Content-Security-Policy forbids both, and a
template that drops it is refused. Without a review the page is the assessment;
with one (`--review`) it is the auditor's deliverable: engagement, executive
summary, scope and statement of applicability, managed findings, unreviewed
evidence, sign-off, and the input digests in an appendix.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from ..errors import ReportError
from . import _view
from ._common import text
from ._view import MET_FILL, RANK_FILL, RANK_INK, UNMET_FILLS

__all__ = ["CSP", "MET_FILL", "RANK_FILL", "UNMET_FILLS", "render_html", "render_html_with"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SHIPPED = "ism3/report.html.j2"
# No script, no network: only inline styles and inline images may load.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'

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
td.why { overflow-wrap: anywhere; min-width: 16em; }   /* a reason may hold a whole sha256 */
th { background: #f1f3f5; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11.5px;
              overflow-wrap: break-word; }
code.digest { overflow-wrap: anywhere; }
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
.unreviewed td { background: #fff8e1; }
.flag { color: #8a5300; font-weight: 700; }
.sev { font-weight: 700; }
.sev-critical .sev, .sev-count.sev-critical { color: #8e1b16; }
.sev-high .sev, .sev-count.sev-high { color: #c23b32; }
.sev-medium .sev, .sev-count.sev-medium { color: #8a5300; }
.signoff { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
           break-inside: avoid; }
.signoff.pending { border-style: dashed; color: var(--muted); }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.chart { overflow-x: auto; }
.legend span { display: inline-block; margin-right: 12px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
            vertical-align: -2px; border: 1px solid #adb5bd; }
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  table { font-size: 9pt; }
  h2, h3 { break-after: avoid; }
  tr, td, th, .card, svg { break-inside: avoid; }
  thead { display: table-header-group; }
  .chart { overflow: visible; }
  svg { max-width: 100%; height: auto; }
}
"""


def _neutral(value: Any) -> Any:
    """The one hook every `{{ value }}` passes through: markup built by the template
    itself stays as it is; anything else becomes neutral text (`_common.text`) that
    autoescaping then escapes."""
    if isinstance(value, Markup):
        return value
    return text(value)


@functools.lru_cache(maxsize=1)
def _shipped_environment() -> ImmutableSandboxedEnvironment:
    """The environment of the shipped template, built once (it caches compiled templates)."""
    return _environment()


def _environment(extra: Path | None = None) -> ImmutableSandboxedEnvironment:
    loaders: list[jinja2.BaseLoader] = []
    if extra is not None:
        loaders.append(jinja2.FileSystemLoader(str(extra)))
    loaders.append(jinja2.PrefixLoader({"ism3": jinja2.FileSystemLoader(str(TEMPLATES))}))
    return ImmutableSandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders), autoescape=True, finalize=_neutral,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _context(document: dict[str, Any]) -> dict[str, Any]:
    """What a template receives (documented in docs/auditing.md)."""
    return {"document": document, "view": _view.build(document), "css": Markup(CSS),
            "csp": Markup(CSP),
            "rank_fill": RANK_FILL, "rank_ink": RANK_INK}


def _render(env: ImmutableSandboxedEnvironment, name: str, document: dict[str, Any],
            shown: str) -> str:
    try:
        out = env.get_template(name).render(_context(document))
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"{exc.filename or shown}:{exc.lineno}: template error: "
                          f"{exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise ReportError(f"{shown}: template {exc.name!r} not found") from exc
    except jinja2.TemplateError as exc:
        raise ReportError(f"{shown}: the template failed: {exc}") from exc
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise ReportError(f"{shown}: the template failed: {type(exc).__name__}: {exc}") from exc
    if CSP_META not in out:
        raise ReportError(f"{shown}: the rendered page lacks the Content-Security-Policy "
                          f"meta tag ({CSP_META}); keep it in the template's <head>")
    return out if out.endswith("\n") else out + "\n"


def render_html(document: dict[str, Any]) -> str:
    """The whole report as one HTML5 document (UTF-8), ending in a newline."""
    return _render(_shipped_environment(), SHIPPED, document, SHIPPED)


def render_html_with(document: dict[str, Any], template: Path) -> str:
    """The report rendered with a firm's template file (which may extend the shipped
    one as "ism3/report.html.j2").

    Raises:
        ReportError: the template cannot be read, does not parse, fails, or drops the
            Content-Security-Policy.
    """
    if not template.is_file():
        raise ReportError(f"{template}: template file not found")
    return _render(_environment(template.resolve().parent), template.name, document,
                   str(template))
