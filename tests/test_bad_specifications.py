"""Malformed metric specifications, dates, roles and service levels: clear input errors.

One case per failure mode in tests/bad_bundles/specifications.yaml; each must be an
EvidenceError naming file, line, item and field, and exit 2 from the CLI.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from ism3rules.errors import EvidenceError
from ism3rules.evidence import load_bundle

CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "bad_bundles" / "specifications.yaml").read_text())


def _make(tmp_path: Path, case: dict[str, Any]) -> Path:
    root = tmp_path / "bundle"
    root.mkdir()
    (root / "d.md").write_text("# procedure\n")
    (root / "bundle.yaml").write_text(
        "schema: ism3-evidence/1\norganization: {id: a, name: A}\nevidence:\n"
        f"  - {case['item']}\n{case.get('extra', '')}")
    return root


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_specification_is_a_clear_input_error(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    root = _make(tmp_path, case)
    with pytest.raises(EvidenceError, match=case["match"]):
        load_bundle(root)
    result = CliRunner().invoke(main, ["evaluate", str(root)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert re.search(case["match"], result.output), result.output


def test_a_valid_full_specification_loads(tmp_path: Path) -> None:
    root = _make(tmp_path, {"item": (
        "{id: M1, process: OSP-3, kind: metric, metric_type: activity, "
        "observations: [{date: 2026-01-05, value: 3}], specification: {description: Assets "
        "registered, measurement_procedure: count CMDB inserts, frequency: weekly, "
        "thresholds_estimation: 3 sigma of last year, thresholds: {lower: 1, upper: 40}, "
        "target: 30, better: higher, units: assets}}")})
    spec = load_bundle(root).items[0].specification
    assert spec is not None
    assert spec.as_dict() == {
        "description": "Assets registered", "measurement_procedure": "count CMDB inserts",
        "frequency": "weekly", "thresholds_estimation": "3 sigma of last year",
        "thresholds": {"lower": 1.0, "upper": 40.0}, "target": 30.0, "better": "higher",
        "units": "assets"}
