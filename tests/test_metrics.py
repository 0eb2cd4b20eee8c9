"""Metric cadence, bands and findings: the statistics, the rule options, the CLI."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from conftest import ROOT, doc_item, write_bundle
from ism3rules.assessment import assess
from ism3rules.errors import RuleError
from ism3rules.evidence import load_bundle
from ism3rules.metrics import bucket, expected_buckets
from ism3rules.rules import load_rulebook


@pytest.mark.parametrize("frequency, start, end, expected", [
    ("daily", date(2026, 2, 1), date(2026, 2, 28), 28),
    # ISO week 1 of 2026 runs from Monday 2025-12-29: both ends are partial weeks
    ("weekly", date(2025, 12, 31), date(2026, 1, 5), 2),
    ("weekly", date(2026, 1, 5), date(2026, 7, 5), 26),
    ("monthly", date(2026, 1, 31), date(2026, 3, 1), 3),
    ("quarterly", date(2025, 12, 31), date(2026, 4, 1), 3),
    ("yearly", date(2025, 7, 1), date(2026, 6, 30), 2),
])
def test_reporting_periods_overlapping_a_window(frequency: str, start: date, end: date,
                                                expected: int) -> None:
    assert len(expected_buckets(frequency, start, end)) == expected


def test_iso_weeks_cross_the_year_boundary() -> None:
    assert bucket("weekly", date(2025, 12, 29)) == bucket("weekly", date(2026, 1, 4)) == (2026, 1)


def _weekly_bundle(root: Path, count: int, value: float = 1.0, upper: float | None = None) -> Path:
    """OSP-3 documented, its four managed metric types weekly with `count` (<= 4) values."""
    spec: dict = {"frequency": "weekly"}
    if upper is not None:
        spec["thresholds"] = {"upper": upper}
    items = [doc_item("OSP-3")] + [
        {"id": f"M-{t}", "process": "OSP-3", "kind": "metric", "metric_type": t,
         "specification": spec,
         "observations": [{"date": f"2026-01-{5 + 7 * n:02d}", "value": value}
                          for n in range(count)]}   # Mondays of the period's 4 ISO weeks
        for t in ("activity", "scope", "unavailability", "effectiveness")]
    return write_bundle(root, items, period=("2026-01-05", "2026-02-01"),
                        files={"docs/OSP-3.md": "# OSP-3\n"})


def _rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", target)
    return target


def _osp3(bundle: Path, rules: Path | None = None) -> str:
    result = assess(load_bundle(bundle), [], load_rulebook(rules))
    return next(p.capability for p in result.processes if p.id == "OSP-3")


def test_the_cadence_bar_lives_in_the_rule_file(tmp_path: Path) -> None:
    bundle = _weekly_bundle(tmp_path / "b", count=3)     # 3 of 4 weeks: coverage 0.75
    assert _osp3(bundle) == "initial"
    rules = _rules_copy(tmp_path)
    path = rules / "evidence.yaml"
    path.write_text(path.read_text().replace("coverage: {gte: 0.8}", "coverage: {gte: 0.75}"))
    assert _osp3(bundle, rules) == "managed"


def test_a_rule_option_makes_anomalies_lower_capability(tmp_path: Path) -> None:
    bundle = _weekly_bundle(tmp_path / "b", count=4, value=9, upper=5)
    assert _osp3(bundle) == "managed"                   # by default findings only
    rules = _rules_copy(tmp_path)
    path = rules / "evidence.yaml"
    path.write_text(path.read_text().replace(
        "has_frequency: 1, coverage: {gte: 0.8}}",
        "has_frequency: 1, coverage: {gte: 0.8}, outside_thresholds: 0}"))
    result = assess(load_bundle(bundle), [], load_rulebook(rules))
    assert next(p.capability for p in result.processes if p.id == "OSP-3") == "initial"
    reasons = {i.id: i.reason for i in result.evidence if not i.accepted}
    assert reasons["M-activity"] == ("reported in 4 of 4 weekly periods: outside_thresholds 4 "
                                     "!= 0 required by rule EVD-METRIC-CADENCE")


def test_rules_without_a_metric_rule_keep_version_1_meaning(tmp_path: Path) -> None:
    bundle = _weekly_bundle(tmp_path / "b", count=1)     # would fail the cadence rule
    assert _osp3(bundle) == "initial"
    rules = tmp_path / "v1rules"
    rules.mkdir()
    for name in ("capability.yaml", "maturity.yaml"):
        shutil.copy(ROOT / "rules" / name, rules / name)
    assert _osp3(bundle, rules) == "managed"


@pytest.mark.parametrize("old, new, match", [
    ("person: {ref: operator.person}", "person: {ref: operatr.person}",
     r"ref 'operatr.person' names no earlier condition"),
    ("metric_type: {ref: report.metric_type}\n\n  - id: EVD-METRIC-CADENCE",
     "metric_type: {ref: report.colour}\n\n  - id: EVD-METRIC-CADENCE",
     r"rule EVD-METRIC-REPORTED: ref 'report.colour': a metric_report fact has no 'colour'"),
    ("{point.item}: {point.value} on {point.date} is above the upper threshold",
     "{point.item}: {point.valeu} on {point.date} is above the upper threshold",
     r"rule MON-ABOVE-THRESHOLD: message: ref 'point.valeu'"),
    ("      finding: sla-breach\n      message: \"{level.sla}: {level.violations}",
     "      message: \"{level.sla}: {level.violations}",
     r"rule SLA-BREACHED: a finding needs 'finding'"),
])
def test_invalid_finding_rules_fail_loudly(tmp_path: Path, old: str, new: str, match: str) -> None:
    rules = _rules_copy(tmp_path)
    for path in rules.glob("*.yaml"):
        if old in path.read_text():
            path.write_text(path.read_text().replace(old, new, 1))
            break
    else:
        raise AssertionError(f"{old!r} not in the rule files")
    with pytest.raises(RuleError, match=match):
        load_rulebook(rules)


def test_cli_as_of_and_findings_in_both_formats(tmp_path: Path) -> None:
    bundle = str(ROOT / "evidence" / "harbor-clinic")
    runner = CliRunner()
    table = runner.invoke(main, ["evaluate", bundle, "--as-of", "2026-02-01"])
    assert table.exit_code == 0, table.output
    assert "not yet in force at 2026-02-01 (dated 2026-03-01)" in table.output
    # wide enough that the findings table does not wrap its messages
    table = runner.invoke(main, ["evaluate", bundle, "-p", "small-business"],
                          env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert "Findings: 3" in table.output
    assert "Dr. Maria Chen is both owner (ROLE-OSP11-OWNER) and auditor" in table.output
    assert "SLA-OSP10-UNAVAILABILITY" in table.output
    first = runner.invoke(main, ["evaluate", bundle, "-f", "json"])
    second = runner.invoke(main, ["evaluate", bundle, "-f", "json"])
    assert first.exit_code == 0 and first.output == second.output
    findings = json.loads(first.output)["findings"]
    assert [f["rule"] for f in findings] == ["SLA-BREACHED", "DOD-OWNER-AUDITOR", "EVD-EXPIRED"]
    assert findings[1]["facts"]["owner"] == {"fact": "role", "item": "ROLE-OSP11-OWNER",
                                             "person": "Dr. Maria Chen", "role": "owner"}
    bad = runner.invoke(main, ["evaluate", bundle, "--as-of", "2026-02-30"])
    assert bad.exit_code == 2


def test_several_items_of_one_type_make_one_metric_fact(tmp_path: Path) -> None:
    """As in version 1, a metric type is one fact however many items report it: the
    capability rules fire once, and the process's evidence names every item."""
    items = [doc_item("OSP-3")] + [
        {"id": f"M-{t}-{n}", "process": "OSP-3", "kind": "metric", "metric_type": t,
         "observations": [{"date": "2026-01-05", "value": n}]}
        for t in ("activity", "scope", "unavailability", "effectiveness", "load", "quality",
                  "efficiency") for n in range(3)]
    bundle = write_bundle(tmp_path / "b", items, files={"docs/OSP-3.md": "# OSP-3\n"})
    result = assess(load_bundle(bundle), [], load_rulebook())
    proc = next(p for p in result.processes if p.id == "OSP-3")
    assert proc.capability == "optimized"
    assert len(proc.evidence) == 1 + 7 * 3
    from ism3rules.assessment import compile_rulebook

    firings = compile_rulebook(load_rulebook()).run(
        [{"id": f"metric_report:{i['id']}", "t": "metric_report", "process": "OSP-3",
          "metric_type": i["metric_type"], "item": i["id"], "frequency": "none",
          "has_frequency": 0, "coverage": 1.0, "periods_expected": 0, "periods_reported": 0,
          "outside_thresholds": 0, "outside_control_limits": 0, "review": "none"}
         for i in items[1:]]
        + [{"id": "documentation:OSP-3", "t": "documentation", "process": "OSP-3"}])
    per_rule = {r: sum(f.rule_id == r for f in firings) for r in
                ("EVD-METRIC-REPORTED", "CAP-MANAGED", "CAP-OPTIMIZED")}
    assert per_rule == {"EVD-METRIC-REPORTED": 21, "CAP-MANAGED": 1, "CAP-OPTIMIZED": 1}
