"""Bad bundles: one per failure mode, each a clear input error (exit 2), never a traceback."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from ism3rules.errors import EvidenceError
from ism3rules.evidence import load_bundle
from ism3rules.limits import FLAGS, Limits

CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "bad_bundles" / "cases.yaml").read_text())


OUTSIDE_FILES = {  # beside the bundle: what a hostile link would like the tool to read
    "secret.md": "secret\n",
    "m.csv": "date,value\n2026-01-01,1\n",
    "bundle.yaml": "schema: ism3-evidence/1\norganization: {id: x, name: X}\nevidence: []\n",
}


def _make(tmp_path: Path, case: dict[str, Any]) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    for rel, text in OUTSIDE_FILES.items():
        (outside / rel).write_text(text)
    root = tmp_path / "bundle"
    root.mkdir()
    for rel in case.get("dirs", []):
        (root / rel).mkdir(parents=True)
    if "manifest_bytes" in case:
        (root / "bundle.yaml").write_bytes(case["manifest_bytes"].encode("latin-1"))
    elif case.get("manifest_is_dir"):
        (root / "bundle.yaml").mkdir()
    elif "manifest" in case:
        (root / "bundle.yaml").write_text(case["manifest"])
    for rel, text in case.get("files", {}).items():
        (root / rel).write_text(text)
    for rel, text in case.get("files_bytes", {}).items():
        (root / rel).write_bytes(text.encode("latin-1"))
    for link, target in case.get("symlinks", {}).items():
        os.symlink(outside / target.removeprefix("OUTSIDE/") if target.startswith("OUTSIDE/")
                   else root / target, root / link)
    return root


def _limits(args: list[str]) -> Limits:
    """The Limits that the CLI flags in `args` stand for."""
    names = {flag: name for name, flag in FLAGS.items()}
    return Limits(**{names[flag]: int(value) for flag, value in zip(args[::2], args[1::2], strict=True)})


def test_every_case_says_what_it_expects() -> None:
    for name, case in CASES.items():
        assert ("match" in case) != ("rejected" in case), name


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if "match" in c))
def test_bad_bundle_is_a_clear_input_error(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    root = _make(tmp_path, case)
    args = case.get("args", [])
    with pytest.raises(EvidenceError, match=case["match"]):
        load_bundle(root, limits=_limits(args))
    for command in (["evaluate", str(root), *args], ["validate", str(root), *args]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert re.search(case["match"], result.output), result.output
        assert "bundle.yaml" in result.output or ".csv" in result.output
    assert not (tmp_path / "outside").joinpath("touched").exists()


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if "rejected" in c))
def test_bad_item_is_rejected_with_its_reason(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    root = _make(tmp_path, case)
    expected = case["rejected"]
    item = next(i for i in load_bundle(root).items if i.id == expected["item"])
    assert item.status == "rejected"
    assert re.search(expected["reason"], str(item.reason)), item.reason
    assert item.observations == ()  # nothing was read from outside the bundle
    result = CliRunner().invoke(main, ["evaluate", str(root), "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = [e for e in json.loads(result.output)["evidence"] if e["id"] == expected["item"]]
    assert len(listed) == 1 and listed[0]["status"] == "rejected"
    assert re.search(expected["reason"], listed[0]["reason"])
    result = CliRunner().invoke(main, ["validate", str(root)])
    assert result.exit_code == 0, result.output
    assert f"bundle.yaml:4  {expected['item']}" in result.output


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
