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
from conftest import write_bundle

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
