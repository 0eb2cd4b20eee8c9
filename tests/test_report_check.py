"""Reports given back to the tool are untrusted: read strictly, checked against themselves."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from history_support import HARBOR, NORTHWIND, report, run, write
from ism3rules.errors import ReportError
from ism3rules.formats.json_format import render_json
from ism3rules.report_check import (MAX_REPORT_BYTES, canonical_json, load_report_file,
                                    parse_report, report_sha256)


@pytest.mark.parametrize("bundle", [HARBOR, NORTHWIND], ids=["harbor", "northwind"])
@pytest.mark.parametrize("as_of", [None, "2025-12-31", "2026-03-31", "2026-06-30"])
def test_every_report_the_tool_writes_passes(bundle: Path, as_of: str | None) -> None:
    document = report(bundle, as_of)
    assert parse_report(render_json(document).encode(), "r.json") == document


def test_generated_bundles_pass(tmp_path: Path) -> None:
    import sys

    from conftest import ROOT
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate import generate  # type: ignore[import-not-found]

    from ism3rules.api import evaluate_bundle

    for seed in range(3):
        document = evaluate_bundle(generate("small", tmp_path / f"b{seed}", seed))
        parse_report(render_json(document).encode(), f"b{seed}.json")


def test_report_sha256_is_the_sha256sum_of_the_file_evaluate_writes(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    run(["evaluate", str(HARBOR), "-f", "json", "-o", str(out)], 0)
    document = load_report_file(out)
    assert report_sha256(document) == hashlib.sha256(out.read_bytes()).hexdigest()
    assert canonical_json(document) == render_json(document)


def _bad(raw: bytes, match: str) -> None:
    with pytest.raises(ReportError, match=match):
        parse_report(raw, "r.json")


def test_truncated_report() -> None:
    raw = render_json(report()).encode()
    _bad(raw[: len(raw) // 2], r"r\.json:\d+: the report is cut short \(truncated\)")


def test_not_json_not_utf8_not_a_report() -> None:
    _bad(b"<html></html>", r"not JSON")
    _bad(b"\xff\xfe{}", "not UTF-8")
    _bad(b'{"schema": "ism3-plan/1"}', r"schema is 'ism3-plan/1'; expected an 'ism3-report/1'")
    _bad(b"[1, 2]", "schema is None")
    _bad(b'{"schema": "ism3-report/1", "schema": "ism3-report/1"}', "duplicate key 'schema'")
    _bad(b'{"schema": "ism3-report/1", "x": NaN}', "NaN is not a JSON number")
    _bad(b"[" * 100_000 + b"]" * 100_000, "nested too deeply|not a complete|schema is")


def test_incomplete_report_names_each_missing_field() -> None:
    document = report()
    del document["inputs"]
    document["organization"]["id"] = ""
    document["processes"]["OSP-3"]["capability"] = "superb"
    with pytest.raises(ReportError) as caught:
        parse_report(json.dumps(document).encode(), "r.json")
    message = str(caught.value)
    assert "not a complete ism3-report/1 document" in message
    assert "inputs: missing or not an object" in message
    assert "organization.id: empty" in message
    assert "processes.OSP-3.capability: unknown capability 'superb'" in message
    for proc in document["processes"].values():
        del proc["rank"]
    message = str(pytest.raises(ReportError, parse_report, json.dumps(document).encode(),
                                "r.json").value)
    assert len(message.splitlines()) == 12 and message.endswith("... and 38 more")


def _edit_file_digest(d: dict[str, Any]) -> None:
    d["inputs"]["bundle_files"][2]["sha256"] = "0" * 64


def _edit_manifest(d: dict[str, Any]) -> None:
    d["inputs"]["bundle_manifest_sha256"] = "1" * 64


def _edit_profile(d: dict[str, Any]) -> None:
    d["profiles"][0]["sha256"] = "2" * 64


def _edit_capability(d: dict[str, Any]) -> None:
    d["processes"]["OSP-10"]["capability"] = "optimized"


def _edit_level(d: dict[str, Any]) -> None:
    d["profiles"][-1]["achieved_level"] = 3


def _edit_levels(d: dict[str, Any]) -> None:
    d["profiles"][0]["max_level"] = 9


def _count_rejected(d: dict[str, Any]) -> None:
    d["processes"]["OSP-10"]["evidence"].append("MET-OSP10-EFF")


def _drop_item(d: dict[str, Any]) -> None:
    d["evidence"] = [e for e in d["evidence"] if e["id"] != "DOC-OSP10"]


def _repeat_item(d: dict[str, Any]) -> None:
    d["evidence"].append(dict(d["evidence"][0]))


@pytest.mark.parametrize("edit, match", [
    (_edit_file_digest, "inputs.bundle_sha256 is not the digest of inputs.bundle_files"),
    (_edit_manifest, "bundle_manifest_sha256 differs from the sha256 of bundle.yaml"),
    (_edit_profile, "inputs.profiles does not list the profiles"),
    (_edit_capability, "rank 1 is not the rank of capability 'optimized'"),
    (_edit_level, "achieved_level 3 but the levels met say 1"),
    (_edit_levels, "max_level 9 but 5 levels"),
    (_count_rejected, "counts 'MET-OSP10-EFF', which is not an accepted evidence item"),
    (_drop_item, "counts 'DOC-OSP10', which is not an accepted evidence item"),
    (_repeat_item, "listed twice"),
], ids=lambda v: getattr(v, "__name__", "")[:20])
def test_tampered_report_is_refused(edit: Callable[[dict[str, Any]], None], match: str) -> None:
    document = report()
    edit(document)
    with pytest.raises(ReportError) as caught:
        parse_report(render_json(document).encode(), "r.json")
    assert "the report does not match its own digests" in str(caught.value)
    assert match in str(caught.value)


def test_a_file_too_large_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_REPORT_BYTES + 10)
    with pytest.raises(ReportError, match="larger than"):
        load_report_file(big)


def test_edited_but_consistent_fields_outside_digests_pass(tmp_path: Path) -> None:
    """What a report cannot tell about itself: a field no digest covers (documented)."""
    document = report()
    document["organization"]["name"] = "Renamed"
    assert load_report_file(write(tmp_path / "r.json", document))["organization"]["name"] == \
        "Renamed"


def test_reports_of_every_rule_case_bundle_and_an_exclusion_pass(tmp_path: Path) -> None:
    """Roles, findings, service levels, metric specifications, exclusions: the checks hold
    for every shape of report the rule cases produce."""
    from test_rule_cases import _bundle_cases, _write_case_bundle

    from conftest import doc_item, write_bundle
    from ism3rules.api import evaluate_bundle

    cases = [c.values[1] for c in _bundle_cases() if "facts" not in c.values[1]]
    assert len(cases) > 20
    for number, case in enumerate(cases):
        root = _write_case_bundle(tmp_path / f"case{number}", case)
        parse_report(render_json(evaluate_bundle(root)).encode(), case["name"])
    excluded = write_bundle(
        tmp_path / "excluded",
        [doc_item("OSP-3"), doc_item("OSP-10"),
         {"id": "EXC-OSP24", "process": "OSP-24", "kind": "exclusion",
          "justification": "Handled by the group SOC.", "approver": "Director"}],
        files={"docs/OSP-3.md": "# 3\n", "docs/OSP-10.md": "# 10\n"})
    document = evaluate_bundle(excluded)
    assert any(r["status"] == "excluded" for p in document["profiles"] for lv in p["levels"]
               for r in lv["requirements"])
    parse_report(render_json(document).encode(), "excluded")


def test_the_schema_name_is_the_reports() -> None:
    from ism3rules import report, report_check

    assert report_check.SCHEMA == report.SCHEMA
