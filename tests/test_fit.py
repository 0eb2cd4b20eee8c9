"""formats.fit: tables and text fitted to a width, wrapped at spaces only."""

from __future__ import annotations

import random

import pytest

from ism3rules.formats.fit import fit_lines, fit_table

WORDS = ["OSP-10", "MET-OSP5-SCOPE", "bundle.yaml:14", "a", "backup", "management",
         "documentation;", "0f8d2c25322110fb92b0b44c4810d56e8c7727f92c8379bff52996142cca32f6",
         "initial->managed", "(needs", "effectiveness)", "[DOC-OSP11", "rejected]"]


def _floor(rows: list[list[str]], headers: list[str]) -> int:
    """The narrowest a table can be without splitting a word: the longest word of each column."""
    columns = list(zip(headers, *rows, strict=True))
    # the first column's continuation lines are indented by two (`_first_column`)
    hang = 2 if any(len(row[0].split()) > 1 for row in rows) else 0
    return sum(max(len(w) for cell in col for w in cell.split()) for col in columns) \
        + 2 * (len(headers) - 1) + hang


@pytest.mark.parametrize("seed", range(40))
def test_a_table_fits_unless_its_words_cannot_and_keeps_every_word(seed: int) -> None:
    rng = random.Random(seed)
    headers = [f"column {i}" for i in range(rng.randint(1, 6))]
    rows = [[" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))) for _ in headers]
            for _ in range(rng.randint(1, 8))]
    width = rng.randint(20, 160)
    out = fit_table(rows, headers, width, text_columns=[0, len(headers) - 1])
    widest = max(len(line) for line in out.splitlines())
    assert widest <= max(width, _floor(rows, headers))
    words = [w for line in out.splitlines() for w in line.split() if w.strip("-")]
    expected = [w for cell in [*headers, *(c for r in rows for c in r)] for w in cell.split()]
    assert sorted(words) == sorted(expected)   # nothing lost, nothing split


def test_identifiers_are_never_split_at_hyphens() -> None:
    out = fit_table([["MET-OSP5-SCOPE MET-OSP5-ACTIVITY MET-OSP5-LOAD"]], ["items"], 20)
    # continuations of a first column hang by two: only a row's first line starts at the margin
    assert out.splitlines()[2:] == ["MET-OSP5-SCOPE", "  MET-OSP5-ACTIVITY", "  MET-OSP5-LOAD"]


def test_cells_are_inert_one_line_text_unless_multiline() -> None:
    out = fit_table([["a\x1b[2Jb\nc", "x\ny"]], ["one", "two"], 80, multiline=[1])
    assert "\x1b" not in out   # shown as its escape, never raw
    assert [line.rstrip() for line in out.splitlines()[2:]] == ["a\\x1b[2Jb c  x", " " * 13 + "y"]


def test_section_headings_go_above_their_rows() -> None:
    out = fit_table([["OSP-1", "x"], ["OSP-10", "a long text " * 5]], ["id", "text"], 30,
                    text_columns=[1], sections={1: "operational processes: Availability Control"})
    lines = out.splitlines()
    assert lines[3] == "operational processes: Availability Control"
    assert lines[4].startswith("OSP-10")
    assert lines[2].startswith("OSP-1 ")


def test_prose_is_wrapped_with_a_hanging_indent() -> None:
    sha = "0f8d2c25322110fb92b0b44c4810d56e8c7727f92c8379bff52996142cca32f6"
    lines = fit_lines([f"  - DOC-OSP10: documentation, docs/osp-10-procedure.md, sha256 {sha}"],
                      50)
    assert lines == ["  - DOC-OSP10: documentation,", "    docs/osp-10-procedure.md, sha256",
                     f"    {sha}"]
