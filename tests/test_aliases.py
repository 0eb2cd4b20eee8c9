"""Names of capabilities and metric types match whatever their case; everything else is exact.

docs/contract.md, "Names": `Efficacy`, `EFFECTIVENESS` and `efficacy` are the metric type
effectiveness; `BASIC`, `Basic` and `basic` are the capability initial, in bundles,
profiles and rule files alike, and reports always say the canonical lower-case name.
Process ids, kinds, roles, frequencies and directions must be written exactly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, doc_item, write_bundle
from ism3rules.api import evaluate_bundle
from ism3rules.errors import EvidenceError
from ism3rules.evidence import load_bundle
from ism3rules.rules import load_rulebook


def _metric(metric_type: str, item_id: str) -> dict:
    return {"id": item_id, "process": "OSP-3", "kind": "metric", "metric_type": metric_type,
            "observations": [{"date": "2026-02-01", "value": 1}]}


def test_metric_types_and_their_aliases_match_whatever_the_case(tmp_path: Path) -> None:
    items = [doc_item("OSP-3"), _metric("ACTIVITY", "A"), _metric("Scope", "S"),
             _metric("unAvailability", "U"), _metric("Efficacy", "E")]
    root = write_bundle(tmp_path / "b", items, files={"docs/OSP-3.md": "# OSP-3\n"})
    profile = tmp_path / "p.yaml"
    profile.write_text(yaml.safe_dump({
        "schema": "ism3-profile/1", "id": "p", "name": "P", "source": "custom",
        "levels": [{"level": 1, "name": "One", "requires": {"OSP-3": "BASIC"}},
                   {"level": 2, "name": "Two", "requires": {"OSP-3": {"capability": "Managed",
                                                                       "rationale": "x"}}}]}))
    doc = evaluate_bundle(root, [str(profile)])
    assert doc["processes"]["OSP-3"]["capability"] == "managed"
    assert [e["metric_type"] for e in doc["evidence"][1:]] == [
        "activity", "scope", "unavailability", "effectiveness"]
    levels = doc["profiles"][0]["levels"]
    assert [r["required"] for lvl in levels for r in lvl["requirements"]] == ["initial",
                                                                              "managed"]
    assert doc["profiles"][0]["achieved_level"] == 2


def test_rule_files_name_capabilities_and_metric_types_in_any_case(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    path = rules / "capability.yaml"
    path.write_text(path.read_text().replace("metric_type: load}", "metric_type: LOAD}")
                    .replace("capability: defined\n      practices", "capability: Defined\n"
                             "      practices"))
    book = load_rulebook(rules)
    rule = book.rule("CAP-DEFINED")
    assert rule.when[1].tests[0].value == "load" and rule.then["capability"] == "defined"


@pytest.mark.parametrize("field, value, message", [
    ("process", "osp-3", "unknown process 'osp-3' (did you mean 'OSP-3'?)"),
    ("kind", "Documentation", "unknown kind 'Documentation' (did you mean 'documentation'?)"),
])
def test_other_names_are_exact(tmp_path: Path, field: str, value: str, message: str) -> None:
    item = doc_item("OSP-3")
    item[field] = value
    root = write_bundle(tmp_path / "b", [item], files={"docs/OSP-3.md": "# OSP-3\n"})
    with pytest.raises(EvidenceError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("?", r"\?")):
        load_bundle(root)


def test_roles_and_frequencies_are_exact(tmp_path: Path) -> None:
    items = [{"id": "R", "process": "OSP-3", "kind": "role", "role": "Auditor", "person": "X"},
             {**_metric("activity", "M"), "specification": {"frequency": "Weekly"}}]
    root = write_bundle(tmp_path / "b", items)
    with pytest.raises(EvidenceError) as info:
        load_bundle(root)
    assert "unknown role 'Auditor' (did you mean 'auditor'?)" in str(info.value)
    assert "'frequency' is 'Weekly' (did you mean 'weekly'?)" in str(info.value)
