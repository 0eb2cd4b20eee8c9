"""The `ism3` command line: thin glue from arguments to ism3rules and back to text.

This is the one place that prints, and the one place that turns errors into exit
codes: 0 done (targets met), 1 a requested target not met, 2 usage or input
error, 3 internal error (a bug: please report it); 141 when standard output was a
pipe closed by its reader (as `| head` does), quietly, as other tools do.
Everything printed that comes from an input goes through `ism3rules.safe`.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ism3rules.limits import Limits

EXIT_OK = 0
EXIT_TARGET_MISSED = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3
EXIT_BROKEN_PIPE = 141   # 128 + SIGPIPE: what a shell reports for a tool stopped by `| head`
_OUTPUT_ERRNOS = (errno.ENOSPC, errno.EIO, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))
FORMAT_CHOICES = ("table", "json", "markdown", "html", "csv", "csv-evidence", "junit",
                  "oscal")   # kept literal so --help needs no imports


class _Ism3Group(click.Group):
    """Turns every error into a one-line-per-problem message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from ism3rules.errors import EngineError, Ism3Error
        from ism3rules.safe import terminal

        _reliable_stdout()
        try:
            try:
                return super().invoke(ctx)
            finally:  # a failed write to stdout is an error, whenever it happens
                sys.stdout.flush()
        except EngineError as exc:   # the engine failed or contradicted the rules: a bug
            for line in str(exc).split("\n"):
                _echo_err(f"ism3: {terminal(line)}")
            _echo_err("ism3: this is a bug; please report it with the command you ran")
            ctx.exit(EXIT_INTERNAL)
        except Ism3Error as exc:
            for line in str(exc).split("\n"):
                _echo_err(f"ism3: error: {terminal(line)}")
            ctx.exit(EXIT_INPUT)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                _discard_stdout()
                ctx.exit(EXIT_BROKEN_PIPE)
            if exc.errno in _OUTPUT_ERRNOS and not exc.filename:
                _discard_stdout()
                _echo_err(f"ism3: error: cannot write the output: {exc.strerror or exc}")
                ctx.exit(EXIT_INPUT)
            where = f"{terminal(exc.filename)}: " if exc.filename else ""
            _echo_err(f"ism3: error: {where}{terminal(exc.strerror or exc)}")
            ctx.exit(EXIT_INPUT)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback
            _echo_err(f"ism3: internal error: {type(exc).__name__}: {terminal(exc)} "
                      "(this is a bug; please report it with the command you ran)")
            ctx.exit(EXIT_INTERNAL)

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """`ism3 batch merge ...` runs `batch_merge`; `ism3 batch PATH...` stays a batch."""
        if args[:2] == ["batch", "merge"]:
            return "batch merge", batch_merge, args[2:]
        return super().resolve_command(ctx, args)


class _WholeWrites(io.RawIOBase):
    """A raw stdout that writes every byte or raises: unbuffered Python (`-u`,
    PYTHONUNBUFFERED) writes text straight to a raw file, and a short write (a disk that
    fills up) then loses the rest of the text without an error."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:   # the table format fits a terminal's width
        return os.isatty(self._fd)

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            view = view[os.write(self._fd, view):]
        return total


def _reliable_stdout() -> None:
    """Make a failed or short write to stdout raise, whatever Python's buffering mode."""
    stream = sys.stdout
    if not isinstance(getattr(stream, "buffer", None), io.RawIOBase):
        return   # buffered (BufferedWriter raises on a short write), or a test runner's
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    stream.flush()
    sys.stdout = io.TextIOWrapper(_WholeWrites(fd), encoding=stream.encoding,
                                  errors=stream.errors, write_through=True,
                                  line_buffering=bool(stream.line_buffering))


def _echo_err(line: str) -> None:
    """One line to stderr; a stderr that cannot be written to is not an error of its own."""
    try:
        click.echo(line, err=True)
    except OSError:
        pass


def _discard_stdout() -> None:
    """After a failed write to stdout, drop what is still buffered: point the descriptor
    at /dev/null so Python's own flush at exit neither fails nor complains."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # also a test runner's stream without one
        pass


def _write(text: str, output: Path | None) -> None:
    """Write to stdout (flushed: a failure is an error), or to `output` (a regular file
    is replaced atomically; a pipe or a device is written to directly)."""
    if output is None:
        click.echo(text, nl=False)
        sys.stdout.flush()
        return
    from ism3rules.output import write_atomically

    write_atomically(output, text)


# --output's extension -> the format it implies (when --format is not given), and the
# kind of file each format is; literal so that --help needs no imports.
EXTENSION_FORMATS = {".json": "json", ".md": "markdown", ".markdown": "markdown",
                     ".html": "html", ".htm": "html", ".csv": "csv", ".xml": "junit"}
FORMAT_FILE_KINDS = {"json": ".json", "oscal": ".json", "markdown": ".md", "html": ".html",
                     "csv": ".csv", "csv-evidence": ".csv", "junit": ".xml", "table": None}
_KIND_NAMES = {".json": "JSON", ".md": "Markdown", ".html": "HTML", ".csv": "CSV", ".xml": "XML"}


def _file_kind(output: Path | None) -> str | None:
    """The kind of file --output names by its extension (".json", ...), None for others."""
    if output is None:
        return None
    implied = EXTENSION_FORMATS.get(output.suffix.lower())
    return FORMAT_FILE_KINDS[implied] if implied else None


def choose_format(fmt: str | None, output: Path | None, choices: tuple[str, ...]) -> str:
    """The output format: --format when given, else the one --output's extension implies
    (.json .md .html .csv .xml), else `table` (any other extension, or none).

    Raises:
        click.UsageError: --format and --output's extension contradict each other, or
            the extension names a kind of file this command does not write.
    """
    kind = _file_kind(output)
    if fmt is None:
        if kind is None:
            return "table"
        fitting = [f for f in choices if FORMAT_FILE_KINDS[f] == kind]
        if not fitting:
            raise click.UsageError(
                f"--output {output}: this command does not write {_KIND_NAMES[kind]} files "
                f"(its formats: {', '.join(choices)}); give --format, or another file name")
        return fitting[0]
    if kind is not None and FORMAT_FILE_KINDS.get(fmt) != kind:
        raise click.UsageError(
            f"--format {fmt} contradicts --output {output} ({_KIND_NAMES[kind]}, by its "
            "extension); give one of them, or make them agree")
    return fmt


def table_width(output: Path | None = None) -> int:
    """Columns for the table format: COLUMNS when set, else the terminal's width when
    stdout is one (and no --output), else a stable width; never less than 80."""
    from ism3rules.formats.fit import MIN_WIDTH, STABLE_WIDTH

    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit():
        return max(MIN_WIDTH, int(columns))
    if output is None and sys.stdout.isatty():
        import shutil

        return max(MIN_WIDTH, shutil.get_terminal_size((STABLE_WIDTH, 24)).columns)
    return STABLE_WIDTH


def _rendered(formats: dict[str, Callable[..., str]], fmt: str, document: Any,
              output: Path | None) -> str:
    """`document` in `fmt`; the table format fitted to the terminal (`table_width`)."""
    if fmt == "table":
        return formats[fmt](document, table_width(output))
    return formats[fmt](document)


def format_option(choices: tuple[str, ...], what: str = "Output format") -> Callable[..., Any]:
    """--format/-f with no default: it comes from --output's extension, else table."""
    return click.option("--format", "-f", "fmt", type=click.Choice(choices), default=None,
                        help=f"{what}. Default: from --output's extension (.json .md .html "
                             ".csv .xml) when it has one of these, else table.")


