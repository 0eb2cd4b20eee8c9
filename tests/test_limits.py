"""Every cost is bounded by a limit counted in bytes or items, refused with exit 2 naming it.

One test per limit added for issue 11 (the YAML and CSV limits of issue 6 are in
test_hostile.py and bad_bundles/cases.yaml): the attack the issue found, refused from
its size, with the flag that changes the limit; and every command that reads a bundle
(or a report) takes the flags. Speeds are measured in benchmarks/hostile_inputs.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import (LIMIT_OPTIONS, REPORT_LIMIT_OPTIONS, REVIEW_LIMIT_OPTIONS,
                 SIGNATURE_LIMIT_OPTIONS, TEMPLATE_LIMIT_OPTIONS, main)
from conftest import ROOT, doc_item, metric_item, write_bundle
from ism3rules import bundlefs
from ism3rules.errors import EvidenceError
from ism3rules.evidence import load_bundle
from ism3rules.limits import FLAGS, Limits

HEAD = "schema: ism3-evidence/1\norganization: {id: a, name: A}\n"


def refused(args: list[str], *needles: str) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for needle in needles:
        assert needle in result.output, result.output
    return result.output


def _manifest(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "bundle.yaml").write_text(text)
    return root


def _sparse(path: Path, head: str, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head)
    with open(path, "r+b") as handle:
        handle.truncate(size)


# What each command reads besides a bundle, and so the limit flags it takes on top.
OTHER_FILES = {
    "evaluate": REVIEW_LIMIT_OPTIONS + TEMPLATE_LIMIT_OPTIONS,
    "gap": REVIEW_LIMIT_OPTIONS, "compare": REVIEW_LIMIT_OPTIONS,
    "explain": REVIEW_LIMIT_OPTIONS,
    "verify": REPORT_LIMIT_OPTIONS + REVIEW_LIMIT_OPTIONS + SIGNATURE_LIMIT_OPTIONS,
    "sign": REPORT_LIMIT_OPTIONS + REVIEW_LIMIT_OPTIONS,
}


@pytest.mark.parametrize("command", ["evaluate", "validate", "batch", "gap", "compare",
                                     "explain", "verify", "sign", "review init",
                                     "history backfill"])
def test_every_command_reading_a_bundle_takes_every_limit_flag(command: str) -> None:
    help_text = CliRunner().invoke(main, [*command.split(), "--help"]).output
    wanted = LIMIT_OPTIONS + OTHER_FILES.get(command, ())
    for _, flag, _, _ in wanted:
        assert flag in help_text, f"{command} lacks {flag}"


def test_a_long_text_behind_many_aliases_is_refused_by_its_bytes(tmp_path: Path) -> None:
    """Issue 11: a 15 MB title behind an anchor, reused by 100 aliases, became 1.5 GB of
    JSON. Nodes added: only 100; bytes added: 1.5 GB."""
    title = "x" * (15 * 1024 * 1024)
    items = "\n".join(f"  - {{id: D{n}, process: OSP-3, kind: documentation, path: d.md, "
                      f"title: {'&t ' + repr(title) if n == 0 else '*t'}}}" for n in range(100))
    root = _manifest(tmp_path / "b", f"{HEAD}evidence:\n{items}\n")
    tracemalloc.start()
    try:
        with pytest.raises(EvidenceError, match=r"aliases expand to more than 4194304 extra "
                                                r"bytes of text .*--max-yaml-alias-bytes"):
            load_bundle(root)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 1024 * 1024   # the text once (plus the parser's copies), never 100x
    small = _manifest(tmp_path / "c", HEAD + "evidence:\n  - {id: D0, process: OSP-3, kind: "
                      "documentation, path: d.md, title: &t 'a long enough title'}\n"
                      "  - {id: D1, process: OSP-3, kind: documentation, path: d.md, title: *t}\n")
    refused(["validate", str(small), "--max-yaml-alias-bytes", "10"], "--max-yaml-alias-bytes")
    (small / "d.md").write_text("x\n")
    assert CliRunner().invoke(main, ["validate", str(small)]).exit_code == 0


def test_a_manifest_of_too_many_nodes_is_refused_while_it_is_parsed(tmp_path: Path) -> None:
    """Parsing costs per node: 16 MiB of tiny items took minutes to parse before the item
    count was checked. The nodes are counted as they are composed."""
    items = "".join(f"  - {{id: D{n}, process: OSP-3, kind: documentation, path: d.md}}\n"
                    for n in range(300))
    root = _manifest(tmp_path / "b", f"{HEAD}evidence:\n{items}")
    out = refused(["validate", str(root), "--max-yaml-nodes", "1000"],
                  "more than 1000 YAML nodes (values, lists and mappings) (limit 1000; "
                  "--max-yaml-nodes changes it")
    assert re.search(r"bundle.yaml:11\d: ", out), out   # where the count ran out, early
    (root / "d.md").write_text("x\n")
    assert CliRunner().invoke(main, ["validate", str(root)]).exit_code == 0


def test_too_many_items_are_refused_before_any_is_judged(tmp_path: Path) -> None:
    items = [doc_item("OSP-3", f"D{n}", path="d.md") for n in range(5)]
    root = write_bundle(tmp_path / "b", items, files={"d.md": "x\n"})
    refused(["validate", str(root), "--max-items", "4"],
            "5 evidence items and service levels are more than the limit of 4 (--max-items")
    assert CliRunner().invoke(main, ["validate", str(root), "--max-items", "5"]).exit_code == 0


def test_one_csv_named_by_many_items_is_read_once_and_counted_per_item(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: one 8 MiB CSV named by 40 items was parsed and analysed 40 times. It is
    read and parsed once; each item naming it counts its bytes against --max-csv-bytes
    (refused from the sizes, before anything is read) and its rows against
    --max-observations."""
    rows = "".join(f"2026-{1 + n % 12:02d}-{1 + n % 28:02d},{n % 100}\n" for n in range(2000))
    items = [dict(metric_item("OSP-3", t, item_id=f"M{n}"), observations={"path": "m.csv"})
             for n, t in enumerate(["activity", "scope", "load", "quality"] * 10)]
    root = write_bundle(tmp_path / "b", items, files={"m.csv": "date,value\n" + rows})
    reads: list[int] = []
    real_chunks = bundlefs.OpenFile.chunks

    def counting(self: bundlefs.OpenFile, limit: int) -> Any:
        reads.append(self.size)
        return real_chunks(self, limit)

    monkeypatch.setattr(bundlefs.OpenFile, "chunks", counting)
    with pytest.raises(EvidenceError, match=r"analyse 80000 observations, more than the limit "
                                            r"of 79999 \(each item and each service level "
                                            r"counts what it covers; --max-observations"):
        load_bundle(root, limits=Limits(max_observations=79_999))
    assert len(reads) == 2   # the manifest and the CSV, once
    assert len(load_bundle(root, limits=Limits(max_observations=80_000)).items) == 40
    size = (root / "m.csv").stat().st_size
    reads.clear()
    with pytest.raises(EvidenceError) as info:
        load_bundle(root, limits=Limits(max_csv_bytes=4 * size))
    assert len(reads) == 1   # refused from the sizes: only the manifest was read
    lines = str(info.value).splitlines()
    assert len(lines) == 36 and "item M4: observations file: " in lines[0]
    assert lines[0].endswith(f"its {size} bytes take the bundle's observation files past the "
                             f"limit of {4 * size} bytes in total (--max-csv-bytes changes it; "
                             "each item naming a file counts its bytes)")


