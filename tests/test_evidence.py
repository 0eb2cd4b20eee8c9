"""What counts as evidence (contract v1): files, hashes, confinement, periods, CSV."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import doc_item, metric_item, sha, write_bundle
from ism3rules.evidence import load_bundle


def _status(root: Path) -> dict[str, tuple[str, str | None]]:
    return {i.id: (i.status, i.reason) for i in load_bundle(root).items}


def test_documentation_counts_when_file_exists_and_hash_matches(tmp_path: Path) -> None:
    text = "# Patching procedure\n"
    items = [dict(doc_item("OSP-5", "GOOD"), sha256=sha(text)),
             dict(doc_item("OSP-5", "NOHASH")),
             dict(doc_item("OSP-5", "BAD"), sha256=sha("other text")),
             doc_item("OSP-5", "MISSING", path="docs/nope.md")]
    root = write_bundle(tmp_path / "b", items, files={"docs/OSP-5.md": text})
    status = _status(root)
    assert status["GOOD"] == ("accepted", None)
    assert status["NOHASH"] == ("accepted", None)
    assert status["BAD"][0] == "rejected" and "hash mismatch" in str(status["BAD"][1])
    assert status["MISSING"] == ("rejected", "file missing ('docs/nope.md')")


def test_uppercase_hash_is_accepted(tmp_path: Path) -> None:
    text = "x\n"
    root = write_bundle(tmp_path / "b", [dict(doc_item("OSP-5"), sha256=sha(text).upper())],
                        files={"docs/OSP-5.md": text})
    assert _status(root)["DOC-OSP-5"][0] == "accepted"


@pytest.mark.parametrize("path, reason", [
    ("/etc/passwd", "absolute path"),
    ("../outside.md", "'..' in"),
    ("docs/../../outside.md", "'..' in"),
    ("C:\\Windows\\win.ini", "absolute path"),
])
def test_paths_outside_the_bundle_are_rejected(tmp_path: Path, path: str, reason: str) -> None:
    (tmp_path / "outside.md").write_text("secret\n")
    root = write_bundle(tmp_path / "b", [doc_item("OSP-5", path=path)])
    status, why = _status(root)["DOC-OSP-5"]
    assert status == "rejected"
    assert why is not None and "path outside the bundle" in why and reason in why


def test_symlink_leading_outside_is_rejected_and_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("secret\n")
    root = write_bundle(tmp_path / "b", [dict(doc_item("OSP-5", path="docs/link.md"),
                                              sha256=sha("secret\n"))])
    (root / "docs").mkdir()
    os.symlink(secret, root / "docs" / "link.md")
    status, why = _status(root)["DOC-OSP-5"]
    assert status == "rejected"
    assert "symlink" in str(why)
    item = load_bundle(root).items[0]
    assert item.sha256 == sha("secret\n")  # the declared hash only: the file was never hashed


def test_symlink_folder_outside_is_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "m.csv").write_text("date,value\n2026-01-01,1\n")
    root = write_bundle(tmp_path / "b", [dict(metric_item("OSP-5", "activity"),
                                              observations={"path": "data/m.csv"})])
    os.symlink(outside, root / "data")
    status, why = _status(root)["MET-OSP-5-activity"]
    assert status == "rejected" and "outside" in str(why)


def test_symlink_inside_the_bundle_is_fine(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", [doc_item("OSP-5", path="link.md")],
                        files={"docs/real.md": "x\n"})
    os.symlink(root / "docs" / "real.md", root / "link.md")
    assert _status(root)["DOC-OSP-5"] == ("accepted", None)


def test_directory_where_a_file_is_expected(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", [doc_item("OSP-5", path="docs")],
                        files={"docs/x.md": "x"})
    assert _status(root)["DOC-OSP-5"] == ("rejected", "not a regular file ('docs')")


def test_metric_counts_only_with_an_observation_in_the_period(tmp_path: Path) -> None:
    items = [metric_item("OSP-5", "activity", ["2026-01-01"], "EDGE-START"),
             metric_item("OSP-5", "scope", ["2026-06-30"], "EDGE-END"),
             metric_item("OSP-5", "load", ["2025-12-31", "2026-07-01"], "OUTSIDE"),
             dict(metric_item("OSP-5", "quality", item_id="EMPTY"), observations=[])]
    root = write_bundle(tmp_path / "b", items, period=("2026-01-01", "2026-06-30"))
    status = _status(root)
    assert status["EDGE-START"] == ("accepted", None)
    assert status["EDGE-END"] == ("accepted", None)
    assert status["OUTSIDE"] == ("rejected",
                                 "no observation in period 2026-01-01..2026-06-30 (2 outside it)")
    assert status["EMPTY"] == ("rejected", "no observations")


def test_without_a_period_any_observation_counts(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", [metric_item("OSP-5", "activity", ["1999-01-01"])])
    assert _status(root)["MET-OSP-5-activity"] == ("accepted", None)


def test_csv_observations_both_spellings(tmp_path: Path) -> None:
    csv_text = "date,value\n2026-01-05,3\n\n2026-01-12,4.5\n"
    items = [dict(metric_item("OSP-5", "activity", item_id="A"), observations={"path": "m.csv"}),
             {k: v for k, v in metric_item("OSP-5", "scope", item_id="B").items()
              if k != "observations"} | {"path": "m.csv"}]
    root = write_bundle(tmp_path / "b", items, files={"m.csv": csv_text})
    loaded = load_bundle(root)
    for item in loaded.items:
        assert item.status == "accepted"
        assert [o.value for o in item.observations] == [3.0, 4.5]


def test_missing_csv_rejects_the_item(tmp_path: Path) -> None:
    items = [dict(metric_item("OSP-5", "activity"), observations={"path": "nope.csv"})]
    status, why = _status(write_bundle(tmp_path / "b", items))["MET-OSP-5-activity"]
    assert status == "rejected" and why == "observations file missing ('nope.csv')"


def test_aliases_are_read(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", [metric_item("OSP-5", "efficacy")])
    assert load_bundle(root).items[0].metric_type == "effectiveness"


def test_bundle_yaml_path_is_accepted_as_well_as_the_folder(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", [metric_item("OSP-5", "activity")])
    assert load_bundle(root / "bundle.yaml").items == load_bundle(root).items


def test_empty_evidence_list_is_valid(tmp_path: Path) -> None:
    assert load_bundle(write_bundle(tmp_path / "b", [])).items == ()
