"""`ism3 batch --shard K/N` and `ism3 batch merge`: N shards merged are one run, byte for byte;
shards that do not fit together are refused with exit 2 and a message that says why."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import MAX_SUMMARY_BYTES, main
from conftest import doc_item, write_bundle
from ism3rules import batch as batch_module
from ism3rules.batch import Shard, paths_digest
from test_batch import fleet, make_bundle  # noqa: F401 - the fixture

__all__ = ["fleet"]


def run(args: list[str], code: int = 0) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def shard_files(fleet: Path, tmp_path: Path, count: int, *extra: str,
                code: int = 0) -> list[Path]:
    """Run the N shards of a batch over `fleet`; their JSON summaries."""
    files = []
    for k in range(1, count + 1):
        target = tmp_path / f"shard-{k}-of-{count}.json"
        run(["batch", str(fleet), "--shard", f"{k}/{count}", "-j", "1", "-q", "-f", "json",
             "-o", str(target), *extra], code=code)
        files.append(target)
    return files


def test_blocks_partition_balance_and_stay_put_when_bundles_are_added() -> None:
    for total in range(0, 40):
        for count in range(1, 9):
            blocks = [Shard(k, count).select(total) for k in range(1, count + 1)]
            assert [i for b in blocks for i in b] == list(range(total))   # contiguous, in order
            assert max(map(len, blocks)) - min(map(len, blocks)) <= 1
            # one bundle added anywhere: at most one bundle per boundary changes shard
            for inserted in range(total + 1):
                before = {(i if i < inserted else i + 1): k
                          for k, b in enumerate(blocks) for i in b}
                after = {i: k for k in range(count)
                         for i in Shard(k + 1, count).select(total + 1)}
                moved = [i for i in before if before[i] != after[i]]
                assert len(moved) <= count - 1


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0", "-1/2", "1/2/3"])
def test_a_bad_shard_is_a_usage_error(fleet: Path, text: str) -> None:
    out = run(["batch", str(fleet), "--shard", text], code=2)
    assert "--shard" in out


@pytest.mark.parametrize("count", [1, 2, 3, 5, 7])
def test_merged_shards_are_byte_identical_to_one_run(fleet: Path, tmp_path: Path,
                                                     count: int) -> None:
    """Including shards with no bundle at all (7 shards of 5 bundles), report files named
    over the whole batch, and the exit code of the whole batch."""
    reports = tmp_path / "reports"
    single = run(["batch", str(fleet), "-j", "2", "-f", "json", "--reports-dir", str(reports)])
    single_reports = {p.name: p.read_bytes() for p in reports.iterdir()}
    for p in reports.iterdir():
        p.unlink()
    files = shard_files(fleet, tmp_path, count, "--reports-dir", str(reports))
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == single_reports
    docs = [json.loads(f.read_text()) for f in files]
    assert [d["shard"]["index"] for d in docs] == list(range(1, count + 1))
    assert sum(len(d["bundles"]) for d in docs) == 5
    merged = run(["batch", "merge", *map(str, reversed(files)), "-f", "json"])
    assert merged == single
    for fmt in ("table", "csv"):
        assert run(["batch", "merge", *map(str, files), "-f", fmt]) == \
            run(["batch", str(fleet), "-j", "1", "-f", fmt, "--reports-dir", str(reports)])


def test_merge_keeps_the_batch_exit_code_and_the_options(fleet: Path, tmp_path: Path) -> None:
    (fleet / "bad").mkdir()
    (fleet / "bad" / "bundle.yaml").write_text("schema: [unclosed\n")
    write_bundle(fleet / "foxtrot", [doc_item("OSP-99")], files={"docs/OSP-99.md": "x"})
    options = ["-p", "small-business", "--as-of", "2026-01-10", "--max-csv-bytes", "100000"]
    single = run(["batch", str(fleet), "-j", "1", "-f", "json", *options], code=2)
    files = [tmp_path / f"s{k}.json" for k in (1, 2, 3)]
    for k, target in enumerate(files, 1):
        result = CliRunner().invoke(main, ["batch", str(fleet), "--shard", f"{k}/3", "-f", "json",
                                           "-o", str(target), "-j", "1", *options])
        assert result.exit_code in (0, 2)
    out = tmp_path / "merged.json"
    assert run(["batch", "merge", *map(str, files), "-f", "json", "-o", str(out)], code=2) == ""
    assert out.read_text() == single
    summary = json.loads(single)
    assert summary["inputs"]["as_of"] == "2026-01-10"
    assert summary["inputs"]["limits"]["max_csv_bytes"] == 100000
    assert [p["id"] for p in summary["inputs"]["profiles"]] == ["small-business"]


@pytest.fixture
def three(fleet: Path, tmp_path: Path) -> list[Path]:
    return shard_files(fleet, tmp_path, 3)


def merge_error(files: list[Path | str]) -> str:
    result = CliRunner().invoke(main, ["batch", "merge", *map(str, files)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("ism3: error: ")
    assert "Traceback" not in result.output
    return result.output


def test_merge_refuses_overlapping_and_missing_shards(three: list[Path]) -> None:
    assert "are both shard 2/3: shards overlap" in merge_error([*three, three[1]])
    assert "shard(s) 2/3 missing (given: 1/3, 3/3)" in merge_error([three[0], three[2]])


def test_merge_refuses_shards_made_with_other_inputs(fleet: Path, tmp_path: Path,
                                                     three: list[Path]) -> None:
    for option, differs in ((["-p", "small-business"], "profiles"),
                            (["--as-of", "2026-02-01"], "inputs (as_of differ)"),
                            (["--max-yaml-depth", "20"], "inputs (limits differ)")):
        other = tmp_path / "other.json"
        run(["batch", str(fleet), "--shard", "2/3", "-j", "1", "-f", "json", "-o", str(other),
             *option])
        message = merge_error([three[0], other, three[2]])
        assert f"were made with different {differs}" in message


def test_merge_refuses_shards_of_other_bundle_lists(fleet: Path, tmp_path: Path,
                                                    three: list[Path]) -> None:
    make_bundle(fleet / "zulu", "zulu", 1, 1)      # a bundle staged after the first shards ran
    (tmp_path / "late").mkdir()
    late = shard_files(fleet, tmp_path / "late", 3)
    message = merge_error([three[0], three[1], late[2]])
    assert "are shards of different batches" in message
    assert "3/3 of 6 bundles" in message and "1/3 of 5 bundles" in message
    (tmp_path / "halves").mkdir()
    halves = shard_files(fleet, tmp_path / "halves", 2)
    assert "are shards of different batches" in merge_error([three[0], halves[1]])


def test_merge_refuses_an_edited_or_foreign_summary(fleet: Path, tmp_path: Path,
                                                    three: list[Path]) -> None:
    def edited(change: object) -> Path:
        doc = json.loads(three[1].read_text())
        change(doc)  # type: ignore[operator]
        target = tmp_path / "edited.json"
        target.write_text(json.dumps(doc))
        return target

    def rename(doc: dict[str, list[dict[str, str]]]) -> None:
        doc["bundles"][0]["path"] = "/elsewhere/alpha"

    assert "are not the batch they were cut from" in merge_error(
        [three[0], edited(rename), three[2]])
    assert "must hold 2, it holds 1" in merge_error(
        [three[0], edited(lambda d: d["bundles"].pop()), three[2]])
    assert "is incomplete (it was interrupted): run that shard again" in merge_error(
        [three[0], edited(lambda d: d.update(complete=False)), three[2]])
    assert "not by this ism3rules" in merge_error(
        [three[0], edited(lambda d: d["tool"].update(version="0.0.1")), three[2]])
    assert "not a valid shard summary" in merge_error(
        [three[0], edited(lambda d: d["shard"].update(index="2")), three[2]])
    assert "bundle 1: not a bundle entry" in merge_error(
        [three[0], edited(lambda d: d["bundles"][0].update(status="maybe")), three[2]])
    whole = tmp_path / "whole.json"
    run(["batch", str(fleet), "-j", "1", "-f", "json", "-o", str(whole)])
    assert "not a shard summary (made without --shard K/N)" in merge_error([whole])
    report = tmp_path / "report.json"
    run(["evaluate", str(fleet / "alpha"), "-f", "json", "-o", str(report)])
    assert "not an ism3-batch/1 summary" in merge_error([report])
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": "ism3-batch/1",\n  "tool": }')
    assert f"{broken}:2: not a batch summary (JSON)" in merge_error([broken])
    broken.write_text('{"schema": "ism3-batch/1", "tool": NaN}')
    assert "NaN is not a JSON number" in merge_error([broken])
    assert "no such file" in merge_error([tmp_path / "absent.json"]).lower()


def test_merge_refuses_what_is_not_a_regular_file_or_too_large(tmp_path: Path,
                                                               three: list[Path]) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    assert "not a regular file" in merge_error([fifo])       # and does not hang
    result = CliRunner().invoke(main, ["batch", "merge", *map(str, three),
                                       "--max-summary-bytes", "100"])
    assert result.exit_code == 2
    assert "is larger than the limit of 100 bytes for a batch summary (--max-summary-bytes " \
           "changes it)" in result.output
    assert MAX_SUMMARY_BYTES == batch_module.MAX_SUMMARY_BYTES


def test_a_bundle_folder_named_merge_is_still_a_batch_path(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`ism3 batch PATH...` keeps its meaning; only a first word `merge` is the merge."""
    monkeypatch.chdir(tmp_path)
    make_bundle(tmp_path / "merge", "merge-org", 1, 1)
    out = run(["batch", "./merge", "-j", "1", "-f", "json"])
    assert json.loads(out)["bundles"][0]["organization"]["id"] == "merge-org"
    assert " batch merge [OPTIONS] SUMMARY..." in run(["batch", "merge", "--help"])
    assert "ism3 batch merge SUMMARY..." in run(["batch", "--help"])


def test_shard_summary_records_its_place_in_the_batch(fleet: Path, tmp_path: Path) -> None:
    [first, second] = shard_files(fleet, tmp_path, 2)
    doc = json.loads(second.read_text())
    bundles = sorted(str(p) for p in fleet.iterdir() if (p / "bundle.yaml").is_file())
    assert doc["shard"] == {"index": 2, "count": 2, "batch_bundles": 5,
                            "batch_sha256": paths_digest(bundles)}
    assert [b["path"] for b in doc["bundles"]] == bundles[2:]
    assert "(shard 2/2 of 5 bundles)" in run(["batch", str(fleet), "--shard", "2/2", "-j", "1"])
