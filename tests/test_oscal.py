"""OSCAL output validated with compliance-trestle's models (not by eye)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from trestle.oscal import assessment_results, catalog

from cli import main
from conftest import ROOT
from ism3rules.api import evaluate_bundle
from ism3rules.formats._common import new_gaps
from ism3rules.formats.oscal import render_oscal


@pytest.mark.parametrize("sample", ["northwind", "harbor-clinic"])
def test_assessment_results_validate_and_carry_one_result_per_profile(sample: str) -> None:
    doc = evaluate_bundle(ROOT / "evidence" / sample)
    model = assessment_results.Model.model_validate(json.loads(render_oscal(doc)))
    results = model.assessment_results.results
    assert len(results) == len(doc["profiles"])
    for result, prof in zip(results, doc["profiles"], strict=True):
        assert len(result.observations) == len(doc["evidence"])
        # one finding per new gap, plus the report's own findings (anomalies, breaches, ...)
        assert len(result.findings or []) == len(new_gaps(prof)) + len(doc["findings"])
        for finding in result.findings or []:
            assert finding.target.status.state.value == "not-satisfied"
    resources = model.assessment_results.back_matter.resources
    hashed = {r.rlinks[0].href: r.rlinks[0].hashes[0].value for r in resources
              if r.rlinks[0].hashes}
    files = {f["path"]: f["sha256"] for f in doc["inputs"]["bundle_files"] if f["sha256"]}
    assert hashed == files


def test_uuids_are_stable_and_unique() -> None:
    doc = evaluate_bundle(ROOT / "evidence" / "harbor-clinic")
    text = render_oscal(doc)
    assert text == render_oscal(evaluate_bundle(ROOT / "evidence" / "harbor-clinic"))
    uuids: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("uuid"), str):
                uuids.append(node["uuid"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(text))
    assert len(uuids) == len(set(uuids)) > 100


def test_timestamps_come_from_the_report_not_the_clock() -> None:
    doc = evaluate_bundle(ROOT / "evidence" / "harbor-clinic")
    meta = json.loads(render_oscal(doc))["assessment-results"]["metadata"]
    assert meta["last-modified"] == "2026-10-15T00:00:00+00:00"      # the bundle's as_of
    doc["generated_at"] = "2026-11-01T10:00:00+00:00"
    meta = json.loads(render_oscal(doc))["assessment-results"]["metadata"]
    assert meta["last-modified"] == "2026-11-01T10:00:00+00:00"


def test_export_oscal_catalog_validates_and_has_the_45_processes(tmp_path) -> None:
    target = tmp_path / "catalog.json"
    result = CliRunner().invoke(main, ["export", "oscal-catalog", "-o", str(target)])
    assert result.exit_code == 0, result.output
    model = catalog.Model.model_validate(json.loads(target.read_text()))
    controls = [c for g in model.catalog.groups for c in g.controls]
    assert len(controls) == 45
    assert [g.id for g in model.catalog.groups] == ["generic", "strategic", "tactical",
                                                   "operational"]
    osp3 = next(c for c in controls if c.id == "osp-3")
    assert osp3.title == "Inventory Management"
    assert {p.name: p.value for p in osp3.props}["label"] == "OSP-3"
    again = CliRunner().invoke(main, ["export", "oscal-catalog"])
    assert again.output == target.read_text()
