"""Errors that teach: YAML syntax errors say how to fix them (and the fix is right), a
bundle's manifest and observation-file problems come in one run, every bad CSV line is
said (up to a cap), a path in the wrong case gets the file it means."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from conftest import ROOT
from ism3rules.evidence import CSV_PROBLEMS_PER_BUNDLE, load_bundle
from ism3rules.yamlio import teach

SKELETON = """\
schema: ism3-evidence/1
organization: {id: acme, name: Acme}
evidence:
  - id: DOC-OSP3
    process: OSP-3
    kind: documentation
    title: Inventory procedure
    path: docs/osp-3.md
  - id: DOC-OSP5
    process: OSP-5
    kind: documentation
    title: Patching procedure
    path: docs/osp-5.md
"""


def _bundle(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "acme"
    (root / "docs").mkdir(parents=True, exist_ok=True)
    for name in ("osp-3.md", "osp-5.md"):
        (root / "docs" / name).write_text("# procedure\n")
    (root / "bundle.yaml").write_text(text)
    return root


def _validate(root: Path, code: int) -> str:
    result = CliRunner().invoke(main, ["validate", str(root)], env={"COLUMNS": "400"})
    assert result.exit_code == code, result.output
    return result.output


def _edit(line: int, new: str) -> str:
    lines = SKELETON.split("\n")
    lines[line - 1] = new
    return "\n".join(lines)


# (case, line edited, its new text, the hint, the line as the hint says to write it)
YAML_CASES = [
    ("colon in a title", 7, "    title: Backup policy: draft",
     "item DOC-OSP3: the value of 'title' holds ': ', which YAML reads as the start of a "
     "mapping; put the text in quotes: title: 'Backup policy: draft'",
     "    title: 'Backup policy: draft'"),
    ("colon and a quote in a title", 7, "    title: Bob's plan: v2   # note",
     "put the text in quotes: title: \"Bob's plan: v2\"",
     "    title: \"Bob's plan: v2\"   # note"),
    ("a key indented one more", 6, "     kind: documentation",
     "item DOC-OSP3: line 6 ('kind: documentation') is indented 5 space(s); indent it by 4, "
     "as 'process' on line 5", "    kind: documentation"),
    ("a key indented one less", 6, "   kind: documentation",
     "item DOC-OSP3: line 6 ('kind: documentation') is indented 3 space(s); indent it by 4, "
     "as 'process' on line 5", "    kind: documentation"),
    ("an item indented one more", 9, "   - id: DOC-OSP5",
     "item DOC-OSP5: line 9 ('- id: DOC-OSP5') is indented 3 space(s); indent it by 2, "
     "as the '- ' of line 4", "  - id: DOC-OSP5"),
    ("a key lined up with the dash", 10, "  process: OSP-5",
     "item DOC-OSP5: line 10 ('process: OSP-5') is indented 2 space(s); indent it by 4, "
     "as 'id' on line 9", "    process: OSP-5"),
    ("a tab", 6, "\tkind: documentation",
     "line 6 is indented with a tab; YAML indents with spaces only: replace the tab with "
     "spaces", "    kind: documentation"),
]


@pytest.mark.parametrize(("case", "line", "bad", "hint", "fixed"), YAML_CASES,
                         ids=[c[0] for c in YAML_CASES])
def test_a_yaml_syntax_error_says_how_to_fix_it_and_the_fix_is_right(
        tmp_path: Path, case: str, line: int, bad: str, hint: str, fixed: str) -> None:
    root = _bundle(tmp_path, _edit(line, bad))
    out = _validate(root, 2)
    assert hint in out, case
    assert out.count("\n") == 1 and re.match(rf"ism3: error: \S+bundle.yaml:{line}: ", out)
    (root / "bundle.yaml").write_text(_edit(line, fixed))      # doing as it says works
    assert "2 evidence items: 2 accepted, 0 rejected" in _validate(root, 0)


def test_no_hint_when_no_fix_is_sure(tmp_path: Path) -> None:
    """A colon inside a flow mapping, an unclosed bracket: the parser's message alone."""
    for text in (SKELETON + "  - {id: D3, process: OSP-7, kind: documentation, title: a: b}\n",
                 SKELETON.replace("evidence:\n", "evidence: [\n")):
        out = _validate(_bundle(tmp_path, text), 2)
        assert "indent it" not in out and "put the text in quotes" not in out
        assert out.count("\n") == 1