def iso_date(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """Option callback: a date written YYYY-MM-DD (a `date`), None when not given.

    Raises:
        click.BadParameter: anything else, saying the form expected.
    """
    import re
    from datetime import date

    if value is None:
        return None
    written = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", written):
        try:
            return date.fromisoformat(written)
        except ValueError as exc:
            raise click.BadParameter(f"'{value}' is not a valid date ({exc})") from None
    raise click.BadParameter(f"'{value}' is not a date written YYYY-MM-DD (e.g. 2026-10-15)")


def _profile_ids() -> list[str]:
    """Shipped profile ids (for completion and messages); [] when they cannot be read."""
    from ism3rules.errors import Ism3Error
    from ism3rules.profiles import list_shipped

    try:
        return [p.id for p in list_shipped()]
    except Ism3Error:
        return []


def complete_profile(ctx: click.Context, param: click.Parameter,
                     incomplete: str) -> list[Any]:
    """Shell completion for --profile: shipped profile ids, or files for a path."""
    from click.shell_completion import CompletionItem

    if "/" in incomplete or incomplete.startswith(".") or incomplete.endswith((".yaml", ".yml")):
        return [CompletionItem(incomplete, type="file")]
    return [CompletionItem(i) for i in _profile_ids() if i.startswith(incomplete)]


def complete_target(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion for --require: `ID=` for each shipped profile id."""
    from click.shell_completion import CompletionItem

    if "=" in incomplete:
        return []
    return [CompletionItem(f"{i}=", type="plain") for i in _profile_ids()
            if i.startswith(incomplete)]


def _need_profile(profile_ref: str | None) -> str:
    """--profile of a command that needs one. Raises click.UsageError listing the choices."""
    if profile_ref:
        return profile_ref
    ids = _profile_ids()
    raise click.UsageError(
        "Missing option '--profile' / '-p': give a shipped profile id ("
        + (", ".join(ids) or "none found") + "; `ism3 profiles` describes them) or the path "
        "of a profile file")


def _say(*parts: Any) -> None:
    """Print one line made of `parts`; every part that came from an input is passed
    through `safe.terminal` by the caller (`_t`)."""
    click.echo("".join(str(p) for p in parts))


def _t(value: Any) -> str:
    """Text from an input (a path, an id, a name, a reason), safe for a terminal."""
    from ism3rules.safe import terminal

    return terminal(value)


# The limits on reading a bundle (ism3rules.limits), literal so that --help needs no
# imports; a test keeps them equal to ism3rules.limits.DEFAULT_LIMITS and FLAGS.
LIMIT_OPTIONS = (  # (Limits field, flag, default, help)
    ("max_bytes", "--max-bundle-bytes", 16 * 1024 * 1024,
     "Largest bundle.yaml accepted, in bytes."),
    ("max_nodes", "--max-yaml-nodes", 250_000,
     "Most values, lists and mappings in bundle.yaml."),
    ("max_depth", "--max-yaml-depth", 64,
     "Deepest nesting of lists and mappings in bundle.yaml."),
    ("max_aliases", "--max-yaml-aliases", 100,
     "Most YAML aliases (*name) in bundle.yaml."),
    ("max_alias_expansion", "--max-yaml-alias-expansion", 100_000,
     "Most nodes that YAML aliases may add when expanded."),
    ("max_alias_bytes", "--max-yaml-alias-bytes", 4 * 1024 * 1024,
     "Most bytes of text that YAML aliases may add when expanded."),
    ("max_items", "--max-items", 10_000,
     "Most evidence items and service levels in one bundle."),
    ("max_csv_bytes", "--max-csv-bytes", 32 * 1024 * 1024,
     "Most bytes of observation files (CSV) read for one bundle, in total."),
    ("max_observations", "--max-observations", 2_000_000,
     "Most observations analysed for one bundle (per metric item and service level)."),
    ("max_document_bytes", "--max-document-bytes", 256 * 1024 * 1024,
     "Largest documentation file, in bytes."),
    ("max_documents_bytes", "--max-documents-bytes", 2 * 1024 * 1024 * 1024,
     "Most bytes of documentation files read for one bundle, in total."),
    ("max_facts", "--max-facts", 20_000,
     "Most facts handed to the rules engine for one bundle."),
    ("max_archive_bytes", "--max-archive-bytes", 2 * 1024 ** 3 + 256 * 1024 ** 2,
     "Most bytes a bundle archive (.zip, .tar.gz) may unpack to."),
    ("max_archive_entries", "--max-archive-entries", 50_000,
     "Most entries (files and folders) in a bundle archive."),
    ("max_archive_ratio", "--max-archive-ratio", 100,
     "Highest compression ratio of a bundle archive and of each member."),
    ("max_archive_path", "--max-archive-path", 1024,
     "Longest entry name in a bundle archive, in characters."),
)
# The limits on reading a report given back to the tool (`verify`).
REPORT_LIMIT_OPTIONS = (
    ("max_report_bytes", "--max-report-bytes", 64 * 1024 * 1024,
     "Largest JSON report accepted, in bytes."),
    ("max_report_depth", "--max-report-depth", 32,
     "Deepest nesting of lists and objects in the JSON report."),
)
# The limits on the other files a command reads (ism3rules.inputfiles; SECURITY.md).
REVIEW_LIMIT_OPTIONS = (
    ("max_review_bytes", "--max-review-bytes", 16 * 1024 * 1024,
     "Largest review file (--review) accepted, in bytes."),
)
TEMPLATE_LIMIT_OPTIONS = (
    ("max_template_bytes", "--max-template-bytes", 1024 * 1024,
     "Largest HTML template (--template) accepted, in bytes, with the files it includes."),
)
SIGNATURE_LIMIT_OPTIONS = (
    ("max_signature_bytes", "--max-signature-bytes", 16 * 1024 * 1024,
     "Largest signature envelope (--signature) accepted, in bytes."),
)


def limits_options(command: Callable[..., Any],
                   options: tuple[tuple[str, str, int, str], ...] = LIMIT_OPTIONS
                   ) -> Callable[..., Any]:
    """Flags that bound what reading an untrusted bundle may cost (see SECURITY.md).

    The decorated command receives them as one `limits` argument (a `Limits`).
    """

    @functools.wraps(command)
    def with_limits(*args: Any, **kwargs: Any) -> Any:
        from ism3rules.limits import Limits

        values = {name: kwargs.pop(name) for name, _, _, _ in options}
        return command(*args, limits=Limits(**values), **kwargs)

    for name, flag, default, text in reversed(options):
        with_limits = click.option(flag, name, type=click.IntRange(min=0), metavar="N",
                                   default=default, show_default=True, help=text)(with_limits)
    return with_limits


review_option = click.option(
    "--review", type=click.Path(dir_okay=False, path_type=Path), default=None,
    metavar="REVIEW.yaml",
    help="The auditor's review file (ism3-review/1, `ism3 review init` writes one): "
         "decisions on evidence, findings managed, sign-off.")


def report_limits_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The bundle limits and the limits on every other file `verify` and `sign` read (the
    report, the review, the signature), as one `limits` argument."""
    return limits_options(command, LIMIT_OPTIONS + REPORT_LIMIT_OPTIONS + REVIEW_LIMIT_OPTIONS
                          + SIGNATURE_LIMIT_OPTIONS)


def review_limits_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The bundle limits and the review file's, as one `limits` argument (`--review`)."""
    return limits_options(command, LIMIT_OPTIONS + REVIEW_LIMIT_OPTIONS)


def evaluate_limits_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The bundle limits, the review file's and the template's (`evaluate`)."""
    return limits_options(command, LIMIT_OPTIONS + REVIEW_LIMIT_OPTIONS + TEMPLATE_LIMIT_OPTIONS)


def sign_limits_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The bundle limits, the report's and the review file's (`sign`)."""
    return limits_options(command, LIMIT_OPTIONS + REPORT_LIMIT_OPTIONS + REVIEW_LIMIT_OPTIONS)


def only_report_limits_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The report limits alone, as one `limits` argument (`diff`, `history record`)."""
    return limits_options(command, REPORT_LIMIT_OPTIONS)


rules_dir_option = click.option(
    "--rules-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder of rule files to use instead of the shipped rules/.")

db_option = click.option(
    "--db", "db", default=None, metavar="URL",
    help="History database: a file path, sqlite:///PATH or postgresql://USER@HOST/DB. "
         "Default: $ISM3_DB, else $XDG_DATA_HOME/ism3/history.sqlite.")
record_option = click.option(
    "--record", is_flag=True, default=False,
    help="Also record the report(s) in the history database (--db; --db implies --record).")


@click.group(cls=_Ism3Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ism3rules", prog_name="ism3")
def main() -> None:
    """Assess an organization against the O-ISM3 maturity model.

    Reads an evidence bundle (bundle.yaml plus the documents and metric files it
    names) and tells, with proof, the capability of each of the 45 O-ISM3
    processes and the maturity level reached against each maturity profile.

    Exit codes: 0 done, 1 a requested target not met, 2 usage or input error,
    3 internal error.
    """


@main.command(short_help="Capabilities and maturity levels of a bundle.")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              shell_complete=complete_profile,
              help="Maturity profile: a shipped id (see `ism3 profiles`) or a profile file. "
                   "Repeatable. Default: every shipped profile.")
@format_option(FORMAT_CHOICES)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file (atomically) instead of stdout.")
@rules_dir_option
@click.option("--require", "targets", multiple=True, metavar="PROFILE=LEVEL",
              shell_complete=complete_target,
              callback=lambda ctx, param, value: _parse_targets(value),
              help="Exit 1 unless PROFILE (an evaluated profile) reaches at least LEVEL. "
                   "Repeatable.")
@click.option("--timestamp", is_flag=True, default=False,
              help="Record when the report was made (generated_at, UTC). Without it the same "
                   "inputs give byte-identical output.")
@click.option("--as-of", "as_of", callback=iso_date, default=None, metavar="YYYY-MM-DD",
              help="Judge the evidence as it stood at this date (replaces the bundle's "
                   "assessment.as_of): later evidence and observations are ignored, "
                   "expiries applied.")
@review_option
@click.option("--template", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="PATH",
              help="For --format html: a Jinja2 template to render the report with instead "
                   "of the shipped one (docs/auditing.md lists what it receives).")
@record_option
@db_option
@evaluate_limits_options
def evaluate(bundle: Path, profile_refs: tuple[str, ...], fmt: str | None, output: Path | None,
             rules_dir: Path | None, targets: tuple[tuple[str, int], ...] = (),
             timestamp: bool = False, as_of: Any = None, review: Path | None = None,
             template: Path | None = None, record: bool = False, db: str | None = None,
             limits: Limits | None = None) -> None:
    """Evaluate BUNDLE (a folder with bundle.yaml): capabilities and maturity levels."""
    from ism3rules.api import evaluate_bundle
    from ism3rules.formats import FORMATS
    from ism3rules.gcpause import cyclic_gc_paused

    fmt = choose_format(fmt, output, FORMAT_CHOICES)
    if template is not None and fmt != "html":
        raise click.UsageError("--template applies to --format html only")
    store = _open_store(db) if record or db else None   # an unusable database fails first
    with cyclic_gc_paused():
        document = evaluate_bundle(bundle, profile_refs, rules_dir, as_of=as_of, limits=limits,
                                   review=review)
    missed = _missed_targets(document, profile_refs, targets)
    if timestamp:
        from datetime import UTC, datetime

        from ism3rules.report import with_timestamp

        document = with_timestamp(document, datetime.now(UTC))
    if store is not None:
        with store:
            _say_recorded(store.record([document], "evaluate"), store, err=True)
    if template is not None:
        from ism3rules.formats.html import render_html_with
        from ism3rules.limits import DEFAULT_LIMITS

        _write(render_html_with(document, template, limits or DEFAULT_LIMITS), output)
    elif fmt == "table":
        from ism3rules.formats.table import render_table

        _write(render_table(document, table_width(output)), output)
    elif fmt == "junit" and targets:   # JUnit then fails exactly where the exit code does
        from ism3rules.formats.junit import render_junit

        _write(render_junit(document, _target_levels(document, profile_refs, targets)), output)
    else:
        _write(FORMATS[fmt](document), output)
    for line in missed:
        _echo_err(f"ism3: target not met: {_t(line)}")
    if missed:
        click.get_current_context().exit(EXIT_TARGET_MISSED)


@main.command(short_help="Check a bundle and say which items count.")
@click.argument("bundle", type=click.Path(path_type=Path))
@limits_options
def validate(bundle: Path, limits: Limits) -> None:
    """Check that BUNDLE is readable and say which evidence items count.

    Rejected items are listed with their reason and what to do about them. Warnings
    (no assessment period, placeholder texts left from `ism3 init`) do not fail the
    check. Exit 0 when the bundle can be evaluated, 2 when it cannot.
    """
    from ism3rules.assessment import assess
    from ism3rules.evidence import load_bundle
    from ism3rules.formats.fit import fit_lines
    from ism3rules.formats.table import coverage_in_percent
    from ism3rules.rules import load_rulebook
    from ism3rules.scaffold import has_placeholder_text, is_placeholder, rejection_advice

    loaded = load_bundle(bundle, limits=limits)
    # what counts is partly the rules' call (a metric's reporting cadence)
    judged = assess(loaded, [], load_rulebook()).evidence
    rejected = [i for i in judged if not i.accepted]
    width = table_width()
    lines = [f"{loaded.manifest}: valid ism3-evidence/1 bundle for "
             f"{loaded.organization_name} ({loaded.organization_id})",
             f"{len(loaded.items)} evidence items: {len(loaded.items) - len(rejected)} "
             f"accepted, {len(rejected)} rejected"]
    click.echo("\n".join(fit_lines(lines, width)))
    if rejected:   # where, item, why: one line each (wrapped under itself), as grep likes
        click.echo("\n".join(fit_lines(
            [f"{loaded.manifest}:{i.line}  {i.id}  " + ("placeholder: " if is_placeholder(i)
                                                        else "")
             + coverage_in_percent(i.reason) for i in rejected], width)))
    todo: list[str] = []
    placeholders = [i for i in rejected if is_placeholder(i)]
    if placeholders:
        todo.append(f"{len(placeholders)} placeholder item(s) still to fill: put the evidence "
                    "in the files they name (create them; an empty file does not count) and "
                    "replace the TODO texts (the comments in bundle.yaml say what each must show)")
    advice: dict[str, list[str]] = {}
    for item in rejected:
        said = rejection_advice(item.reason)
        if said and not is_placeholder(item):
            advice.setdefault(said, []).append(item.id)
    todo += [f"{', '.join(ids)}: {said}" for said, ids in advice.items()]
    warnings = _validate_warnings(loaded, judged, has_placeholder_text, is_placeholder)
    if todo or warnings:
        click.echo("\n".join(fit_lines([f"to do: {t}" for t in todo]
                                       + [f"warning: {w}" for w in warnings], width)))


def _validate_warnings(loaded: Any, judged: Any, has_placeholder_text: Callable[[Any], bool],
                       is_placeholder: Callable[[Any], bool]) -> list[str]:
    """What `validate` warns about without failing: texts left from a skeleton, no period."""
    out = []
    if loaded.organization_name.upper().startswith("TODO:"):
        out.append(f"the organization name is still the placeholder "
                   f"'{loaded.organization_name}': put the organization's name in bundle.yaml")
    leftover = [i for i in judged if has_placeholder_text(i) and not is_placeholder(i)]
    if leftover:
        shown = ", ".join(f"{i.id} (line {i.line})" for i in leftover[:10])
        more = f" and {len(leftover) - 10} more" if len(leftover) > 10 else ""
        out.append(f"{len(leftover)} item(s) still have a title or name starting with 'TODO:' "
                   f"(left from `ism3 init` or `ism3 gap`): {shown}{more}; check that their "
                   "files hold the real thing, then replace the TODO texts")
    if loaded.period_start is None:
        out.append("no assessment period: a metric then counts with a single observation from "
                   "any date, and no reporting cadence is checked; add 'assessment: {period: "
                   "{start: YYYY-MM-DD, end: YYYY-MM-DD}}' to bundle.yaml")
    return out


@main.command(short_help="List the 45 O-ISM3 processes.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def processes(fmt: str) -> None:
    """List the 45 O-ISM3 processes, by management level and group."""
    import json

    from ism3rules.catalogue import load_catalogue
    from ism3rules.formats.fit import fit_table
    from ism3rules.formats.table import section_headings

    cat = load_catalogue()
    if fmt == "json":
        click.echo(json.dumps([{"id": p.id, "name": p.name, "management_level": p.level,
                                "group": p.group, "purpose": p.purpose} for p in cat.processes],
                              indent=2, allow_nan=False))
        return
    click.echo(fit_table([[p.id, p.name, p.purpose] for p in cat.processes],
                         ["id", "name", "purpose"], table_width(), text_columns=[1, 2],
                         sections=section_headings([{"management_level": p.level,
                                                     "group": p.group}
                                                    for p in cat.processes])))


@main.command(short_help="List the rules with their source and rationale.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json", "markdown"]),
              default="table", show_default=True)
@rules_dir_option
def rules(fmt: str, rules_dir: Path | None) -> None:
    """List the loaded rules with their source section and rationale."""
    import json

    from tabulate import tabulate

    from ism3rules.formats.fit import fit_lines, fit_table
    from ism3rules.rules import load_rulebook

    book = load_rulebook(rules_dir)
    if fmt == "json":
        click.echo(json.dumps([{"file": r.file, "id": r.id, "title": r.title,
                                "section": r.section, "rationale": r.rationale}
                               for r in book.rules], indent=2, allow_nan=False))
        return
    # rule files given with --rules-dir are input: their text is shown inert
    rows = [[_t(r.id), _t(r.title), _t(r.section), _t(r.rationale)] for r in book.rules]
    if fmt == "markdown":
        click.echo(tabulate(rows, headers=["id", "title", "section", "rationale"],
                            tablefmt="github"))
        return
    width = table_width()
    click.echo("\n".join(fit_lines([f"{f.path.name}: {f.title} ({f.source})"
                                    for f in book.files], width)))
    click.echo(fit_table([[r.id, r.title, r.section] for r in book.rules],
                         ["rule", "title", "section"], width, text_columns=[1, 2]))


@main.command(short_help="List the shipped maturity profiles.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def profiles(fmt: str) -> None:
    """List the shipped maturity profiles and where each mapping comes from."""
    import json

    from ism3rules.formats.fit import fit_table
    from ism3rules.profiles import list_shipped

    shipped = list_shipped()
    if fmt == "json":
        click.echo(json.dumps([{"id": p.id, "name": p.name, "source": p.source,
                                "levels": p.max_level, "description": p.description}
                               for p in shipped], indent=2, allow_nan=False))
        return
    click.echo(fit_table([[p.id, p.name, p.source, p.max_level] for p in shipped],
                         ["id", "name", "source", "levels"], table_width(), text_columns=[1]))


def _parse_targets(values: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """PROFILE=LEVEL pairs of --require. Raises click.BadParameter (exit 2)."""
    parsed = []
    for value in values:
        name, sep, level = value.rpartition("=")
        if not sep or not name or not level.strip().isdigit():
            raise click.BadParameter(f"'{value}' must be PROFILE=LEVEL, e.g. small-business=2",
                                     param_hint="'--require'")
        parsed.append((name, int(level)))
    return tuple(parsed)


def _target_levels(document: dict[str, Any], profile_refs: tuple[str, ...],
                   targets: tuple[tuple[str, int], ...]) -> dict[str, int]:
    """The level each --require asks of a profile, by profile id (the highest when a
    profile is named twice). Raises click.UsageError (exit 2) for a profile that is not
    evaluated or a level it does not have."""
    profiles = {p["id"]: p for p in document["profiles"]}
    by_ref = dict(zip(profile_refs, document["profiles"], strict=True)) if profile_refs else {}
    levels: dict[str, int] = {}
    for name, level in targets:
        prof = profiles.get(name) or by_ref.get(name)
        if prof is None:
            from ism3rules.errors import did_you_mean

            shipped = _profile_ids()
            hint = did_you_mean(name, profiles) or (
                did_you_mean(name, shipped) if name not in shipped else "")
            raise click.UsageError(f"--require {_t(name)}={level}: profile '{_t(name)}' is not "
                                   f"evaluated here{_t(hint)} (evaluated: {_t(', '.join(profiles))}); "
                                   f"add --profile {_t(name)} or fix the name")
        if level > prof["max_level"]:
            raise click.UsageError(f"--require {_t(name)}={level}: profile '{_t(prof['id'])}' has "
                                   f"only {prof['max_level']} levels")
        levels[prof["id"]] = max(level, levels.get(prof["id"], 0))
    return levels


def _missed_targets(document: dict[str, Any], profile_refs: tuple[str, ...],
                    targets: tuple[tuple[str, int], ...]) -> list[str]:
    """One line per --require target not reached. Raises click.UsageError (exit 2) for a
    profile that is not evaluated or a level it does not have."""
    profiles = {p["id"]: p for p in document["profiles"]}
    missed = []
    for pid, level in _target_levels(document, profile_refs, targets).items():
        if profiles[pid]["achieved_level"] < level:
            missed.append(f"{pid} reaches level {profiles[pid]['achieved_level']}, "
                          f"{level} required")
    return missed


@main.command(short_help="What to add to reach a level of a profile.")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_ref", default=None, metavar="ID|PATH",
              shell_complete=complete_profile,
              help="The maturity profile (required): a shipped id or a profile file.")
@click.option("--level", "-l", type=click.IntRange(min=1), default=None,
              help="The level to reach. Default: the next level above the achieved one.")
@format_option(("table", "json"))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the plan to this file (atomically) instead of stdout.")
@rules_dir_option
@review_option
@review_limits_options
def gap(bundle: Path, profile_ref: str | None, level: int | None, fmt: str | None,
        output: Path | None, rules_dir: Path | None, review: Path | None = None,
        limits: Limits | None = None) -> None:
    """Remediation plan for BUNDLE to reach a level of a profile.

    Lists the processes to raise (from what capability to what), the evidence to
    collect, cheapest first, and the evidence items to add as a YAML snippet.
    """
    from ism3rules.api import evaluate_bundle
    from ism3rules.formats.plan import PLAN_FORMATS, render_plan_table
    from ism3rules.gap import plan

    profile_ref = _need_profile(profile_ref)
    fmt = choose_format(fmt, output, ("table", "json"))
    document = evaluate_bundle(bundle, (profile_ref,), rules_dir, review=review,
                               limits=limits)
    result = plan(document, document["profiles"][0]["id"], level)
    _write(render_plan_table(result, table_width(output)) if fmt == "table"
           else PLAN_FORMATS[fmt](result), output)


@main.command(short_help="A bundle against several profiles side by side.")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              shell_complete=complete_profile,
              help="A profile to compare (shipped id or file). Repeatable. "
                   "Default: every shipped profile.")
@format_option(("table", "json"))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the comparison to this file (atomically) instead of stdout.")
@rules_dir_option
@review_option
@review_limits_options
def compare(bundle: Path, profile_refs: tuple[str, ...], fmt: str | None, output: Path | None,
            rules_dir: Path | None, review: Path | None = None,
            limits: Limits | None = None) -> None:
    """Compare BUNDLE against several profiles side by side.

    Shows the level reached in each profile, every process against what each
    profile's next level requires, and the fixes that close gaps in most profiles.
    """
    from ism3rules.api import evaluate_bundle
    from ism3rules.formats.plan import COMPARISON_FORMATS, render_comparison_table
    from ism3rules.gap import compare as compare_profiles

    fmt = choose_format(fmt, output, ("table", "json"))
    document = evaluate_bundle(bundle, profile_refs, rules_dir, review=review,
                               limits=limits)
    comparison = compare_profiles(document)
    _write(render_comparison_table(comparison, table_width(output)) if fmt == "table"
           else COMPARISON_FORMATS[fmt](comparison), output)


@main.command(short_help="Write a bundle skeleton for a profile level.")
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_ref", default=None, metavar="ID|PATH",
              shell_complete=complete_profile,
              help="The maturity profile to prepare evidence for (required): a shipped id "
                   "(see `ism3 profiles`) or a profile file.")
@click.option("--level", "-l", type=click.IntRange(min=1), default=1, show_default=True,
              help="The level of the profile the skeleton covers (with every level below).")
@click.option("--org-id", default=None, help="Organization id. Default: from DIR's name.")
@click.option("--org-name", default="TODO: organization name", show_default=True,
              help="Organization name.")
@click.option("--period-start", callback=iso_date, default=None, metavar="YYYY-MM-DD",
              help="First day of the assessment period (with --period-end). Without them "
                   "bundle.yaml asks for a period in a TODO comment.")
@click.option("--period-end", callback=iso_date, default=None, metavar="YYYY-MM-DD",
              help="Last day of the assessment period.")
@rules_dir_option
def init(directory: Path, profile_ref: str | None, level: int, org_id: str | None,
         org_name: str, period_start: Any, period_end: Any, rules_dir: Path | None) -> None:
    """Write an evidence bundle skeleton into DIR (new or empty folder).

    bundle.yaml gets one placeholder item per piece of evidence the profile's level
    needs, with comments naming the process and what the item must show, and an
    assessment period (or a TODO asking for one); docs/ and metrics/ are created
    empty, and bundle.schema.json lets an editor check bundle.yaml as you type.
    `ism3 validate DIR` then lists what is still to fill.
    """
    from ism3rules.catalogue import load_catalogue
    from ism3rules.profiles import resolve_profile
    from ism3rules.rules import load_rulebook
    from ism3rules.scaffold import default_org_id, skeleton, write_skeleton
    from ism3rules.schemas import schema_text

    profile_ref = _need_profile(profile_ref)
    if (period_start is None) != (period_end is None):
        raise click.UsageError("give both --period-start and --period-end, or neither")
    catalogue = load_catalogue()
    profile = resolve_profile(profile_ref, catalogue)
    text = skeleton(profile, level, load_rulebook(rules_dir, catalogue),
                    org_id or default_org_id(directory), org_name, catalogue,
                    (period_start, period_end) if period_start is not None else None)
    manifest = write_skeleton(directory, text, schema_text("bundle"))
    items = text.count("\n  - id: ")
    click.echo(f"{_t(manifest)}: skeleton for {_t(profile.id)} level {level} with {items} "
               f"placeholder item(s); fill them in, then run `ism3 validate {_t(directory)}`")


@main.command(short_help="One process's capability, in plain words.")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("process")
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              shell_complete=complete_profile,
              help="Maturity profile to show the process against. Repeatable. "
                   "Default: every shipped profile.")
@rules_dir_option
@review_option
@review_limits_options
def explain(bundle: Path, process: str, profile_refs: tuple[str, ...],
            rules_dir: Path | None, review: Path | None = None,
            limits: Limits | None = None) -> None:
    """Explain the capability of PROCESS (e.g. OSP-10) in BUNDLE, in plain words.

    Which evidence counted (with each file's sha256), which rules fired and what
    they gave, what the next capability needs and which items were rejected and why.
    """
    from ism3rules.api import evaluate_bundle
    from ism3rules.catalogue import load_catalogue, suggest_process
    from ism3rules.formats.explain import render_explanation
    from ism3rules.rules import load_rulebook

    ids = load_catalogue().process_ids
    if (not bundle.exists() and str(bundle).strip().upper() in ids
            and Path(process).exists() and process.strip().upper() not in ids):
        raise click.UsageError(f"the bundle comes first, then the process: "
                               f"ism3 explain {_t(process)} {_t(str(bundle).strip().upper())}")
    document = evaluate_bundle(bundle, profile_refs, rules_dir, review=review,
                               limits=limits)
    wanted = process.strip().upper()
    if wanted not in document["processes"]:
        raise click.BadParameter(
            f"unknown process '{_t(process)}'{suggest_process(process, ids)}; "
            "`ism3 processes` lists them", param_hint="PROCESS")
    rules = {r.id: {"title": r.title, "section": r.section, "then": r.then}
             for r in load_rulebook(rules_dir).rules}
    _write(render_explanation(document, wanted, rules, table_width()), None)


@main.command(short_help="Check a JSON report against its bundle and rules.")
@click.argument("report", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              help="A profile file the report used that is not shipped. Repeatable.")
@rules_dir_option
@click.option("--signature", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A DSSE envelope written by `ism3 sign`: check it instead of the "
                   "report's digests.")
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="PUBLIC.pem", help="The signer's Ed25519 public key (with --signature).")
@click.option("--review", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="REVIEW.yaml", help="The review file the signature covers, if any.")
@report_limits_options
def verify(report: Path, bundle: Path, profile_refs: tuple[str, ...],
           rules_dir: Path | None, signature: Path | None = None,
           public_key: Path | None = None, review: Path | None = None,
           limits: Limits | None = None) -> None:
    """Check that REPORT (a JSON report) still matches BUNDLE, the rules and the profiles.

    Recomputes the sha256 of the manifest and of every file it references, of the
    rule files and of each profile, and lists what changed. Exit 0 when everything
    matches, 1 when something changed or could not be checked (a digest the report
    should record is missing), 2 when the report or bundle cannot be read.

    With --signature and --public-key: check a signed attestation instead. Exit 0 only
    when the signature is valid and REPORT (any format), every file of BUNDLE and the
    --review file are the ones signed; 1 naming what failed.
    """
    if signature is not None or public_key is not None:
        _verify_signature(report, bundle, signature, public_key, review, limits)
        return
    if review is not None:
        raise click.UsageError("--review goes with --signature (a JSON report records its "
                               "review's digest itself)")
    from ism3rules.limits import DEFAULT_LIMITS
    from ism3rules.verify import load_report, verify_report

    limits = limits or DEFAULT_LIMITS
    document = load_report(report, limits)
    result = verify_report(document, bundle, report_path=report, rules_dir=rules_dir,
                           profile_refs=profile_refs, limits=limits)
    org = document.get("organization") or {}
    tool = document.get("tool") or {}
    org = org if isinstance(org, dict) else {}
    tool = tool if isinstance(tool, dict) else {}
    # the report is input too: nothing from it drives the terminal or starts a line
    _say(_t(report), ": report on ", _t(org.get("name")), " (", _t(org.get("id")), ") by ",
         _t(tool.get("name")), " ", _t(tool.get("version")))
    _say(_t(bundle), f": {result.files_checked} bundle files checked")
    for diff in result.differences:
        _say(f"  {diff.change:<9} ", _t(diff.subject), ": ", _t(diff.detail))
    for note in result.not_checked:
        _say("  not checked: ", _t(note))
    if result.matches:
        _say(f"MATCH: the report matches ({len(result.unchanged)} inputs unchanged)")
        return
    if result.differences:
        _say(f"MISMATCH: {len(result.differences)} input(s) differ from what the report "
             "was computed from")
    else:
        _say(f"NOT VERIFIED: {len(result.not_checked)} input(s) could not be checked "
             "(see above); the report cannot be shown to match")
    click.get_current_context().exit(EXIT_TARGET_MISSED)


def _verify_signature(report: Path, bundle: Path, signature: Path | None,
                      public_key: Path | None, review: Path | None,
                      limits: Limits | None = None) -> None:
    """`ism3 verify --signature`: the attestation against the files at hand."""
    from ism3rules.attest import (current_bundle_files, load_public_key, read_envelope,
                                  signed_bundle_paths)
    from ism3rules.attest import verify as verify_attestation
    from ism3rules.limits import DEFAULT_LIMITS

    if signature is None or public_key is None:
        raise click.UsageError("--signature and --public-key go together")
    from ism3rules.archive import bundle_folder

    limits = limits or DEFAULT_LIMITS
    key = load_public_key(public_key)
    envelope = read_envelope(signature, limits)        # read once: checked as it was read
    with bundle_folder(bundle, limits) as folder:   # an archive: its unpacked folder, for the while
        files, note = current_bundle_files(folder, signed_bundle_paths(envelope), limits)
    verdict = verify_attestation(signature, key, report, files, review, envelope=envelope,
                                 limits=limits)
    # the envelope is input too: nothing from it drives the terminal or starts a line
    for check in verdict.checks:
        _say(f"  {'ok' if check.ok else 'FAILED':<7}", _t(check.subject), ": ", _t(check.detail))
    if note and verdict.predicate:
        _say("  note   ", _t(note))
    if verdict.valid:
        pred = verdict.predicate
        signer = pred.get("signer")
        name = signer.get("name") if isinstance(signer, dict) else None
        _say(f"VALID: {_t(report)}, {len(files)} bundle file(s)"
             + (f" and {_t(review)}" if review else "") + " are what "
             + (_t(name) if isinstance(name, str) and name else "the key holder")
             + f" signed on {_t(pred.get('signed_at'))}")
        return
    failed = [c.subject for c in verdict.checks if not c.ok]
    _say(f"INVALID: {len(failed)} check(s) failed: {', '.join(_t(f) for f in failed)}")
    click.get_current_context().exit(EXIT_TARGET_MISSED)


def _passphrase(prompt: bool, confirm: bool = False) -> bytes | None:
    """The key passphrase: $ISM3_KEY_PASSPHRASE, else asked on a terminal, else None."""
    import os

    from ism3rules.attest import PASSPHRASE_ENV

    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV].encode("utf-8")
    if prompt and sys.stdin.isatty():
        value = click.prompt("Key passphrase", hide_input=True,
                             confirmation_prompt=confirm, err=True)
        return str(value).encode("utf-8") or None
    return None


@main.command(short_help="Sign a report: a DSSE envelope over its inputs.")
@click.argument("report", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "key_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, metavar="PRIVATE.pem",
              help="Ed25519 private key (PEM; encrypted keys take $ISM3_KEY_PASSPHRASE or "
                   "ask on a terminal).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="SIGNATURE", help="Where to write the envelope. Default: REPORT.dsse.json.")
@click.option("--bundle", type=click.Path(path_type=Path), default=None,
              help="The bundle the report was made from (required unless REPORT is JSON).")
@click.option("--review", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="REVIEW.yaml", help="The review file the report was made with.")
@click.option("--signer", default=None, help="Who signs (default: the review's sign-off name).")
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              help="A profile the report used that is not shipped (non-JSON reports).")
@rules_dir_option
@sign_limits_options
def sign(report: Path, key_path: Path, output: Path | None, bundle: Path | None,
         review: Path | None, signer: str | None, profile_refs: tuple[str, ...],
         rules_dir: Path | None, limits: Limits | None = None) -> None:
    """Sign REPORT: a DSSE envelope whose in-toto statement names the report, every file of
    the bundle and the review by sha256, with the tool, rules and profiles behind it."""
    from datetime import UTC, datetime

    from ism3rules.attest import collect_inputs, load_private_key, sign as sign_statement
    from ism3rules.attest import statement
    from ism3rules.archive import bundle_folder
    from ism3rules.limits import DEFAULT_LIMITS

    limits = limits or DEFAULT_LIMITS
    key = load_private_key(key_path, lambda: _passphrase(prompt=True))
    judged = None
    if review is not None:   # read once: what is signed is the review that was read
        from ism3rules.review import load_review

        judged = load_review(review, limits)
    with contextlib.ExitStack() as stack:   # an archive: its unpacked folder, for the while
        folder = stack.enter_context(bundle_folder(bundle, limits)) if bundle is not None else None
        inputs = collect_inputs(report, folder, review, rules_dir, profile_refs, limits=limits,
                                review_sha256=judged.sha256 if judged else None)
    if signer is None and judged is not None:
        signer = (judged.signoff.name if judged.signoff else judged.engagement.auditor)
    envelope = sign_statement(statement(inputs, signer, key.public_key(), datetime.now(UTC)), key)
    target = output or report.with_name(report.name + ".dsse.json")
    _write(envelope, target)
    # the review is input too: its sign-off name reaches the terminal neutralised
    _say(_t(target), ": signed ", _t(report.name), f" and {len(inputs.bundle_files)} bundle "
         "file(s)", (" and " + _t(review.name)) if review else "",
         (" as " + _t(signer)) if signer else "")


@main.command(short_help="Make an Ed25519 key pair for signing.")
@click.argument("private", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("public", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--encrypt", is_flag=True,
              help="Encrypt the private key with a passphrase ($ISM3_KEY_PASSPHRASE, else "
                   "asked twice on a terminal).")
def keygen(private: Path, public: Path, encrypt: bool) -> None:
    """Make an Ed25519 key pair: PRIVATE (PKCS#8 PEM, mode 0600) and PUBLIC (PEM).

    Keys made by other tools work as well (`openssl genpkey -algorithm ed25519`)."""
    from ism3rules.attest import PASSPHRASE_ENV, generate_keypair

    for path in (private, public):
        if path.exists():
            raise click.UsageError(f"{path} exists; keys are never overwritten")
    passphrase = _passphrase(prompt=True, confirm=True) if encrypt else None
    if encrypt and not passphrase:
        raise click.UsageError(f"--encrypt needs a passphrase: set {PASSPHRASE_ENV} or run in "
                               "a terminal")
    kid = generate_keypair(private, public, passphrase)
    click.echo(f"{private}: private key ({'encrypted' if passphrase else 'not encrypted'}); "
               f"{public}: public key; key id {kid}")


@main.group(short_help="The auditor's review file kept beside a bundle.")
def review() -> None:
    """The auditor's review file (ism3-review/1) kept beside a bundle."""


@review.command("init", short_help="Write a review skeleton for a bundle.")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The review file to write (not inside the bundle).")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@rules_dir_option
@limits_options
def review_init(bundle: Path, output: Path, force: bool, rules_dir: Path | None,
                limits: Limits | None = None) -> None:
    """Write a review skeleton for BUNDLE: every evidence item and finding of the current
    evaluation, decisions pending, engagement and sign-off to fill in."""
    import dataclasses

    from ism3rules.api import load_inputs, report_document
    from ism3rules.evidence import find_manifest
    from ism3rules.review import skeleton

    if output.exists() and not force:
        raise click.UsageError(f"{output} exists; give --force to overwrite it")
    from ism3rules.archive import archive_format

    root = bundle if archive_format(bundle) is not None else find_manifest(bundle)[0]
    if archive_format(bundle) is None and root.resolve() in output.resolve().parents:
        raise click.UsageError(f"{output} is inside the bundle {bundle}: the review is the "
                               "auditor's, kept beside the bundle, never inside it")
    inputs = dataclasses.replace(load_inputs((), rules_dir), profiles=())  # no levels needed
    document = report_document(bundle, inputs, limits=limits)
    _write(skeleton(document), output)
    click.echo(f"{output}: review of {len(document['evidence'])} evidence item(s) and "
               f"{len(document['findings'])} finding(s), all pending; fill it in, then "
               f"`ism3 evaluate {bundle} --review {output}`")


@main.group(short_help="Reference data in other formats (OSCAL).")
def export() -> None:
    """Write reference data in other formats (e.g. the catalogue as OSCAL)."""


@export.command("oscal-catalog", short_help="The 45 processes as an OSCAL catalog (JSON).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (atomically) instead of stdout.")
def export_oscal_catalog(output: Path | None) -> None:
    """The 45 O-ISM3 processes as an OSCAL catalog (JSON), grouped by management level."""
    from ism3rules import __version__
    from ism3rules.catalogue import load_catalogue
    from ism3rules.formats.oscal import render_oscal_catalog

    if _file_kind(output) not in (None, ".json"):
        raise click.UsageError(f"--output {output}: the OSCAL catalog is JSON; name a .json "
                               "file (or one without a known extension)")
    _write(render_oscal_catalog(load_catalogue(), __version__), output)


@main.command(short_help="Record the sha256 of documents that have none.")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--check", "--dry-run", "check", is_flag=True,
              help="Change nothing; exit 1 when something would be sealed (for CI).")
@limits_options
def seal(bundle: Path, check: bool, limits: Limits) -> None:
    """Write the sha256 of every documentation item of BUNDLE that has none into bundle.yaml.

    Comments and layout are kept: one `sha256:` line is added after each item's
    `path`. Items whose file is missing or outside the bundle are listed and left
    alone. Exit 0 when done (or, with --check, when nothing is left to seal), 1 with
    --check when something would be sealed, 2 when the bundle cannot be read.
    """
    from ism3rules.seal import seal as seal_bundle

    result = seal_bundle(bundle, check=check, limits=limits)
    verb = "would seal" if check else "sealed"
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of b""
    for item in result.sealed:
        click.echo(f"{result.manifest}:{item.line}: {verb} {item.id} ({item.path}): "
                   f"sha256 {item.sha256}" + (" (an empty file)" if item.sha256 == empty else ""))
    for left in result.not_sealed:
        click.echo(f"{result.manifest}:{left.line}: not sealed {left.id}: {left.reason}")
    count = len(result.sealed)
    if check:
        click.echo(f"{count} documentation item(s) to seal, {result.already} sealed already"
                   + (f", {len(result.not_sealed)} cannot be" if result.not_sealed else ""))
        if count:
            click.get_current_context().exit(EXIT_TARGET_MISSED)
        return
    click.echo(f"{result.manifest}: {count} item(s) sealed, {result.already} sealed already"
               + (f", {len(result.not_sealed)} cannot be (file missing or unusable)"
                  if result.not_sealed else ""))


SCHEMA_KINDS = ("bundle", "profile", "rules", "review")   # literal, as FORMAT_CHOICES


@main.command(short_help="Print the JSON Schema of a bundle, profile, rules or review file.")
@click.argument("kind", type=click.Choice(SCHEMA_KINDS))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the schema to this file (atomically) instead of stdout.")
def schema(kind: str, output: Path | None) -> None:
    """Print the JSON Schema (draft 2020-12) of KIND: bundle, profile, rules or review.

    Editors that read JSON Schemas check a YAML file against it as you type; `ism3
    init` writes bundle.schema.json beside bundle.yaml and names it on the first
    line (`# yaml-language-server: $schema=bundle.schema.json`). `ism3 validate`
    stays the reference: it also checks what a schema cannot (files, hashes, ids).
    """
    from ism3rules.schemas import schema_text

    if _file_kind(output) not in (None, ".json"):
        raise click.UsageError(f"--output {output}: a JSON Schema is JSON; name a .json file")
    _write(schema_text(kind), output)


BATCH_FORMAT_CHOICES = ("table", "json", "csv")   # literal, as FORMAT_CHOICES
EXECUTOR_CHOICES = ("local", "dask")               # literal: ism3rules.batch.EXECUTORS
MAX_SUMMARY_BYTES = 1024 * 1024 * 1024             # literal: ism3rules.batch.MAX_SUMMARY_BYTES
EXIT_SIGNAL_BASE = 128   # an interrupted batch exits 128 + the signal: 130 SIGINT, 143 SIGTERM


def _parse_shard(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """--shard K/N as an ism3rules.batch.Shard."""
    if value is None:
        return None
    from ism3rules.batch import Shard

    try:
        return Shard.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@main.command(short_help="Evaluate many bundles, in parallel.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path),
                metavar="PATH...")
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              shell_complete=complete_profile,
              help="Maturity profile, as for `evaluate`. Repeatable. Default: every shipped "
                   "profile.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes. Default: one per CPU core; 1 evaluates in this process.")
@format_option(BATCH_FORMAT_CHOICES, "Format of the summary")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the summary to this file (atomically) instead of stdout.")
@click.option("--reports-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write each bundle's report here, as `evaluate -f json` would "
                   "(file name: the bundle's folder name).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--as-of", "as_of", callback=iso_date, default=None,
              metavar="YYYY-MM-DD", help="Judge every bundle as it stood at this date, as "
                                         "`evaluate --as-of` does.")
@click.option("--shard", "shard", metavar="K/N", default=None, callback=_parse_shard,
              help="Evaluate only the K-th of N contiguous blocks of the sorted bundle list "
                   "(for job arrays); join the shard summaries with `ism3 batch merge`.")
@click.option("--executor", type=click.Choice(EXECUTOR_CHOICES), default="local",
              show_default=True,
              help="Where bundles are evaluated: local worker processes, or a Dask cluster "
                   "(needs `pip install 'ism3rules[dask]'`).")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="With --executor dask: the scheduler to use (tcp://host:8786). Default: a "
                   "local cluster of --jobs worker processes.")
@rules_dir_option
@record_option
@db_option
@limits_options
def batch(paths: tuple[Path, ...], profile_refs: tuple[str, ...], jobs: int | None,
          fmt: str | None,
          output: Path | None, reports_dir: Path | None, quiet: bool, as_of: Any,
          rules_dir: Path | None, shard: Any = None, executor: str = "local",
          scheduler: str | None = None, record: bool = False, db: str | None = None,
          limits: Any = None) -> None:
    """Evaluate many bundles: each PATH is a bundle or a folder of bundles.

    Bundles are evaluated in worker processes and listed sorted by path, with the
    maturity level each reaches against each profile; a bundle that cannot be read is
    listed with its error and the others go on. Exit 0 when every bundle was evaluated,
    2 when some bundle (or an option) has an input error, 3 on an internal error,
    130 (SIGINT) or 143 (SIGTERM) when interrupted: the workers are stopped and the
    summary, marked incomplete, lists the bundles not evaluated.

    `ism3 batch merge SUMMARY...` joins the JSON summaries of the shards of a batch
    (--shard K/N) into the summary one run would give.
    """
    import signal

    from ism3rules.batch import INPUT_ERROR, Interrupt, run_batch, to_summary
    from ism3rules.formats.batch_formats import BATCH_FORMATS, render_batch_table

    fmt = choose_format(fmt, output, BATCH_FORMAT_CHOICES)

    if scheduler is not None and executor != "dask":
        raise click.BadParameter("--scheduler needs --executor dask", param_hint="--scheduler")
    stderr = sys.stderr
    show_bar = not quiet and stderr.isatty()
    bar_cm: Any = None
    bar: Any = None

    def progress(done: int, total: int, _outcome: Any) -> None:
        nonlocal bar_cm, bar
        if not show_bar:
            return
        if bar is None:
            bar_cm = click.progressbar(length=total, label="Evaluating", file=stderr,
                                       show_pos=True)
            bar = bar_cm.__enter__()
        if done:
            bar.update(1)

    store = _open_store(db) if record or db else None   # an unusable database fails first
    scratch = None
    if store is not None and reports_dir is None:
        import tempfile

        scratch = tempfile.TemporaryDirectory(prefix="ism3-batch-")
    # SIGINT and SIGTERM stop the batch, from here until the summary is written
    interrupt = Interrupt()
    previous = {s: signal.signal(s, interrupt.handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            result = run_batch(paths, profile_refs, rules_dir, jobs,
                               Path(scratch.name) if scratch else reports_dir, progress,
                               as_of, limits, shard=shard,
                               executor=executor, scheduler=scheduler, interrupt=interrupt)
            if store is not None:
                result = _record_batch(result, store, scratch is not None)
        finally:
            if bar_cm is not None:
                bar_cm.__exit__(None, None, None)
            if scratch is not None:
                scratch.cleanup()
        summary = to_summary(result)
        _write(render_batch_table(summary, table_width(output)) if fmt == "table"
               else BATCH_FORMATS[fmt](summary), output)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if interrupt.signum is not None:
        left = len(result.not_evaluated)
        click.echo(f"ism3: interrupted by {signal.Signals(interrupt.signum).name}: {left} "
                   f"bundle(s) not evaluated; the summary is incomplete", err=True)
        sys.exit(EXIT_SIGNAL_BASE + interrupt.signum)
    _batch_exit(result.has_internal_errors, any(o.error_kind == INPUT_ERROR
                                                for o in result.failed))


def _batch_exit(internal: bool, input_errors: bool) -> None:
    """Exit 3 on an internal error, 2 on an input error in some bundle, else return."""
    if internal:
        sys.exit(EXIT_INTERNAL)
    if input_errors:
        sys.exit(EXIT_INPUT)


@click.command("merge")
@click.argument("summaries", nargs=-1, required=True, type=click.Path(path_type=Path),
                metavar="SUMMARY...")
@format_option(BATCH_FORMAT_CHOICES, "Format of the merged summary (as for `batch`)")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the merged summary to this file (atomically) instead of stdout.")
@click.option("--max-summary-bytes", type=click.IntRange(min=0), metavar="N",
              default=MAX_SUMMARY_BYTES, show_default=True,
              help="Largest summary file read, in bytes.")
def batch_merge(summaries: tuple[Path, ...], fmt: str | None, output: Path | None,
                max_summary_bytes: int) -> None:
    """Join the JSON summaries of shards 1/N..N/N of one batch into one summary.

    Run as `ism3 batch merge SUMMARY...`. The result is byte for byte the summary a
    single `ism3 batch` run over all the bundles gives. Shards that overlap, are
    missing, are incomplete or were run with other bundles, profiles, rules, as-of
    date or limits are refused (exit 2). Otherwise the exit code is the batch's: 0
    every bundle evaluated, 2 some input error, 3 some internal error.
    """
    from ism3rules.batch import INPUT_ERROR, INTERNAL_ERROR, merge_summaries, read_summary
    from ism3rules.formats.batch_formats import BATCH_FORMATS, render_batch_table

    fmt = choose_format(fmt, output, BATCH_FORMAT_CHOICES)
    merged = merge_summaries([(str(p), read_summary(p, max_summary_bytes)) for p in summaries])
    _write(render_batch_table(merged, table_width(output)) if fmt == "table"
           else BATCH_FORMATS[fmt](merged), output)
    kinds = {b["error_kind"] for b in merged["bundles"]}
    _batch_exit(INTERNAL_ERROR in kinds, INPUT_ERROR in kinds)


# -- history: diffs, the history store, trends, the portfolio ---------------------------------

DIFF_FORMAT_CHOICES = ("table", "json", "markdown")          # literal, as FORMAT_CHOICES
RUNS_FORMAT_CHOICES = ("table", "json", "csv")
TREND_FORMAT_CHOICES = ("table", "json", "csv", "html")
PORTFOLIO_FORMAT_CHOICES = ("table", "json", "csv", "html")
EVERY_CHOICES = ("week", "month", "quarter")


def _open_store(db: str | None) -> Any:
    """The history store named by --db, $ISM3_DB or the default. Raises HistoryError."""
    from ism3rules.history import open_store

    return open_store(db)


def _say_recorded(recorded: list[Any], store: Any, err: bool = False,
                  labels: list[str] | None = None) -> None:
    """One line per recorded report: its run id, or that it was recorded before."""
    from ism3rules.formats._common import text

    prefix = "ism3: " if err else ""
    for index, rec in enumerate(recorded):
        label = f"{labels[index]}: " if labels else ""
        what = "recorded as run" if rec.new else "already recorded as run"
        click.echo(f"{prefix}{label}{what} {rec.run_id} ({text(rec.organization_id)}, as of "
                   f"{text(rec.as_of) or 'no date'}) in {_t(store.location.display)}", err=err)


def _record_batch(result: Any, store: Any, scratch: bool) -> Any:
    """Record the report of every bundle a batch evaluated, in one transaction; when
    the reports went to a scratch folder, the summary names no report file."""
    import dataclasses

    from ism3rules.report_check import load_report_file

    done = [o for o in result.outcomes if o.ok and o.report]
    with store:
        recorded = store.record_from([functools.partial(load_report_file, Path(o.report))
                                      for o in done], "batch")
    new = sum(1 for r in recorded if r.new)
    click.echo(f"ism3: recorded {new} run(s), {len(recorded) - new} already recorded, in "
               f"{_t(store.location.display)}", err=True)
    if scratch:
        result = dataclasses.replace(result, outcomes=tuple(
            dataclasses.replace(o, report=None) for o in result.outcomes))
    return result


def _run_id(value: str) -> int | None:
    """The run id a diff or show argument names (`12` or `run:12`), else None."""
    raw = value[4:] if value.lower().startswith("run:") else value
    return int(raw) if raw.isdigit() else None


def _load_side(value: str, stores: dict[str, Any], db: str | None,
               limits: Limits | None = None) -> tuple[Any, Any]:
    """(report document, diff side) for a file path or a run id. Raises Ism3Error."""
    from ism3rules.diff import side
    from ism3rules.errors import ReportError
    path = Path(value)
    run_id = _run_id(value)
    if path.exists() or run_id is None:
        if not path.exists():
            raise ReportError(f"{value}: no such report file (a run id is a number, e.g. 12; "
                              "`ism3 history list` shows them)")
        document = _read_report(path, limits)
        return document, side(document, str(path))
    if "store" not in stores:
        stores["store"] = _open_store(db)
    limits = limits or _default_limits()
    document = stores["store"].report(run_id, limits.max_report_bytes, limits.max_report_depth)
    return document, side(document, f"run {run_id}", run_id)


def _default_limits() -> Limits:
    from ism3rules.limits import DEFAULT_LIMITS

    return DEFAULT_LIMITS


def _read_report(path: Path, limits: Limits | None) -> Any:
    """A report file given back to the tool, read within the report limits. Raises
    ReportError."""
    from ism3rules.limits import DEFAULT_LIMITS
    from ism3rules.report_check import load_report_file

    limits = limits or DEFAULT_LIMITS
    return load_report_file(path, limits.max_report_bytes, limits.max_report_depth)


@main.command(short_help="What changed between two reports or recorded runs.")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@format_option(DIFF_FORMAT_CHOICES, "Output format (json: the ism3-diff/1 document)")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the diff to this file (atomically) instead of stdout.")
@click.option("--fail-on-regression", is_flag=True, default=False,
              help="Exit 1 when a capability or a level went down or a finding appeared.")
@db_option
@only_report_limits_options
def diff(old: str, new: str, fmt: str | None, output: Path | None, fail_on_regression: bool,
         db: str | None, limits: Limits | None = None) -> None:
    """What changed from OLD to NEW: each a JSON report file or a recorded run id.

    Capabilities up and down, levels per profile, gaps closed and opened, findings
    new, resolved and still open, evidence added, removed and newly rejected. When
    the reports were made with different rules or profiles, that is said first.
    """
    from ism3rules.diff import diff_reports
    from ism3rules.formats.diff_formats import DIFF_FORMATS

    stores: dict[str, Any] = {}
    try:
        old_doc, old_side = _load_side(old, stores, db, limits)
        new_doc, new_side = _load_side(new, stores, db, limits)
    finally:
        if "store" in stores:
            stores["store"].close()
    fmt = choose_format(fmt, output, DIFF_FORMAT_CHOICES)
    document = diff_reports(old_doc, new_doc, old_side, new_side)
    _write(_rendered(DIFF_FORMATS, fmt, document, output), output)
    if fail_on_regression and document["regressions"]:
        for line in document["regressions"]:
            from ism3rules.formats._common import text

            click.echo(f"ism3: regression: {text(line)}", err=True)
        click.get_current_context().exit(EXIT_TARGET_MISSED)


@main.group(short_help="Assessments over time: record, list, trend, portfolio.")
def history() -> None:
    """Assessments over time: record reports, list and show runs, trends, a portfolio.

    Runs are kept in a history database: SQLite by default
    ($XDG_DATA_HOME/ism3/history.sqlite, or $ISM3_DB), PostgreSQL with --db
    postgresql://... (pip install 'ism3rules[postgres]'). Recorded runs are never
    changed; each holds the hash of the run before it of the same organization.
    """


def _report_paths(paths: tuple[Path, ...]) -> list[Path]:
    """The report files named: each path a file, or a folder whose *.json are taken."""
    from ism3rules.errors import ReportError

    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.glob("*.json") if p.is_file())
            if not inside:
                raise ReportError(f"{path}: a folder with no .json report in it")
            found += inside
        else:
            found.append(path)
    return found


@history.command("record")
@click.argument("reports", nargs=-1, required=True, metavar="REPORT...",
                type=click.Path(path_type=Path))
@db_option
@only_report_limits_options
def history_record(reports: tuple[Path, ...], db: str | None,
                   limits: Limits | None = None) -> None:
    """Record JSON reports (files, or folders of them) in the history database.

    Every report is read and checked (an ism3-report/1 document whose digests match
    its content) and all are recorded in one transaction: one bad report and none is
    recorded. A report recorded before is not recorded again.
    """
    files = _report_paths(reports)
    with _open_store(db) as store:     # each report is read and checked in the transaction
        recorded = store.record_from([functools.partial(_read_report, f, limits) for f in files],
                                     "record")
        _say_recorded(recorded, store, labels=[_t(f) for f in files])


@history.command("list")
@click.argument("organization", required=False, metavar="[ORG]")
@format_option(RUNS_FORMAT_CHOICES, "Output format (json: the ism3-runs/1 document)")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (atomically) instead of stdout.")
@db_option
def history_list(organization: str | None, fmt: str | None, db: str | None,
                 output: Path | None = None) -> None:
    """List the recorded runs (of ORG), by organization and evaluation date."""
    from ism3rules.formats.history_formats import RUNS_FORMATS
    from ism3rules.history.views import runs_document

    fmt = choose_format(fmt, output, RUNS_FORMAT_CHOICES)
    with _open_store(db) as store:
        found = store.runs(organization)
        if organization is not None and not found:
            from ism3rules.history.views import _unknown_organization

            raise _unknown_organization(store, organization)
    _write(_rendered(RUNS_FORMATS, fmt, runs_document(found), output), output)


@history.command("show")
@click.argument("run", metavar="RUN")
@format_option(FORMAT_CHOICES, "Report format; json gives the report exactly as recorded")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (atomically) instead of stdout.")
@db_option
@only_report_limits_options
def history_show(run: str, fmt: str | None, output: Path | None, db: str | None,
                 limits: Limits | None = None) -> None:
    """Show the report of a recorded RUN (its id, as `history list` gives it)."""
    from ism3rules.formats import FORMATS
    from ism3rules.formats._common import text

    fmt = choose_format(fmt, output, FORMAT_CHOICES)
    run_id = _run_id(run)
    if run_id is None:
        raise click.BadParameter(f"'{run}' is not a run id (a number, e.g. 12)",
                                 param_hint="RUN")
    limits = limits or _default_limits()
    with _open_store(db) as store:
        info = store.run(run_id)
        document = store.report(run_id, limits.max_report_bytes, limits.max_report_depth)
    if fmt == "table":
        from ism3rules.formats.table import render_table

        rendered = render_table(document, table_width(output))
    else:
        rendered = FORMATS[fmt](document)
    if fmt == "table":
        from ism3rules.formats.fit import fit_lines

        rendered = "\n".join(fit_lines(
            [f"run {info.id}: {text(info.organization_id)} as of {text(info.as_of)}, "
             f"recorded {text(info.recorded_at)[:19]} UTC from {text(info.source)}, report "
             f"sha256 {info.report_sha256}"], table_width(output))) + "\n\n" + rendered
    _write(rendered, output)


@history.command("verify")
@click.argument("organization", required=False, metavar="[ORG]")
@db_option
@only_report_limits_options
def history_verify(organization: str | None, db: str | None,
                   limits: Limits | None = None) -> None:
    """Check every organization's chain of runs (or ORG's): nothing deleted or altered.

    Re-derives each run from its stored report and checks each link to the run
    before. Exit 0 when every chain is intact, 1 when something was deleted or
    altered. The head hash printed per organization can be noted elsewhere: a
    later verify that prints another head for the same runs means the store was
    rewritten.
    """
    from ism3rules.formats._common import text

    with _open_store(db) as store:
        checks = store.verify(organization, (limits or _default_limits()).max_report_bytes)
        where = _t(store.location.display)
    if organization is not None and not checks:
        from ism3rules.errors import HistoryError

        raise HistoryError(f"no runs of organization '{organization}' in {where}")
    broken = [c for c in checks if not c.intact]
    for check in checks:
        state = "intact" if check.intact else "BROKEN"
        click.echo(f"{text(check.organization_id)}: {check.runs} run(s), chain {state}, head "
                   f"{check.head or '-'}")
        for problem in check.problems:
            click.echo(f"  {text(problem)}")
    if broken:
        click.echo(f"BROKEN: {len(broken)} of {len(checks)} chain(s) have deleted or altered "
                   f"runs in {where}")
        click.get_current_context().exit(EXIT_TARGET_MISSED)
    click.echo(f"OK: {len(checks)} chain(s), {sum(c.runs for c in checks)} run(s) verified in "
               f"{where}")


@history.command("trend")
@click.argument("organization", metavar="ORG")
@click.option("--profile", "-p", "profile", default=None, metavar="ID",
              help="Only this profile (an id recorded in the runs).")
@format_option(TREND_FORMAT_CHOICES, "Output format (json: the ism3-trend/1 document)")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (atomically) instead of stdout.")
@db_option
def history_trend(organization: str, profile: str | None, fmt: str | None, output: Path | None,
                  db: str | None) -> None:
    """Level reached per profile and capability counts of ORG over its evaluation dates.

    Points where the rules or a profile changed since the point before are marked:
    a level that moved because the criteria moved is not progress.
    """
    from ism3rules.formats.history_formats import TREND_FORMATS
    from ism3rules.history.views import trend

    fmt = choose_format(fmt, output, TREND_FORMAT_CHOICES)
    with _open_store(db) as store:
        document = trend(store, organization, profile)
    _write(_rendered(TREND_FORMATS, fmt, document, output), output)


@history.command("portfolio")
@click.option("--profile", "-p", "profile", default=None, metavar="ID",
              help="Only this profile (an id recorded in the runs).")
@format_option(PORTFOLIO_FORMAT_CHOICES, "Output format (json: the ism3-portfolio/1 document)")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (atomically) instead of stdout.")
@db_option
def history_portfolio(profile: str | None, fmt: str | None, output: Path | None,
                      db: str | None) -> None:
    """The latest run of every organization: level reached, trend, open findings."""
    from ism3rules.formats.history_formats import PORTFOLIO_FORMATS
    from ism3rules.history.views import portfolio

    fmt = choose_format(fmt, output, PORTFOLIO_FORMAT_CHOICES)
    with _open_store(db) as store:
        document = portfolio(store, profile)
    _write(_rendered(PORTFOLIO_FORMATS, fmt, document, output), output)


@history.command("backfill")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--every", type=click.Choice(EVERY_CHOICES), required=True,
              help="Evaluate as of the end of every calendar week (Sunday), month or quarter.")
@click.option("--from", "start", callback=iso_date, default=None,
              metavar="YYYY-MM-DD", help="First day. Default: the start of the bundle's period.")
@click.option("--to", "end", callback=iso_date, default=None,
              metavar="YYYY-MM-DD", help="Last day. Default: the end of the bundle's period.")
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              help="Maturity profile, as for `evaluate`. Repeatable. Default: every shipped "
                   "profile.")
@rules_dir_option
@db_option
@limits_options
def history_backfill(bundle: Path, every: str, start: Any, end: Any,
                     profile_refs: tuple[str, ...], rules_dir: Path | None, db: str | None,
                     limits: Limits | None = None) -> None:
    """Evaluate BUNDLE as of each period end across its evidence period and record the runs.

    Each evaluation is `ism3 evaluate BUNDLE --as-of DATE`; all runs are recorded in
    one transaction once every evaluation has succeeded, so a trend exists from the
    first day of the period.
    """
    from tabulate import tabulate

    from ism3rules.api import load_inputs
    from ism3rules.formats._common import text
    from ism3rules.history.backfill import backfill, backfill_dates

    dates = backfill_dates(bundle, every, start, end, limits)
    inputs = load_inputs(profile_refs, rules_dir)
    with _open_store(db) as store:                  # an unusable database fails first
        documents = backfill(bundle, dates, inputs, limits)
        recorded = store.record(documents, "backfill")
        where = _t(store.location.display)
    rows = [[day.isoformat(), rec.run_id, "recorded" if rec.new else "already recorded",
             ", ".join(f"{text(p['id'])} {p['achieved_level']}/{p['max_level']}"
                       for p in doc["profiles"])]
            for day, rec, doc in zip(dates, recorded, documents, strict=True)]
    click.echo(tabulate(rows, headers=["as of", "run", "", "levels"], tablefmt="simple",
                        disable_numparse=True))
    new = sum(1 for r in recorded if r.new)
    click.echo(f"{len(dates)} evaluation(s) of {text(documents[0]['organization']['id'])}: {new} "
               f"recorded, {len(recorded) - new} already recorded, in {where}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
