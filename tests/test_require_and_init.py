"""`evaluate --require PROFILE=LEVEL` for CI, and `ism3 init` bundle skeletons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from conftest import ROOT
from ism3rules.api import evaluate_bundle

HARBOR = str(ROOT / "evidence" / "harbor-clinic")   # cloud-saas 0, ism3-derived 0, small-business 1


def run(args: list[str], code: int) -> Any:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def test_all_targets_met_is_exit_0() -> None:
    result = run(["evaluate", HARBOR, "--require", "small-business=1",
                  "--require", "cloud-saas=0"], 0)
    assert "target not met" not in result.output


def test_missed_targets_are_exit_1_and_listed_on_stderr(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = run(["evaluate", HARBOR, "-f", "json", "-o", str(out), "--require",
                  "small-business=2", "--require", "ism3-derived=0", "--require",
                  "cloud-saas=1"], 1)
    assert result.output.splitlines() == [
        "ism3: target not met: small-business reaches level 1, 2 required",
        "ism3: target not met: cloud-saas reaches level 0, 1 required"]
    assert out.exists()   # the report is written all the same


def test_target_by_profile_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("schema: ism3-profile/1\nid: mine\nname: Mine\nsource: custom\nlevels:\n"
                    "  - {level: 1, name: One, requires: {OSP-5: managed}}\n")
    run(["evaluate", HARBOR, "-p", str(path), "--require", f"{path}=1"], 0)
    run(["evaluate", HARBOR, "-p", str(path), "--require", "mine=1"], 0)


@pytest.mark.parametrize("args, message", [
    (["-p", "small-business", "--require", "cloud-saas=1"],
     "profile 'cloud-saas' is not evaluated here (evaluated: small-business)"),
    (["--require", "small-business"], "'small-business' must be PROFILE=LEVEL"),
    (["--require", "small-business=two"], "'small-business=two' must be PROFILE=LEVEL"),
    (["--require", "=2"], "'=2' must be PROFILE=LEVEL"),
    (["--require", "small-business=4"], "profile 'small-business' has only 3 levels"),
])
def test_bad_targets_are_usage_errors(args: list[str], message: str) -> None:
    assert message in run(["evaluate", HARBOR, *args], 2).output


def test_input_errors_stay_exit_2_with_targets(tmp_path: Path) -> None:
    (tmp_path / "bundle.yaml").write_text("schema: ism3-evidence/9\n")
    run(["evaluate", str(tmp_path), "--require", "small-business=1"], 2)


# -- init -------------------------------------------------------------------------

def test_init_writes_a_valid_skeleton_that_validate_explains(tmp_path: Path) -> None:
    target = tmp_path / "acme"
    out = run(["init", str(target), "--profile", "small-business", "--level", "2"], 0).output
    # by hand: level 2 needs OSP-3, 17, 11, 12, 24, 16 initial (1 document each) and OSP-5,
    # OSP-10 managed (a document and the four managed metric types each): 6 + 2 * 5 = 16
    assert "with 16 placeholder item(s)" in out
    assert sorted(p.name for p in target.iterdir()) == ["bundle.schema.json", "bundle.yaml",
                                                        "docs", "metrics"]
    assert not any((target / "docs").iterdir()) and not any((target / "metrics").iterdir())
    text = (target / "bundle.yaml").read_text()
    assert "# OSP-5 IT Managed Domain Patching: managed from level 2; evidence: documentation, " \
           "activity, scope, unavailability, effectiveness" in text
    checked = run(["validate", str(target)], 0).output
    assert "16 evidence items: 0 accepted, 16 rejected" in checked
    assert "placeholder: file missing ('docs/osp-3-procedure.md')" in checked
    assert "placeholder: observations file missing ('metrics/osp-5-activity.csv')" in checked
    assert "16 placeholder item(s) still to fill" in checked
    doc = evaluate_bundle(target, ["small-business"])
    assert doc["organization"]["id"] == "acme"
    assert doc["profiles"][0]["achieved_level"] == 0


def test_filling_the_skeleton_reaches_the_level(tmp_path: Path) -> None:
    target = tmp_path / "acme"
    run(["init", str(target), "-p", "cloud-saas", "-l", "3", "--org-id", "acme-co",
         "--org-name", "Acme Co"], 0)
    items = yaml.safe_load((target / "bundle.yaml").read_text())["evidence"]
    for item in items:
        path = target / item["path"]
        path.write_text("date,value\n2026-03-01,4\n" if item["kind"] == "metric" else "# doc\n")
    text = (target / "bundle.yaml").read_text()   # and the TODO titles replaced
    (target / "bundle.yaml").write_text(text.replace('title: "TODO: ', 'title: "'))
    checked = run(["validate", str(target)], 0).output
    assert f"{len(items)} evidence items: {len(items)} accepted, 0 rejected" in checked
    doc = evaluate_bundle(target, ["cloud-saas"])
    assert doc["organization"] == {"id": "acme-co", "name": "Acme Co"}
    assert doc["profiles"][0]["achieved_level"] == 3


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    out = run(["init", str(tmp_path), "-p", "small-business"], 2).output
    assert "folder is not empty; refusing to overwrite it" in out
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "bundle.yaml").exists()


@pytest.mark.parametrize("args, message", [
    (["-p", "small-business", "-l", "4"], "profile 'small-business' has levels 1..3"),
    (["-p", "nope"], "unknown profile 'nope'"),
    (["-p", "small-business", "--org-id", "a b"], "organization id 'a b' may hold only"),
])
def test_init_usage_errors_write_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    target = tmp_path / "new"
    assert message in run(["init", str(target), *args], 2).output
    assert not target.exists()


def test_mandatory_processes_are_named_in_the_skeleton(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("schema: ism3-profile/1\nid: p\nname: P\nsource: custom\n"
                       "mandatory: [OSP-3]\nlevels:\n"
                       "  - {level: 1, name: One, requires: {OSP-3: initial}}\n")
    run(["init", str(tmp_path / "b"), "-p", str(profile)], 0)
    assert "not allowed for OSP-3 in this profile" in (tmp_path / "b" / "bundle.yaml").read_text()