def test_the_pure_python_parser_message_gets_the_hint_too() -> None:
    """PyYAML without libyaml says `mapping values are not allowed here`."""
    text = _edit(7, "    title: Backup policy: draft")
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        yaml.load(text, Loader=yaml.SafeLoader)   # noqa: S506 - the pure-Python safe loader
    assert "mapping values are not allowed here" in str(caught.value)
    assert "put the text in quotes: title: 'Backup policy: draft'" in str(teach(text,
                                                                              caught.value))


# -- one run says it all ---------------------------------------------------------------------
def test_manifest_and_observation_file_problems_come_together(tmp_path: Path) -> None:
    root = tmp_path / "b"
    (root / "metrics").mkdir(parents=True)
    (root / "bundle.yaml").write_text(
        "schema: ism3-evidence/1\norganization: {id: b, name: B}\nevidence:\n"
        "  - {id: M1, process: OSP-3, kind: metric, metric_type: activty, path: metrics/a.csv}\n"
        "  - {id: M2, process: OSP-3, kind: metric, metric_type: scope, path: metrics/b.csv}\n"
        "  - {id: D1, process: OSP-99, kind: documentation, path: docs/x.md}\n")
    (root / "metrics" / "a.csv").write_text("date,value\n2026-01-01,1\n")
    (root / "metrics" / "b.csv").write_text("date,value\n2026-01-01,1\n2026-01-02,lots\n"
                                            "2026-02-30,2\n2026-03-01,3\n")
    out = _validate(root, 2)
    lines = out.splitlines()
    assert "bundle.yaml:4: item M1: unknown metric_type 'activty' (did you mean 'activity'?)" \
        in lines[0]
    assert "bundle.yaml:6: item D1: unknown process 'OSP-99'" in lines[1]
    assert lines[2].endswith("bundle.yaml:5: item M2: observations file: "
                             f"{root}/metrics/b.csv:3: value 'lots' is not a number")
    assert lines[3].endswith("bundle.yaml:5: item M2: observations file: "
                             f"{root}/metrics/b.csv:4: '2026-02-30' is not a valid date (day "
                             "is out of range for month)")
    assert len(lines) == 4


