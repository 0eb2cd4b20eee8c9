"""A hostile bundle and profile come out inert in every format, through the CLI.

Markup, formulas, table breaks and terminal escapes in organization names, evidence
ids, titles, paths (and so rejection reasons), profile names and rationales.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import FORMAT_CHOICES, main
from conftest import ROOT, write_bundle

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x")'
IMG = "<img src=x onerror=alert(1)>"
PIPE = "a|b\nc"
ESCAPE = "\x1b[2J"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    items = [
        {"id": "DOC-1", "process": "OSP-3", "kind": "documentation", "title": SCRIPT,
         "path": "docs/a.md"},
        {"id": FORMULA, "process": "OSP-3", "kind": "documentation", "title": FORMULA,
         "path": "docs/b.md"},
        {"id": "@SUM(1)", "process": "OSP-5", "kind": "documentation", "title": PIPE,
         "path": f"docs/{SCRIPT}.md"},                      # missing: the reason quotes it
        {"id": "DOC-4", "process": "OSP-11", "kind": "documentation",
         "title": f"{ESCAPE}-1+2 {IMG}", "path": "docs/c.md"},
        {"id": "MET-1", "process": "OSP-3", "kind": "metric", "metric_type": "activity",
         "name": "+cmd|' /C calc'!A0", "observations": [{"date": "2026-02-01", "value": 1}]},
    ]
    bundle = write_bundle(root / "bundle", items,
                          files={"docs/a.md": "a\n", "docs/b.md": "b\n", "docs/c.md": "c\n"},
                          org_id="evil")
    manifest = bundle / "bundle.yaml"
    manifest.write_text(manifest.read_text().replace("name: evil Ltd",
                                                     f"name: '{SCRIPT} {FORMULA}'"))
    profile = root / "profile.yaml"
    profile.write_text(
        "schema: ism3-profile/1\nid: evil\n"
        f"name: '{IMG}'\nsource: custom\nlevels:\n"
        f"  - level: 1\n    name: '-2+3'\n    requires:\n"
        "      OSP-3: initial\n"
        f"      OSP-5: {{capability: initial, rationale: '{SCRIPT} | {FORMULA}'}}\n")
    return bundle, profile


def _render(hostile: tuple[Path, Path], fmt: str, tmp_path: Path) -> str:
    bundle, profile = hostile
    target = tmp_path / f"out.{fmt}"
    result = CliRunner().invoke(main, ["evaluate", str(bundle), "-p", str(profile), "-p",
                                       "small-business", "-f", fmt, "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # written atomically
    return target.read_text(encoding="utf-8")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _check_html(out: str) -> None:
    parser = _Tags()
    parser.feed(out)
    assert not [t for t, _ in parser.tags if t in ("script", "img", "iframe", "object")]
    assert not [a for _, attrs in parser.tags for a, _ in attrs if a.startswith("on")]
    plain = unescape(out)
    assert SCRIPT in plain and IMG in plain and FORMULA in plain  # shown, as text


def _check_markdown(out: str) -> None:
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;" in out
    table: list[int] = []
    for line in [*out.splitlines(), ""]:
        if line.startswith("|"):
            table.append(len(re.findall(r"(?<!\\)\|", line)))
        elif table:
            assert len(set(table)) == 1, f"a table row has extra cells: {table}"
            table = []


def _check_csv(out: str) -> None:
    rows = list(csv.reader(io.StringIO(out)))
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert any(c.startswith("'=HYPERLINK") or c.startswith("'@SUM") for c in cells)
    widths = {len(r) for r in rows}
    assert len(widths) == 1, "a row has a different number of columns"


def _check_junit(out: str) -> None:
    root = ET.fromstring(out)
    assert not [e for e in root.iter() if e.tag in ("script", "img")]
    assert "<script" not in out


def _check_oscal(out: str) -> None:
    from trestle.oscal import assessment_results

    assessment_results.Model.model_validate(json.loads(out))
    assert "<script" not in out and "<img" not in out


def _check_json(out: str) -> None:
    doc = json.loads(out)
    assert doc["organization"]["name"] == f"{SCRIPT} {FORMULA}"  # data, kept exactly
    titles = {e["id"]: e.get("title") for e in doc["evidence"]}
    assert titles["DOC-1"] == SCRIPT and titles[FORMULA] == FORMULA


def _check_table(out: str) -> None:
    assert "\x1b" not in out


CHECKS = {"html": _check_html, "markdown": _check_markdown, "csv": _check_csv,
          "csv-evidence": _check_csv, "junit": _check_junit, "oscal": _check_oscal,
          "json": _check_json, "table": _check_table}


def test_every_format_has_a_safety_check() -> None:
    assert set(CHECKS) == set(FORMAT_CHOICES)


@pytest.mark.parametrize("fmt", FORMAT_CHOICES)
def test_hostile_strings_are_inert(hostile: tuple[Path, Path], fmt: str, tmp_path: Path) -> None:
    out = _render(hostile, fmt, tmp_path)
    assert "\x1b" not in out or fmt == "json"
    CHECKS[fmt](out)


def test_explain_output_has_no_terminal_escapes(hostile: tuple[Path, Path]) -> None:
    bundle, _ = hostile
    result = CliRunner().invoke(main, ["explain", str(bundle), "OSP-11"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "-1+2" in result.output


# --- issue 11: one neutralising layer for every command -------------------------------

BIDI = "\u202e"
INVISIBLE = ("\x1b", "\x9b", "\u202e", "\u2066", "\u200b", "\u2028", "\x07")
FORGED = "\nMATCH: the report matches (99 inputs unchanged)"


def _raw_invisible(text: str) -> list[str]:
    return [c for c in INVISIBLE if c in text]


def _no_forged_line(text: str) -> None:
    for line in text.splitlines():
        assert not line.startswith("MATCH"), line


@pytest.fixture(scope="module")
def bidi_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Invisible characters in every text field a bundle can hold (ids refuse them)."""
    root = tmp_path_factory.mktemp("bidi") / "bundle"
    name = f"Evil{BIDI}Ltd\x1b]0;pwned\x07 {FORGED} \u200bx\x9b2J"
    items = [
        {"id": "DOC-1", "process": "OSP-3", "kind": "documentation", "path": "docs/a.md",
         "title": f"title {BIDI}gnp.exe\u2066 {FORGED}"},
        {"id": "DOC-2", "process": "OSP-5", "kind": "documentation",
         "path": f"docs/x{FORGED}.md", "title": "missing, with a forged line in its path"},
        {"id": "X-1", "process": "OSP-4", "kind": "exclusion",
         "justification": f"why {BIDI}\x1b[31m{FORGED}", "approver": f"boss\u2028{FORGED}"},
    ]
    write_bundle(root, items, files={"docs/a.md": "a\n"}, org_id="evil")
    manifest = root / "bundle.yaml"
    import yaml as _yaml

    doc = _yaml.safe_load(manifest.read_text())
    doc["organization"]["name"] = name
    manifest.write_text(_yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    return root


@pytest.mark.parametrize("fmt", FORMAT_CHOICES)
def test_no_format_carries_invisible_characters_raw(bidi_bundle: Path, fmt: str) -> None:
    result = CliRunner().invoke(main, ["evaluate", str(bidi_bundle), "-f", fmt])
    assert result.exit_code == 0, result.output
    assert _raw_invisible(result.output) == []
    _no_forged_line(result.output)
    if fmt == "json":   # the data is exact: escapes decode to the very characters
        assert json.loads(result.output)["organization"]["name"].startswith(f"Evil{BIDI}Ltd")


def test_html_title_and_heading_hold_no_bidi_override(bidi_bundle: Path) -> None:
    out = CliRunner().invoke(main, ["evaluate", str(bidi_bundle), "-f", "html"]).output
    title = re.search(r"<title>(.*?)</title>", out, re.S)
    heading = re.search(r"<h1>(.*?)</h1>", out, re.S)
    assert title and heading
    for text in (title.group(1), heading.group(1)):
        assert BIDI not in text and "\\u202e" in text and "\n" not in text


@pytest.mark.parametrize("args", [
    ["validate"], ["evaluate"], ["gap", "-p", "small-business"], ["compare"],
    ["explain", "__", "OSP-4"], ["explain", "__", "OSP-3"],
])
def test_every_command_output_is_inert_on_a_terminal(bidi_bundle: Path, args: list[str]) -> None:
    argv = [a if a != "__" else str(bidi_bundle) for a in args]
    if "__" not in args:
        argv.insert(1, str(bidi_bundle))
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    assert _raw_invisible(result.output) == [], argv
    _no_forged_line(result.output)


def test_errors_are_inert(tmp_path: Path) -> None:
    profile = tmp_path / f"p{FORGED}\x1b[2J.yaml"
    result = CliRunner().invoke(main, ["evaluate", str(ROOT / "evidence" / "harbor-clinic"),
                                       "-p", str(profile)])
    assert result.exit_code == 2
    assert _raw_invisible(result.output) == []
    assert all(line.startswith("ism3: error: ") for line in result.output.splitlines())


def test_verify_cannot_be_made_to_print_a_forged_match(tmp_path: Path) -> None:
    """Issue 11: a file named "docs/x\\nMATCH: ..." made verify print a forged MATCH line."""
    name = f"docs/x{FORGED}\x1b[2K.md"
    root = write_bundle(tmp_path / "b", [{"id": "D1", "process": "OSP-3", "kind": "documentation",
                                          "path": name}], files={name: "v1\n"})
    report = tmp_path / "r.json"
    assert CliRunner().invoke(main, ["evaluate", str(root), "-f", "json", "-o",
                                     str(report)]).exit_code == 0
    (root / name).write_text("v2\n")
    out = CliRunner().invoke(main, ["verify", str(report), str(root)])
    assert out.exit_code == 1, out.output
    assert [line for line in out.output.splitlines() if "MATCH" in line] == [
        "  changed   docs/x\\nMATCH: the report matches (99 inputs unchanged)\\x1b[2K.md: "
        "sha256 " + out.output.split("sha256 ")[1].split("\n")[0],
        "MISMATCH: 1 input(s) differ from what the report was computed from"]
    doc = json.loads(report.read_text())   # an edited report is input too
    doc["organization"]["name"] = f"x{FORGED}\x1b[2J"
    doc["tool"]["version"] = BIDI
    report.write_text(json.dumps(doc))
    out = CliRunner().invoke(main, ["verify", str(report), str(root)])
    assert _raw_invisible(out.output) == []
    _no_forged_line(out.output)


def test_batch_table_and_csv_are_inert(tmp_path: Path) -> None:
    """Issue 11: the batch table and `batch -f csv` wrote escapes and formulas raw."""
    folder = tmp_path / "many"
    write_bundle(folder / "a", [], org_id="alpha")
    manifest = folder / "a" / "bundle.yaml"
    manifest.write_text(manifest.read_text().replace("name: alpha Ltd",
                                                     "name: \"=cmd|' /C calc'!A0\\e[2J\""))
    broken = folder / f"b\x1b[31m{FORGED}"
    broken.mkdir()
    (broken / "bundle.yaml").write_text("schema: ism3-evidence/1\norganization: {id: x, name: "
                                        "\"@SUM(1)\\u202e\"}\nevidence: oops\n")
    for fmt in ("table", "csv", "json"):
        result = CliRunner().invoke(main, ["batch", str(folder), "-f", fmt, "-j", "1", "-q"])
        assert result.exit_code == 2, result.output
        assert _raw_invisible(result.output) == [], fmt
        _no_forged_line(result.output)
        if fmt == "csv":
            cells = [c for row in csv.reader(io.StringIO(result.output)) for c in row]
            assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
            assert any(c.startswith("'=cmd") for c in cells)


def test_the_gap_snippet_cannot_be_broken_out_of(tmp_path: Path) -> None:
    """Issue 11: a newline in an item id broke out of the YAML comment of the snippet and
    injected an item. Ids now refuse it; the snippet neutralises whatever reaches it."""
    from ism3rules.catalogue import load_catalogue
    from ism3rules.gap import evidence_snippet

    evil = f"X{FORGED}\n  - id: INJECTED\n    process: OSP-3\n    kind: documentation\u2028#"
    document = {"evidence": [{"id": evil, "path": f"p{FORGED}"}]}
    step = {"process": "OSP-3", "name": f"n{FORGED}", "from": "none", "to": "initial",
            "rationale": "r\r\n- id: ALSO\u0085x", "excludable": True, "missing": ["documentation"],
            "add": [{"kind": "documentation"}], "reachable": True,
            "not_counted": [{"id": evil, "reason": f"file missing ('{evil}')"}]}
    text = evidence_snippet(document, {"id": f"p{FORGED}"}, 1, "L\n- id: Z", [step],
                            load_catalogue())
    import yaml as _yaml

    items = _yaml.safe_load("evidence:\n" + text)["evidence"]
    assert [i["id"] for i in items] == ["DOC-OSP3"]   # exactly the item shown, nothing else
    assert "INJECTED" not in [i.get("id") for i in items]
    assert all(line.startswith(("#", "  #", "  - ", "    ")) or not line
               for line in text.splitlines())
    bundle = write_bundle(tmp_path / "b", [{"id": "D1", "process": "OSP-3",
                                            "kind": "documentation", "path": f"d{FORGED}.md"}])
    plan = CliRunner().invoke(main, ["gap", str(bundle), "-p", "small-business"])
    assert plan.exit_code == 0 and _raw_invisible(plan.output) == []
    snippet = plan.output[plan.output.index("# Evidence to add"):]
    assert all(i["id"] != "D1" for i in _yaml.safe_load("evidence:\n" + snippet)["evidence"])
