"""The shipped sample bundles, checked by hand calculation against the shipped profiles."""

from __future__ import annotations

from datetime import date

from conftest import ROOT
from ism3rules.api import evaluate_bundle


def _levels(doc: dict) -> dict[str, int]:
    return {p["id"]: p["achieved_level"] for p in doc["profiles"]}


def test_northwind_is_mature() -> None:
    doc = evaluate_bundle(ROOT / "evidence" / "northwind")
    procs = doc["processes"]
    # all seven metric types + documentation
    for pid in ("OSP-3", "OSP-5", "OSP-10", "OSP-11"):
        assert procs[pid]["capability"] == "optimized"
    assert procs["OSP-4"]["capability"] == "controlled"       # no efficiency metric
    assert procs["OSP-12"]["capability"] == "defined"         # up to load
    assert procs["OSP-23"]["capability"] == "managed"         # the four managed types
    assert procs["GP-2"]["capability"] == "initial"           # documentation only
    assert procs["OSP-20"]["capability"] == "none"            # its document is missing
    # ism3-derived level 4 needs SSP-4 documented (northwind has only a stale SSP-4
    # metric) and OSP-9, security measures change control
    assert _levels(doc) == {"cloud-saas": 3, "ism3-derived": 3, "small-business": 3}
    derived = next(p for p in doc["profiles"] if p["id"] == "ism3-derived")
    gaps4 = {g["process"]: g for g in derived["levels"][3]["gaps"]}
    assert set(gaps4) == {"OSP-9", "SSP-4"}
    assert gaps4["SSP-4"]["missing"] == ["documentation"]
    rejected = {e["id"]: e["reason"] for e in doc["evidence"] if e["status"] == "rejected"}
    assert set(rejected) == {"DOC-OSP20-DRAFT", "MET-SSP4-ACT"}


def test_harbor_clinic_is_early() -> None:
    doc = evaluate_bundle(ROOT / "evidence" / "harbor-clinic")
    procs = doc["processes"]
    assert procs["OSP-5"]["capability"] == "managed"
    assert procs["OSP-10"]["capability"] == "initial"   # its effectiveness metric is empty
    assert procs["OSP-10"]["next"]["missing"] == ["effectiveness"]
    assert procs["OSP-10"]["next"]["not_counted"] == [{"id": "MET-OSP10-EFF",
                                                       "reason": "no observations"}]
    assert procs["OSP-11"]["capability"] == "none"      # its policy no longer matches its hash
    assert _levels(doc) == {"cloud-saas": 0, "ism3-derived": 0, "small-business": 1}
    small = next(p for p in doc["profiles"] if p["id"] == "small-business")
    assert [(g["process"], g["required"], g["actual"]) for g in small["levels"][1]["gaps"]] == [
        ("OSP-10", "managed", "initial"), ("OSP-11", "initial", "none"),
        ("OSP-24", "initial", "none"), ("OSP-16", "initial", "none")]


def test_every_item_is_reported_exactly_once() -> None:
    import yaml

    for name in ("northwind", "harbor-clinic"):
        manifest = yaml.safe_load((ROOT / "evidence" / name / "bundle.yaml").read_text())
        doc = evaluate_bundle(ROOT / "evidence" / name)
        assert [e["id"] for e in doc["evidence"]] == [i["id"] for i in manifest["evidence"]]
        assert len(doc["processes"]) == 45