def _bad_csv(path: Path, bad: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("date,value\n2026-01-01,1\n"
                    + "".join(f"2026-01-02,bad{n}\n" for n in range(bad)) + "2026-01-03,2\n")


def test_every_bad_line_of_a_csv_is_said_up_to_a_cap_per_file(tmp_path: Path) -> None:
    root = tmp_path / "b"
    _bad_csv(root / "m.csv", 25)
    (root / "bundle.yaml").write_text(
        "schema: ism3-evidence/1\norganization: {id: b, name: B}\nevidence:\n"
        "  - {id: M1, process: OSP-3, kind: metric, metric_type: scope, path: m.csv}\n")
    lines = _validate(root, 2).splitlines()
    assert [re.search(r"m.csv:(\d+): value 'bad(\d+)'", line).groups()   # type: ignore[union-attr]
            for line in lines[:10]] == [(str(n + 3), str(n)) for n in range(10)]
    assert lines[10].endswith("item M1: observations file: and 15 more bad line(s) in this "
                              "file, not shown")
    assert len(lines) == 11


def test_the_bad_lines_of_a_bundle_are_capped_too(tmp_path: Path) -> None:
    root = tmp_path / "b"
    items = ""
    for n in range(8):
        _bad_csv(root / f"m{n}.csv", 10)
        items += (f"  - {{id: M{n}, process: OSP-3, kind: metric, metric_type: scope, "
                  f"path: m{n}.csv}}\n")
    (root / "bundle.yaml").write_text("schema: ism3-evidence/1\norganization: {id: b, name: B}"
                                      "\nevidence:\n" + items)
    lines = _validate(root, 2).splitlines()
    assert len(lines) == CSV_PROBLEMS_PER_BUNDLE + 1
    assert lines[-1].endswith("bundle.yaml: and 30 more bad line(s) in observation files, "
                              "not shown")


def test_a_bad_header_or_an_overlong_line_stops_the_file(tmp_path: Path) -> None:
    root = tmp_path / "b"
    root.mkdir()
    (root / "h.csv").write_text("day,number\n2026-01-01,x\n")
    (root / "l.csv").write_text("date,value\n2026-01-01,x\n" + "9" * (2 << 20) + "\n2026-01-02,y\n")
    (root / "bundle.yaml").write_text(
        "schema: ism3-evidence/1\norganization: {id: b, name: B}\nevidence:\n"
        "  - {id: M1, process: OSP-3, kind: metric, metric_type: scope, path: h.csv}\n"
        "  - {id: M2, process: OSP-3, kind: metric, metric_type: load, path: l.csv}\n")
    lines = _validate(root, 2).splitlines()
    assert lines[0].endswith("h.csv:1: header must be 'date,value', found 'day,number'")
    assert lines[1].endswith("l.csv:2: value 'x' is not a number")
    assert lines[2].endswith("l.csv:3: line longer than 1048576 bytes")
    assert len(lines) == 3


# -- a path in the wrong case -----------------------------------------------------------------
def test_a_path_in_the_wrong_case_gets_the_file_it_means(tmp_path: Path) -> None:
    root = tmp_path / "c"
    shutil.copytree(ROOT / "evidence" / "harbor-clinic", root)
    manifest = root / "bundle.yaml"
    manifest.write_text(manifest.read_text()
                        .replace("path: docs/osp-3-procedure.md", "path: docs/OSP-3-procedure.md")
                        .replace("path: docs/osp-5-procedure.md", "path: Docs/OSP-5-Procedure.md")
                        .replace("path: docs/osp-10-procedure.md", "path: docs/osp-10-procedur.md")
                        .replace("path: docs/osp-17-procedure.md", "path: docs/nothing-like.md")
                        .replace("path: docs/osp-11-access-policy.md", "path: docs/osp-12-access-policy.md"))
    out = _validate(root, 0)
    assert ("DOC-OSP3  file missing ('docs/OSP-3-procedure.md'; did you mean "
            "'docs/osp-3-procedure.md'?)") in out
    assert ("DOC-OSP5  file missing ('Docs/OSP-5-Procedure.md'; did you mean "
            "'docs/osp-5-procedure.md'?)") in out
    assert ("DOC-OSP10  file missing ('docs/osp-10-procedur.md'; did you mean "
            "'docs/osp-10-procedure.md'?)") in out
    assert "DOC-OSP17  file missing ('docs/nothing-like.md')\n" in out
    # another number names another file: no suggestion of docs/osp-11-access-policy.md
    assert "DOC-OSP11  file missing ('docs/osp-12-access-policy.md')\n" in out
    assert ("to do: DOC-OSP3, DOC-OSP5, DOC-OSP10: correct the path to the file suggested: "
            "a bundle's paths are exact, case included") in out


def test_the_suggestion_never_looks_outside_the_bundle(tmp_path: Path) -> None:
    """A folder symlinked from outside is not listed; `..` gets no suggestion."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("secret\n")
    root = tmp_path / "b"
    root.mkdir()
    os.symlink(outside, root / "docs")
    (root / "bundle.yaml").write_text(
        "schema: ism3-evidence/1\norganization: {id: b, name: B}\nevidence:\n"
        "  - {id: D1, process: OSP-3, kind: documentation, path: docs/SECRET.md}\n"
        "  - {id: D2, process: OSP-5, kind: documentation, path: ../outside/Secret.md}\n"
        "  - {id: D3, process: OSP-7, kind: documentation, path: Docs/secret.md}\n")
    reasons = {i.id: i.reason for i in load_bundle(root).items}
    assert all("secret.md'?" not in str(r) for r in reasons.values()), reasons
