"""Rule cases as data: tests/cases/*.yaml, one parametrized test per named case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT
from ism3rules.assessment import assess
from ism3rules.evidence import load_bundle
from ism3rules.profiles import load_profile_file
from ism3rules.rules import load_rulebook

CASES_DIR = Path(__file__).parent / "cases"
CASE_FILES = sorted(CASES_DIR.glob("*.yaml"))


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((CASES_DIR / name).read_text())


def _cases(name: str) -> list[Any]:
    data = _load(name)
    return [pytest.param(case, id=case["name"]) for case in data["cases"]]


def _bundle(tmp_path: Path, evidence: dict[str, list[str]], documented: set[str]) -> Path:
    items: list[dict[str, Any]] = []
    root = tmp_path / "bundle"
    (root / "docs").mkdir(parents=True)
    for process, types in evidence.items():
        if process in documented:
            (root / "docs" / f"{process}.md").write_text(f"# {process} procedure\n")
            items.append({"id": f"DOC-{process}", "process": process, "kind": "documentation",
                          "path": f"docs/{process}.md"})
        for mtype in types:
            items.append({"id": f"MET-{process}-{mtype}", "process": process, "kind": "metric",
                          "metric_type": mtype,
                          "observations": [{"date": "2026-03-01", "value": 1}]})
    (root / "bundle.yaml").write_text(yaml.safe_dump(
        {"schema": "ism3-evidence/1", "organization": {"id": "case", "name": "Case"},
         "evidence": items}))
    return root


@pytest.mark.parametrize("case", _cases("capability.yaml"))
def test_capability_case(case: dict[str, Any], tmp_path: Path) -> None:
    documented = {"OSP-3"} if case["documentation"] else set()
    root = _bundle(tmp_path, {"OSP-3": case["metrics"]}, documented)
    result = assess(load_bundle(root), [], load_rulebook())
    proc = next(p for p in result.processes if p.id == "OSP-3")
    expect = case["expect"]
    assert proc.capability == expect["capability"]
    if "rules" in expect:
        assert list(proc.rules) == expect["rules"]
    if "practices" in expect:
        assert list(proc.practices) == expect["practices"]
    if "missing" in expect:
        assert proc.next is not None
        assert list(proc.next.missing) == expect["missing"]
    # every other process has no evidence and so no capability
    assert all(p.capability == "none" for p in result.processes if p.id != "OSP-3")


@pytest.mark.parametrize("case", _cases("maturity.yaml"))
def test_maturity_case(case: dict[str, Any], tmp_path: Path) -> None:
    profile_path = tmp_path / "profile.yaml"
    profile_path.write_text(yaml.safe_dump(_load("maturity.yaml")["profile"]))
    evidence = case["evidence"]
    root = _bundle(tmp_path, evidence, set(evidence))
    result = assess(load_bundle(root), [load_profile_file(profile_path)], load_rulebook())
    prof = result.profiles[0]
    expect = case["expect"]
    assert prof.achieved_level == expect["achieved_level"]
    assert [lvl.met for lvl in prof.levels] == expect["met"]
    fired = sorted({r.rule for lvl in prof.levels for r in lvl.requirements if r.rule})
    assert fired == expect["rules"]
    if "gaps_at_3" in expect:
        assert [g.process for g in prof.levels[2].gaps] == expect["gaps_at_3"]
    # a level with no gaps is met, and only such a level
    for lvl in prof.levels:
        assert lvl.met == (not lvl.gaps)


def test_every_rule_file_has_cases_and_every_rule_is_exercised() -> None:
    book = load_rulebook()
    covered_files = {_load(p.name)["rules_file"] for p in CASE_FILES}
    assert covered_files == {f.path.name for f in book.files}
    named: set[str] = set()
    for path in CASE_FILES:
        for case in _load(path.name)["cases"]:
            named |= set(case["expect"].get("rules", []))
    assert {r.id for r in book.rules} <= named


def test_readme_rule_table_is_the_rules_command_output() -> None:
    """One source: the README's table is what `ism3 rules --format markdown` prints."""
    from click.testing import CliRunner

    from cli import main

    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n", readme.index("<!-- rules-table:start")) + 1
    table = readme[start:readme.index("<!-- rules-table:end")]
    result = CliRunner().invoke(main, ["rules", "--format", "markdown"])
    assert result.exit_code == 0
    assert table == result.output, "regenerate the README table with `ism3 rules -f markdown`"
    for rule in load_rulebook().rules:
        assert f"| {rule.id} " in table
