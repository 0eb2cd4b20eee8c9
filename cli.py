"""The `ism3` command line: thin glue from arguments to ism3rules and back to text.

This is the one place that prints, and the one place that turns errors into exit
codes: 0 done (targets met), 1 a requested target not met, 2 usage or input
error, 3 internal error (a bug: please report it).
"""

from __future__ import annotations

import functools
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
FORMAT_CHOICES = ("table", "json", "markdown", "html", "csv", "csv-evidence", "junit",
                  "oscal")   # kept literal so --help needs no imports


class _Ism3Group(click.Group):
    """Turns every error into a one-line-per-problem message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from ism3rules.errors import EngineError, Ism3Error

        try:
            return super().invoke(ctx)
        except EngineError as exc:   # the engine failed or contradicted the rules: a bug
            for line in str(exc).splitlines():
                click.echo(f"ism3: {line}", err=True)
            click.echo("ism3: this is a bug; please report it with the command you ran",
                       err=True)
            ctx.exit(EXIT_INTERNAL)
        except Ism3Error as exc:
            for line in str(exc).splitlines():
                click.echo(f"ism3: error: {line}", err=True)
            ctx.exit(EXIT_INPUT)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"ism3: error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(EXIT_INPUT)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback
            click.echo(f"ism3: internal error: {type(exc).__name__}: {exc} "
                       "(this is a bug; please report it with the command you ran)", err=True)
            ctx.exit(EXIT_INTERNAL)


def _write(text: str, output: Path | None) -> None:
    """Write to stdout, or atomically to `output` (temporary file, then rename)."""
    if output is None:
        click.echo(text, nl=False)
        return
    from ism3rules.output import write_atomically

    write_atomically(output, text)


# The limits on reading a bundle (ism3rules.limits), literal so that --help needs no
# imports; a test keeps them equal to ism3rules.limits.DEFAULT_LIMITS and FLAGS.
LIMIT_OPTIONS = (  # (Limits field, flag, default, help)
    ("max_bytes", "--max-bundle-bytes", 16 * 1024 * 1024,
     "Largest bundle.yaml accepted, in bytes."),
    ("max_depth", "--max-yaml-depth", 64,
     "Deepest nesting of lists and mappings in bundle.yaml."),
    ("max_aliases", "--max-yaml-aliases", 100,
     "Most YAML aliases (*name) in bundle.yaml."),
    ("max_alias_expansion", "--max-yaml-alias-expansion", 100_000,
     "Most nodes that YAML aliases may add when expanded."),
    ("max_csv_bytes", "--max-csv-bytes", 32 * 1024 * 1024,
     "Most bytes of observation files (CSV) read for one bundle, in total."),
)


def limits_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Flags that bound what reading an untrusted bundle may cost (see SECURITY.md).

    The decorated command receives them as one `limits` argument (a `Limits`).
    """

    @functools.wraps(command)
    def with_limits(*args: Any, **kwargs: Any) -> Any:
        from ism3rules.limits import Limits

        values = {name: kwargs.pop(name) for name, _, _, _ in LIMIT_OPTIONS}
        return command(*args, limits=Limits(**values), **kwargs)

    for name, flag, default, text in reversed(LIMIT_OPTIONS):
        with_limits = click.option(flag, name, type=click.IntRange(min=0), metavar="N",
                                   default=default, show_default=True, help=text)(with_limits)
    return with_limits


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
    if fmt == "junit" and targets:   # JUnit then fails exactly where the exit code does
        from ism3rules.formats.junit import render_junit

        _write(render_junit(document, _target_levels(document, profile_refs, targets)), output)
    else:
        _write(FORMATS[fmt](document), output)
    for line in missed:
        click.echo(f"ism3: target not met: {line}", err=True)
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
    click.echo(f"{loaded.manifest}: valid ism3-evidence/1 bundle for "
               f"{loaded.organization_name} ({loaded.organization_id})")
    click.echo(f"{len(loaded.items)} evidence items: {len(loaded.items) - len(rejected)} "
               f"accepted, {len(rejected)} rejected")
    if rejected:
        from ism3rules.scaffold import is_placeholder

        click.echo(tabulate([[f"{loaded.manifest}:{i.line}", i.id,
                              f"placeholder: {i.reason}" if is_placeholder(i) else i.reason]
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
                              indent=2))
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
                               for r in book.rules], indent=2))
        return
    rows = [[r.id, r.title, r.section, r.rationale] for r in book.rules]
    if fmt == "markdown":
        click.echo(tabulate(rows, headers=["id", "title", "section", "rationale"],
                            tablefmt="github"))
        return
    for f in book.files:
        click.echo(f"{f.path.name}: {f.title} ({f.source})")
    click.echo(tabulate([[r.id, r.title, r.section] for r in book.rules],
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
                               for p in shipped], indent=2))
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
            raise click.UsageError(f"--require {name}={level}: profile '{name}' is not evaluated "
                                   f"here (evaluated: {', '.join(profiles)}); add --profile "
                                   f"{name} or fix the name")
        if level > prof["max_level"]:
            raise click.UsageError(f"--require {name}={level}: profile '{prof['id']}' has only "
                                   f"{prof['max_level']} levels")
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
def gap(bundle: Path, profile_ref: str, level: int | None, fmt: str, output: Path | None,
        rules_dir: Path | None) -> None:
    """Remediation plan for BUNDLE to reach a level of a profile.

    Lists the processes to raise (from what capability to what), the evidence to
    collect, cheapest first, and the evidence items to add as a YAML snippet.
    """
    from ism3rules.api import evaluate_bundle
    from ism3rules.formats.plan import PLAN_FORMATS
    from ism3rules.gap import plan

    document = evaluate_bundle(bundle, (profile_ref,), rules_dir)
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
def compare(bundle: Path, profile_refs: tuple[str, ...], fmt: str, output: Path | None,
            rules_dir: Path | None) -> None:
    """Compare BUNDLE against several profiles side by side.

    Shows the level reached in each profile, every process against what each
    profile's next level requires, and the fixes that close gaps in most profiles.
    """
    from ism3rules.api import evaluate_bundle
    from ism3rules.formats.plan import COMPARISON_FORMATS
    from ism3rules.gap import compare as compare_profiles

    document = evaluate_bundle(bundle, profile_refs, rules_dir)
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
    click.echo(f"{manifest}: skeleton for {profile.id} level {level} with {items} placeholder "
               f"item(s); fill them in, then run `ism3 validate {directory}`")


