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
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from ..errors import ReportError
from ..inputfiles import TEMPLATE, read_input
from ..limits import DEFAULT_LIMITS, Limits
from ..safe import terminal
from . import _view
from ._common import text
from ._view import MET_FILL, RANK_FILL, RANK_INK, UNMET_FILLS

__all__ = ["CSP", "MET_FILL", "RANK_FILL", "UNMET_FILLS", "render_html", "render_html_with"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SHIPPED = "ism3/report.html.j2"
# No script, no network: only inline styles and inline images may load.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
# What rendering a firm's template may cost (fixed limits: the shipped template over the
# largest bundle the default limits allow takes a few hundred thousand steps and tens
# of MiB). Steps are loop iterations and calls; memory is address space added while the
# template renders (enforced where the system has RLIMIT_AS: Linux).
MAX_TEMPLATE_STEPS = 10_000_000
MAX_TEMPLATE_MEMORY = 1024 * 1024 * 1024
MAX_TEMPLATE_TEXT = 64 * 1024 * 1024      # one string or list a template builds with *
MAX_POWER_BITS = 100_000                  # a number a template builds with ** (none prints longer)
MAX_TEMPLATE_NESTING = 8                  # one template inside its own rendering (a recursion)

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


def _environment() -> ImmutableSandboxedEnvironment:
    loader = jinja2.PrefixLoader({"ism3": jinja2.FileSystemLoader(str(TEMPLATES))})
    return ImmutableSandboxedEnvironment(
        loader=loader, autoescape=True, finalize=_neutral,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


class _TooCostly(Exception):
    """A firm's template went past one of the limits on rendering it."""


class _FirmLoader(jinja2.BaseLoader):
    """A firm's template and the files it includes or extends from its own folder, each
    read once by the bounded reader of input files, all of them within one byte budget;
    a name leaving the folder (`..`) is not found."""

    def __init__(self, template: Path, limit: int) -> None:
        self.folder = template.parent
        self.left = limit
        self.read: dict[str, bytes] = {}
        self.first = template.name
        self.read[self.first] = self._read(template)   # a clear error before anything runs

    def _read(self, path: Path) -> bytes:
        raw = read_input(path, TEMPLATE, self.left)   # the files together: --max-template-bytes
        self.left -= len(raw)
        return raw

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.folder.joinpath(*split_template_path(template))
        if template in self.read:
            raw = self.read[template]
        elif os.path.lexists(path):
            raw = self._read(path)
        else:
            raise jinja2.TemplateNotFound(template)
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise ReportError(f"{terminal(str(path))}:{line}: not UTF-8 text (byte {exc.start}); "
                              "save the template as UTF-8") from None
        return source, str(path), lambda: True


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with a budget of steps (loop iterations and calls, counted as the
    template runs) and no `*` or `**` building a huge value."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, max_steps: int, **options: Any) -> None:
        super().__init__(**options)
        self.steps_left = max_steps

    def _step(self) -> None:
        self.steps_left -= 1
        if self.steps_left < 0:
            raise _TooCostly(f"more than {MAX_TEMPLATE_STEPS} steps (loop iterations and "
                             "calls): a loop that does not end, or loops nested too deep")

    def ism3_steps(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Every loop of a firm's template iterates through this: each item is one step."""
        for item in iterable:
            self._step()
            yield item

    def call(__self, __context: Any, __obj: Any, *args: Any,  # noqa: N805 - jinja2's own
             **kwargs: Any) -> Any:
        __self._step()
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, int) and isinstance(right, int) \
                and right > 0 and max(left.bit_length(), 1) * right > MAX_POWER_BITS:
            raise _TooCostly(f"a power of more than {MAX_POWER_BITS} bits")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) \
                        and len(seq) * times > MAX_TEMPLATE_TEXT:
                    raise _TooCostly(f"a text or list of more than {MAX_TEMPLATE_TEXT} items")
        return super().call_binop(context, operator, left, right)

    def _load_template(self, name: str, globals: Any) -> Any:  # noqa: A002 - jinja2's own
        """Every include, import and extends: a template met inside its own rendering
        more than `MAX_TEMPLATE_NESTING` times is a recursion, refused before each level
        renders the whole report again (which would take minutes to end in a
        RecursionError)."""
        template = super()._load_template(name, globals)
        filename = getattr(template, "filename", None)
        if filename is not None:
            nested = 0
            frame = sys._getframe(1)
            while frame is not None:
                code = frame.f_code
                nested += code.co_filename == filename and code.co_name == "root"
                frame = frame.f_back  # type: ignore[assignment]
            if nested >= MAX_TEMPLATE_NESTING:
                raise _TooCostly(f"{name!r} is included or extended inside itself more than "
                                 f"{MAX_TEMPLATE_NESTING} levels deep: a recursion")
        return template

    def compile(self, source: Any, name: str | None = None, filename: str | None = None,
                raw: bool = False, defer_init: bool = False) -> Any:
        """Compile with every `for` loop counted (its iterable wrapped in `ism3_steps`)."""
        if isinstance(source, str):
            tree = self.parse(source, name, filename)
            for loop in tree.find_all(nodes.For):
                loop.iter = nodes.Call(nodes.EnvironmentAttribute("ism3_steps"), [loop.iter],
                                       [], None, None, lineno=loop.lineno)
            source = tree
        return super().compile(source, name, filename, raw, defer_init)  # type: ignore[call-overload]


@contextmanager
def _memory_capped(extra: int) -> Iterator[None]:
    """At most `extra` more bytes of address space while the block runs (RLIMIT_AS, where
    the system has it and says how much is used: Linux); allocating past it is a
    MemoryError in the block. The limit is restored after."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError, AttributeError):
        yield
        return
    cap = used + extra
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield                          # already limited at least as tightly
        return
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _context(document: dict[str, Any]) -> dict[str, Any]:
    """What a template receives (documented in docs/auditing.md)."""
    return {"document": document, "view": _view.build(document), "css": Markup(CSS),
            "csp": Markup(CSP),
            "rank_fill": RANK_FILL, "rank_ink": RANK_INK}


def _render(env: ImmutableSandboxedEnvironment, name: str, document: dict[str, Any],
            shown: str, firm: bool = False) -> str:
    context = _context(document)       # ours: a failure here is a bug, not the template's
    try:
        out = env.get_template(name).render(context)
    except ReportError:
        raise                          # a file the template names cannot be read
    except _TooCostly as exc:
        raise ReportError(f"{shown}: the template went past a limit on rendering it: {exc} "
                          "(a fixed limit)") from None
    except RecursionError:
        raise ReportError(f"{shown}: the template calls, includes or extends itself without "
                          "end") from None
    except MemoryError:
        raise ReportError(f"{shown}: the template needed more than "
                          f"{MAX_TEMPLATE_MEMORY // (1024 * 1024)} MiB of memory to render "
                          "(a fixed limit)") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ReportError(f"{exc.filename or shown}:{exc.lineno}: template error: "
                          f"{exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise ReportError(f"{shown}: template {exc.name!r} not found") from exc
    except jinja2.TemplateError as exc:
        raise ReportError(f"{shown}: the template failed: {exc}") from exc
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise ReportError(f"{shown}: the template failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - whatever a firm's template does is its own failure
        if not firm:
            raise
        raise ReportError(f"{shown}: the template failed: {type(exc).__name__}: {exc}") from exc
    if CSP_META not in out:
        raise ReportError(f"{shown}: the rendered page lacks the Content-Security-Policy "
                          f"meta tag ({CSP_META}); keep it in the template's <head>")
    return out if out.endswith("\n") else out + "\n"


def render_html(document: dict[str, Any]) -> str:
    """The whole report as one HTML5 document (UTF-8), ending in a newline."""
    return _render(_shipped_environment(), SHIPPED, document, SHIPPED)


def render_html_with(document: dict[str, Any], template: Path,
                     limits: Limits = DEFAULT_LIMITS) -> str:
    """The report rendered with a firm's template file (which may extend the shipped
    one as "ism3/report.html.j2", and include or extend files of its own folder).

    The template is untrusted input: it and every file it names are read by the bounded
    reader of input files (regular files only, within `limits.max_template_bytes`
    together, each read once), and it runs in the sandbox within a budget of steps and
    of memory (`MAX_TEMPLATE_STEPS`, `MAX_TEMPLATE_MEMORY`).

    Raises:
        ReportError: the template cannot be read or is over its limit, does not parse,
            fails, goes past a limit on rendering it, or drops the
            Content-Security-Policy.
    """
    shown = terminal(str(template))
    loader = jinja2.ChoiceLoader([
        _FirmLoader(template, limits.max_template_bytes),
        jinja2.PrefixLoader({"ism3": jinja2.FileSystemLoader(str(TEMPLATES))})])
    env = _BoundedEnvironment(
        MAX_TEMPLATE_STEPS, loader=loader, autoescape=True, finalize=_neutral,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    with _memory_capped(MAX_TEMPLATE_MEMORY):
        return _render(env, template.name, document, shown, firm=True)
