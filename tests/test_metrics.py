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
from ism3rules.metrics import Periods, cadence, control_limits
from ism3rules.rules import load_rulebook


@pytest.mark.parametrize("frequency, start, last, days, expected, reported", [
    # (docs/metrics.md) periods run from the start; a period is expected once it has ended
    ("yearly", date(2025, 7, 1), date(2026, 6, 30), [date(2026, 6, 15)], 1, 1),
    ("yearly", date(2025, 7, 1), date(2026, 6, 29), [], 0, 0),           # still running
    ("yearly", date(2025, 7, 1), date(2026, 6, 29), [date(2026, 1, 1)], 1, 1),  # in favour
    ("quarterly", date(2026, 1, 1), date(2026, 4, 10), [date(2026, 3, 31)], 1, 1),
    ("monthly", date(2026, 1, 15), date(2026, 4, 14),
     [date(2026, 1, 28), date(2026, 2, 28), date(2026, 3, 28)], 3, 3),
    ("weekly", date(2026, 1, 7), date(2026, 1, 20), [date(2026, 1, 9), date(2026, 1, 16)], 2, 2),
    ("daily", date(2026, 2, 1), date(2026, 2, 28), [date(2026, 2, 1)], 28, 1),
    # a month cut short by the period's end (June 1-15) is not expected without a report
    ("monthly", date(2026, 1, 1), date(2026, 6, 15), [date(2026, 1, 2)], 5, 1),
])
def test_reporting_periods(frequency: str, start: date, last: date, days: list[date],
                           expected: int, reported: int) -> None:
    counted = cadence(frequency, start, last, days)
    assert (counted.expected, counted.reported) == (expected, reported)


def test_months_keep_the_starting_day_or_the_months_last() -> None:
    periods = Periods("monthly", date(2026, 1, 31))
    assert [periods.first_day(n) for n in range(4)] == [
        date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    assert periods.last_day(0) == date(2026, 2, 27)
    assert [periods.number(d) for d in (date(2026, 2, 27), date(2026, 2, 28),
                                        date(2026, 3, 30), date(2026, 3, 31))] == [0, 1, 1, 2]


@pytest.mark.parametrize("frequency, expected", [
    ("daily", 3652058), ("weekly", 521722), ("monthly", 119987), ("quarterly", 39995),
    ("yearly", 9998)])
def test_periods_over_the_whole_calendar_are_counted_not_walked(frequency: str,
                                                                expected: int) -> None:
    """0001-01-01..9999-12-30: arithmetic on dates, and no day past 9999-12-31 is made."""
    counted = cadence(frequency, date(1, 1, 1), date(9999, 12, 30), [date(2026, 3, 1)])
    assert (counted.expected, counted.reported) == (expected, 1)
    last = cadence(frequency, date(9999, 1, 1), date.max, [date.max])
    assert last.reported == 1 and last.expected >= 1


def test_a_period_ending_on_the_last_day_of_the_calendar(tmp_path: Path) -> None:
    items = [{"id": f"M-{f}", "process": "OSP-3", "kind": "metric", "metric_type": "activity",
              "specification": {"frequency": f},
              "observations": [{"date": "9999-12-31", "value": 1}]}
             for f in ("daily", "weekly", "monthly", "quarterly", "yearly")]
    bundle = write_bundle(tmp_path / "b", items, period=("0001-01-01", "9999-12-31"))
    result = assess(load_bundle(bundle), [], load_rulebook())
    yearly = next(m for m in result.metrics if m.item == "M-yearly")
    assert (yearly.periods_expected, yearly.periods_reported) == (9999, 1)


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
    path.write_text(path.read_text().replace("coverage: {gt: 0.8}", "coverage: {gte: 0.75}"))
    assert _osp3(bundle, rules) == "managed"


def test_a_rule_option_makes_anomalies_lower_capability(tmp_path: Path) -> None:
    bundle = _weekly_bundle(tmp_path / "b", count=4, value=9, upper=5)
    assert _osp3(bundle) == "managed"                   # by default findings only
    rules = _rules_copy(tmp_path)
    path = rules / "evidence.yaml"
    path.write_text(path.read_text().replace(
        "has_frequency: 1, coverage: {gt: 0.8}}",
        "has_frequency: 1, coverage: {gt: 0.8}, outside_thresholds: 0}"))
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
    assert ("in force from 2026-03-01, expires 2027-02-28 (assessed at 2026-02-01): "
            "days_in_force -28 < 0 required by rule EVD-DOCUMENT-IN-FORCE") in \
        " ".join(table.output.split())
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


def test_xmr_limits_flag_one_far_outlier_among_nine_stable_points() -> None:
    """The chart for individual values: sigma-hat from the mean moving range / 1.128."""
    values = [10.0] * 9 + [100.0]
    chart = control_limits(values)
    assert chart is not None
    mean, sigma, lower, upper = chart
    assert mean == 19.0 and sigma == pytest.approx(10 / 1.128)
    assert upper == pytest.approx(19 + 3 * 10 / 1.128) and upper < 100
    # with the sample standard deviation no point of ten can lie beyond 3 sigma
    import statistics
    assert max(values) < statistics.fmean(values) + 3 * statistics.stdev(values)


@pytest.mark.parametrize("values, lower", [
    ([0.0, 10.0] * 4, 0.0),                    # counts: never a negative lower limit
    ([5.0, 5.5, 4.5, 5.0, 5.2, 4.8], None),    # a lower limit above zero is kept
    ([-5.0, 5.0] * 4, -26.595745),             # values below zero: no floor
])
def test_xmr_lower_limit_is_floored_at_zero_only_for_non_negative_values(
        values: list[float], lower: float | None) -> None:
    chart = control_limits(values)
    assert chart is not None
    if lower is None:
        assert chart[2] > 0
    else:
        assert chart[2] == pytest.approx(lower)


def test_no_variation_or_one_value_has_no_band() -> None:
    assert control_limits([3.0] * 12) is None
    assert control_limits([3.0]) is None
    assert control_limits([1e308, -1e308, 1e308]) is None    # nothing finite to draw


def _series_bundle(root: Path, count: int) -> Path:
    values = [10.0] * (count - 1) + [100.0]
    item = {"id": "ACT", "process": "OSP-3", "kind": "metric", "metric_type": "activity",
            "observations": [{"date": f"2026-01-{1 + n:02d}", "value": v}
                             for n, v in enumerate(values)]}
    return write_bundle(root, [item])


@pytest.mark.parametrize("count, shown", [(7, False), (8, True), (10, True)])
def test_a_control_band_is_shown_from_the_rules_minimum_sample_count(
        tmp_path: Path, count: int, shown: bool) -> None:
    result = assess(load_bundle(_series_bundle(tmp_path / "b", count)), [], load_rulebook())
    metric = result.metrics[0]
    assert (metric.bounds == "control") is shown
    assert (metric.anomalies == 1) is shown


def test_the_minimum_sample_count_is_read_off_the_rules(tmp_path: Path) -> None:
    bundle = _series_bundle(tmp_path / "b", 5)
    assert assess(load_bundle(bundle), [], load_rulebook()).metrics[0].bounds is None
    rules = _rules_copy(tmp_path)
    path = rules / "monitoring.yaml"
    path.write_text(path.read_text().replace("samples: {gte: 8}", "samples: {gte: 5}"))
    metric = assess(load_bundle(bundle), [], load_rulebook(rules)).metrics[0]
    assert (metric.bounds, metric.lower, metric.anomalies) == ("control", 0.0, 1)
