"""Rule cases as data: tests/cases/*.yaml, one parametrized test per named case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, write_evidence
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
    return write_evidence(tmp_path / "bundle",
                          {p: (p in documented, types) for p, types in evidence.items()})


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


# -- bundle-shaped cases (tests/cases/{evidence,monitoring,service-levels,duties}.yaml) ----
# A case is a small bundle written as data: `period`, `as_of`, `evidence` (items as in
# bundle.yaml; a metric may give `series: {start, step_days, values}` instead of
# observations; documentation files are created, holding `content` when given),
# `service_levels`; and `expect`:
#   rules: the rules of this case file's rule file that fired (sorted)
#   capability: {process: capability}
#   evidence: {item: {key: value}} (a subset of the report's entry; `reason` is a regex)
#   findings: [{rule, process, message (regex), evidence}] in report order, all of them
#   service_levels: {id: {key: value}} (a subset of the report's entry)
# A case may give `facts` (asserted as they are, `t` naming the fact type) instead of a
# bundle, for conditions no bundle reaches; `expect` then has `rules` and `messages`.
BUNDLE_CASE_FILES = [p.name for p in CASE_FILES if _load(p.name).get("shape") == "bundle"]


def _bundle_cases() -> list[Any]:
    return [pytest.param(name, case, id=f"{name[:-5]}:{case['name']}")
            for name in BUNDLE_CASE_FILES for case in _load(name)["cases"]]


def _series(spec: dict[str, Any]) -> list[dict[str, Any]]:
    from datetime import date, timedelta

    start = date.fromisoformat(str(spec["start"]))
    values = spec["values"] if "values" in spec else [spec.get("value", 1)] * spec["count"]
    return [{"date": (start + timedelta(days=spec.get("step_days", 7) * n)).isoformat(),
             "value": v} for n, v in enumerate(values)]


def _write_case_bundle(root: Path, case: dict[str, Any]) -> Path:
    (root / "docs").mkdir(parents=True)
    items = []
    for raw in case.get("evidence", []):
        item = dict(raw)
        if item["kind"] == "documentation":
            item.setdefault("path", f"docs/{item['id']}.md")
            (root / item["path"]).write_text(item.pop("content", f"# {item['id']}\n"))
        if "series" in item:
            item["observations"] = _series(item.pop("series"))
        items.append(item)
    doc: dict[str, Any] = {"schema": "ism3-evidence/1",
                           "organization": {"id": "case", "name": "Case"}}
    if "period" in case or "as_of" in case:
        doc["assessment"] = {}
        if "period" in case:
            doc["assessment"]["period"] = case["period"]
        if "as_of" in case:
            doc["assessment"]["as_of"] = case["as_of"]
    doc["evidence"] = items
    if "service_levels" in case:
        doc["service_levels"] = case["service_levels"]
    (root / "bundle.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


def _subset(actual: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    import re

    for key, value in expected.items():
        assert key in actual, f"{where}: no '{key}' in {actual}"
        if key in ("reason", "message"):
            assert re.search(value, actual[key]), f"{where}: {key} {actual[key]!r} !~ {value!r}"
        elif isinstance(value, dict) and isinstance(actual[key], dict):
            _subset(actual[key], value, f"{where}.{key}")
        else:
            assert actual[key] == value, f"{where}.{key}: {actual[key]!r} != {value!r}"


@pytest.mark.parametrize("file_name, case", _bundle_cases())
def test_bundle_case(file_name: str, case: dict[str, Any], tmp_path: Path) -> None:
    from ism3rules.report import to_document

    book = load_rulebook()
    rules_file = _load(file_name)["rules_file"]
    own = {r.id for f in book.files if f.path.name == rules_file for r in f.rules}
    if "facts" in case:   # facts asserted as they are: for conditions no bundle can reach
        _facts_case(book, own, case)
        return
    root = _write_case_bundle(tmp_path / "bundle", case)
    result = assess(load_bundle(root), [], book)
    doc = to_document(result)
    expect = case["expect"]
    fired = {f.rule for f in result.findings}
    fired |= {e["counted_by"] for e in doc["evidence"] if e.get("counted_by")}
    fired |= {r for p in result.processes for r in p.rules}
    assert sorted(fired & own) == expect["rules"]
    for process, capability in expect.get("capability", {}).items():
        assert doc["processes"][process]["capability"] == capability, process
    entries = {e["id"]: e for e in doc["evidence"]}
    for item, want in expect.get("evidence", {}).items():
        _subset(entries[item], want, item)
    if "findings" in expect:
        assert len(doc["findings"]) == len(expect["findings"]), doc["findings"]
        for n, (got, want) in enumerate(zip(doc["findings"], expect["findings"], strict=True)):
            _subset(got, want, f"finding #{n + 1}")
    slas = {s["id"]: s for s in doc["service_levels"]}
    for sla, want in expect.get("service_levels", {}).items():
        _subset(slas[sla], want, sla)
    # the contract: every item appears exactly once
    assert [e["id"] for e in doc["evidence"]] == [i["id"] for i in case.get("evidence", [])]


def _facts_case(book: Any, own: set[str], case: dict[str, Any]) -> None:
    import re

    from ism3rules.assessment import compile_rulebook
    from ism3rules.findings import render

    facts = [{"id": f"case:{n}", **fact} for n, fact in enumerate(case["facts"])]
    firings = compile_rulebook(book).run(facts)
    by_id = {f["id"]: f for f in facts}
    assert sorted({f.rule_id for f in firings} & own) == case["expect"]["rules"]
    messages = [render(f.derived_fact["message"], {a: by_id[i] for a, i in f.matched})
                for f in firings if f.derived_fact["t"] == "finding"]
    expected = case["expect"]["messages"]
    assert len(messages) == len(expected), messages
    for got, want in zip(messages, expected, strict=True):
        assert re.search(want, got), (got, want)


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
    """One source: the docs' rule table is what `ism3 rules --format markdown` prints."""
    from click.testing import CliRunner

    from cli import main

    readme = (ROOT / "docs" / "rules.md").read_text()
    start = readme.index("\n", readme.index("<!-- rules-table:start")) + 1
    table = readme[start:readme.index("<!-- rules-table:end")]
    result = CliRunner().invoke(main, ["rules", "--format", "markdown"])
    assert result.exit_code == 0
    assert table == result.output, "regenerate the table in docs/rules.md with `ism3 rules -f markdown`"
    for rule in load_rulebook().rules:
        assert f"| {rule.id} " in table
