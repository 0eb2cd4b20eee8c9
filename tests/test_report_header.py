"""What a report records about its inputs, so it can be traced and reproduced."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from cli import main
from conftest import ROOT
from ism3rules import __version__
from ism3rules.api import evaluate_bundle

HARBOR = ROOT / "evidence" / "harbor-clinic"


def test_header_records_tool_bundle_rules_profiles_and_as_of() -> None:
    doc = evaluate_bundle(HARBOR)
    assert doc["tool"] == {"name": "ism3rules", "version": __version__}
    assert doc["assessment"]["as_of"] == "2026-10-15"
    inputs = doc["inputs"]
    assert [f["path"] for f in inputs["bundle_files"]] == sorted(f["path"] for f in
                                                                 inputs["bundle_files"])
    assert inputs["bundle_files"][0] == {"path": "bundle.yaml",
                                         "sha256": inputs["bundle_manifest_sha256"]}
    assert len(inputs["bundle_sha256"]) == 64 and len(inputs["rules_sha256"]) == 64
    assert inputs["profiles"] == [{"id": p["id"], "sha256": p["sha256"]} for p in doc["profiles"]]
    assert "generated_at" not in doc


def test_process_entries_carry_the_sha256_of_the_files_behind_them() -> None:
    doc = evaluate_bundle(ROOT / "evidence" / "northwind")
    files = {f["path"]: f["sha256"] for f in doc["inputs"]["bundle_files"]}
    items = {e["id"]: e for e in doc["evidence"]}
    osp4 = doc["processes"]["OSP-4"]
    assert set(osp4["evidence_sha256"]) == set(osp4["evidence"])
    for eid, digest in osp4["evidence_sha256"].items():
        assert digest == files[items[eid]["path"]]


def test_missing_referenced_file_is_listed_without_a_digest() -> None:
    doc = evaluate_bundle(ROOT / "evidence" / "northwind")
    missing = [f for f in doc["inputs"]["bundle_files"] if f["sha256"] is None]
    assert [f["path"] for f in missing] == ["docs/osp-20-emulation-plan.md"]


def test_timestamp_only_on_request() -> None:
    out = CliRunner().invoke(main, ["evaluate", str(HARBOR), "-f", "json", "--timestamp"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert list(doc)[:3] == ["schema", "tool", "generated_at"]
    assert doc["generated_at"].endswith("+00:00")


def test_help_for_new_commands() -> None:
    for command in (["explain"], ["verify"], ["export"], ["export", "oscal-catalog"]):
        result = CliRunner().invoke(main, [*command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_importing_the_cli_loads_no_part_of_the_package() -> None:
    code = ("import sys, cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('ism3rules', 'tabulate', 'yaml', 'durable')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
