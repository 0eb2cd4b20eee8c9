"""The auditor's deliverable: every format with a review, OSCAL risks, templates, goldens."""

from __future__ import annotations

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from trestle.oscal import assessment_results

from cli import main
from conftest import ROOT, write_bundle
from ism3rules.api import evaluate_bundle
from ism3rules.formats import FORMATS

HARBOR = ROOT / "evidence" / "harbor-clinic"
REVIEW = ROOT / "evidence" / "harbor-clinic.review.yaml"
GOLDEN = ROOT / "tests" / "golden"
UNREVIEWED = ["MET-OSP10-EFF", "DOC-OSP17-2024", "MET-OSP12-ACT", "ROLE-OSP11-OPERATOR"]

_cache: dict[str, dict[str, Any]] = {}


def reviewed() -> dict[str, Any]:
    if "doc" not in _cache:
        _cache["doc"] = evaluate_bundle(HARBOR, review=REVIEW)
    return json.loads(json.dumps(_cache["doc"]))


@pytest.mark.parametrize("fmt, ext", [("markdown", "md"), ("html", "html"), ("json", "json"),
                                      ("oscal", "oscal.json")])
def test_reviewed_report_matches_golden(fmt: str, ext: str) -> None:
    rendered = FORMATS[fmt](reviewed())
    golden = GOLDEN / f"harbor-clinic.reviewed.{ext}"
    if os.environ.get("ISM3_REGEN_GOLDEN") == "1":
        golden.write_bytes(rendered.encode("utf-8"))
    assert rendered == golden.read_bytes().decode("utf-8"), (
        f"{fmt} differs from {golden}; regenerate with ISM3_REGEN_GOLDEN=1 if intended")


