"""Statement of applicability: exclusion items, profiles' mandatory processes, expiry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from conftest import ROOT
from ism3rules.api import evaluate_bundle
from ism3rules.assessment import compile_rulebook, item_fact, requirement_facts
from ism3rules.errors import EvidenceError, ProfileError
from ism3rules.evidence import load_bundle
from ism3rules.profiles import load_profile_file
from ism3rules.rules import load_rulebook

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "scope.yaml").read_text())


def _bundle(root: Path, documented: list[str], exclusions: list[dict[str, Any]],
            as_of: str | None = None) -> Path:
    (root / "docs").mkdir(parents=True)
    items: list[dict[str, Any]] = []
    for process in documented:
        (root / "docs" / f"{process}.md").write_text(f"# {process}\n")
        items.append({"id": f"DOC-{process}", "process": process, "kind": "documentation",
                      "path": f"docs/{process}.md"})
    for n, exc in enumerate(exclusions, start=1):
        items.append({"id": f"EXC-{n}", "kind": "exclusion", "justification": "not run here",
                      "approver": "CISO", **exc})
    doc: dict[str, Any] = {"schema": "ism3-evidence/1",
                           "organization": {"id": "soa", "name": "SoA Ltd"}}
    if as_of:
        doc["assessment"] = {"as_of": as_of}
    doc["evidence"] = items
    (root / "bundle.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


def _profile(path: Path, mandatory: list[str]) -> Path:
    profile = dict(CASES["profile"])
    if mandatory:
        profile["mandatory"] = mandatory
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in CASES["cases"]])
def test_scope_case(case: dict[str, Any], tmp_path: Path) -> None:
    root = _bundle(tmp_path / "b", case.get("documented", ["OSP-3"]), case["exclusions"],
                   str(case["as_of"]) if "as_of" in case else None)
    profile = load_profile_file(_profile(tmp_path / "p.yaml", case.get("mandatory", [])))
    bundle = load_bundle(root)
    from ism3rules.assessment import assess

    result = assess(bundle, [profile], load_rulebook()).profiles[0]
    expect = case["expect"]
    assert result.achieved_level == expect["achieved_level"]
    for level, key in ((0, "status"), (1, "status_2")):
        status = {r.process: r.status for r in result.levels[level].requirements}
        for process, wanted in expect.get(key, {}).items():
            assert status[process] == wanted, (level + 1, process)
    # the rules that fired on this bundle's facts, straight from the engine
    facts = [item_fact(i, bundle.judged_at) for i in bundle.items if i.accepted]
    facts = [{**f, "review": "none"} if f["t"] == "exclusion" else f for f in facts]  # no review
    facts = list({f["id"]: f for f in facts + requirement_facts(profile)}.values())
    fired = {f.rule_id for f in compile_rulebook(load_rulebook()).run(facts)} - {
        "CAP-INITIAL", "CAP-MANAGED", "CAP-DEFINED", "CAP-CONTROLLED", "CAP-OPTIMIZED"}
    assert fired == set(expect["rules"])
    for process, reason in expect.get("refused", {}).items():
        gap = next(g for g in result.levels[0].gaps if g.process == process)
        assert reason in [n.reason for n in gap.not_counted]
    for lvl in result.levels:  # a level with no gaps is met, and only such a level
        assert lvl.met == (not lvl.gaps)
        assert all(r.status != "gap" for r in lvl.requirements) == lvl.met


def test_excluded_is_never_reported_as_met(tmp_path: Path) -> None:
    root = _bundle(tmp_path / "b", ["OSP-3"], [{"process": "OSP-24"}])
    doc = evaluate_bundle(root, [str(_profile(tmp_path / "p.yaml", []))])
    req = next(r for r in doc["profiles"][0]["levels"][0]["requirements"]
               if r["process"] == "OSP-24")
    assert req == {"process": "OSP-24", "required": "initial", "actual": "none", "met": False,
                   "rule": "MAT-REQUIREMENT-EXCLUDED", "status": "excluded",
                   "excluded_by": "EXC-1"}
    assert doc["profiles"][0]["levels"][0]["met"] is True
    assert doc["processes"]["OSP-24"]["capability"] == "none"
    # every item once, the exclusion with its justification and approver
    assert [e["id"] for e in doc["evidence"]] == ["DOC-OSP-3", "EXC-1"]
    assert doc["evidence"][1] == {"id": "EXC-1", "status": "accepted", "process": "OSP-24",
                                  "kind": "exclusion", "line": 10,
                                  "justification": "not run here", "approver": "CISO",
                                  "expires": None}


def test_expired_exclusion_is_a_rejected_item_with_its_reason(tmp_path: Path) -> None:
    root = _bundle(tmp_path / "b", [], [{"process": "OSP-24", "expires": "2026-01-31"}],
                   as_of="2026-03-01")
    doc = evaluate_bundle(root, [str(_profile(tmp_path / "p.yaml", []))])
    assert doc["evidence"][0]["status"] == "rejected"
    assert doc["evidence"][0]["reason"] == ("exclusion expired on 2026-01-31 "
                                            "(assessment date 2026-03-01)")
    assert doc["processes"]["OSP-24"]["rejected_evidence"] == ["EXC-1"]


def test_period_end_is_the_assessment_date_when_as_of_is_absent(tmp_path: Path) -> None:
    root = _bundle(tmp_path / "b", ["OSP-3"], [{"process": "OSP-24", "expires": "2026-06-30"}])
    text = (root / "bundle.yaml").read_text().replace(
        "evidence:", "assessment:\n  period: {start: 2026-01-01, end: 2026-06-30}\nevidence:")
    (root / "bundle.yaml").write_text(text)
    bundle = load_bundle(root)
    assert str(bundle.judged_at) == "2026-06-30"
    doc = evaluate_bundle(root, [str(_profile(tmp_path / "p.yaml", []))])
    assert doc["profiles"][0]["achieved_level"] == 2


HEAD = "schema: ism3-evidence/1\norganization: {id: a, name: A}\n"


@pytest.mark.parametrize("evidence, match", [
    ("  - {id: X1, process: OSP-24, kind: exclusion, approver: CISO}\n",
     r"bundle.yaml:4: item X1: an exclusion needs 'justification'"),
    ("  - {id: X1, process: OSP-24, kind: exclusion, approver: CISO, justification: '  '}\n",
     r"bundle.yaml:4: item X1: an exclusion needs 'justification'"),
    ("  - {id: X1, process: OSP-24, kind: exclusion, justification: outsourced}\n",
     r"bundle.yaml:4: item X1: an exclusion needs 'approver'"),
    ("  - {id: X1, process: OSP-13, kind: exclusion, justification: x, approver: y}\n",
     r"bundle.yaml:4: item X1: unknown process 'OSP-13'"),
    ("  - {id: X1, process: OSP-24, kind: exclusion, justification: x, approver: y,\n"
     "     expires: 2026-02-30}\n",
     r"bundle.yaml:\d: item X1: 'expires': '2026-02-30' is not a valid date"),
    ("  - {id: X1, process: OSP-24, kind: exclusion, justification: x, approver: y,\n"
     "     expires: 2026-12-31}\n",
     r"bundle.yaml:5: item X1: this exclusion expires, but the bundle gives no date"),
    ("  - {id: X1, process: OSP-24, kind: exclusion, justification: x, approver: y, path: a}\n",
     r"item X1: unknown key 'path' for a exclusion item"),
])
def test_bad_exclusions_are_input_errors(tmp_path: Path, evidence: str, match: str) -> None:
    (tmp_path / "bundle.yaml").write_text(HEAD + "evidence:\n" + evidence)
    with pytest.raises(EvidenceError, match=match):
        load_bundle(tmp_path)
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("mandatory, match", [
    ("[OSP-99]", r"p.yaml:\d+: mandatory: unknown process 'OSP-99'"),
    ("[OSP-3, OSP-3]", r"mandatory: 'OSP-3' is listed twice"),
    ("OSP-3", r"'mandatory' must be a list of process ids"),
])
def test_bad_mandatory_lists_are_profile_errors(tmp_path: Path, mandatory: str,
                                                match: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("schema: ism3-profile/1\nid: p\nname: P\nsource: custom\n"
                    f"mandatory: {mandatory}\nlevels:\n  - {{level: 1, name: One, "
                    "requires: {OSP-3: initial}}\n")
    with pytest.raises(ProfileError, match=match):
        load_profile_file(path)


def test_shipped_profiles_keep_their_meaning_for_v1_bundles() -> None:
    """A bundle without exclusions reads as before: no requirement is excluded."""
    doc = json.loads(CliRunner().invoke(main, ["evaluate", str(ROOT / "evidence" / "northwind"),
                                               "-f", "json"]).output)
    statuses = {r["status"] for p in doc["profiles"] for lvl in p["levels"]
                for r in lvl["requirements"]}
    assert statuses == {"met", "gap"}
    for prof in doc["profiles"]:
        for lvl in prof["levels"]:
            assert all(r["met"] == (r["status"] == "met") for r in lvl["requirements"])


def test_excluding_a_mandatory_process_on_the_clinic_sample(tmp_path: Path) -> None:
    """Harbor clinic excludes OSP-11 (access control run by its EHR vendor).

    By hand: ism3-derived level 1 lacked only OSP-11, so it is now achieved; level 2
    needs OSP-3, 5, 10, 11 managed etc. and stays a gap. cloud-saas makes OSP-11
    mandatory: its level 1 keeps the OSP-11 gap, with the reason, next to OSP-4 and
    OSP-16.
    """
    import shutil

    root = tmp_path / "harbor"
    shutil.copytree(ROOT / "evidence" / "harbor-clinic", root)
    with (root / "bundle.yaml").open("a") as handle:
        handle.write("  - id: EXC-OSP11\n    process: OSP-11\n    kind: exclusion\n"
                     "    justification: Access control is run by the EHR vendor.\n"
                     "    approver: Clinic director\n    expires: 2026-12-31\n")
    doc = evaluate_bundle(root)
    levels = {p["id"]: p["achieved_level"] for p in doc["profiles"]}
    assert levels == {"cloud-saas": 0, "ism3-derived": 1, "small-business": 1}
    cloud = next(p for p in doc["profiles"] if p["id"] == "cloud-saas")
    gaps = {g["process"]: g for g in cloud["levels"][0]["gaps"]}
    assert list(gaps) == ["OSP-4", "OSP-11", "OSP-16"]
    assert gaps["OSP-11"]["not_counted"][-1] == {
        "id": "EXC-OSP11",
        "reason": "exclusion not allowed: OSP-11 is mandatory in profile cloud-saas"}
    derived = next(p for p in doc["profiles"] if p["id"] == "ism3-derived")
    req = next(r for r in derived["levels"][0]["requirements"] if r["process"] == "OSP-11")
    assert (req["status"], req["excluded_by"]) == ("excluded", "EXC-OSP11")
    # the clinic's as_of (2026-10-15) is before the expiry: the item counts
    assert next(e for e in doc["evidence"] if e["id"] == "EXC-OSP11")["status"] == "accepted"
    table = CliRunner().invoke(main, ["evaluate", str(root)]).output
    assert "ism3-derived: excluded from scope (satisfied, not met): OSP-11 by EXC-OSP11" in table
