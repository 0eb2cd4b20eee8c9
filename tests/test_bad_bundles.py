"""Bad bundles: one per failure mode, each a clear input error (exit 2), never a traceback."""

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
    (Path(__file__).parent / "bad_bundles" / "cases.yaml").read_text())


def _make(tmp_path: Path, case: dict[str, Any]) -> Path:
    root = tmp_path / "bundle"
    root.mkdir()
    if "manifest_bytes" in case:
        (root / "bundle.yaml").write_bytes(case["manifest_bytes"].encode("latin-1"))
    else:
        (root / "bundle.yaml").write_text(case["manifest"])
    for rel, text in case.get("files", {}).items():
        (root / rel).write_text(text)
    return root


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_bundle_is_a_clear_input_error(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    root = _make(tmp_path, case)
    with pytest.raises(EvidenceError, match=case["match"]):
        load_bundle(root)
    for command in (["evaluate", str(root)], ["validate", str(root)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert re.search(case["match"], result.output), result.output
        assert "bundle.yaml" in result.output or ".csv" in result.output


def test_all_problems_of_a_manifest_are_reported_at_once(tmp_path: Path) -> None:
    root = tmp_path / "b"
    root.mkdir()
    (root / "bundle.yaml").write_text(
        "schema: ism3-evidence/1\norganization: {id: a, name: A}\nevidence:\n"
        "  - {id: A, process: OSP-99, kind: documentation, path: a.md}\n"
        "  - {id: B, process: OSP-3, kind: metric, metric_type: lod, observations: []}\n")
    with pytest.raises(EvidenceError) as info:
        load_bundle(root)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert "bundle.yaml:4: item A: unknown process 'OSP-99'" in lines[0]
    assert "bundle.yaml:5: item B: unknown metric_type 'lod' (did you mean 'load'?)" in lines[1]


def test_missing_bundle_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such bundle folder or file" in result.output


def test_folder_without_manifest(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "no bundle.yaml in this folder" in result.output