def test_samples_report_cadence_bands_targets_service_levels_and_findings() -> None:
    """Each kind of finding appears on a shipped sample, with the rule and its evidence."""
    north = evaluate_bundle(ROOT / "evidence" / "northwind")
    harbor = evaluate_bundle(ROOT / "evidence" / "harbor-clinic")
    found = {(f["rule"], f["process"], tuple(f["evidence"]))
             for doc in (north, harbor) for f in doc["findings"]}
    assert found == {
        # northwind: MET-OSP10-UNA declares an upper threshold of 2.18 (two weeks at 2.19)
        ("MON-ABOVE-THRESHOLD", "OSP-10", ("MET-OSP10-UNA",)),
        # ... and a target of 2 hours, lower being better: the latest week had 2.01
        ("MON-TARGET-MISSED", "OSP-10", ("MET-OSP10-UNA",)),
        # OSP-12's load has no thresholds: 98.5 on 2026-04-12 lies above the XmR limit
        # (mean 71.1742 + 3 * 5.8149 = 88.6189; sigma-hat = mean moving range / 1.128)
        ("MON-ABOVE-CONTROL", "OSP-12", ("MET-OSP12-LOA",)),
        # harbor: the last 4 unavailability values 2.2, 2.02, 2.14, 2.17 against <= 2.1
        ("SLA-BREACHED", "OSP-10", ("MET-OSP10-UNA",)),
        # harbor: the practice manager owns and audits access control
        ("DOD-OWNER-AUDITOR", "OSP-11", ("ROLE-OSP11-AUDITOR", "ROLE-OSP11-OWNER")),
        # harbor: the 2024 malware procedure expired on 2025-12-31
        ("EVD-EXPIRED", "OSP-17", ("DOC-OSP17-2024",)),
    }
    # the two weeks above the threshold are one finding (one metric, one id), two occurrences
    above = [f for f in north["findings"] if f["rule"] == "MON-ABOVE-THRESHOLD"]
    assert [len(f["occurrences"]) for f in above] == [2]
    assert [o["facts"]["point"]["date"] for o in above[0]["occurrences"]] == [
        "2026-01-04", "2026-02-01"]
    control = next(e for e in north["evidence"] if e["id"] == "MET-OSP12-LOA")["band"]
    assert (control["bounds"], control["upper"], control["anomalies"]) == ("control", 88.618912, 1)
    entries = {e["id"]: e for e in north["evidence"] + harbor["evidence"]}
    assert entries["MET-OSP3-ACT"]["target"]["met"] is True            # 32.84 >= 30
    assert entries["MET-OSP3-ACT"]["counted_by"] == "EVD-METRIC-CADENCE"
    # weekly from Thursday 2026-01-01: 25 weeks have ended by 06-24, each with its Sunday;
    # the week cut short at 06-30 has Sunday 06-28, so it counts in the metric's favour
    assert entries["MET-OSP3-ACT"]["cadence"] == {"frequency": "weekly", "periods_expected": 26,
                                                  "periods_reported": 26, "coverage": 1.0}
    assert entries["MET-OSP12-ACT"]["reason"] == (
        "reported in 2 of 6 monthly periods: coverage 0.333333 <= 0.8 required by rule "
        "EVD-METRIC-CADENCE")
    assert [s["status"] for s in north["service_levels"]] == ["met"]
    assert [(s["status"], [o["value"] for o in s["observations"]])
            for s in harbor["service_levels"]] == [("breached", [2.2, 2.14, 2.17])]


def test_as_of_rejudges_a_sample_at_a_past_date() -> None:
    """Before DOC-OSP5 took effect, OSP-5 has no documentation and so no capability."""
    doc = evaluate_bundle(ROOT / "evidence" / "harbor-clinic", as_of=date(2026, 2, 1))
    assert doc["assessment"]["as_of"] == "2026-02-01"
    entries = {e["id"]: e for e in doc["evidence"]}
    assert entries["DOC-OSP5"]["reason"] == (
        "in force from 2026-03-01, expires 2027-02-28 (assessed at 2026-02-01): "
        "days_in_force -28 < 0 required by rule EVD-DOCUMENT-IN-FORCE")
    assert doc["processes"]["OSP-5"]["capability"] == "none"
    # still in force on 2026-02-01? no: it expired on 2025-12-31 (and it is a finding)
    assert entries["DOC-OSP17-2024"]["reason"] == (
        "in force from 2024-01-15, expires 2025-12-31 (assessed at 2026-02-01): "
        "days_left -32 < 0 required by rule EVD-DOCUMENT-IN-FORCE")
    assert "EVD-EXPIRED" in {f["rule"] for f in doc["findings"]}
    # every observation of the period lies after 2026-02-01
    assert entries["MET-OSP5-ACT"]["status"] == "rejected"
