"""Every output format for both shipped samples, against golden files.

Goldens live in tests/golden/<sample>.<format extension>. They change only on
purpose: run `ISM3_REGEN_GOLDEN=1 python -m pytest tests/test_formats.py` after a
deliberate change to the report or a renderer, and review the diff before committing.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest

from conftest import ROOT
from ism3rules.api import evaluate_bundle
from ism3rules.formats import FORMATS

GOLDEN = ROOT / "tests" / "golden"
SAMPLES = ("northwind", "harbor-clinic")
EXTENSION = {"table": "txt", "json": "json", "markdown": "md", "html": "html", "csv": "csv",
             "csv-evidence": "evidence.csv", "junit": "junit.xml", "oscal": "oscal.json"}
REGENERATE = os.environ.get("ISM3_REGEN_GOLDEN") == "1"

_documents: dict[str, dict[str, Any]] = {}


def sample_document(name: str) -> dict[str, Any]:
    """The report document of a shipped sample, evaluated once per test session."""
    if name not in _documents:
        _documents[name] = evaluate_bundle(ROOT / "evidence" / name)
    return copy.deepcopy(_documents[name])


def test_every_format_has_a_golden_extension() -> None:
    assert set(EXTENSION) == set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("sample", SAMPLES)
def test_format_matches_golden(sample: str, fmt: str) -> None:
    rendered = FORMATS[fmt](sample_document(sample))
    golden = GOLDEN / f"{sample}.{EXTENSION[fmt]}"
    if REGENERATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(rendered.encode("utf-8"))
    assert golden.exists(), (f"{golden} missing: run ISM3_REGEN_GOLDEN=1 python -m pytest "
                             "tests/test_formats.py")
    expected = golden.read_bytes().decode("utf-8")
    assert rendered == expected, (f"{fmt} output for {sample} differs from {golden}; if the "
                                  "change is intended, regenerate with ISM3_REGEN_GOLDEN=1")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_same_inputs_give_byte_identical_output(fmt: str) -> None:
    first = FORMATS[fmt](evaluate_bundle(ROOT / "evidence" / "harbor-clinic"))
    second = FORMATS[fmt](evaluate_bundle(ROOT / "evidence" / "harbor-clinic"))
    assert first.encode() == second.encode()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_renderers_accept_a_document_without_profiles_or_optional_keys(fmt: str) -> None:
    doc = sample_document("harbor-clinic")
    doc["profiles"] = []
    doc["inputs"].pop("bundle_files")
    for proc in doc["processes"].values():
        proc.pop("evidence_sha256")
    assert FORMATS[fmt](doc).strip()


@pytest.mark.parametrize("fmt", ["markdown", "html", "oscal"])
def test_findings_are_rendered_when_the_document_has_them(fmt: str) -> None:
    doc = sample_document("harbor-clinic")
    doc["findings"] = [{"id": "F-1", "kind": "anomaly", "rule": "MET-ANOMALY", "process": "OSP-5",
                        "message": "value 99 above the upper control limit",
                        "evidence": ["MET-OSP5-ACT"]}]
    out = FORMATS[fmt](doc)
    assert "MET" in out and "OSP" in out and "upper control limit" in out
    doc["findings"] = []
    assert FORMATS[fmt](doc)


def test_requirement_in_another_state_is_neither_met_nor_failed_in_junit() -> None:
    import xml.etree.ElementTree as ET

    doc = sample_document("harbor-clinic")
    small = next(p for p in doc["profiles"] if p["id"] == "small-business")
    req = next(r for r in small["levels"][1]["requirements"] if not r["met"])
    req.update(status="excluded", excluded_by="EXC-1")
    root = ET.fromstring(FORMATS["junit"](doc))
    suite = next(s for s in root if s.get("name") == "small-business")
    assert suite.get("skipped") == "1"
    skipped = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert [c.get("name") for c in skipped] == [f"{req['process']} is at least {req['required']}"]
    assert "excluded by EXC-1" in skipped[0].find("skipped").get("message")


def test_junit_counts_one_case_per_level_requirement_and_fails_unmet_ones() -> None:
    import xml.etree.ElementTree as ET

    doc = sample_document("harbor-clinic")
    root = ET.fromstring(FORMATS["junit"](doc))
    for prof, suite in zip(doc["profiles"], root, strict=True):
        reqs = [r for lvl in prof["levels"] for r in lvl["requirements"]]
        assert suite.get("name") == prof["id"]
        assert int(suite.get("tests")) == len(reqs) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == sum(1 for r in reqs if r["status"] == "gap")
        assert len(suite.findall("testcase/failure")) == int(suite.get("failures"))


def test_csv_has_one_row_per_process_and_per_evidence_item() -> None:
    import csv
    import io

    doc = sample_document("northwind")
    rows = list(csv.DictReader(io.StringIO(FORMATS["csv"](doc))))
    assert [r["process"] for r in rows] == list(doc["processes"])
    osp3 = next(r for r in rows if r["process"] == "OSP-3")
    assert osp3["capability"] == "optimized" and "DOC-OSP3=" in osp3["evidence_sha256"]
    items = list(csv.DictReader(io.StringIO(FORMATS["csv-evidence"](doc))))
    assert [r["id"] for r in items] == [e["id"] for e in doc["evidence"]]
    assert {r["status"] for r in items} == {"accepted", "rejected"}


def test_html_is_self_contained() -> None:
    out = FORMATS["html"](sample_document("northwind"))
    assert "<script" not in out.lower()
    for needle in ("http://", "https://", "src=", "@import", "url("):
        assert needle not in out, needle
    assert 'class="heatmap"' in out and out.count('class="ladder"') == 3
    assert out.count('<tr class="process"') == 45


def test_an_excluded_requirement_is_shown_as_excluded_not_met_nor_failed(tmp_path) -> None:
    import csv
    import io
    import xml.etree.ElementTree as ET

    import yaml

    root = tmp_path / "soa"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "osp-3.md").write_text("# OSP-3\n")
    (root / "bundle.yaml").write_text(yaml.safe_dump({
        "schema": "ism3-evidence/1", "organization": {"id": "soa", "name": "SoA Ltd"},
        "evidence": [
            {"id": "DOC-OSP3", "process": "OSP-3", "kind": "documentation",
             "path": "docs/osp-3.md"},
            {"id": "EXC-OSP5", "process": "OSP-5", "kind": "exclusion",
             "justification": "no managed IT domain", "approver": "CISO"}]}, sort_keys=False))
    profile = tmp_path / "p.yaml"
    profile.write_text("schema: ism3-profile/1\nid: soa\nname: SoA\nsource: custom\nlevels:\n"
                       "  - {level: 1, name: One, requires: {OSP-3: initial, OSP-5: initial}}\n")
    doc = evaluate_bundle(root, [str(profile)])
    assert doc["profiles"][0]["achieved_level"] == 1
    suite = ET.fromstring(FORMATS["junit"](doc))[0]
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "1")
    rows = {r["process"]: r for r in csv.DictReader(io.StringIO(FORMATS["csv"](doc)))}
    assert rows["OSP-5"]["soa met"] == "excluded" and rows["OSP-3"]["soa met"] == "yes"
    assert "justification: no managed IT domain; approved by: CISO" in FORMATS["markdown"](doc)
    html = FORMATS["html"](doc)
    assert ">excluded</text>" in html
    assert "1 of 2" in FORMATS["markdown"](doc)
