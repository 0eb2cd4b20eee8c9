"""Stable finding ids and default severities (docs/auditing.md, "Finding ids")."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, write_bundle
from ism3rules.api import evaluate_bundle
from ism3rules.errors import RuleError
from ism3rules.rules import SEVERITIES, load_rulebook

ID = re.compile(r"^[A-Z][A-Z0-9-]+/[A-Z]+-\d+/[0-9a-f]{10}$")


def _year(root: Path, year: int, values: tuple[float, float, float], person: str,
          item_prefix: str) -> dict[str, Any]:
    """One year's bundle: a metric above its threshold twice, an SLA breach, a DoD conflict."""
    una = {"id": "MET-UNA", "process": "OSP-10", "kind": "metric",
           "metric_type": "unavailability",
           "specification": {"thresholds": {"upper": 4}},
           "observations": [{"date": f"{year}-01-10", "value": values[0]},
                            {"date": f"{year}-02-10", "value": values[1]},
                            {"date": f"{year}-03-10", "value": values[2]}]}
    roles = [{"id": f"{item_prefix}-OWNER", "process": "OSP-11", "kind": "role", "role": "owner",
              "person": person},
             {"id": f"{item_prefix}-AUDITOR", "process": "OSP-11", "kind": "role",
              "role": "auditor", "person": person}]
    write_bundle(root, [una, *roles], period=(f"{year}-01-01", f"{year}-06-30"),
                 extra={"service_levels": [{"id": "SLA-UNA", "process": "OSP-10",
                                            "metric": "MET-UNA", "target": "<= 4"}]})
    return evaluate_bundle(root, ["small-business"])


def test_the_same_findings_next_year_have_the_same_ids(tmp_path: Path) -> None:
    this = _year(tmp_path / "2026", 2026, (5.0, 6.5, 3.0), "Dana Ruiz", "R")
    # next year: other dates, other values, the role records renumbered; same problems
    nxt = _year(tmp_path / "2027", 2027, (4.5, 2.0, 9.25), "Dana Ruiz", "ROLE2027")
    ids = {f["rule"]: f["id"] for f in this["findings"]}
    assert set(ids) == {"MON-ABOVE-THRESHOLD", "SLA-BREACHED", "DOD-OWNER-AUDITOR"}
    assert {f["rule"]: f["id"] for f in nxt["findings"]} == ids
    for finding in this["findings"]:
        assert ID.match(finding["id"]), finding["id"]
    # two dates above the threshold: one finding, two occurrences, each with its own message
    above = next(f for f in this["findings"] if f["rule"] == "MON-ABOVE-THRESHOLD")
    assert [o["message"] for o in above["occurrences"]] == [
        "MET-UNA: 5 on 2026-01-10 is above the upper threshold 4",
        "MET-UNA: 6.5 on 2026-02-10 is above the upper threshold 4"]
    assert above["message"] == above["occurrences"][0]["message"]


def test_another_person_or_metric_is_another_finding(tmp_path: Path) -> None:
    first = _year(tmp_path / "a", 2026, (5.0, 1.0, 1.0), "Dana Ruiz", "R")
    other = _year(tmp_path / "b", 2026, (5.0, 1.0, 1.0), "Sam Lee", "R")
    dod = {d["rule"]: d["id"] for d in first["findings"]}["DOD-OWNER-AUDITOR"]
    assert dod != {d["rule"]: d["id"] for d in other["findings"]}["DOD-OWNER-AUDITOR"]


@pytest.mark.parametrize("sample", ["northwind", "harbor-clinic"])
def test_ids_are_unique_and_every_finding_has_a_severity(sample: str) -> None:
    doc = evaluate_bundle(ROOT / "evidence" / sample)
    ids = [f["id"] for f in doc["findings"]]
    assert len(ids) == len(set(ids)) > 0
    assert all(f["severity"] in SEVERITIES for f in doc["findings"])


def test_every_shipped_finding_rule_declares_its_severity() -> None:
    rules = [r for r in load_rulebook().rules if r.then_fact == "finding"]
    assert len(rules) >= 10
    for rule in rules:
        assert rule.then.get("severity") in SEVERITIES, rule.id


def _rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", target)
    return target


def test_an_invalid_severity_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    rules = _rules_copy(tmp_path)
    path = rules / "duties.yaml"
    path.write_text(path.read_text().replace("severity: high", "severity: hihg", 1))
    with pytest.raises(RuleError, match=r"duties.yaml:\d+: rule DOD-OPERATOR-AUDITOR: severity "
                                        r"'hihg' must be one of low, medium, high, critical "
                                        r"\(did you mean 'high'\?\)"):
        load_rulebook(rules)


def test_a_finding_rule_without_severity_is_rated_medium(tmp_path: Path) -> None:
    rules = _rules_copy(tmp_path)
    path = rules / "duties.yaml"
    path.write_text(path.read_text().replace("      severity: high\n", ""))
    bundle = tmp_path / "b"
    write_bundle(bundle, [
        {"id": "R1", "process": "OSP-11", "kind": "role", "role": "owner", "person": "Al"},
        {"id": "R2", "process": "OSP-11", "kind": "role", "role": "auditor", "person": "Al"}])
    doc = evaluate_bundle(bundle, ["small-business"], rules)
    assert [(f["rule"], f["severity"]) for f in doc["findings"]] == [
        ("DOD-OWNER-AUDITOR", "medium")]
