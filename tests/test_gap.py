"""Gap analysis, remediation plans and comparisons, checked by hand calculation.

Harbor Family Clinic (evidence/harbor-clinic), read by hand from its bundle.yaml:
OSP-3, OSP-12, OSP-17 documented only (initial); OSP-5 documented with the four
managed metric types (managed); OSP-10 documented with activity, scope and
unavailability, its effectiveness metric MET-OSP10-EFF empty (initial); OSP-11's
only document DOC-OSP11 fails its hash (none). Everything else: none.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from conftest import ROOT
from ism3rules.api import evaluate_bundle
from ism3rules.gap import compare, plan

HARBOR = ROOT / "evidence" / "harbor-clinic"
NORTHWIND = ROOT / "evidence" / "northwind"
DOC11 = {"id": "DOC-OSP11",
         "reason": f"hash mismatch (declared {'5e1f' * 16}, file has "
                   "0f8d2c25322110fb92b0b44c4810d56e8c7727f92c8379bff52996142cca32f6)"}
EFF10 = {"id": "MET-OSP10-EFF", "reason": "no observations"}
ACT12 = {"id": "MET-OSP12-ACT", "reason": "reported in 2 of 6 monthly periods: coverage "
         "0.333333 <= 0.8 required by rule EVD-METRIC-CADENCE"}
MANAGED = ["activity", "scope", "unavailability", "effectiveness"]


def invoke(args: list[str], code: int = 0) -> Any:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def harbor() -> dict[str, Any]:
    return evaluate_bundle(HARBOR)


def _profile(doc: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(p for p in doc["profiles"] if p["id"] == pid)


def _gaps(level: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(g["process"], g["actual"], g["required"], g["missing"], g["not_counted"])
            for g in level["gaps"]]


def test_small_business_gaps_for_every_level_above_the_achieved_one(harbor: dict) -> None:
    small = _profile(harbor, "small-business")
    assert small["achieved_level"] == 1
    assert small["levels"][0]["gaps"] == []
    # level 2, cumulative: OSP-3, 5, 10 (managed), 17, 11, 12, 24, 16
    assert _gaps(small["levels"][1]) == [
        ("OSP-10", "initial", "managed", ["effectiveness"], [EFF10]),
        ("OSP-11", "none", "initial", ["documentation"], [DOC11]),
        ("OSP-24", "none", "initial", ["documentation"], []),
        ("OSP-16", "none", "initial", ["documentation"], []),
    ]
    # level 3 raises OSP-3, 11, 12, 17 to managed, OSP-5/OSP-10 to defined, adds OSP-7,
    # OSP-15, TSP-11 and OSP-1; levels 1-2 still count (profile order of first mention)
    assert _gaps(small["levels"][2]) == [
        ("OSP-3", "initial", "managed", MANAGED, []),
        ("OSP-5", "managed", "defined", ["load"], []),
        ("OSP-10", "initial", "defined", ["effectiveness", "load"], [EFF10]),
        ("OSP-17", "initial", "managed", MANAGED, []),
        ("OSP-11", "none", "managed", ["documentation", *MANAGED], [DOC11]),
        ("OSP-12", "initial", "managed", MANAGED, [ACT12]),
        ("OSP-24", "none", "initial", ["documentation"], []),
        ("OSP-16", "none", "initial", ["documentation"], []),
        ("OSP-7", "none", "initial", ["documentation"], []),
        ("OSP-15", "none", "initial", ["documentation"], []),
        ("TSP-11", "none", "initial", ["documentation"], []),
        ("OSP-1", "none", "initial", ["documentation"], []),
    ]


@pytest.mark.parametrize("bundle", [HARBOR, NORTHWIND], ids=["harbor", "northwind"])
def test_gap_lists_always_agree_with_the_achieved_level(bundle: Path) -> None:
    doc = evaluate_bundle(bundle)
    for prof in doc["profiles"]:
        previous: set[str] = set()
        for lvl in prof["levels"]:
            assert lvl["met"] == (not lvl["gaps"])                  # no gaps <=> met
            assert lvl["met"] == (lvl["level"] <= prof["achieved_level"])
            assert [r["process"] for r in lvl["requirements"] if r["status"] == "gap"] == [
                g["process"] for g in lvl["gaps"]]
            gaps = {g["process"] for g in lvl["gaps"]}
            assert previous <= gaps                                  # gaps are cumulative
            previous = gaps
            for gap in lvl["gaps"]:
                assert gap["missing"], gap                          # says what would close it


def test_default_plan_is_the_next_level_cheapest_first(harbor: dict) -> None:
    result = plan(harbor, "small-business")
    assert result["target"] == {"level": 2, "name": "Measured essentials", "met": False}
    # every step costs one item; ties in catalogue order (OSP-16 and OSP-11 before OSP-10)
    assert [(s["process"], s["from"], s["to"], s["cost"]) for s in result["steps"]] == [
        ("OSP-16", "none", "initial", 1), ("OSP-11", "none", "initial", 1),
        ("OSP-10", "initial", "managed", 1), ("OSP-24", "none", "initial", 1)]
    assert result["evidence_to_add"] == 4


def test_plan_to_level_3_orders_by_missing_items(harbor: dict) -> None:
    result = plan(harbor, "small-business", 3)
    assert [(s["process"], s["cost"]) for s in result["steps"]] == [
        ("TSP-11", 1), ("OSP-1", 1), ("OSP-5", 1), ("OSP-7", 1), ("OSP-16", 1),  # catalogue
        ("OSP-15", 1), ("OSP-24", 1), ("OSP-10", 2), ("OSP-3", 4), ("OSP-17", 4),  # order
        ("OSP-12", 4), ("OSP-11", 5)]
    assert result["evidence_to_add"] == 26


def test_plan_for_a_met_level_is_empty(harbor: dict) -> None:
    result = plan(harbor, "small-business", 1)
    assert result["target"]["met"] is True and result["steps"] == []
    assert "Nothing to add" in result["snippet"]


def _fill(root: Path, items: list[dict[str, Any]], day: str) -> None:
    """Create the file every placeholder item names (a metric gets one observation)."""
    for item in items:
        target = root / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("date,value\n" + f"{day},1\n" if item["kind"] == "metric"
                          else f"# {item['process']} procedure\n")


def test_snippet_is_valid_evidence_that_reaches_the_target(harbor: dict, tmp_path: Path) -> None:
    result = plan(harbor, "small-business", 3)
    items = yaml.safe_load("evidence:\n" + result["snippet"])["evidence"]
    # ids never collide with the bundle's: DOC-OSP11 exists (rejected), so DOC-OSP11-2
    assert [i["id"] for i in items][:4] == ["DOC-TSP11", "DOC-OSP1", "MET-OSP5-LOAD",
                                            "DOC-OSP7"]
    assert "DOC-OSP11-2" in [i["id"] for i in items]
    assert len(items) == result["evidence_to_add"]
    root = tmp_path / "harbor"
    shutil.copytree(HARBOR, root)
    manifest = root / "bundle.yaml"
    # as a user fills it in: the files created, the TODO titles replaced (an item still
    # titled TODO is a placeholder, which does not count)
    manifest.write_text(manifest.read_text() + result["snippet"].replace('title: "TODO: ',
                                                                         'title: "'))
    _fill(root, items, "2026-05-01")
    after = evaluate_bundle(root, ["small-business"])
    assert after["profiles"][0]["achieved_level"] == 3
    assert len(after["evidence"]) == 19 + 26   # harbor has 19 items since issue 3


def test_compare_matrix_and_shared_fixes(harbor: dict) -> None:
    result = compare(harbor)
    assert [(p["id"], p["achieved_level"], p["next_level"], p["gaps"])
            for p in result["profiles"]] == [
        ("cloud-saas", 0, 1, 3), ("ism3-derived", 0, 1, 1), ("small-business", 1, 2, 4)]
    rows = {r["process"]: (r["capability"], r["required"], r["status"])
            for r in result["processes"]}
    assert list(rows) == ["OSP-3", "OSP-4", "OSP-5", "OSP-16", "OSP-17", "OSP-11", "OSP-12",
                          "OSP-10", "OSP-24"]   # catalogue order
    assert rows["OSP-10"] == ("initial", {"cloud-saas": "initial", "ism3-derived": "initial",
                                          "small-business": "managed"},
                              {"cloud-saas": "met", "ism3-derived": "met",
                               "small-business": "gap"})
    assert rows["OSP-4"][1] == {"cloud-saas": "initial", "ism3-derived": None,
                                "small-business": None}
    fixes = [(f["process"], f["to"], f["closes"], f["advances"]) for f in result["shared_fixes"]]
    assert fixes == [
        ("OSP-11", "initial", ["cloud-saas", "ism3-derived", "small-business"], ["ism3-derived"]),
        ("OSP-16", "initial", ["cloud-saas", "small-business"], []),
        ("OSP-4", "initial", ["cloud-saas"], []),
        ("OSP-10", "managed", ["small-business"], []),
        ("OSP-24", "initial", ["small-business"], []),
    ]


def test_a_higher_fix_closes_lower_requirements_too(tmp_path: Path) -> None:
    """Two profiles need OSP-3 at different capabilities: the higher fix closes both."""
    for pid, cap in (("low", "initial"), ("high", "managed")):
        (tmp_path / f"{pid}.yaml").write_text(
            f"schema: ism3-profile/1\nid: {pid}\nname: {pid}\nsource: custom\nlevels:\n"
            f"  - {{level: 1, name: One, requires: {{OSP-3: {cap}}}}}\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bundle.yaml").write_text(
        "schema: ism3-evidence/1\norganization: {id: x, name: X}\nevidence: []\n")
    doc = evaluate_bundle(tmp_path / "b", [str(tmp_path / "low.yaml"),
                                           str(tmp_path / "high.yaml")])
    fixes = [(f["to"], f["closes"], f["advances"], f["cost"])
             for f in compare(doc)["shared_fixes"]]
    assert fixes == [("managed", ["low", "high"], ["low", "high"], 5),
                     ("initial", ["low"], ["low"], 1)]


# -- the commands ---------------------------------------------------------------

def test_gap_command_table_and_json() -> None:
    out = invoke(["gap", str(HARBOR), "-p", "small-business"]).output
    assert "Target: level 2 (Measured essentials)" in out
    assert "4 process(es) to raise, 4 evidence item(s) to add, cheapest first" in out
    assert "  - id: MET-OSP10-EFFECTIVENESS" in out
    doc = json.loads(invoke(["gap", str(HARBOR), "-p", "small-business", "--level", "3",
                             "-f", "json"]).output)
    assert doc["schema"] == "ism3-plan/1" and doc["target"]["level"] == 3
    assert invoke(["gap", str(HARBOR), "-p", "small-business", "-f", "json"]).output == \
        invoke(["gap", str(HARBOR), "-p", "small-business", "-f", "json"]).output


@pytest.mark.parametrize("args, message", [
    (["-p", "small-business", "--level", "4"], "profile 'small-business' has levels 1..3"),
    (["-p", "small-busines"], "did you mean 'small-business'"),
    (["--level", "2"], "Missing option '--profile'"),
    (["-p", "small-business", "--level", "0"], "Invalid value for '--level'"),
])
def test_gap_command_usage_errors(args: list[str], message: str) -> None:
    assert message in invoke(["gap", str(HARBOR), *args], code=2).output


def test_compare_command() -> None:
    out = invoke(["compare", str(HARBOR)]).output
    assert "Profiles side by side" in out and "Shared fixes" in out
    assert "OSP-10   initial  initial        initial        managed (gap)" in out
    doc = json.loads(invoke(["compare", str(HARBOR), "-p", "small-business", "-p",
                             "cloud-saas", "-f", "json"]).output)
    assert [p["id"] for p in doc["profiles"]] == ["small-business", "cloud-saas"]


def test_evaluate_with_several_profiles_shows_them_side_by_side() -> None:
    out = invoke(["evaluate", str(HARBOR)]).output
    assert "Profiles side by side" in out and "Shared fixes (most profiles first)" in out
    single = invoke(["evaluate", str(HARBOR), "-p", "small-business"]).output
    assert "side by side" not in single


def _readme_block(command: str) -> str:
    readme = (ROOT / "docs" / "profiles.md").read_text()
    start = readme.index(f"$ {command}\n") + len(command) + 3
    return readme[start:readme.index("```", start)]


def test_readme_shows_real_output() -> None:
    """The documented gap analysis and comparison are what the commands print."""
    import os

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        compared = invoke(["compare", "evidence/harbor-clinic"]).output
        planned = invoke(["gap", "evidence/harbor-clinic", "--profile", "small-business"]).output
    finally:
        os.chdir(cwd)
    assert _readme_block("ism3 compare evidence/harbor-clinic") == compared
    shown = _readme_block("ism3 gap evidence/harbor-clinic --profile small-business")
    assert shown.endswith("  ...\n")
    assert planned.startswith(shown[: -len("  ...\n")])


@pytest.mark.parametrize("command", ["gap", "compare", "init"])
def test_help_for_the_new_commands(command: str) -> None:
    assert "Usage:" in invoke([command, "--help"]).output
