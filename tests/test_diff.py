"""`ism3 diff`: what changed between two reports, and --fail-on-regression for CI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT
from history_support import HARBOR, NORTHWIND, derived, report, run, write
from ism3rules.diff import diff_reports, side


def _diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return diff_reports(old, new, side(old, "old.json"), side(new, "new.json"))


def test_a_report_against_itself_changes_nothing() -> None:
    document = report(NORTHWIND)
    diff = _diff(document, document)
    assert diff["schema"] == "ism3-diff/1"
    assert not diff["notes"] and not diff["regressions"] and not diff["processes"]
    assert all(p["change"] == "same" and not p["gaps_closed"] for p in diff["profiles"])
    assert diff["findings"]["open"] and not diff["findings"]["new"]
    assert not any(diff["evidence"].values())
    assert diff["summary"]["regression"] is False


def test_progress_over_a_quarter() -> None:
    old, new = report(NORTHWIND, "2025-12-31"), report(NORTHWIND, "2026-03-31")
    diff = _diff(old, new)
    ups = {p["process"]: (p["old"], p["new"]) for p in diff["processes"]}
    assert ups["OSP-10"] == ("initial", "optimized")
    assert all(p["change"] == "up" for p in diff["processes"])
    small = next(p for p in diff["profiles"] if p["id"] == "small-business")
    assert (small["old_level"], small["new_level"], small["change"]) == (1, 3, "up")
    assert small["gaps_closed"] and not small["gaps_opened"]
    assert {"level": 2, "process": "OSP-10", "required": "managed"}.items() <= \
        next(g for g in small["gaps_closed"] if g["process"] == "OSP-10").items()
    assert diff["evidence"]["newly_accepted"] and not diff["evidence"]["newly_rejected"]
    # the reverse is a regression: capabilities and levels down, findings gone
    back = _diff(new, old)
    assert back["summary"]["capabilities_down"] == diff["summary"]["capabilities_up"]
    assert "small-business level 3 -> 1" in back["regressions"]
    assert any(r.startswith("OSP-10 capability optimized -> initial") for r in back["regressions"])
    assert back["evidence"]["newly_rejected"]


def test_evidence_added_removed_changed(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(HARBOR, bundle)
    old = report(bundle)
    with (bundle / "docs" / "osp-3-procedure.md").open("a") as handle:
        handle.write("\nRevised.\n")
    manifest = bundle / "bundle.yaml"
    manifest.write_text(manifest.read_text().replace("id: DOC-OSP12\n", "id: DOC-OSP12-V2\n"))
    from ism3rules.api import evaluate_bundle

    new = evaluate_bundle(bundle)
    diff = _diff(old, new)
    assert [e["id"] for e in diff["evidence"]["added"]] == ["DOC-OSP12-V2"]
    assert [e["id"] for e in diff["evidence"]["removed"]] == ["DOC-OSP12"]
    # the procedure was hashed in bundle.yaml: editing it gets it rejected
    assert [(e["id"], e["reason"][:13]) for e in diff["evidence"]["newly_rejected"]] == \
        [("DOC-OSP3", "sha256 mismatc")] or diff["evidence"]["newly_rejected"][0]["id"] == \
        "DOC-OSP3"
    assert [e["id"] for e in diff["evidence"]["changed"]] == ["DOC-OSP3"]
    assert any(p["process"] == "OSP-3" and p["change"] == "down" for p in diff["processes"])


def test_findings_matched_by_stable_id_when_every_finding_has_one() -> None:
    old, new = report(NORTHWIND, "2026-03-31"), report(NORTHWIND, "2026-06-30")
    # the tool gives every finding a stable id: matched by id, whatever the message says now
    by_id = _diff(old, new)["findings"]
    assert by_id["matched_by"] == "id"
    target = next(f["id"] for f in new["findings"] if f["rule"] == "MON-TARGET-MISSED"
                  and f["process"] == "OSP-10")
    assert target in {f["id"] for f in old["findings"]}
    assert target in {f["id"] for f in by_id["open"]}
    assert target not in {f["id"] for f in by_id["new"]}
    # reports from before finding ids (or one side without them): both sides fall back to
    # rule, process and message
    for finding in old["findings"]:
        del finding["id"]
    assert _diff(old, new)["findings"]["matched_by"] == "rule, process and message"
    for finding in new["findings"]:
        del finding["id"]
    assert _diff(old, new)["findings"]["matched_by"] == "rule, process and message"


def test_changed_rules_and_profiles_are_stated_first(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    first = sorted(rules.glob("*.yaml"))[0]
    first.write_text(first.read_text() + "\n# a comment changes the digest, not the meaning\n")
    profile = tmp_path / "small-business.yaml"
    profile.write_text((ROOT / "profiles" / "small-business.yaml").read_text()
                       .replace("OSP-10: {capability: managed", "OSP-10: {capability: defined"))
    old = report(HARBOR, profiles=("small-business",))
    new = report(HARBOR, profiles=(str(profile),), rules_dir=rules)
    old_file, new_file = write(tmp_path / "old.json", old), write(tmp_path / "new.json", new)
    out = run(["diff", str(old_file), str(new_file)], 0, env={"COLUMNS": "300"}).output
    lines = out.splitlines()
    assert lines[3].startswith("NOTE: the rules differ")
    assert lines[4].startswith("NOTE: profile small-business differs")
    assert "(criteria changed)" in out
    document = json.loads(run(["diff", str(old_file), str(new_file), "-f", "json"], 0).output)
    assert document["criteria"]["rules_changed"] is True
    assert document["criteria"]["profiles"][0]["status"] == "changed"
    assert document["profiles"][0]["criteria_changed"] is True


def test_reports_of_different_organizations_are_compared_with_a_note(tmp_path: Path) -> None:
    old = write(tmp_path / "a.json", report(HARBOR))
    new = write(tmp_path / "b.json", report(NORTHWIND))
    out = run(["diff", str(old), str(new)], 0).output
    assert "NOTE: the reports are about different organizations: harbor-clinic and northwind" \
        in out


def test_fail_on_regression(tmp_path: Path) -> None:
    better = write(tmp_path / "q1.json", report(NORTHWIND, "2026-03-31"))
    worse = write(tmp_path / "q4.json", report(NORTHWIND, "2025-12-31"))
    run(["diff", str(better), str(better), "--fail-on-regression"], 0)
    result = run(["diff", str(better), str(worse), "--fail-on-regression"], 1)
    assert "ism3: regression: small-business level 3 -> 1" in result.output
    # without the flag a regression is reported, not an exit code
    out = run(["diff", str(better), str(worse)], 0).output
    assert "REGRESSION (" in out and "  - small-business level 3 -> 1" in out


def test_a_new_finding_is_a_regression(tmp_path: Path) -> None:
    old = report(NORTHWIND, "2026-03-31")
    new = json.loads(json.dumps(old))
    new["findings"].append({"rule": "DOD-OWNER-AUDITOR", "finding": "division-of-duties",
                            "process": "OSP-3", "message": "one person owns and audits",
                            "evidence": [], "facts": {}})
    a, b = write(tmp_path / "a.json", old), write(tmp_path / "b.json", new)
    result = run(["diff", str(a), str(b), "--fail-on-regression"], 1)
    assert "new finding DOD-OWNER-AUDITOR on OSP-3: one person owns and audits" in result.output


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_formats_escape_what_reports_say(tmp_path: Path, fmt: str) -> None:
    hostile = "Evil <script>alert(1)</script> | *bold* \x1b[31mred"
    old = derived(report(NORTHWIND, "2025-12-31"), org="evil", name=hostile)
    new = derived(report(NORTHWIND, "2026-03-31"), org="evil", name=hostile)
    a, b = write(tmp_path / "a.json", old), write(tmp_path / "b.json", new)
    out = run(["diff", str(a), str(b), "-f", fmt, "-o", str(tmp_path / "out")], 0).output
    assert out == ""
    text = (tmp_path / "out").read_text()
    assert "\x1b" not in text or fmt == "json"
    if fmt == "markdown":
        assert "<script>" not in text and "&lt;script&gt;" in text and "\\| \\*bold\\*" in text
    if fmt == "json":
        assert json.loads(text)["new"]["organization"]["name"] == hostile


@pytest.mark.parametrize("args, match", [
    (["missing.json", "other.json"], "missing.json: no such report file"),
    (["x.json", "12"], "x.json:1: the report is not JSON"),
])
def test_bad_arguments_are_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  args: list[str], match: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.json").write_text("not json")
    result = run(["diff", *args], 2)
    assert match in result.output


def test_a_tampered_report_is_exit_2_and_says_what_to_do(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", report())
    document = report()
    document["processes"]["OSP-10"]["capability"] = "optimized"
    document["processes"]["OSP-10"]["rank"] = 5
    document["processes"]["OSP-10"]["evidence"].append("MET-OSP10-EFF")
    bad = write(tmp_path / "bad.json", document)
    result = run(["diff", str(good), str(bad)], 2)
    assert "bad.json: the report does not match its own digests" in result.output
    assert "evaluate the bundle again" in result.output


def test_the_table_cuts_long_evidence_lists_and_the_others_do_not(tmp_path: Path) -> None:
    old = write(tmp_path / "a.json", report(NORTHWIND, "2025-12-31"))
    new = write(tmp_path / "b.json", report(NORTHWIND, "2026-03-31"))
    table = run(["diff", str(old), str(new)], 0).output
    assert table.count("newly accepted  MET-") == 12
    assert "... 68 more" in table and "all of them: -f json or -f markdown" in table
    markdown = run(["diff", str(old), str(new), "-f", "markdown"], 0).output
    assert markdown.count("| newly accepted |") == 80


def test_every_history_format_choice_has_a_renderer() -> None:
    import cli
    from ism3rules.formats.diff_formats import DIFF_FORMATS
    from ism3rules.formats.history_formats import (PORTFOLIO_FORMATS, RUNS_FORMATS,
                                                    TREND_FORMATS)
    from ism3rules.history.backfill import EVERY

    assert set(cli.DIFF_FORMAT_CHOICES) == set(DIFF_FORMATS)
    assert set(cli.RUNS_FORMAT_CHOICES) == set(RUNS_FORMATS)
    assert set(cli.TREND_FORMAT_CHOICES) == set(TREND_FORMATS)
    assert set(cli.PORTFOLIO_FORMAT_CHOICES) == set(PORTFOLIO_FORMATS)
    assert cli.EVERY_CHOICES == EVERY
