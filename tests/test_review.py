"""The auditor's review file (ism3-review/1): reading it, its errors, what it does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from conftest import ROOT, write_bundle
from ism3rules.api import evaluate_bundle
from ism3rules.errors import ReviewError
from ism3rules.review import load_review

HARBOR = ROOT / "evidence" / "harbor-clinic"
DOD = "DOD-OWNER-AUDITOR/OSP-11/71d5f8bead"


def _review(path: Path, **sections: Any) -> Path:
    data: dict[str, Any] = {"schema": "ism3-review/1",
                            "engagement": {"client": "harbor-clinic"}}
    data.update(sections)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _doc(review: Path, bundle: Path = HARBOR, profiles: tuple[str, ...] = ("small-business",)
         ) -> dict[str, Any]:
    return evaluate_bundle(bundle, profiles, review=review)


# -- bad review files: exit 2, file and line, a suggestion ----------------------------
BAD = {
    "client-mismatch": ("schema: ism3-review/1\nengagement:\n  client: northwind\n",
                        r"r.yaml:3: engagement: client 'northwind' is not the bundle's "
                        r"organization 'harbor-clinic'"),
    "unknown-item": ("schema: ism3-review/1\nengagement: {client: harbor-clinic}\nevidence:\n"
                     "  DOC-OSP33: {decision: accepted}\n",
                     r"r.yaml:4: item DOC-OSP33: not an evidence item of .*bundle.yaml "
                     r"\(did you mean 'DOC-OSP3'\?\)"),
    "unknown-process": ("schema: ism3-review/1\nengagement: {client: harbor-clinic}\n"
                        "processes:\n  OSP-99: {methods: [interview]}\n",
                        r"r.yaml:4: process OSP-99: unknown process \(did you mean 'OSP-9'\?\)"),
    "unknown-finding": ("schema: ism3-review/1\nengagement: {client: harbor-clinic}\nfindings:\n"
                        "  DOD-OWNER-AUDITOR/OSP-11/71d5f8beaf: {status: open}\n",
                        r"r.yaml:4: finding DOD-OWNER-AUDITOR/OSP-11/71d5f8beaf: not a finding "
                        rf"of this evaluation \(did you mean '{DOD}'\?\)"),
    "bad-severity": ("schema: ism3-review/1\nengagement: {client: harbor-clinic}\nfindings:\n"
                     f"  {DOD}:\n    severity: hihg\n",
                     r"r.yaml:5: finding .*: severity 'hihg' must be one of low, medium, high, "
                     r"critical \(did you mean 'high'\?\)"),
    "bad-status": ("schema: ism3-review/1\nengagement: {client: harbor-clinic}\nfindings:\n"
                   f"  {DOD}:\n    status: risk accepted\n",
                   r"r.yaml:5: .*status 'risk accepted' must be one of open, risk-accepted, "
                   r"closed \(did you mean 'risk-accepted'\?\)"),
    "bad-date": ("schema: ism3-review/1\nengagement: {client: harbor-clinic}\nfindings:\n"
                 f"  {DOD}:\n    due: 2026-13-01\n",
                 r"r.yaml:5: finding .*: 'due': '2026-13-01' is not a valid date"),
    "bad-decision": ("schema: ism3-review/1\nengagement: {client: harbor-clinic}\nevidence:\n"
                     "  DOC-OSP3: {decision: acepted}\n",
                     r"r.yaml:4: item DOC-OSP3: decision 'acepted' must be one of accepted, "
                     r"rejected, pending \(did you mean 'accepted'\?\)"),
    "rejected-without-reason": ("schema: ism3-review/1\nengagement: {client: harbor-clinic}\n"
                                "evidence:\n  DOC-OSP3: {decision: rejected}\n",
                                r"r.yaml:4: item DOC-OSP3: a rejected item needs a 'reason'"),
    "unknown-key": ("schema: ism3-review/1\nengagement: {client: harbor-clinic, auditer: X}\n",
                    r"r.yaml:2: engagement: unknown key 'auditer' \(did you mean 'auditor'\?\)"),
    "bad-method": ("schema: ism3-review/1\nengagement: {client: harbor-clinic}\nprocesses:\n"
                   "  OSP-3: {methods: [inspecton]}\n",
                   r"r.yaml:4: process OSP-3: method 'inspecton' must be one of inspection, "
                   r"interview, observation \(did you mean 'inspection'\?\)"),
    "bad-audit-type": ("schema: ism3-review/1\nengagement: {client: harbor-clinic, "
                       "audit_type: surveilance}\n",
                       r"r.yaml:2: engagement: audit_type 'surveilance' .*\(did you mean "
                       r"'surveillance'\?\)"),
    "half-signoff": ("schema: ism3-review/1\nengagement: {client: harbor-clinic}\nsignoff:\n"
                     "  name: Jane Roe\n",
                     r"r.yaml:4: signoff: a sign-off needs 'name' and 'date'"),
    "wrong-schema": ("schema: ism3-review/2\nengagement: {client: harbor-clinic}\n",
                     r"r.yaml:1: schema is 'ism3-review/2'"),
    "python-tag": ("schema: ism3-review/1\nengagement: !!python/object/apply:os.system [ls]\n",
                   r"r.yaml:2: YAML tags that build objects are not allowed"),
    "not-yaml": ("schema: ism3-review/1\nengagement: {client: harbor-clinic\n",
                 r"r.yaml:\d+: "),
    "control-characters": ("schema: ism3-review/1\nengagement: {client: \"harbor\\e[31m\"}\n",
                           r"client 'harbor\\x1b\[31m' is not"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_review_is_an_input_error_with_file_line_and_suggestion(tmp_path: Path,
                                                                      name: str) -> None:
    text, match = BAD[name]
    review = tmp_path / "r.yaml"
    review.write_text(text)
    with pytest.raises(ReviewError, match=match):
        _doc(review)
    result = CliRunner().invoke(main, ["evaluate", str(HARBOR), "--review", str(review)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("ism3: error: ") and "r.yaml:" in result.output
    assert "\x1b" not in result.output


def test_the_review_is_read_within_the_limits(tmp_path: Path) -> None:
    review = tmp_path / "r.yaml"
    review.write_text("schema: ism3-review/1\nengagement: {client: harbor-clinic}\n"
                      "evidence:\n" + "".join(f"  X{n}: &a{n} {{decision: pending}}\n"
                                              for n in range(3)) + "  Y: [*a0, *a1, *a2]\n")
    result = CliRunner().invoke(main, ["evaluate", str(HARBOR), "--review", str(review),
                                       "--max-yaml-aliases", "2"])
    assert result.exit_code == 2 and "more than 2 YAML aliases" in result.output


# -- the skeleton ----------------------------------------------------------------------
def test_review_init_lists_every_item_and_finding_pending_and_loads_back(tmp_path: Path) -> None:
    out = tmp_path / "review.yaml"
    result = CliRunner().invoke(main, ["review", "init", str(HARBOR), "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(out.read_text())
    doc = evaluate_bundle(HARBOR, ["small-business"])
    assert list(data["evidence"]) == [e["id"] for e in doc["evidence"]]
    assert {v["decision"] for v in data["evidence"].values()} == {"pending"}
    assert list(data["findings"]) == [f["id"] for f in doc["findings"]]
    loaded = load_review(out)
    assert loaded.engagement.client == "harbor-clinic" and loaded.signoff is None
    reviewed = _doc(out)
    assert reviewed["review"]["evidence"]["pending"] == len(doc["evidence"])
    again = CliRunner().invoke(main, ["review", "init", str(HARBOR), "-o", str(out)])
    assert again.exit_code == 2 and "exists; give --force" in again.output
    forced = CliRunner().invoke(main, ["review", "init", str(HARBOR), "-o", str(out), "--force"])
    assert forced.exit_code == 0


def test_review_init_refuses_to_write_into_the_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(HARBOR, bundle)
    result = CliRunner().invoke(main, ["review", "init", str(bundle), "-o",
                                       str(bundle / "review.yaml")])
    assert result.exit_code == 2 and "never inside it" in result.output


def test_hostile_bundle_text_cannot_inject_yaml_into_the_skeleton(tmp_path: Path) -> None:
    title = "Policy\nfindings: {X: {status: closed}}\u2028signoff: {name: Mallory}\x85#"
    bundle = write_bundle(tmp_path / "b", [
        {"id": "DOC-1", "process": "OSP-3", "kind": "documentation", "title": title,
         "path": "docs/a.md"}], files={"docs/a.md": "# a\n"}, org_id="acme")
    out = tmp_path / "review.yaml"
    assert CliRunner().invoke(main, ["review", "init", str(bundle), "-o", str(out)]).exit_code == 0
    data = yaml.safe_load(out.read_text())
    assert data["findings"] is None and data["signoff"]["name"] is None
    assert list(data["evidence"]) == ["DOC-1"]


# -- what the decisions do -------------------------------------------------------------
def test_a_rejected_document_does_not_count_and_shows_the_auditors_reason(tmp_path: Path) -> None:
    review = _review(tmp_path / "r.yaml", evidence={
        "DOC-OSP5": {"decision": "rejected", "reason": "unsigned draft, not approved",
                     "reviewer": "J. Roe", "date": "2026-10-20"},
        "DOC-OSP3": {"decision": "accepted"}})
    before = evaluate_bundle(HARBOR, ["small-business"])
    after = _doc(review)
    assert before["processes"]["OSP-5"]["capability"] != "none"
    assert after["processes"]["OSP-5"]["capability"] == "none"
    entry = next(e for e in after["evidence"] if e["id"] == "DOC-OSP5")
    assert entry["status"] == "rejected"
    assert entry["reason"] == ("rejected by the auditor (J. Roe, 2026-10-20): unsigned draft, "
                               "not approved")
    assert entry["review"] == {"decision": "rejected", "reason": "unsigned draft, not approved",
                               "reviewer": "J. Roe", "date": "2026-10-20"}
    # every item still appears exactly once; the rest are pending and still count
    assert [e["id"] for e in after["evidence"]] == [e["id"] for e in before["evidence"]]
    osp3 = next(e for e in after["evidence"] if e["id"] == "DOC-OSP3")
    assert osp3["status"] == "accepted" and osp3["review"] == {"decision": "accepted"}
    pending = [e for e in after["evidence"] if e["review"]["decision"] == "pending"]
    assert pending and all(e["status"] == next(b for b in before["evidence"]
                                               if b["id"] == e["id"])["status"] for e in pending)
    assert after["review"]["evidence"]["unreviewed"] == [e["id"] for e in pending]
    # the rejection is named where the gap is explained
    gap = [g for lv in after["profiles"][0]["levels"] for g in lv["gaps"]
           if g["process"] == "OSP-5"]
    assert gap and any(n["id"] == "DOC-OSP5" and "rejected by the auditor" in n["reason"]
                       for n in gap[0]["not_counted"])


def test_a_rejected_metric_does_not_count(tmp_path: Path) -> None:
    review = _review(tmp_path / "r.yaml", evidence={
        "MET-OSP5-EFF": {"decision": "rejected", "reason": "figures not traceable"}})
    assert evaluate_bundle(HARBOR, ["small-business"])["processes"]["OSP-5"]["capability"] == \
        "managed"
    after = _doc(review)
    assert after["processes"]["OSP-5"]["capability"] == "initial"
    assert after["processes"]["OSP-5"]["next"]["missing"] == ["effectiveness"]
    entry = next(e for e in after["evidence"] if e["id"] == "MET-OSP5-EFF")
    assert (entry["status"], entry["reason"]) == (
        "rejected", "rejected by the auditor: figures not traceable")
    assert "counted_by" not in entry


def test_a_rejected_role_record_is_not_relied_on_and_its_finding_may_still_be_managed(
        tmp_path: Path) -> None:
    review = _review(tmp_path / "r.yaml", evidence={
        "ROLE-OSP11-AUDITOR": {"decision": "rejected", "reason": "superseded appointment"}},
        findings={DOD: {"status": "closed", "response": "auditor replaced"}})
    after = _doc(review)
    assert DOD not in [f["id"] for f in after["findings"]]
    entry = next(e for e in after["evidence"] if e["id"] == "ROLE-OSP11-AUDITOR")
    assert entry["status"] == "rejected"


def test_a_rejected_exclusion_does_not_apply(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", [
        {"id": "DOC-OSP3", "process": "OSP-3", "kind": "documentation", "path": "docs/a.md"},
        {"id": "EXC-OSP5", "process": "OSP-5", "kind": "exclusion",
         "justification": "no managed IT domain", "approver": "CISO"}],
        files={"docs/a.md": "# a\n"}, org_id="soa")
    profile = tmp_path / "p.yaml"
    profile.write_text("schema: ism3-profile/1\nid: soa\nname: SoA\nsource: custom\nlevels:\n"
                       "  - {level: 1, name: One, requires: {OSP-3: initial, OSP-5: initial}}\n")
    review = tmp_path / "r.yaml"
    review.write_text("schema: ism3-review/1\nengagement: {client: soa}\nevidence:\n"
                      "  EXC-OSP5: {decision: rejected, reason: patching is in scope}\n")
    assert evaluate_bundle(bundle, [str(profile)])["profiles"][0]["achieved_level"] == 1
    after = evaluate_bundle(bundle, [str(profile)], review=review)
    assert after["profiles"][0]["achieved_level"] == 0
    entry = next(e for e in after["evidence"] if e["id"] == "EXC-OSP5")
    assert entry["reason"] == "rejected by the auditor: patching is in scope"


def test_an_item_the_bundle_check_rejected_keeps_its_reason(tmp_path: Path) -> None:
    review = _review(tmp_path / "r.yaml", evidence={
        "DOC-OSP11": {"decision": "rejected", "reason": "agreed: edited after hashing"}})
    entry = next(e for e in _doc(review)["evidence"] if e["id"] == "DOC-OSP11")
    assert entry["reason"].startswith("hash mismatch")
    assert entry["review"]["decision"] == "rejected"


def test_the_policy_is_in_the_rules_a_firm_can_count_only_accepted_items(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    path = rules / "evidence.yaml"
    path.write_text(path.read_text().replace("review: {ne: rejected}", "review: accepted"))
    review = _review(tmp_path / "r.yaml", evidence={"DOC-OSP3": {"decision": "accepted"}})
    doc = evaluate_bundle(HARBOR, ["small-business"], rules, review=review)
    counted = {p for p, proc in doc["processes"].items() if proc["capability"] != "none"}
    assert counted == {"OSP-3"}
    # ... and then nothing counts without a review file
    plain = evaluate_bundle(HARBOR, ["small-business"], rules)
    assert {p["capability"] for p in plain["processes"].values()} == {"none"}


def test_findings_are_managed_severity_owner_due_response_status(tmp_path: Path) -> None:
    review = _review(tmp_path / "r.yaml", findings={DOD: {
        "severity": "critical", "owner": "Practice manager", "due": "2026-12-31",
        "response": "A second auditor is appointed.", "status": "risk-accepted"}})
    doc = _doc(review)
    finding = next(f for f in doc["findings"] if f["id"] == DOD)
    assert {k: finding[k] for k in ("severity", "rule_severity", "owner", "due", "response",
                                    "status")} == {
        "severity": "critical", "rule_severity": "high", "owner": "Practice manager",
        "due": "2026-12-31", "response": "A second auditor is appointed.",
        "status": "risk-accepted"}
    assert doc["review"]["findings"]["by_severity"]["critical"] == 1
    others = [f for f in doc["findings"] if f["id"] != DOD]
    assert {f["status"] for f in others} == {"open"}


def test_gap_compare_and_explain_take_the_review(tmp_path: Path) -> None:
    review = _review(tmp_path / "r.yaml", evidence={
        "DOC-OSP5": {"decision": "rejected", "reason": "unsigned draft"}})
    runner = CliRunner()
    explain = runner.invoke(main, ["explain", str(HARBOR), "OSP-5", "--profile", "small-business",
                                   "--review", str(review)])
    assert explain.exit_code == 0, explain.output
    assert "rejected by the auditor: unsigned draft" in explain.output
    gap = runner.invoke(main, ["gap", str(HARBOR), "--profile", "small-business", "--level", "1",
                               "--review", str(review), "-f", "json"])
    assert gap.exit_code == 0, gap.output
    assert "OSP-5" in json.dumps(json.loads(gap.output))
    compare = runner.invoke(main, ["compare", str(HARBOR), "--review", str(review), "-f", "json"])
    assert compare.exit_code == 0, compare.output


def test_a_rejected_metric_behind_a_finding_is_still_shown_rejected_by_the_auditor(
        tmp_path: Path) -> None:
    """MET-OSP10-UNA is behind the SLA breach; the finding using it is not it counting."""
    review = _review(tmp_path / "r.yaml", evidence={
        "MET-OSP10-UNA": {"decision": "rejected", "reason": "hand-typed figures"}})
    entry = next(e for e in _doc(review)["evidence"] if e["id"] == "MET-OSP10-UNA")
    assert entry["reason"] == "rejected by the auditor: hand-typed figures"