def test_service_levels_count_the_observations_of_their_window(tmp_path: Path) -> None:
    obs = [f"2026-01-{d:02d}" for d in range(1, 21)]
    items = [metric_item("OSP-3", "activity", obs, "M1")]
    levels = [{"id": f"SLA-{n}", "process": "OSP-3", "metric_type": "activity",
               "target": ">= 0"} for n in range(5)]
    root = write_bundle(tmp_path / "b", items, extra={"service_levels": levels})
    # 20 for the item, and for each of 5 service levels its 20 and 1 for the item
    refused(["validate", str(root), "--max-observations", "124"],
            "analyse 125 observations", "--max-observations")
    assert CliRunner().invoke(main, ["validate", str(root), "--max-observations",
                                     "125"]).exit_code == 0


def test_a_huge_document_is_refused_from_its_size_without_being_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: a 64 GiB sparse document was accepted after 146 s, hashed twice."""
    root = write_bundle(tmp_path / "b", [doc_item("OSP-3", "D1", path="big.pdf")])
    _sparse(root / "big.pdf", "%PDF-1.7\n", 64 * 1024 ** 3)
    reads: list[int] = []
    real_chunks = bundlefs.OpenFile.chunks
    monkeypatch.setattr(bundlefs.OpenFile, "chunks",
                        lambda self, limit: reads.append(self.size) or real_chunks(self, limit))
    with pytest.raises(EvidenceError, match=r"item D1: document: \S*big.pdf: 68719476736 bytes "
                                            r"is larger than the limit of 268435456 bytes for "
                                            r"one document \(--max-document-bytes changes it\)"):
        load_bundle(root)
    assert reads == [(root / "bundle.yaml").stat().st_size]   # only the manifest was read
    monkeypatch.undo()
    refused(["evaluate", str(root)], "--max-document-bytes")


def test_documents_together_are_bounded(tmp_path: Path) -> None:
    items = [doc_item("OSP-3", f"D{n}", path=f"d{n}.md") for n in range(3)]
    root = write_bundle(tmp_path / "b", items, files={f"d{n}.md": "x" * 100 for n in range(3)})
    refused(["validate", str(root), "--max-documents-bytes", "250"],
            "take the bundle's documents past the limit of 250 bytes in total "
            "(--max-documents-bytes changes it)")
    assert CliRunner().invoke(main, ["validate", str(root), "--max-documents-bytes",
                                     "300"]).exit_code == 0


def test_observations_outside_their_band_are_bounded_as_engine_facts(tmp_path: Path) -> None:
    """Every observation outside its band is a fact for the engine (a finding each):
    a CSV of values all outside declared thresholds is refused from its fact count."""
    rows = "".join(f"2026-{1 + n % 12:02d}-{1 + n % 28:02d},5\n" for n in range(300))
    item = dict(metric_item("OSP-3", "activity", item_id="M1"), observations={"path": "m.csv"},
                specification={"thresholds": {"lower": 0, "upper": 1}})
    root = write_bundle(tmp_path / "b", [item], files={"m.csv": "date,value\n" + rows},
                        period=("2026-01-01", "2026-12-31"))
    out = refused(["evaluate", str(root), "--max-facts", "200"], "--max-facts changes it")
    assert "each observation outside its metric's band is one" in out
    assert CliRunner().invoke(main, ["evaluate", str(root), "-p", "small-business"]).exit_code == 0


# --- verify's inputs -------------------------------------------------------------------

@pytest.fixture
def reported(tmp_path: Path) -> tuple[Path, Path]:
    bundle = tmp_path / "bundle"
    shutil.copytree(ROOT / "evidence" / "harbor-clinic", bundle)
    report = tmp_path / "report.json"
    assert CliRunner().invoke(main, ["evaluate", str(bundle), "-f", "json", "-o",
                                     str(report)]).exit_code == 0
    return bundle, report


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    """In a fresh process with a time limit: a hang would show as a timeout."""
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_verify_refuses_a_pipe_as_manifest_or_report_at_once(tmp_path: Path,
                                                            reported: tuple[Path, Path]) -> None:
    """Issue 11: a FIFO as bundle.yaml made verify hang forever."""
    bundle, report = reported
    (bundle / "bundle.yaml").unlink()
    os.mkfifo(bundle / "bundle.yaml")
    done = _run(["verify", str(report), str(bundle)])
    assert done.returncode == 2 and "found not a regular file" in done.stderr, done.stderr
    os.mkfifo(tmp_path / "pipe.json")
    done = _run(["verify", str(tmp_path / "pipe.json"), str(bundle)])
    assert done.returncode == 2 and "expected a JSON report file, found not a regular file" \
        in done.stderr, done.stderr


def test_verify_refuses_a_device_as_report() -> None:
    done = _run(["verify", "/dev/zero", str(ROOT / "evidence" / "harbor-clinic")])
    assert done.returncode == 2 and "not a regular file" in done.stderr


def test_verify_refuses_a_huge_manifest_without_hashing_it(reported: tuple[Path, Path]) -> None:
    """Issue 11: a 20 GB sparse manifest was hashed for 55 s."""
    bundle, report = reported
    _sparse(bundle / "bundle.yaml", HEAD, 20 * 1024 ** 3)
    done = _run(["verify", str(report), str(bundle)])
    assert done.returncode == 2, done.stderr
    assert "21474836480 bytes is larger than the limit of 16777216 bytes " \
           "(--max-bundle-bytes changes it)" in done.stderr


def test_verify_refuses_a_huge_report_from_its_size(tmp_path: Path,
                                                    reported: tuple[Path, Path]) -> None:
    """Issue 11: a 1 GiB report was read whole (2 GB RSS)."""
    bundle, _ = reported
    _sparse(tmp_path / "big.json", '{"schema": "ism3-report/1"', 1024 ** 3)
    tracemalloc.start()
    try:
        refused(["verify", str(tmp_path / "big.json"), str(bundle)],
                "1073741824 bytes is larger than the limit of 67108864 bytes for a report "
                "(--max-report-bytes changes it)")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


@pytest.mark.parametrize("depth", [40, 100_000])
def test_verify_refuses_a_deeply_nested_report(tmp_path: Path, reported: tuple[Path, Path],
                                               depth: int) -> None:
    """Issue 11: a report nested 100,000 deep ended in RecursionError (exit 3)."""
    bundle, _ = reported
    deep = tmp_path / "deep.json"
    deep.write_text('{"schema": "ism3-report/1", "x": ' + "[" * depth + "]" * depth + "}")
    refused(["verify", str(deep), str(bundle)], "than the limit of 32",
            "(--max-report-depth changes it)")


def test_report_limits_can_be_raised(tmp_path: Path, reported: tuple[Path, Path]) -> None:
    bundle, report = reported
    refused(["verify", str(report), str(bundle), "--max-report-bytes", "1000"],
            "--max-report-bytes")
    refused(["verify", str(report), str(bundle), "--max-report-depth", "3"], "--max-report-depth")
    assert CliRunner().invoke(main, ["verify", str(report), str(bundle)]).exit_code == 0


def test_limit_names_and_flags_are_one_table() -> None:
    assert {name for name, _, _, _ in LIMIT_OPTIONS + REPORT_LIMIT_OPTIONS + REVIEW_LIMIT_OPTIONS
            + TEMPLATE_LIMIT_OPTIONS + SIGNATURE_LIMIT_OPTIONS} == set(FLAGS)
    assert len(set(FLAGS.values())) == len(FLAGS)
