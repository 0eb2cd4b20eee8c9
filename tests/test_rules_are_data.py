"""Editing a rule file changes the results, with no code change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import ROOT
from ism3rules.assessment import assess
from ism3rules.errors import RuleError
from ism3rules.evidence import load_bundle
from ism3rules.rules import load_rulebook


def _rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", target)
    return target


def _capability(rules_dir: Path, bundle: Path, process: str) -> str:
    result = assess(load_bundle(bundle), [], load_rulebook(rules_dir))
    return next(p.capability for p in result.processes if p.id == process)


def test_removing_a_metric_type_from_a_rule_lowers_the_bar(tmp_path: Path, bundle_factory) -> None:
    bundle = bundle_factory(["OSP-3"], {"OSP-3": ["activity", "scope", "unavailability"]})
    rules = _rules_copy(tmp_path)
    assert _capability(rules, bundle, "OSP-3") == "initial"
    path = rules / "capability.yaml"
    path.write_text(path.read_text().replace(
        "      - {fact: metric, as: effectiveness, metric_type: effectiveness}\n", ""))
    assert _capability(rules, bundle, "OSP-3") == "managed"


def test_a_new_alternative_rule_is_used(tmp_path: Path, bundle_factory) -> None:
    bundle = bundle_factory(["OSP-3"], {"OSP-3": ["quality"]})
    rules = _rules_copy(tmp_path)
    (rules / "zz-local.yaml").write_text("""schema: ism3-rules/1
id: local
title: Local policy
rules:
  - id: LOCAL-QUALITY-MANAGED
    title: A quality metric alone counts as managed here
    section: local policy 1
    rationale: for this test
    when:
      - {fact: capability, capability: initial}
      - {fact: metric, metric_type: quality}
    then: {fact: capability, capability: managed, practices: [test]}
""")
    result = assess(load_bundle(bundle), [], load_rulebook(rules))
    proc = next(p for p in result.processes if p.id == "OSP-3")
    assert proc.capability == "managed"
    assert proc.rules == ("CAP-INITIAL", "LOCAL-QUALITY-MANAGED")


@pytest.mark.parametrize("old, new, match", [
    ("id: CAP-DEFINED", "id: cap-defined", r"rule id 'cap-defined' must look like"),
    ("metric_type: load}", "metric_type: lod}", r"rule CAP-DEFINED: unknown metric_type 'lod'"),
    ("      fact: capability\n      capability: managed\n      practices",
     "      fact: metric\n      capability: managed\n      practices", r"'then' may derive only"),
    ("    section: \"2.1.1, Table 2.1 (column Managed)\"\n", "",
     r"rule CAP-MANAGED: 'section' is required"),
    ("{fact: metric, as: load, metric_type: load}", "{fact: metrc, as: load}",
     r"unknown fact 'metrc' \(did you mean 'metric'\?\)"),
    ("rank: {gte: {ref: requirement.min_rank}}", "rank: {atleast: {ref: requirement.min_rank}}",
     r"unknown operator 'atleast'"),
    ("rank: {gte: {ref: requirement.min_rank}}", "rank: {gte: {ref: requirement.rank}}",
     r"a requirement fact has no 'rank'"),
    ("title: Process capability from documentation", "titel: Process capability from documentation",
     r"unknown key 'titel'"),
])
def test_invalid_rule_files_fail_loudly(tmp_path: Path, old: str, new: str, match: str) -> None:
    rules = _rules_copy(tmp_path)
    for path in rules.glob("*.yaml"):
        text = path.read_text()
        if old in text:
            path.write_text(text.replace(old, new, 1))
            break
    else:
        raise AssertionError(f"{old!r} not found in the rule files")
    with pytest.raises(RuleError, match=match):
        load_rulebook(rules)


@pytest.mark.parametrize("old, new, match", [
    # a literal has its attribute's kind: text, whole number or number
    ("has_frequency: 0}", "has_frequency: '0'}", r"'has_frequency' must be a whole number"),
    ("role: operator}\n", "role: 5}\n", r"'role' must be a name \(text\), not 5"),
    ("coverage: {gt: 0.8}", "coverage: {gt: 1.0e+300}", r"outside the numbers rules may use"),
    # a ref joins values of one kind, never from an attribute that may be absent
    ("rank: {gte: {ref: requirement.min_rank}}", "rank: {gte: {ref: requirement.profile}}",
     r"'rank' \(int\) cannot take ref 'requirement.profile' \(name\)"),
    ("{fact: observation, as: point, bounds: threshold, above: {gt: 0}}",
     "{fact: observation, as: point, bounds: threshold, above: {gt: 0}}\n"
     "      - {fact: target, as: goal, shortfall: {gt: {ref: point.upper}}}",
     r"ref 'point.upper': 'upper' may be absent from a observation fact"),
    # a derived fact has every attribute of its type
    ("      metric_type: {ref: report.metric_type}\n\n  - id: EVD-METRIC-CADENCE",
     "\n  - id: EVD-METRIC-CADENCE", r"a derived metric fact needs 'metric_type'"),
])
def test_rules_with_values_the_engine_would_misread_are_refused(
        tmp_path: Path, old: str, new: str, match: str) -> None:
    rules = _rules_copy(tmp_path)
    for path in rules.glob("*.yaml"):
        text = path.read_text()
        if old in text:
            path.write_text(text.replace(old, new, 1))
            break
    else:
        raise AssertionError(f"{old!r} not found in the rule files")
    with pytest.raises(RuleError, match=match):
        load_rulebook(rules)
