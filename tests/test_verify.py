"""`ism3 verify`: a report matches its bundle until a byte of its inputs changes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from conftest import ROOT


def run(args: list[str], code: int) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture
def copied(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the harbor-clinic bundle and a JSON report made from it."""
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "evidence" / "harbor-clinic", bundle)
    report = tmp_path / "report.json"
    run(["evaluate", str(bundle), "-f", "json", "-o", str(report)], 0)
    return bundle, report


def test_unchanged_bundle_matches(copied: tuple[Path, Path]) -> None:
    bundle, report = copied
    out = run(["verify", str(report), str(bundle)], 0)
    assert "MATCH" in out and "8 bundle files checked" in out


def test_changed_document_is_a_mismatch(copied: tuple[Path, Path]) -> None:
    bundle, report = copied
    with (bundle / "docs" / "osp-3-procedure.md").open("a") as handle:
        handle.write("one more line\n")
    out = run(["verify", str(report), str(bundle)], 1)
    assert "changed   docs/osp-3-procedure.md" in out and "MISMATCH: 1 input(s)" in out


def test_changed_manifest_is_a_mismatch(copied: tuple[Path, Path]) -> None:
    bundle, report = copied
    manifest = bundle / "bundle.yaml"
    manifest.write_text(manifest.read_text().replace("Harbor Family Clinic", "Harbour Clinic"))
    out = run(["verify", str(report), str(bundle)], 1)
    assert "changed   bundle.yaml" in out


def test_manifest_edited_into_an_invalid_bundle_is_still_a_mismatch(
        copied: tuple[Path, Path]) -> None:
    bundle, report = copied
    manifest = bundle / "bundle.yaml"
    manifest.write_text(manifest.read_text() + "bogus: 1\n")
    out = run(["verify", str(report), str(bundle)], 1)
    assert "changed   bundle.yaml" in out and "no longer a valid bundle" in out


def test_missing_added_and_removed_files(copied: tuple[Path, Path]) -> None:
    bundle, report = copied
    (bundle / "docs" / "osp-5-procedure.md").unlink()
    manifest = bundle / "bundle.yaml"
    text = manifest.read_text().replace("docs/osp-12-procedure.md", "docs/osp-12-new.md")
    manifest.write_text(text)
    (bundle / "docs" / "osp-12-new.md").write_text("new\n")
    out = run(["verify", str(report), str(bundle)], 1)
    assert "missing   docs/osp-5-procedure.md" in out
    assert "removed   docs/osp-12-procedure.md" in out
    assert "added     docs/osp-12-new.md" in out