@main.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("process")
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              help="Maturity profile to show the process against. Repeatable. "
                   "Default: every shipped profile.")
@rules_dir_option
def explain(bundle: Path, process: str, profile_refs: tuple[str, ...],
            rules_dir: Path | None) -> None:
    """Explain the capability of PROCESS (e.g. OSP-10) in BUNDLE, in plain words.

    Which evidence counted (with each file's sha256), which rules fired and what
    they gave, what the next capability needs and which items were rejected and why.
    """
    from ism3rules.api import evaluate_bundle
    from ism3rules.errors import did_you_mean
    from ism3rules.formats.explain import render_explanation
    from ism3rules.rules import load_rulebook

    document = evaluate_bundle(bundle, profile_refs, rules_dir)
    wanted = process.strip().upper()
    if wanted not in document["processes"]:
        raise click.BadParameter(
            f"unknown process '{process}'{did_you_mean(wanted, document['processes'])}; "
            "`ism3 processes` lists them", param_hint="PROCESS")
    rules = {r.id: {"title": r.title, "section": r.section, "then": r.then}
             for r in load_rulebook(rules_dir).rules}
    click.echo(render_explanation(document, wanted, rules), nl=False)


@main.command()
@click.argument("report", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--profile", "-p", "profile_refs", multiple=True, metavar="ID|PATH",
              help="A profile file the report used that is not shipped. Repeatable.")
@rules_dir_option
def verify(report: Path, bundle: Path, profile_refs: tuple[str, ...],
           rules_dir: Path | None) -> None:
    """Check that REPORT (a JSON report) still matches BUNDLE, the rules and the profiles.

    Recomputes the sha256 of the manifest and of every file it references, of the
    rule files and of each profile, and lists what changed. Exit 0 when everything
    matches, 1 when something changed, 2 when the report or bundle cannot be read.
    """
    from ism3rules.formats._common import text
    from ism3rules.verify import load_report, verify_report

    document = load_report(report)
    result = verify_report(document, bundle, report_path=report, rules_dir=rules_dir,
                           profile_refs=profile_refs)
    org = document.get("organization") or {}
    tool = document.get("tool") or {}
    # the report is input too: no terminal control characters from it reach the screen
    click.echo(f"{report}: report on {text(org.get('name'))} ({text(org.get('id'))}) by "
               f"{text(tool.get('name'))} {text(tool.get('version'))}")
    click.echo(f"{bundle}: {result.files_checked} bundle files checked")
    for diff in result.differences:
        click.echo(f"  {diff.change:<9} {diff.subject}: {diff.detail}")
    for note in result.not_checked:
        click.echo(f"  not checked: {note}")
    if result.matches:
        click.echo(f"MATCH: the report matches ({len(result.unchanged)} inputs unchanged)")
        return
    click.echo(f"MISMATCH: {len(result.differences)} input(s) differ from what the report "
               "was computed from")
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
