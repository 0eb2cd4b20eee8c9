"""`ism3 batch` under signals, for real: a batch process, its workers, SIGINT, SIGTERM, SIGKILL.

An interrupted batch stops its workers, writes a summary marked incomplete in the
format asked for and exits 130 (SIGINT) or 143 (SIGTERM); its workers never outlive
it, even when it is killed outright; no report keeps appearing afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from test_batch import make_bundle

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(),
                                reason="reads the process tree from Linux's /proc")
BUNDLES = 60


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough bundles that a batch is still running when the test interrupts it."""
    parent = tmp_path_factory.mktemp("many")
    for i in range(BUNDLES):
        make_bundle(parent / f"org-{i:03d}", f"org-{i:03d}", 10, 7)
    return parent


def start_batch(many: Path, out: Path, *args: str, group: bool = False) -> subprocess.Popen[str]:
    """`ism3 batch` on `many` in a process of its own, reports to out/reports."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "batch", str(many), "-q",
         "--reports-dir", str(out / "reports"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=out,
        start_new_session=group)


def wait_for_reports(proc: subprocess.Popen[str], reports: Path, count: int = 2) -> None:
    """Wait until the batch has written `count` reports (it is then well under way)."""
    deadline = time.monotonic() + 120
    while not (reports.is_dir() and len(list(reports.glob("*.json"))) >= count):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the batch wrote no report in 120 s"
        time.sleep(0.02)


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from the children lists in /proc."""
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    children = {int(c) for c in handle.read().split()}
                frontier.extend(children - found)
                found |= children
        except OSError:
            continue
    return found


def running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, dead and not yet reaped, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def assert_all_gone(pids: set[int], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while any(running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if running(p)], "worker processes outlived the batch"


def assert_no_report_appears(reports: Path) -> set[str]:
    """The report folder no longer changes, and holds no half-written file."""
    before = {p.name for p in reports.iterdir()}
    time.sleep(1.5)
    assert {p.name for p in reports.iterdir()} == before
    assert not [n for n in before if n.startswith(".")], "a temporary report file was left"
    return before


def check_incomplete(summary: dict[str, object], reports: Path, least_ok: int = 2) -> None:
    """An incomplete summary that accounts for every bundle, with at least `least_ok`
    evaluated; their reports are on disk."""
    assert summary["complete"] is False
    totals = summary["totals"]
    assert isinstance(totals, dict)
    assert totals["bundles"] == BUNDLES
    assert totals["ok"] + totals["failed"] + totals["not_evaluated"] == BUNDLES
    assert totals["ok"] >= least_ok and totals["not_evaluated"] > 0
    entries = summary["bundles"]
    assert isinstance(entries, list)
    for entry in entries:
        if entry["status"] == "ok":
            assert Path(entry["report"]).is_file()
        else:
            assert entry["status"] == "not_evaluated"
            assert entry["organization"] is None and entry["error"] is None


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_sigterm_stops_the_workers_and_writes_an_incomplete_summary(
        many: Path, tmp_path: Path, executor: str) -> None:
    proc = start_batch(many, tmp_path, "-j", "2", "--executor", executor, "-f", "json",
                       "-o", "summary.json")
    wait_for_reports(proc, tmp_path / "reports")
    workers = descendants(proc.pid)
    assert len(workers) >= 2
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM" in err and "Traceback" not in err
    assert_all_gone(workers)
    on_disk = assert_no_report_appears(tmp_path / "reports")
    summary = json.loads((tmp_path / "summary.json").read_text())
    # A Dask worker writes a report before its outcome reaches the batch: the two reports
    # waited for may both be on disk with neither outcome back when the batch is stopped
    # (those bundles are then listed as not evaluated; the summary never claims a report
    # that is not there).
    check_incomplete(summary, tmp_path / "reports", 2 if executor == "local" else 0)
    if executor == "local":   # the local pool stops its workers before they finish a report
        ok = {Path(e["report"]).name for e in summary["bundles"] if e["status"] == "ok"}
        assert on_disk == ok


@pytest.mark.parametrize("fmt, jobs", [("table", "2"), ("csv", "2"), ("json", "1")])
def test_ctrl_c_stops_the_batch_and_marks_the_summary_in_every_format(
        many: Path, tmp_path: Path, fmt: str, jobs: str) -> None:
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it."""
    proc = start_batch(many, tmp_path, "-j", jobs, "-f", fmt, group=True)
    wait_for_reports(proc, tmp_path / "reports")
    workers = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "interrupted by SIGINT" in err
    assert_all_gone(workers)
    assert_no_report_appears(tmp_path / "reports")
    if fmt == "table":
        last = out.splitlines()[-1]
        assert last.startswith(f"{BUNDLES} bundles: ") and "INCOMPLETE" in last
        assert "not evaluated" in last
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert len(rows) == BUNDLES
        statuses = {r["status"] for r in rows}
        assert "not_evaluated" in statuses and "ok" in statuses
    else:
        check_incomplete(json.loads(out), tmp_path / "reports")


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_workers_never_outlive_a_killed_batch(many: Path, tmp_path: Path, executor: str) -> None:
    """SIGKILL gives the parent no chance to clean up: the workers must notice on their own."""
    proc = start_batch(many, tmp_path, "-j", "2", "--executor", executor, "-f", "json")
    wait_for_reports(proc, tmp_path / "reports")
    workers = descendants(proc.pid)
    assert len(workers) >= 2
    proc.kill()
    proc.communicate(timeout=60)
    assert_all_gone(workers)
    assert_no_report_appears(tmp_path / "reports")
