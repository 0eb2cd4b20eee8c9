"""Hostile bundles: nothing runs, nothing outside the bundle is read, every cost is bounded.

The failure modes with one message each live in bad_bundles/cases.yaml; these are
the attacks that need more than a message to show they failed (a marker file that
must not appear, a memory peak, a crash that must not happen).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from conftest import ROOT, doc_item, metric_item, write_bundle
from ism3rules import bundlefs
from ism3rules.errors import EvidenceError
from ism3rules.evidence import load_bundle
from ism3rules.limits import Limits

HEAD = "schema: ism3-evidence/1\norganization: {id: a, name: A}\n"


def _manifest(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "b"
    root.mkdir(exist_ok=True)
    (root / "bundle.yaml").write_text(text)
    return root


@pytest.mark.parametrize("payload", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/apply:subprocess.call [['touch', '{marker}']]",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{marker}']]",
    "!!python/name:os.system",
    "!!python/module:os",
    "!touch '{marker}'",
])
@pytest.mark.parametrize("where", ["value", "key", "item"])
def test_tags_that_build_objects_are_refused_and_nothing_runs(
        tmp_path: Path, payload: str, where: str) -> None:
    marker = tmp_path / "MARKER"
    tagged = payload.format(marker=marker)
    text = {"value": f"{HEAD}evidence: []\nextra: {tagged}\n",
            "key": f"{HEAD}evidence: []\n? {tagged}\n: 1\n",
            "item": f"{HEAD}evidence:\n  - {tagged}\n"}[where]
    root = _manifest(tmp_path, text)
    with pytest.raises(EvidenceError, match=r"bundle.yaml:\d+: YAML tags that build objects are "
                                            "not allowed"):
        load_bundle(root)
    result = CliRunner().invoke(main, ["evaluate", str(root)])
    assert result.exit_code == 2 and "YAML tags" in result.output
    assert not marker.exists()


def _laughs(levels: int, width: int) -> str:
    lines = ['l0: &l0 "lol"']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return HEAD + "evidence: []\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels, width", [(10, 10), (9, 9), (30, 3)])
def test_alias_bombs_are_refused_without_being_expanded(
        tmp_path: Path, levels: int, width: int) -> None:
    """The classic billion laughs (10**9 strings) and a long narrow chain (3**29)."""
    root = _manifest(tmp_path, _laughs(levels, width))
    limits = Limits(max_aliases=1000)  # the alias count alone would let these through
    tracemalloc.start()
    try:
        with pytest.raises(EvidenceError, match="aliases expand to more than 100000 extra nodes"):
            load_bundle(root, limits=limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024  # measured about 1 MB; an expansion would need gigabytes


def test_merge_key_bomb_is_refused(tmp_path: Path) -> None:
    """`<<` copies the merged pairs: chained merges grow exponentially if not bounded."""
    lines = ["m0: &m0 {a: 1, b: 2, c: 3}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}, *m{i - 1}]}}" for i in range(1, 25)]
    root = _manifest(tmp_path, HEAD + "evidence: []\n" + "\n".join(lines) + "\n")
    with pytest.raises(EvidenceError, match="aliases expand to more than"):
        load_bundle(root)


def test_aliases_within_limits_still_work(tmp_path: Path) -> None:
    root = _manifest(tmp_path, HEAD + "evidence:\n"
                     "  - &item {id: M1, process: OSP-3, kind: metric, metric_type: scope,\n"
                     "           observations: &obs [{date: 2026-01-05, value: 1}]}\n"
                     "  - {id: M2, process: OSP-3, kind: metric, metric_type: load,\n"
                     "     observations: *obs}\n")
    assert [i.status for i in load_bundle(root).items] == ["accepted", "accepted"]


@pytest.mark.parametrize("nesting", ["[" * 1_000_000 + "]" * 1_000_000,
                                     "\n  " + "- " * 1_000_000 + "x",
                                     "{a: " * 100_000 + "1" + "}" * 100_000])
def test_deep_nesting_is_refused_in_a_separate_process_that_does_not_crash(
        tmp_path: Path, nesting: str) -> None:
    """A fresh interpreter, so that a crash in the C parser would show as a signal."""
    root = _manifest(tmp_path, f"{HEAD}evidence: []\nextra: {nesting}\n")
    run = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "validate", str(root)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr[-500:]
    assert re.search(r"bundle.yaml:[45]: .*nesting", run.stderr), run.stderr
    assert "Traceback" not in run.stderr


def test_bundle_larger_than_the_limit_is_not_read(tmp_path: Path) -> None:
    root = _manifest(tmp_path, HEAD + "evidence: []\n")
    with open(root / "bundle.yaml", "r+b") as handle:  # sparse: 17 MiB claimed, nothing written
        handle.truncate(17 * 1024 * 1024)
    with pytest.raises(EvidenceError, match="bytes is larger than the limit of 16777216 bytes"):
        load_bundle(root)


def _sparse_csv(path: Path, head: str, size: int) -> None:
    path.write_text(head)
    with open(path, "r+b") as handle:
        handle.truncate(size)


def test_a_huge_csv_is_streamed_and_stops_at_a_line_it_cannot_hold(tmp_path: Path) -> None:
    """Bad rows are all reported (issue 14), but a line longer than 1 MiB ends the reading:
    the 30 MiB of zero bytes after it are never read."""
    item = dict(metric_item("OSP-3", "scope", item_id="M1"), observations={"path": "m.csv"})
    root = write_bundle(tmp_path / "b", [item])
    # 30 MiB, under the 32 MiB limit: a good row, a bad one, then zero bytes
    _sparse_csv(root / "m.csv", "date,value\n2026-01-01,3\n2026-01-08,lots\n", 30 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(EvidenceError, match=r"m.csv:3: value 'lots' is not a number\n"
                                                r".*m.csv:4: line longer than 1048576 bytes"):
            load_bundle(root)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # a few lines were read, not the file


def test_a_csv_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    item = dict(metric_item("OSP-3", "scope", item_id="M1"), observations={"path": "m.csv"})
    root = write_bundle(tmp_path / "b", [item])
    _sparse_csv(root / "m.csv", "date,value\n", 33 * 1024 * 1024)
    with pytest.raises(EvidenceError, match=r"item M1: observations file: \S*m.csv: its 34603008 "
                                            r"bytes take .* past the limit of 33554432 bytes"):
        load_bundle(root)


def test_a_very_long_csv_line_is_malformed_not_buffered(tmp_path: Path) -> None:
    item = dict(metric_item("OSP-3", "scope", item_id="M1"), observations={"path": "m.csv"})
    root = write_bundle(tmp_path / "b", [item])
    (root / "m.csv").write_text("date,value\n2026-01-01," + "9" * (2 * 1024 * 1024) + "\n")
    with pytest.raises(EvidenceError, match=r"m.csv:2: line longer than 1048576 bytes"):
        load_bundle(root)


def test_a_large_valid_csv_is_read_in_full(tmp_path: Path) -> None:
    item = dict(metric_item("OSP-3", "scope", item_id="M1"), observations={"path": "m.csv"})
    root = write_bundle(tmp_path / "b", [item])
    rows = "".join(f"2026-{1 + n % 12:02d}-{1 + n % 28:02d},{n}\n" for n in range(100_000))
    (root / "m.csv").write_text("date,value\n" + rows)
    loaded = load_bundle(root).items[0]
    assert loaded.status == "accepted" and len(loaded.observations) == 100_000


def test_one_file_named_by_many_items_is_read_once(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Naming one big file many times, by any spelling or through a symlink inside the
    bundle, must not multiply the reading or the CSV budget: one read per file (same
    device and inode)."""
    spellings = ["m.csv", "./m.csv", "sub/../m.csv".replace("sub/../", ""), "link.csv",
                 "d/../m.csv".replace("d/../", "./")]
    items = [dict(metric_item("OSP-3", "scope", item_id=f"M{n}"),
                  observations={"path": spellings[n % len(spellings)]}) for n in range(50)]
    items += [doc_item("OSP-3", f"D{n}", path=["d.md", "./d.md", "docs//../d.md"
                                               .replace("docs//../", ""), "dlink.md"][n % 4])
              for n in range(50)]
    root = write_bundle(tmp_path / "b", items, files={"m.csv": "date,value\n2026-01-01,3\n",
                                                      "d.md": "x\n"})
    os.symlink("m.csv", root / "link.csv")
    os.symlink("d.md", root / "dlink.md")
    reads: list[int] = []
    real_chunks = bundlefs.OpenFile.chunks

    def counting(self: bundlefs.OpenFile, limit: int):  # type: ignore[no-untyped-def]
        reads.append(self.identity[1])
        return real_chunks(self, limit)

    monkeypatch.setattr(bundlefs.OpenFile, "chunks", counting)
    size = len("date,value\n2026-01-01,3\n")
    with pytest.raises(EvidenceError, match="each item naming a file counts its bytes"):
        load_bundle(root, limits=Limits(max_csv_bytes=50 * size - 1))   # 50 items name it
    reads.clear()
    loaded = load_bundle(root, limits=Limits(max_csv_bytes=50 * size))
    assert all(i.accepted for i in loaded.items) and len(loaded.items) == 100
    inodes = {(root / "m.csv").stat().st_ino, (root / "d.md").stat().st_ino}
    manifest = (root / "bundle.yaml").stat().st_ino
    assert sorted(reads) == sorted([*inodes, manifest])  # each file read once
    digests = {f.path: f.sha256 for f in loaded.files}
    assert digests["link.csv"] == digests["m.csv"] and digests["dlink.md"] == digests["d.md"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipes_are_never_opened(tmp_path: Path) -> None:
    """Opening a FIFO would block forever: it is not a regular file, so it is not read."""
    root = write_bundle(tmp_path / "b", [doc_item("OSP-3", "D1", path="pipe"),
                                         dict(metric_item("OSP-3", "scope", item_id="M1"),
                                              observations={"path": "pipe"})])
    os.mkfifo(root / "pipe")
    reasons = {i.id: i.reason for i in load_bundle(root).items}
    assert reasons == {"D1": "not a regular file ('pipe')",
                       "M1": "observations not a regular file ('pipe')"}
    other = tmp_path / "c"
    other.mkdir()
    os.mkfifo(other / "bundle.yaml")
    with pytest.raises(EvidenceError, match="bundle.yaml: expected a YAML file, found not a "
                                            "regular file"):
        load_bundle(other)


def test_symlink_loops_are_rejected(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", [doc_item("OSP-3", "D1", path="a")])
    os.symlink(root / "b", root / "a")
    os.symlink(root / "a", root / "b")
    item = load_bundle(root).items[0]
    assert item.status == "rejected" and "a" in str(item.reason)


def test_limits_cannot_be_negative() -> None:
    with pytest.raises(ValueError, match="max_depth must not be negative"):
        Limits(max_depth=-1)
    result = CliRunner().invoke(main, ["validate", "x", "--max-yaml-depth", "-1"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_limit_flags_can_be_raised_for_a_trusted_bundle(tmp_path: Path) -> None:
    nested = "[" * 70 + "]" * 70
    root = _manifest(tmp_path, f"{HEAD}evidence: []\n")
    (root / "bundle.yaml").write_text(f"{HEAD}evidence: {nested}\n")
    assert CliRunner().invoke(main, ["validate", str(root)]).exit_code == 2
    result = CliRunner().invoke(main, ["validate", str(root), "--max-yaml-depth", "100"])
    # past the limit the YAML is read, and the bundle's own rules judge it
    assert result.exit_code == 2 and "evidence entry #1 must be a mapping" in result.output


def test_cli_limit_flags_match_the_library_defaults() -> None:
    from cli import (LIMIT_OPTIONS, REPORT_LIMIT_OPTIONS, REVIEW_LIMIT_OPTIONS,
                     SIGNATURE_LIMIT_OPTIONS, TEMPLATE_LIMIT_OPTIONS)
    from ism3rules.limits import DEFAULT_LIMITS, FLAGS

    options = (LIMIT_OPTIONS + REPORT_LIMIT_OPTIONS + REVIEW_LIMIT_OPTIONS + TEMPLATE_LIMIT_OPTIONS
               + SIGNATURE_LIMIT_OPTIONS)
    assert {name: flag for name, flag, _, _ in options} == FLAGS
    assert all(getattr(DEFAULT_LIMITS, name) == default for name, _, default, _ in options)


@pytest.mark.parametrize("value", [1e20, 1e-05, 1e308, 5e-324, float("inf"), -1e16])
def test_numbers_the_engine_cannot_parse_are_made_readable(value: float) -> None:
    """durable_rules refuses `1e+20` (an exponent without a decimal point) and `inf`."""
    from ism3rules.assessment import compile_rulebook
    from ism3rules.rules import load_rulebook

    compiled = compile_rulebook(load_rulebook())
    fact = {"id": "observation:M1:1", "t": "observation", "process": "OSP-3",
            "metric_type": "activity", "item": "M1", "date": "2026-01-12", "value": value,
            "bounds": "control", "samples": 12, "upper": 1.5, "above": value}
    compiled.run([fact])  # raised "Could not assert fact, error code: 204" before


def test_a_huge_observation_outside_control_limits_is_a_finding_not_a_crash(
        tmp_path: Path) -> None:
    """Found by the fuzzing run: a value of 1e20 made the engine fail (exit 3). Values
    are now bounded at 1e15 in magnitude; the largest allowed is still a finding."""
    dates = [f"2026-01-{d:02d}" for d in range(1, 13)]
    item = dict(metric_item("OSP-3", "activity", dates, "M1"))
    item["observations"][-1]["value"] = 1000000000000000
    root = write_bundle(tmp_path / "b", [item], period=("2026-01-01", "2026-12-31"))
    result = CliRunner().invoke(main, ["evaluate", str(root), "-p", "small-business"])
    assert result.exit_code == 0, result.output
    assert "M1: 1e+15 on 2026-01-12 is above the upper control limit" in result.output