def test_json_carries_the_whole_review() -> None:
    doc = reviewed()
    review = doc["review"]
    assert review["engagement"] == {
        "client": "harbor-clinic", "auditor": "Jane Roe", "firm": "Roe & Partners Assurance",
        "audit_type": "initial", "dates": {"start": "2026-10-12", "end": "2026-10-16"},
        "scope": "Information security management of Harbor Family Clinic's patient "
                 "administration and IT services at its single site, against the "
                 "small-business maturity profile."}
    assert review["evidence"]["unreviewed"] == UNREVIEWED
    assert (review["evidence"]["accepted"], review["evidence"]["rejected"]) == (13, 2)
    assert review["signoff"]["name"] == "Jane Roe"
    assert review["processes"]["OSP-3"]["methods"] == ["inspection", "interview"]
    assert doc["processes"]["OSP-5"]["review"]["notes"] == "Patch run observed on 2026-10-14."
    assert {f["id"]: f["status"] for f in doc["findings"]} == {
        "SLA-BREACHED/OSP-10/af70ed7601": "risk-accepted",
        "DOD-OWNER-AUDITOR/OSP-11/71d5f8bead": "open",
        "EVD-EXPIRED/OSP-17/21fc965562": "closed"}
    import hashlib

    assert review["sha256"] == hashlib.sha256(REVIEW.read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_marks_the_unreviewed_items(fmt: str) -> None:
    out = FORMATS[fmt](reviewed())
    if fmt == "csv-evidence":
        rows = {r["id"]: r for r in csv.DictReader(io.StringIO(out))}
        assert [i for i, r in rows.items() if r["review_decision"] == "pending"] == UNREVIEWED
    elif fmt == "csv":
        rows = {r["process"]: r for r in csv.DictReader(io.StringIO(out))}
        assert rows["OSP-10"]["unreviewed_evidence"] == "MET-OSP10-EFF"
    elif fmt == "junit":
        props = {p.get("name"): p.get("value") for p in ET.fromstring(out).iter("property")}
        assert props["review.unreviewed"] == ", ".join(UNREVIEWED)
    elif fmt in ("json", "oscal"):
        data = json.loads(out)
        if fmt == "json":
            assert [e["id"] for e in data["evidence"]
                    if e["review"]["decision"] == "pending"] == UNREVIEWED
        else:
            obs = data["assessment-results"]["results"][0]["observations"]
            flagged = [next(p["value"] for p in o["props"] if p["name"] == "evidence-id")
                       for o in obs if {"name": "review-decision", "ns": "urn:ism3rules:oscal",
                                        "value": "unreviewed"} in o["props"]]
            assert flagged == UNREVIEWED
    elif fmt == "html":
        assert out.count('<span class="flag">unreviewed</span>') == len(UNREVIEWED)
    elif fmt == "markdown":
        assert out.count("**unreviewed**") == len(UNREVIEWED)
    else:
        assert "unreviewed: " + ", ".join(UNREVIEWED) in out


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_the_deliverable_order_and_without_a_review_the_assessment(fmt: str) -> None:
    out = FORMATS[fmt](reviewed())
    marks = (["## Executive summary", "## Scope and statement of applicability", "## Findings",
              "## Unreviewed evidence", "## Summary", "## Sign-off",
              "## Appendix: input digests"] if fmt == "markdown" else
             ['id="executive-summary"', 'id="scope"', 'id="findings"', 'id="unreviewed"',
              'id="summary"', 'id="signoff"', 'id="inputs"'])
    positions = [out.index(m) for m in marks]
    assert positions == sorted(positions)
    assert "Jane Roe" in out and "Roe &amp; Partners Assurance" in out
    assert "An external reviewer will audit access control from January 2027." in out
    plain = FORMATS[fmt](evaluate_bundle(HARBOR))
    for mark in marks:
        if "summary" not in mark.lower() and "findings" not in mark.lower():
            assert mark not in plain
    assert "Executive summary" not in plain and "Bundle sha256" in plain


def test_human_formats_render_every_section_of_the_document() -> None:
    doc = evaluate_bundle(ROOT / "evidence" / "harbor-clinic")
    for fmt in ("markdown", "html"):
        out = FORMATS[fmt](doc)
        assert "Service levels" in out and "Metric specifications" in out
        # coverage as a percentage; JSON keeps the number
        assert "2 of 6 periods (33.3%)" in out
    entry = next(e for e in doc["evidence"] if e["id"] == "MET-OSP12-ACT")
    assert entry["cadence"]["coverage"] == 0.333333


def test_oscal_carries_findings_risks_responses_and_the_signoff() -> None:
    data = json.loads(FORMATS["oscal"](reviewed()))
    model = assessment_results.Model.model_validate(data)
    meta = data["assessment-results"]["metadata"]
    assert [p["name"] for p in meta["parties"]] == ["Jane Roe", "Roe & Partners Assurance"]
    assert len(model.assessment_results.results) == 3
    for result in data["assessment-results"]["results"]:
        risks = {next(p["value"] for p in r["props"] if p["name"] == "finding-id"): r
                 for r in result["risks"]}
        dod = risks["DOD-OWNER-AUDITOR/OSP-11/71d5f8bead"]
        assert dod["status"] == "open"
        assert dod["characterizations"][0]["facets"][0] == {
            "name": "severity", "system": "urn:ism3rules:oscal", "value": "high"}
        assert dod["remediations"][0]["description"] == ("An external reviewer will audit "
                                                         "access control from January 2027.")
        assert dod["deadline"] == "2027-01-31T00:00:00+00:00"
        sla = risks["SLA-BREACHED/OSP-10/af70ed7601"]
        assert sla["status"] == "deviation-approved"
        assert sla["characterizations"][0]["origin"]["actors"][0]["type"] == "party"
        expired = risks["EVD-EXPIRED/OSP-17/21fc965562"]
        assert expired["status"] == "closed"
        assert expired["remediations"][0]["lifecycle"] == "completed"
        linked = {rr["risk-uuid"] for f in result["findings"] for rr in f.get("related-risks", [])}
        assert linked == {r["uuid"] for r in result["risks"]}
        assert "Signed off by Jane Roe on 2026-10-20" in result["attestations"][0]["parts"][0][
            "prose"]


# -- templates ---------------------------------------------------------------------------
def _evaluate_with(tmp_path: Path, template: str, bundle: Path = HARBOR) -> Any:
    path = tmp_path / "firm.html.j2"
    path.write_text(template)
    return CliRunner().invoke(main, ["evaluate", str(bundle), "-f", "html", "--template",
                                     str(path), "--review", str(REVIEW)]
                              if bundle == HARBOR else
                              ["evaluate", str(bundle), "-f", "html", "--template", str(path)])


def test_a_firm_template_extends_the_shipped_one(tmp_path: Path) -> None:
    result = _evaluate_with(tmp_path, '{% extends "ism3/report.html.j2" %}'
                                      '{% block letterhead %}<div class="firm">Roe &amp; '
                                      'Partners: {{ view.review.signoff.name }}</div>'
                                      '{% endblock %}')
    assert result.exit_code == 0, result.output
    assert '<div class="firm">Roe &amp; Partners: Jane Roe</div>' in result.output
    assert 'id="executive-summary"' in result.output


def test_template_values_are_escaped_and_neutralised_in_one_place(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", [], org_id="evil")
    text = (tmp_path / "b" / "bundle.yaml").read_text().replace(
        "name: evil Ltd", 'name: "<script>x</script>\\e[31m\\u202eTrap"')
    (tmp_path / "b" / "bundle.yaml").write_text(text)
    page = ('<html><head><meta http-equiv="Content-Security-Policy" content="{{ csp }}"></head>'
            '<body><p id="n">{{ document.organization.name }}</p></body></html>')
    result = _evaluate_with(tmp_path, page, bundle)
    assert result.exit_code == 0, result.output
    assert "<script>" not in result.output and "&lt;script&gt;" in result.output
    assert "\x1b" not in result.output


@pytest.mark.parametrize("template, message", [
    ("<html><body>{{ view.title }}</body></html>", "lacks the Content-Security-Policy"),
    ("<html>{% if %}</html>", r"firm.html.j2:1: template error"),
    ("{{ view.nothing_here }}", "the template failed"),
    ("{{ ''.__class__.__mro__ }}", "the template failed"),
    ('{% include "/etc/passwd" %}', "not found"),
])
def test_a_bad_template_is_an_input_error(tmp_path: Path, template: str, message: str) -> None:
    result = _evaluate_with(tmp_path, template)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_template_is_for_html_only(tmp_path: Path) -> None:
    path = tmp_path / "t.j2"
    path.write_text("x")
    result = CliRunner().invoke(main, ["evaluate", str(HARBOR), "--template", str(path)])
    assert result.exit_code == 2 and "--template applies to --format html only" in result.output


HOSTILE = "=HYPERLINK(\"x\") <script>alert(1)</script> \x1b[31m | *bold* \u202edoc.exe"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_hostile_review_text_is_neutralised_in_every_format(tmp_path: Path, fmt: str) -> None:
    """The review is untrusted too: its text reaches each format only escaped."""
    import yaml

    data = yaml.safe_load(REVIEW.read_text())
    data["engagement"]["scope"] = HOSTILE
    data["engagement"]["auditor"] = HOSTILE
    data["evidence"]["DOC-OSP12"]["reason"] = HOSTILE
    data["evidence"]["DOC-OSP12"]["reviewer"] = HOSTILE
    data["processes"]["OSP-3"]["notes"] = HOSTILE
    dod = "DOD-OWNER-AUDITOR/OSP-11/71d5f8bead"
    data["findings"][dod].update(response=HOSTILE, owner=HOSTILE)
    data["signoff"].update(name=HOSTILE, statement=HOSTILE)
    review = tmp_path / "hostile.yaml"
    review.write_text(yaml.safe_dump(data, allow_unicode=False))
    out = FORMATS[fmt](evaluate_bundle(HARBOR, review=review))
    assert "\x1b" not in out
    if fmt in ("html", "markdown", "junit"):
        assert "<script>" not in out
    if fmt == "oscal":   # markup fields are Markdown in OSCAL: bundle and review text escaped
        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in ("title", "description", "remarks", "prose", "statement"):
                        assert "<script>" not in value, (key, value)
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(json.loads(out))
    if fmt == "csv-evidence":
        row = next(r for r in csv.DictReader(io.StringIO(out)) if r["id"] == "DOC-OSP12")
        assert row["review_reason"].startswith("'=") and row["review_reviewer"].startswith("'=")
    if fmt == "markdown":
        assert "\\| \\*bold\\*" in out