def test_changed_rules_are_a_mismatch(copied: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, report = copied
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    capability = rules / "capability.yaml"
    capability.write_text(capability.read_text() + "\n# a comment changes the digest\n")
    out = run(["verify", str(report), str(bundle), "--rules-dir", str(rules)], 1)
    assert "changed   rules" in out


def test_edited_report_digest_is_detected(copied: tuple[Path, Path]) -> None:
    bundle, report = copied
    doc = json.loads(report.read_text())
    doc["inputs"]["bundle_files"][1]["sha256"] = "0" * 64
    report.write_text(json.dumps(doc))
    out = run(["verify", str(report), str(bundle)], 1)
    assert "edited    report" in out


def test_custom_profile_is_checked_when_given(copied: tuple[Path, Path], tmp_path: Path) -> None:
    bundle, _ = copied
    profile = tmp_path / "mine.yaml"
    profile.write_text("schema: ism3-profile/1\nid: mine\nname: Mine\nsource: custom\nlevels:\n"
                       "  - {level: 1, name: One, requires: {OSP-3: initial}}\n")
    report = tmp_path / "mine.json"
    run(["evaluate", str(bundle), "-p", str(profile), "-f", "json", "-o", str(report)], 0)
    out = run(["verify", str(report), str(bundle)], 1)  # what cannot be checked does not match
    assert "not checked: profile mine" in out and "NOT VERIFIED: 1 input(s)" in out
    assert "MATCH:" not in out
    run(["verify", str(report), str(bundle), "-p", str(profile)], 0)
    profile.write_text(profile.read_text().replace("name: Mine", "name: Mine v2"))
    out = run(["verify", str(report), str(bundle), "-p", str(profile)], 1)
    assert "changed   profile mine" in out


@pytest.mark.parametrize("content, message", [
    ("not json", "not JSON"),
    ('{"schema": "other/1"}', "expected a 'ism3-report/1' JSON report"),
    ('{"schema": "ism3-report/1", "inputs": {"bundle_manifest_sha256": "x"}}',
     "records no bundle digests"),
])
def test_bad_report_is_exit_2(copied: tuple[Path, Path], tmp_path: Path, content: str,
                              message: str) -> None:
    bundle, _ = copied
    report = tmp_path / "bad.json"
    report.write_text(content)
    out = run(["verify", str(report), str(bundle)], 2)
    assert message in out


def test_bundle_digest_is_reproducible_with_sha256sum_lines(copied: tuple[Path, Path]) -> None:
    bundle, report = copied
    doc = json.loads(report.read_text())
    paths = sorted(["bundle.yaml", *(f"docs/{p.name}" for p in (bundle / "docs").iterdir())])
    lines = "".join(f"{hashlib.sha256((bundle / p).read_bytes()).hexdigest()}  {p}\n"
                    for p in paths)
    assert doc["inputs"]["bundle_sha256"] == hashlib.sha256(lines.encode()).hexdigest()


def _drop(doc: dict, path: str) -> None:
    """Delete the key at a dotted path (`inputs.profiles.0.sha256`)."""
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if last.isdigit():
        del node[int(last)]
    else:
        del node[last]


@pytest.mark.parametrize("deleted, named", [
    ("inputs.rules_sha256", "rules: the report records no rules digest (inputs.rules_sha256)"),
    ("profiles.0.sha256", "the report records no digest for it (sha256)"),
    ("inputs.profiles", "profiles: the report records no profile digests (inputs.profiles)"),
    ("inputs.bundle_sha256", "the bundle digest: the report records none"),
    ("inputs.bundle_manifest_sha256", "bundle.yaml: the report records no manifest digest"),
    ("inputs.bundle_files.1.sha256", "the report records no valid sha256 for it"),
])
def test_a_report_missing_a_digest_cannot_verify(copied: tuple[Path, Path], deleted: str,
                                                 named: str) -> None:
    """Issue 11: a report whose rules_sha256 or profile sha256 were deleted verified as
    MATCH. What cannot be checked is named, and there is no match (exit 1)."""
    bundle, report = copied
    doc = json.loads(report.read_text())
    _drop(doc, deleted)
    report.write_text(json.dumps(doc))
    out = run(["verify", str(report), str(bundle)], 1)
    assert "not checked: " in out and named in out, out
    assert "MATCH:" not in out.replace("MISMATCH:", "")
    assert "NOT VERIFIED" in out or "MISMATCH" in out


@pytest.mark.parametrize("edit", ["profile-digest", "extra-input-profile", "manifest-digest"])
def test_a_report_whose_digests_disagree_with_each_other_is_edited(
        copied: tuple[Path, Path], edit: str) -> None:
    bundle, report = copied
    doc = json.loads(report.read_text())
    if edit == "profile-digest":
        doc["profiles"][0]["sha256"] = "0" * 64
    elif edit == "extra-input-profile":
        doc["inputs"]["profiles"].append({"id": "ghost", "sha256": "1" * 64})
    else:
        doc["inputs"]["bundle_manifest_sha256"] = "2" * 64
    report.write_text(json.dumps(doc))
    out = run(["verify", str(report), str(bundle)], 1)
    assert "edited" in out and "MISMATCH" in out


def test_every_input_checked_is_listed_as_unchanged(copied: tuple[Path, Path]) -> None:
    bundle, report = copied
    out = run(["verify", str(report), str(bundle)], 0)
    profiles = len(json.loads(report.read_text())["profiles"])
    assert f"MATCH: the report matches ({8 + 1 + profiles} inputs unchanged)" in out
