"""No crash from input: every value the issue found ending in exit 3 is exit 2 (with file
and line) or an honest result, and no output format ever holds a non-finite number.

Observation values, thresholds and targets are bounded at 1e15 in magnitude in the
loader (MAX_MAGNITUDE), so every statistic computed later stays finite; every JSON
writer refuses NaN and infinities as a last line of defence.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import FORMAT_CHOICES, main
from conftest import doc_item, metric_item, write_bundle
from ism3rules.limits import MAX_MAGNITUDE
from ism3rules.safe import json_dumps

HEAD = "schema: ism3-evidence/1\norganization: {id: a, name: A}\n"
BIG = "1" + "0" * 400   # 10**400: an integer beyond any float


def _manifest(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "b"
    root.mkdir()
    (root / "bundle.yaml").write_text(text)
    for name, body in (files or {}).items():
        (root / name).write_text(body)
    return root


def _input_error(root: Path, where: str, what: str) -> None:
    for command in ("evaluate", "validate"):
        result = CliRunner().invoke(main, [command, str(root)])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "internal error" not in result.output
        assert re.search(where, result.output), result.output
        assert what in result.output, result.output


METRIC = "  - {id: M1, process: OSP-3, kind: metric, metric_type: activity, "


@pytest.mark.parametrize("value", [BIG, "-" + BIG, "1e308", "-1.7e308", "1e16", ".inf", ".nan"])
def test_an_inline_value_beyond_the_bound_is_an_input_error(tmp_path: Path, value: str) -> None:
    root = _manifest(tmp_path, f"{HEAD}evidence:\n{METRIC}observations: "
                               f"[{{date: 2026-01-01, value: {value}}}]}}\n")
    _input_error(root, r"bundle.yaml:4: item M1: observation #1: value ", "")


@pytest.mark.parametrize("rows, line", [
    ("2026-01-01,1e308\n2026-01-02,1e308\n", 2),        # overflowed in fsum
    ("2026-01-01,1.7e308\n2026-01-02,-1.7e308\n", 2),
    ("2026-01-01,1\n2026-01-02,-1e308\n", 3),           # -Infinity in the JSON report
    ("2026-01-01,1\n2026-01-02,1000000000000001\n", 3),
    ("2026-01-01,1\n2026-01-02," + BIG + "\n", 3),
])
def test_a_csv_value_beyond_the_bound_is_an_input_error(tmp_path: Path, rows: str,
                                                        line: int) -> None:
    root = _manifest(tmp_path, f"{HEAD}evidence:\n{METRIC}path: m.csv}}\n",
                     {"m.csv": "date,value\n" + rows})
    _input_error(root, rf"item M1: observations file: \S*m.csv:{line}: value '[-0-9.e]+'"
                       r"( is not a finite number| is larger in magnitude than "
                       + re.escape(f"{MAX_MAGNITUDE:g}") + ", the largest an observation "
                       "may hold)", "")


def test_the_bound_itself_is_accepted_and_every_statistic_stays_finite(tmp_path: Path) -> None:
    rows = "".join(f"2026-01-{d:02d},{'1e15' if d % 2 else '-1e15'}\n" for d in range(1, 29))
    item = dict(metric_item("OSP-3", "activity", item_id="M1"), observations={"path": "m.csv"},
                specification={"target": -MAX_MAGNITUDE, "frequency": "weekly"})
    root = write_bundle(tmp_path / "b", [item], files={"m.csv": "date,value\n" + rows},
                        period=("2026-01-01", "2026-01-31"))
    for fmt in FORMAT_CHOICES:
        result = CliRunner().invoke(main, ["evaluate", str(root), "-f", fmt])
        assert result.exit_code == 0, result.output
        assert not re.search(r"\b(nan|NaN|inf|Infinity)\b", result.output), fmt
    entry = json.loads(CliRunner().invoke(main, ["evaluate", str(root), "-f", "json"]).output)
    band = entry["evidence"][0]["band"]
    assert all(math.isfinite(band[k]) for k in ("lower", "upper", "mean", "sigma"))


@pytest.mark.parametrize("spec, message", [
    (f"{{target: {BIG}}}", "'target' must be a number of at most 1e+15 in magnitude"),
    ("{target: -1.0e+400}", "'target' must be a number of at most 1e+15 in magnitude"),
    (f"{{thresholds: {{upper: {BIG}}}}}", "'upper' must be a number of at most 1e+15"),
    ("{thresholds: {lower: .nan}}", "'lower' must be a number of at most 1e+15"),
])
def test_a_specification_number_beyond_the_bound_is_an_input_error(tmp_path: Path, spec: str,
                                                                  message: str) -> None:
    root = _manifest(tmp_path, f"{HEAD}evidence:\n{METRIC}observations: "
                               f"[{{date: 2026-01-01, value: 1}}], specification: {spec}}}\n")
    _input_error(root, r"bundle.yaml:4: item M1: specification: ", message)


def test_a_service_level_target_beyond_the_bound_is_an_input_error(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", [metric_item("OSP-3", "activity", item_id="M1")],
                        extra={"service_levels": [{"id": "S1", "process": "OSP-3",
                                                   "metric": "M1", "target": f">= {BIG}"}]})
    _input_error(root, r"bundle.yaml:\d+: service level S1: 'target' must be an operator",
                 "at most 1e+15 in magnitude")


@pytest.mark.parametrize("where", ["value", "id", "title", "key"])
def test_a_5000_digit_integer_is_an_input_error_with_its_line(tmp_path: Path, where: str) -> None:
    """Python refuses to read integers of more than 4300 digits: was exit 2 without a line."""
    digits = "7" * 5000
    body = {"value": f"{METRIC}observations: [{{date: 2026-01-01, value: {digits}}}]}}",
            "id": f"  - {{id: {digits}, process: OSP-3, kind: documentation, path: d.md}}",
            "title": f"  - {{id: D1, process: OSP-3, kind: documentation, path: d.md, "
                     f"title: {digits}}}",
            "key": f"  - id: D1\n    ? {digits}\n    : 1"}[where]   # a long key: explicit
    root = _manifest(tmp_path, f"{HEAD}evidence:\n{body}\n")
    line = 5 if where == "key" else 4
    _input_error(root, rf"bundle.yaml:{line}: a number of 5000 characters is longer than 4300",
                 "quote it if it is text")


def test_a_long_sexagesimal_integer_is_refused_from_its_length(tmp_path: Path) -> None:
    """`1:0:0:...` is a base-60 integer to YAML 1.1; its value costs quadratic time in its
    length. Refused from the length, at once."""
    root = _manifest(tmp_path, f"{HEAD}evidence: []\nx: 1{':00' * 200_000}\n")
    _input_error(root, r"bundle.yaml:4: a number of 600001 characters", "quote it")


def test_dates_at_the_ends_of_the_calendar_are_honest_results(tmp_path: Path) -> None:
    root = _manifest(tmp_path, HEAD + "assessment: {period: {start: 0001-01-01, end: 9999-12-31}}\n"
                     "evidence:\n"
                     + METRIC + "observations: [{date: 9999-12-31, value: 1}, "
                                "{date: 0001-01-01, value: 2}]}\n"
                     "  - {id: D1, process: OSP-3, kind: documentation, path: d.md, "
                     "date: 0001-01-01, expires: 9999-12-31}\n"
                     "  - {id: X1, process: OSP-4, kind: exclusion, justification: j, "
                     "approver: a, expires: 9999-12-31}\n"
                     "  - {id: R1, process: OSP-3, kind: role, role: owner, person: P, "
                     "expires: 9999-12-31}\n", {"d.md": "x\n"})
    for fmt in FORMAT_CHOICES:
        result = CliRunner().invoke(main, ["evaluate", str(root), "-f", fmt])
        assert result.exit_code == 0, result.output
    as_of = CliRunner().invoke(main, ["evaluate", str(root), "--as-of", "9999-12-31"])
    assert as_of.exit_code == 0, as_of.output


def test_a_period_ending_9999_12_31_with_a_reporting_frequency(tmp_path: Path) -> None:
    root = _manifest(tmp_path, HEAD + "assessment: {period: {start: 9999-01-01, end: 9999-12-31}}\n"
                     "evidence:\n" + METRIC + "observations: [{date: 9999-12-31, value: 1}], "
                     "specification: {frequency: yearly}}\n")
    result = CliRunner().invoke(main, ["evaluate", str(root)])
    assert result.exit_code == 0, result.output


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def test_every_json_writer_refuses_non_finite_numbers() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            json_dumps({"value": bad})
    text = json_dumps({"value": 1e15, "text": "x\u202ey"})
    assert json.loads(text, parse_constant=lambda name: pytest.fail(name)) == {
        "value": 1e15, "text": "x\u202ey"}


def test_json_formats_parse_as_strict_json(tmp_path: Path) -> None:
    """json, oscal and the batch summary: strict parsers (no NaN, no Infinity) read them."""
    rows = "".join(f"2026-01-{d:02d},{d * 1e13}\n" for d in range(1, 29))
    item = dict(metric_item("OSP-3", "activity", item_id="M1"), observations={"path": "m.csv"})
    root = write_bundle(tmp_path / "b", [item, doc_item("OSP-3", path="d.md")],
                        files={"m.csv": "date,value\n" + rows, "d.md": "x\n"})

    def strict(name: str) -> Any:
        raise AssertionError(f"non-standard JSON constant {name}")

    for args in (["evaluate", str(root), "-f", "json"], ["evaluate", str(root), "-f", "oscal"],
                 ["batch", str(root), "-f", "json", "-j", "1", "-q"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert _finite(json.loads(result.output, parse_constant=strict))
