"""A new user's first hour (issue 14): output that fits, errors that teach, warnings that
keep placeholders from passing for evidence, completion and `python -m ism3rules`."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from conftest import ROOT
from ism3rules.api import evaluate_bundle
from ism3rules.catalogue import load_catalogue
from ism3rules.rules import load_rulebook

HARBOR = str(ROOT / "evidence" / "harbor-clinic")
NORTHWIND = str(ROOT / "evidence" / "northwind")
ISM3 = [sys.executable, "-m", "ism3rules"]


def run(args: list[str], code: int = 0, env: dict[str, Any] | None = None) -> str:
    result = CliRunner().invoke(main, args, env={"COLUMNS": None, **(env or {})})
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def words(text: str) -> str:
    """Text with line breaks and indentation made single spaces (tables wrap at spaces),
    without the dashes under table headers (as wide as their column)."""
    return " ".join(w for w in text.split() if w.strip("-"))


# -- --output picks the format -----------------------------------------------------

@pytest.mark.parametrize("name, check", [
    ("r.json", lambda t: json.loads(t)["schema"] == "ism3-report/1"),
    ("r.JSON", lambda t: json.loads(t)["schema"] == "ism3-report/1"),
    ("r.md", lambda t: t.startswith("#") and "| --- |" in t),
    ("r.html", lambda t: t.lstrip().lower().startswith("<!doctype html>")),
    ("r.csv", lambda t: t.startswith("process,")),
    ("r.xml", lambda t: "<testsuites" in t),
    ("r.txt", lambda t: t.startswith("Harbor Family Clinic (harbor-clinic)")),
    ("report", lambda t: t.startswith("Harbor Family Clinic (harbor-clinic)")),
])
def test_output_extension_gives_the_format(tmp_path: Path, name: str, check: Any) -> None:
    target = tmp_path / name
    assert run(["evaluate", HARBOR, "-o", str(target)]) == ""
    assert check(target.read_text())


def test_the_readme_ci_example_writes_json_that_verify_accepts(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run(["evaluate", NORTHWIND, "--require", "small-business=2", "--output", str(report)])
    assert "MATCH" in run(["verify", str(report), NORTHWIND])


@pytest.mark.parametrize("args, message", [
    (["evaluate", HARBOR, "-f", "json", "-o", "r.html"],
     "--format json contradicts --output r.html (HTML, by its extension)"),
    (["evaluate", HARBOR, "-f", "table", "-o", "r.json"], "--format table contradicts"),
    (["evaluate", HARBOR, "-f", "csv-evidence", "-o", "r.md"], "--format csv-evidence contradicts"),
    (["gap", HARBOR, "-p", "small-business", "-o", "plan.html"],
     "this command does not write HTML files (its formats: table, json)"),
    (["compare", HARBOR, "-f", "table", "-o", "c.json"], "--format table contradicts"),
    (["batch", HARBOR, "-o", "s.md"], "does not write Markdown files (its formats: table, json, csv)"),
    (["export", "oscal-catalog", "-o", "c.html"], "the OSCAL catalog is JSON"),
])
def test_a_contradiction_is_refused_and_writes_nothing(tmp_path: Path, args: list[str],
                                                       message: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert message in run(args, 2)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args", [["evaluate", HARBOR, "-f", "oscal"], ["evaluate", HARBOR, "-f", "json"],
                                  ["gap", HARBOR, "-p", "small-business"], ["compare", HARBOR],
                                  ["batch", HARBOR, "-q"]])
def test_agreeing_format_and_extension_and_json_by_extension(tmp_path: Path,
                                                             args: list[str]) -> None:
    target = tmp_path / "out.json"
    run([*args, "-o", str(target)])
    assert isinstance(json.loads(target.read_text()), dict)


# -- tables that fit ---------------------------------------------------------------

def _identifiers() -> set[str]:
    """Every identifier the outputs below show: process, evidence, rule and profile ids."""
    ids = set(load_catalogue().process_ids) | {r.id for r in load_rulebook().rules}
    for sample in (HARBOR, NORTHWIND):
        ids |= {e["id"] for e in evaluate_bundle(sample)["evidence"]}
    return ids | {"small-business", "ism3-derived", "cloud-saas"}


COMMANDS = [["evaluate", HARBOR], ["evaluate", NORTHWIND], ["processes"], ["rules"],
            ["profiles"], ["validate", HARBOR], ["gap", HARBOR, "-p", "small-business"],
            ["compare", NORTHWIND], ["explain", HARBOR, "OSP-10"],
            ["batch", "evidence/harbor-clinic", "evidence/northwind", "-j", "1", "-q"]]


def _tables(out: str) -> list[str]:
    """The lines of an output that are fitted: all but the YAML snippet `gap` prints to paste."""
    lines = out.splitlines()
    snippet = next((n for n, line in enumerate(lines) if line.startswith("# Evidence to add")),
                   len(lines))
    return lines[:snippet]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c[:1] + c[2:3]))
def test_tables_fit_the_width_and_never_split_an_identifier(
        command: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)   # batch lists the paths as given: whole, so short ones here
    ids = _identifiers()
    piped = run(command)
    shown = {i for i in ids if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", piped)}
    assert shown
    for columns, limit in (("80", 80), ("120", 120), ("40", 80)):
        out = run(command, env={"COLUMNS": columns})
        too_wide = [line for line in _tables(out) if len(line) > limit]
        assert not too_wide, too_wide[:3]
        # an identifier shown whole when piped is shown whole at any width
        missing = {i for i in shown if not re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", out)}
        assert not missing
        assert out == run(command, env={"COLUMNS": columns})   # stable
    assert max(len(line) for line in _tables(piped)) <= 100   # piped: a stable 100
    if command[0] in ("evaluate", "processes", "rules", "validate"):
        assert len(max(_tables(piped), key=len)) > 80    # ... and uses them
    assert piped == run(command, env={"COLUMNS": "100"})
    # the same words at any width (in another order where cells wrap side by side)
    assert sorted(words(piped).split()) == sorted(words(run(command,
                                                          env={"COLUMNS": "300"})).split())


def test_a_terminal_gets_its_own_width() -> None:
    """Run in a real pseudo-terminal 90 columns wide, with no COLUMNS."""
    main_fd, sub_fd = pty.openpty()
    fcntl.ioctl(sub_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 90, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    proc = subprocess.Popen([*ISM3, "processes"], stdout=sub_fd, stderr=sub_fd,
                            stdin=subprocess.DEVNULL, env=env)
    os.close(sub_fd)
    chunks = []
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=60) == 0
    os.close(main_fd)
    lines = b"".join(chunks).decode().splitlines()
    assert max(len(line) for line in lines) <= 90
    assert max(len(line) for line in lines) > 80     # it used the room it has


def test_coverage_is_shown_in_percent_and_json_keeps_the_number() -> None:
    out = words(run(["evaluate", HARBOR]))
    assert "monthly 2/6 = 33.3%" in out
    assert "coverage 33.3% <= 80% required by rule EVD-METRIC-CADENCE" in out
    doc = json.loads(run(["evaluate", HARBOR, "-f", "json"]))
    entry = next(e for e in doc["evidence"] if e["id"] == "MET-OSP12-ACT")
    assert entry["cadence"]["coverage"] == pytest.approx(1 / 3)


def test_processes_are_listed_under_their_level_and_group() -> None:
    for out in (run(["processes"]), run(["evaluate", HARBOR])):
        lines = out.splitlines()
        heading = lines.index("operational processes: Availability Control")
        assert lines[heading + 1].startswith("OSP-10 ")
        assert "generic processes" in lines and "tactical processes: Personnel Security" in lines


def test_help_lines_are_whole() -> None:
    out = run(["--help"])
    commands = out.split("Commands:")[1].splitlines()[1:]
    assert len(commands) >= 14
    for line in commands:
        assert not line.rstrip().endswith("..."), line
        assert line.count("(") == line.count(")"), line
        assert len(line) <= 80


# -- errors that teach -------------------------------------------------------------

def test_init_without_profile_lists_the_choices(tmp_path: Path) -> None:
    out = run(["init", str(tmp_path / "acme")], 2)
    assert "Missing option '--profile'" in out
    assert "cloud-saas, ism3-derived, small-business" in out
    assert "cloud-saas, ism3-derived, small-business" in run(["gap", HARBOR], 2)
    assert not (tmp_path / "acme").exists()


def test_require_with_a_near_miss_suggests_the_profile() -> None:
    out = run(["evaluate", HARBOR, "-p", "small-business", "--require", "smallbusiness=1"], 2)
    assert "(did you mean 'small-business'?)" in out
    out = run(["evaluate", HARBOR, "-p", "cloud-saas", "--require", "smal-business=1"], 2)
    assert "(did you mean 'small-business'?)" in out   # a shipped profile not evaluated


@pytest.mark.parametrize("args", [["evaluate", HARBOR, "--as-of", "15/10/2026"],
                                  ["batch", HARBOR, "--as-of", "15/10/2026"],
                                  ["init", "x", "-p", "small-business", "--period-start",
                                   "15/10/2026", "--period-end", "2026-12-31"]])
def test_dates_say_yyyy_mm_dd(args: list[str]) -> None:
    out = run(args, 2)
    assert "'15/10/2026' is not a date written YYYY-MM-DD (e.g. 2026-10-15)" in out
    assert "%Y" not in out


def test_explain_with_swapped_arguments_says_so() -> None:
    out = run(["explain", "OSP-10", HARBOR], 2)
    assert f"the bundle comes first, then the process: ism3 explain {HARBOR} OSP-10" in out
    assert "no such bundle folder" not in out


@pytest.mark.parametrize("name", ["bundle.yml", "Bundle.yaml", "BUNDLE.YML"])
def test_a_manifest_under_another_name_is_noticed(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("schema: ism3-evidence/1\n")
    if (tmp_path / "bundle.yaml").exists():   # a file system that ignores case
        pytest.skip("case-insensitive file system")
    out = run(["validate", str(tmp_path)], 2)
    assert f"no bundle.yaml in this folder; found '{name}' instead: rename it to bundle.yaml" in out


def test_a_folder_of_bundles_suggests_them_and_batch(tmp_path: Path) -> None:
    for org in ("acme", "globex"):
        (tmp_path / org).mkdir()
        (tmp_path / org / "bundle.yaml").write_text("schema: ism3-evidence/1\n")
    (tmp_path / "notes").mkdir()
    out = words(run(["evaluate", str(tmp_path)], 2))
    assert "it holds bundles in its subfolders (acme, globex)" in out
    assert f"`ism3 batch {tmp_path}`" in out


@pytest.mark.parametrize("written", ["osp-17", "OSP17", "osp 17", "Osp_17"])
def test_a_process_id_near_miss_gets_the_id(tmp_path: Path, written: str) -> None:
    (tmp_path / "bundle.yaml").write_text(
        "schema: ism3-evidence/1\norganization: {id: a, name: A}\nevidence:\n"
        f"  - {{id: D1, process: '{written}', kind: documentation, path: d.md}}\n")
    out = run(["validate", str(tmp_path)], 2)
    assert f"bundle.yaml:4: item D1: unknown process '{written}' (did you mean 'OSP-17'?)" in out
    profile = tmp_path / "p.yaml"
    profile.write_text("schema: ism3-profile/1\nid: p\nname: P\nsource: custom\nlevels:\n"
                       f"  - {{level: 1, name: One, requires: {{'{written}': initial}}}}\n")
    assert "(did you mean 'OSP-17'?)" in run(["evaluate", HARBOR, "-p", str(profile)], 2)


def test_a_hash_mismatch_shows_both_full_hashes() -> None:
    out = words(run(["validate", HARBOR]))
    assert re.search(r"hash mismatch \(declared [0-9a-f]{64}, file has [0-9a-f]{64}\)", out)


# -- validate warns, init asks for a period ------------------------------------------

def _filled_skeleton(tmp_path: Path, *args: str) -> Path:
    target = tmp_path / "acme"
    run(["init", str(target), "-p", "small-business", "-l", "2", *args])
    text = (target / "bundle.yaml").read_text()
    for path in re.findall(r"path: (\S+)", text):
        (target / path).write_text("date,value\n2026-03-01,4\n" if path.endswith(".csv")
                                   else "")   # empty documents, as a hurried user leaves them
    return target


def test_validate_warns_about_placeholders_that_count_and_no_period(tmp_path: Path) -> None:
    """Empty documents still titled TODO do not count (rules/evidence.yaml) and are listed
    as placeholders to fill; metrics with data but a TODO name count, with a warning."""
    target = _filled_skeleton(tmp_path)
    out = words(run(["validate", str(target)]))
    assert "16 evidence items: 8 accepted, 8 rejected" in out
    assert ("DOC-OSP3 placeholder: size 0 <= 0 and placeholder 1 != 0 required by rule "
            "EVD-DOCUMENT-IN-FORCE") in out
    assert ("to do: 8 placeholder item(s) still to fill: put the evidence in the files they "
            "name (create them; an empty file does not count)") in out
    assert "warning: 8 item(s) still have a title or name starting with 'TODO:'" in out
    assert "MET-OSP5-ACTIVITY (line" in out and "DOC-OSP3 (line" not in out
    assert ("warning: no assessment period: a metric then counts with a single observation "
            "from any date") in out
    assert "warning: the organization name is still the placeholder" in out


def test_a_metric_rejected_for_cadence_is_not_called_a_placeholder(tmp_path: Path) -> None:
    target = _filled_skeleton(tmp_path, "--period-start", "2026-01-01", "--period-end",
                              "2026-06-30", "--org-name", "Acme")
    manifest = target / "bundle.yaml"
    manifest.write_text(manifest.read_text().replace(
        "    path: metrics/osp-5-activity.csv",
        "    path: metrics/osp-5-activity.csv\n    specification: {frequency: weekly}"))
    out = words(run(["validate", str(target)]))
    assert "no assessment period" not in out and "organization name" not in out
    assert "MET-OSP5-ACTIVITY reported in 1 of 25 weekly periods" in out
    assert "placeholder: reported" not in out
    assert ("MET-OSP5-ACTIVITY: report the metric in more of its periods (see its "
            "specification's frequency), or correct the frequency") in out
    assert "to do: 8 placeholder item(s)" in out    # the 8 empty documents, not the metric


def test_init_writes_an_assessment_block(tmp_path: Path) -> None:
    run(["init", str(tmp_path / "a"), "-p", "small-business"])
    text = (tmp_path / "a" / "bundle.yaml").read_text()
    assert "\nassessment:\n  # TODO: the evidence window this assessment covers" in text
    assert "#   period: {start: YYYY-MM-DD, end: YYYY-MM-DD}" in text
    run(["init", str(tmp_path / "b"), "-p", "small-business", "--period-start", "2026-01-01",
         "--period-end", "2026-06-30"])
    doc = evaluate_bundle(tmp_path / "b")
    assert doc["assessment"]["period"] == {"start": "2026-01-01", "end": "2026-06-30"}


@pytest.mark.parametrize("args, message", [
    (["--period-start", "2026-01-01"], "give both --period-start and --period-end"),
    (["--period-start", "2026-07-01", "--period-end", "2026-06-30"],
     "the assessment period starts (2026-07-01) after it ends (2026-06-30)"),
])
def test_a_bad_period_is_refused(tmp_path: Path, args: list[str], message: str) -> None:
    assert message in run(["init", str(tmp_path / "a"), "-p", "small-business", *args], 2)
    assert not (tmp_path / "a").exists()


# -- python -m, completion, pipes ---------------------------------------------------

def test_python_m_ism3rules_is_the_ism3_command() -> None:
    result = subprocess.run([*ISM3, "profiles", "-f", "json"], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert {p["id"] for p in json.loads(result.stdout)} == {"cloud-saas", "ism3-derived",
                                                             "small-business"}
    assert subprocess.run([*ISM3, "evaluate", "/nonexistent"], capture_output=True,
                          timeout=120, check=False).returncode == 2


def _complete(words_: str, shell: str = "bash") -> str:
    env = {**os.environ, "_ISM3_COMPLETE": f"{shell}_complete", "COMP_WORDS": words_,
           "COMP_CWORD": str(len(words_.split()) - (0 if words_.endswith(" ") else 1))}
    result = subprocess.run(ISM3, capture_output=True, text=True, env=env, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_shell_completion_offers_profile_ids() -> None:
    assert _complete("ism3 evaluate x --profile sm").split() == ["plain,small-business"]
    assert set(_complete("ism3 init x -p ").split()) == {
        "plain,cloud-saas", "plain,ism3-derived", "plain,small-business"}
    assert _complete("ism3 evaluate x --require cl").split() == ["plain,cloud-saas="]
    assert _complete("ism3 evaluate x --profile ./my").split() == ["file,./my"]
    script = subprocess.run(ISM3, capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "_ISM3_COMPLETE": "bash_source"}).stdout
    assert "_ISM3_COMPLETE=bash_complete" in script
    for shell in ("zsh", "fish"):   # the other lines of docs/cli.md
        script = subprocess.run(ISM3, capture_output=True, text=True, timeout=120, check=False,
                                env={**os.environ, "_ISM3_COMPLETE": f"{shell}_source"}).stdout
        assert f"{shell}_complete" in script
    doc = (ROOT / "docs" / "cli.md").read_text()
    for shell in ("bash", "zsh", "fish"):
        assert f"_ISM3_COMPLETE={shell}_source ism3" in doc


def test_a_closed_pipe_ends_quietly_with_141() -> None:
    # more than a pipe holds, so the writer meets the closed end
    proc = subprocess.Popen([*ISM3, "evaluate", NORTHWIND, "-f", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=120) == 141   # 128 + SIGPIPE, as a shell reports `| head`
    assert proc.stderr.read() == b""
