"""`ism3 explain`: the evidence -> rule -> capability chain of one process, in words."""

from __future__ import annotations

from click.testing import CliRunner

from cli import main
from conftest import ROOT

HARBOR = str(ROOT / "evidence" / "harbor-clinic")


def test_explains_evidence_rules_next_capability_and_rejections() -> None:
    result = CliRunner().invoke(main, ["explain", HARBOR, "osp-10", "-p", "small-business"])
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 100   # piped: stable width
    out = " ".join(result.output.split())   # lines are wrapped at spaces, never in a word
    assert out.startswith("OSP-10 Backup Management")
    assert "Capability: initial" in out
    assert ("DOC-OSP10: documentation \"Backup Management procedure\", "
            "docs/osp-10-procedure.md, sha256 0bfdafdacb39523702f352b3dc486be9ac1add85a48e70b476"
            "310f7c835b657f") in out
    assert "CAP-INITIAL \"A documented process operates at initial capability\"" in out
    assert "gives capability initial; practices audit, certify" in out
    assert "Next capability: managed" in out and "Did not fire: CAP-MANAGED" in out
    assert "It lacks: effectiveness." in out
    assert "Rejected, would have counted: MET-OSP10-EFF: no observations." in out
    assert "small-business (derived) level 2 (Measured essentials) requires managed: NOT met." in out
    assert "cloud-saas" not in out


def test_process_with_nothing_and_a_hash_mismatch() -> None:
    out = CliRunner().invoke(main, ["explain", HARBOR, "OSP-11"]).output
    assert "No capability rule fired" in out
    assert "DOC-OSP11: hash mismatch" in out


def test_unknown_process_is_a_usage_error_with_a_suggestion() -> None:
    result = CliRunner().invoke(main, ["explain", HARBOR, "OSP-99"])
    assert result.exit_code == 2
    assert "unknown process 'OSP-99' (did you mean 'OSP-9'?)" in result.output
