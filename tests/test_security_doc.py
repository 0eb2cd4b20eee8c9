"""SECURITY.md links each guarantee to the tests that prove it: those tests must exist."""

from __future__ import annotations

import ast
import re

from conftest import ROOT

NAMED = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def _tests_of(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text())
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_named_in_security_md_exists() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    named = NAMED.findall(text)
    assert len(named) > 40   # the page does name its proofs
    missing = [f"{path}::{name}" for path, name in named
               if not (ROOT / path).is_file() or (name and name not in _tests_of(path))]
    assert missing == []


def test_every_guarantee_names_a_proof() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    guarantees = text.split("## What the tool guarantees")[1].split("\n## ")[0]
    for section in guarantees.split("\n### ")[1:]:
        assert "Proved by" in section, section.splitlines()[0]


# -- the section on input files that are not bundles: its promises are the code's --------

def _section(title: str) -> str:
    text = (ROOT / "SECURITY.md").read_text()
    return text.split(f"### {title}")[1].split("\n### ")[0]


def _limit_rows() -> dict[str, list[str]]:
    text = (ROOT / "SECURITY.md").read_text()
    table = text.split("\n## Limits")[1].split("\n### ")[0]
    return {cells[0]: cells[1:] for cells in
            ([c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()
             if line.startswith("| ") and not line.startswith("| limit"))}


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


def test_the_input_file_section_names_every_kind_and_its_flag() -> None:
    """Each kind of input file the one reader knows is in the section, and the limit flag
    of each is in the limits table: a new kind cannot go undocumented."""
    from ism3rules import inputfiles

    section = _section("Every other input file is read as carefully as a bundle")
    flags = " ".join(" ".join(cells) for cells in _limit_rows().values())
    kinds = [v for v in vars(inputfiles).values() if isinstance(v, inputfiles.Kind)]
    assert len(kinds) >= 10
    for kind in kinds:
        assert kind.name.split()[0] in section, kind.name
        if kind.flag:
            assert f"`{kind.flag}`" in flags, kind.flag


def test_the_input_file_limits_in_security_md_are_the_codes() -> None:
    from ism3rules import batch, inputfiles
    from ism3rules.formats import html
    from ism3rules.limits import Limits

    limits = Limits()
    expected = {
        "review file size": _size(limits.max_review_bytes),
        "template size": _size(limits.max_template_bytes),
        "signature size": _size(limits.max_signature_bytes),
        "batch summary size": _size(batch.MAX_SUMMARY_BYTES),
        "report size, elsewhere": f"{_size(limits.max_report_bytes)}, "
                                  f"{limits.max_report_depth} levels",
        "key size": _size(inputfiles.MAX_KEY_BYTES),
        "profile or rule file size": _size(inputfiles.MAX_CONFIG_BYTES),
        "rule files": f"{inputfiles.MAX_RULE_FILES:,}",
        "JSON nesting": f"{inputfiles.MAX_JSON_DEPTH} levels",
        "template steps": f"{html.MAX_TEMPLATE_STEPS:,}",
        "template memory": _size(html.MAX_TEMPLATE_MEMORY),
        "template text": f"{html.MAX_TEMPLATE_TEXT // 1024 ** 2} Mi items",
        "template powers": f"{html.MAX_POWER_BITS:,} bits",
        "template nesting": f"{html.MAX_TEMPLATE_NESTING} levels",
    }
    rows = _limit_rows()
    assert {label: rows.get(label, ["(missing)"])[0] for label in expected} == expected
    section = _section("Every other input file is read as carefully as a bundle")
    assert f"{html.MAX_TEMPLATE_STEPS:,} steps" in section
    assert f"at most {html.MAX_TEMPLATE_NESTING}\n  levels deep" in section \
        or f"at most {html.MAX_TEMPLATE_NESTING} levels deep" in section


def test_every_input_file_flag_is_on_the_commands_the_table_names() -> None:
    from click.testing import CliRunner

    from cli import main

    rows = _limit_rows()
    checked = 0
    for label in ("review file size", "template size", "signature size",
                  "batch summary size", "report size, elsewhere"):
        cell = rows[label][1]
        flags = re.findall(r"`(--[\w-]+)`", cell.split("(")[0])
        commands = re.findall(r"`([a-z][a-z ]*?)(?: -f html)?`", cell.split("(", 1)[1])
        assert flags and commands, cell
        for command in commands:
            result = CliRunner().invoke(main, [*command.split(), "--help"],
                                        env={"COLUMNS": "200"})
            assert result.exit_code == 0, (command, result.output)
            for flag in flags:
                assert flag in result.output, (command, flag)
                checked += 1
    assert checked >= 12
