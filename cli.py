"""The `ism3` command line: thin glue from arguments to ism3rules and back to text.

This is the one place that prints, and the one place that turns errors into exit
codes: 0 done (targets met), 1 a requested target not met, 2 usage or input
error, 3 internal error (a bug: please report it); 141 when standard output was a
pipe closed by its reader (as `| head` does), quietly, as other tools do.
Everything printed that comes from an input goes through `ism3rules.safe`.
"""

from __future__ import annotations

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
        from ism3rules.errors import Ism3Error
        from ism3rules.safe import terminal

        _reliable_stdout()
        try:
            try:
                return super().invoke(ctx)
            finally:  # a failed write to stdout is an error, whenever it happens
                sys.stdout.flush()
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
)
# The limits on reading a report given back to the tool (`verify`).
REPORT_LIMIT_OPTIONS = (
    ("max_report_bytes", "--max-report-bytes", 64 * 1024 * 1024,
     "Largest JSON report accepted, in bytes."),
    ("max_report_depth", "--max-report-depth", 32,
     "Deepest nesting of lists and objects in the JSON report."),
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


def report_limits_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The bundle limits and the report limits, as one `limits` argument (`verify`)."""
    return limits_options(command, LIMIT_OPTIONS + REPORT_LIMIT_OPTIONS)


rules_dir_option = click.option(
    "--rules-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder of rule files to use instead of the shipped rules/.")


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


@main.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              help="Maturity profile: a shipped id (see `ism3 profiles`) or a profile file. "
                   "Repeatable. Default: every shipped profile.")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMAT_CHOICES), default="table",
              show_default=True, help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file (atomically) instead of stdout.")
@rules_dir_option
@click.option("--require", "targets", multiple=True, metavar="PROFILE=LEVEL",
              callback=lambda ctx, param, value: _parse_targets(value),
              help="Exit 1 unless PROFILE (an evaluated profile) reaches at least LEVEL. "
                   "Repeatable.")
@click.option("--timestamp", is_flag=True, default=False,
              help="Record when the report was made (generated_at, UTC). Without it the same "
                   "inputs give byte-identical output.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              metavar="YYYY-MM-DD",
              help="Judge the evidence as it stood at this date (replaces the bundle's "
                   "assessment.as_of): later evidence and observations are ignored, "
                   "expiries applied.")
@limits_options
def evaluate(bundle: Path, profile_refs: tuple[str, ...], fmt: str, output: Path | None,
             rules_dir: Path | None, targets: tuple[tuple[str, int], ...] = (),
             timestamp: bool = False, as_of: Any = None,
             limits: Limits | None = None) -> None:
    """Evaluate BUNDLE (a folder with bundle.yaml): capabilities and maturity levels."""
    from ism3rules.api import evaluate_bundle
    from ism3rules.formats import FORMATS

    document = evaluate_bundle(bundle, profile_refs, rules_dir,
                               as_of=as_of.date() if as_of else None, limits=limits)
    missed = _missed_targets(document, profile_refs, targets)
    if timestamp:
        from datetime import UTC, datetime

        from ism3rules.report import with_timestamp

        document = with_timestamp(document, datetime.now(UTC))
    _write(FORMATS[fmt](document), output)
    for line in missed:
        _echo_err(f"ism3: target not met: {_t(line)}")
    if missed:
        click.get_current_context().exit(EXIT_TARGET_MISSED)


@main.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@limits_options
def validate(bundle: Path, limits: Limits) -> None:
    """Check that BUNDLE is readable and say which evidence items count.

    Exit 0 when the bundle can be evaluated (rejected items are listed with their
    reason), 2 when it cannot.
    """
    from tabulate import tabulate

    from ism3rules.assessment import assess
    from ism3rules.evidence import load_bundle
    from ism3rules.rules import load_rulebook

    loaded = load_bundle(bundle, limits=limits)
    # what counts is partly the rules' call (a metric's reporting cadence)
    judged = assess(loaded, [], load_rulebook()).evidence
    rejected = [i for i in judged if not i.accepted]
    click.echo(f"{_t(loaded.manifest)}: valid ism3-evidence/1 bundle for "
               f"{_t(loaded.organization_name)} ({_t(loaded.organization_id)})")
    click.echo(f"{len(loaded.items)} evidence items: {len(loaded.items) - len(rejected)} "
               f"accepted, {len(rejected)} rejected")
    if rejected:
        from ism3rules.scaffold import is_placeholder

        click.echo(tabulate([[f"{_t(loaded.manifest)}:{i.line}", _t(i.id),
                              _t(f"placeholder: {i.reason}" if is_placeholder(i) else i.reason)]
                             for i in rejected],
                            headers=["where", "item", "reason it does not count"],
                            tablefmt="simple", disable_numparse=True))
        placeholders = sum(1 for i in rejected if is_placeholder(i))
        if placeholders:
            click.echo(f"{placeholders} placeholder item(s) still to fill: create the files they "
                       "name and replace the TODO texts (the comments in bundle.yaml say what "
                       "each must show)")


@main.command()
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def processes(fmt: str) -> None:
    """List the 45 O-ISM3 processes."""
    import json

    from tabulate import tabulate

    from ism3rules.catalogue import load_catalogue

    cat = load_catalogue()
    if fmt == "json":
        click.echo(json.dumps([{"id": p.id, "name": p.name, "management_level": p.level,
                                "group": p.group, "purpose": p.purpose} for p in cat.processes],
                              indent=2, allow_nan=False))
        return
    click.echo(tabulate([[p.id, p.name, p.level, p.group or "", p.purpose] for p in cat.processes],
                        headers=["id", "name", "level", "group", "purpose"], tablefmt="simple"))


@main.command()
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json", "markdown"]),
              default="table", show_default=True)
@rules_dir_option
def rules(fmt: str, rules_dir: Path | None) -> None:
    """List the loaded rules with their source section and rationale."""
    import json

    from tabulate import tabulate

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
    for f in book.files:
        click.echo(f"{_t(f.path.name)}: {_t(f.title)} ({_t(f.source)})")
    click.echo(tabulate([row[:3] for row in rows],
                        headers=["rule", "title", "section"], tablefmt="simple"))


@main.command()
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def profiles(fmt: str) -> None:
    """List the shipped maturity profiles and where each mapping comes from."""
    import json

    from tabulate import tabulate

    from ism3rules.profiles import list_shipped

    shipped = list_shipped()
    if fmt == "json":
        click.echo(json.dumps([{"id": p.id, "name": p.name, "source": p.source,
                                "levels": p.max_level, "description": p.description}
                               for p in shipped], indent=2, allow_nan=False))
        return
    click.echo(tabulate([[p.id, p.name, p.source, p.max_level] for p in shipped],
                        headers=["id", "name", "source", "levels"], tablefmt="simple"))


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


def _missed_targets(document: dict[str, Any], profile_refs: tuple[str, ...],
                    targets: tuple[tuple[str, int], ...]) -> list[str]:
    """One line per --require target not reached. Raises click.UsageError (exit 2) for a
    profile that is not evaluated or a level it does not have."""
    profiles = {p["id"]: p for p in document["profiles"]}
    by_ref = dict(zip(profile_refs, document["profiles"], strict=True)) if profile_refs else {}
    missed = []
    for name, level in targets:
        prof = profiles.get(name) or by_ref.get(name)
        if prof is None:
            raise click.UsageError(f"--require {_t(name)}={level}: profile '{_t(name)}' is not "
                                   f"evaluated here (evaluated: {_t(', '.join(profiles))}); add "
                                   f"--profile {_t(name)} or fix the name")
        if level > prof["max_level"]:
            raise click.UsageError(f"--require {_t(name)}={level}: profile '{_t(prof['id'])}' has "
                                   f"only {prof['max_level']} levels")
        if prof["achieved_level"] < level:
            missed.append(f"{prof['id']} reaches level {prof['achieved_level']}, "
                          f"{level} required")
    return missed


@main.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_ref", required=True, metavar="ID|PATH",
              help="The maturity profile: a shipped id or a profile file.")
@click.option("--level", "-l", type=click.IntRange(min=1), default=None,
              help="The level to reach. Default: the next level above the achieved one.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the plan to this file (atomically) instead of stdout.")
@rules_dir_option
@limits_options
def gap(bundle: Path, profile_ref: str, level: int | None, fmt: str, output: Path | None,
        rules_dir: Path | None, limits: Limits | None = None) -> None:
    """Remediation plan for BUNDLE to reach a level of a profile.

    Lists the processes to raise (from what capability to what), the evidence to
    collect, cheapest first, and the evidence items to add as a YAML snippet.
    """
    from ism3rules.api import evaluate_bundle
    from ism3rules.formats.plan import PLAN_FORMATS
    from ism3rules.gap import plan

    document = evaluate_bundle(bundle, (profile_ref,), rules_dir, limits=limits)
    _write(PLAN_FORMATS[fmt](plan(document, document["profiles"][0]["id"], level)), output)


@main.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              help="A profile to compare (shipped id or file). Repeatable. "
                   "Default: every shipped profile.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the comparison to this file (atomically) instead of stdout.")
@rules_dir_option
@limits_options
def compare(bundle: Path, profile_refs: tuple[str, ...], fmt: str, output: Path | None,
            rules_dir: Path | None, limits: Limits | None = None) -> None:
    """Compare BUNDLE against several profiles side by side.

    Shows the level reached in each profile, every process against what each
    profile's next level requires, and the fixes that close gaps in most profiles.
    """
    from ism3rules.api import evaluate_bundle
    from ism3rules.formats.plan import COMPARISON_FORMATS
    from ism3rules.gap import compare as compare_profiles

    document = evaluate_bundle(bundle, profile_refs, rules_dir, limits=limits)
    _write(COMPARISON_FORMATS[fmt](compare_profiles(document)), output)


@main.command()
@click.argument("directory", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_ref", required=True, metavar="ID|PATH",
              help="The maturity profile to prepare evidence for.")
@click.option("--level", "-l", type=click.IntRange(min=1), default=1, show_default=True,
              help="The level of the profile the skeleton covers (with every level below).")
@click.option("--org-id", default=None, help="Organization id. Default: from DIR's name.")
@click.option("--org-name", default="TODO: organization name", show_default=True,
              help="Organization name.")
@rules_dir_option
def init(directory: Path, profile_ref: str, level: int, org_id: str | None, org_name: str,
         rules_dir: Path | None) -> None:
    """Write an evidence bundle skeleton into DIR (new or empty folder).

    bundle.yaml gets one placeholder item per piece of evidence the profile's level
    needs, with comments naming the process and what the item must show; docs/ and
    metrics/ are created empty. `ism3 validate DIR` then lists what is still to fill.
    """
    from ism3rules.catalogue import load_catalogue
    from ism3rules.profiles import resolve_profile
    from ism3rules.rules import load_rulebook
    from ism3rules.scaffold import default_org_id, skeleton, write_skeleton

    catalogue = load_catalogue()
    profile = resolve_profile(profile_ref, catalogue)
    text = skeleton(profile, level, load_rulebook(rules_dir, catalogue),
                    org_id or default_org_id(directory), org_name, catalogue)
    manifest = write_skeleton(directory, text)
    items = text.count("\n  - id: ")
    click.echo(f"{_t(manifest)}: skeleton for {_t(profile.id)} level {level} with {items} "
               f"placeholder item(s); fill them in, then run `ism3 validate {_t(directory)}`")


@main.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("process")
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              help="Maturity profile to show the process against. Repeatable. "
                   "Default: every shipped profile.")
@rules_dir_option
@limits_options
def explain(bundle: Path, process: str, profile_refs: tuple[str, ...],
            rules_dir: Path | None, limits: Limits | None = None) -> None:
    """Explain the capability of PROCESS (e.g. OSP-10) in BUNDLE, in plain words.

    Which evidence counted (with each file's sha256), which rules fired and what
    they gave, what the next capability needs and which items were rejected and why.
    """
    from ism3rules.api import evaluate_bundle
    from ism3rules.errors import did_you_mean
    from ism3rules.formats.explain import render_explanation
    from ism3rules.rules import load_rulebook

    document = evaluate_bundle(bundle, profile_refs, rules_dir, limits=limits)
    wanted = process.strip().upper()
    if wanted not in document["processes"]:
        raise click.BadParameter(
            f"unknown process '{_t(process)}'{did_you_mean(wanted, document['processes'])}; "
            "`ism3 processes` lists them", param_hint="PROCESS")
    rules = {r.id: {"title": r.title, "section": r.section, "then": r.then}
             for r in load_rulebook(rules_dir).rules}
    _write(render_explanation(document, wanted, rules), None)


@main.command()
@click.argument("report", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              help="A profile file the report used that is not shipped. Repeatable.")
@rules_dir_option
@report_limits_options
def verify(report: Path, bundle: Path, profile_refs: tuple[str, ...],
           rules_dir: Path | None, limits: Limits | None = None) -> None:
    """Check that REPORT (a JSON report) still matches BUNDLE, the rules and the profiles.

    Recomputes the sha256 of the manifest and of every file it references, of the
    rule files and of each profile, and lists what changed. Exit 0 when everything
    matches, 1 when something changed or could not be checked (a digest the report
    should record is missing), 2 when the report or bundle cannot be read.
    """
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


@main.group()
def export() -> None:
    """Write reference data in other formats (e.g. the catalogue as OSCAL)."""


@export.command("oscal-catalog")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (atomically) instead of stdout.")
def export_oscal_catalog(output: Path | None) -> None:
    """The 45 O-ISM3 processes as an OSCAL catalog (JSON), grouped by management level."""
    from ism3rules import __version__
    from ism3rules.catalogue import load_catalogue
    from ism3rules.formats.oscal import render_oscal_catalog

    _write(render_oscal_catalog(load_catalogue(), __version__), output)


BATCH_FORMAT_CHOICES = ("table", "json", "csv")   # literal, as FORMAT_CHOICES


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path),
                metavar="PATH...")
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              help="Maturity profile, as for `evaluate`. Repeatable. Default: every shipped "
                   "profile.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes. Default: one per CPU core; 1 evaluates in this process.")
@click.option("--format", "-f", "fmt", type=click.Choice(BATCH_FORMAT_CHOICES), default="table",
              show_default=True, help="Format of the summary.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the summary to this file (atomically) instead of stdout.")
@click.option("--reports-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write each bundle's report here, as `evaluate -f json` would "
                   "(file name: the bundle's folder name).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              metavar="YYYY-MM-DD", help="Judge every bundle as it stood at this date, as "
                                         "`evaluate --as-of` does.")
@rules_dir_option
@limits_options
def batch(paths: tuple[Path, ...], profile_refs: tuple[str, ...], jobs: int | None, fmt: str,
          output: Path | None, reports_dir: Path | None, quiet: bool, as_of: Any,
          rules_dir: Path | None, limits: Any = None) -> None:
    """Evaluate many bundles: each PATH is a bundle or a folder of bundles.

    Bundles are evaluated in worker processes and listed sorted by path, with the
    maturity level each reaches against each profile; a bundle that cannot be read is
    listed with its error and the others go on. Exit 0 when every bundle was evaluated,
    2 when some bundle (or an option) has an input error, 3 on an internal error.
    """
    from ism3rules.batch import INPUT_ERROR, run_batch, to_summary
    from ism3rules.formats.batch_formats import BATCH_FORMATS

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

    try:
        result = run_batch(paths, profile_refs, rules_dir, jobs, reports_dir, progress,
                           as_of.date() if as_of else None, limits)
    finally:
        if bar_cm is not None:
            bar_cm.__exit__(None, None, None)
    _write(BATCH_FORMATS[fmt](to_summary(result)), output)
    if result.has_internal_errors:
        sys.exit(EXIT_INTERNAL)
    if any(o.error_kind == INPUT_ERROR for o in result.failed):
        sys.exit(EXIT_INPUT)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
