"""`ism3 batch --executor dask` on real local Dask clusters of two worker processes: the same
summary, byte for byte, and the same reports as `--jobs 2`; a crash is pinned on its bundle."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from ism3rules import dask_executor
from ism3rules.api import load_inputs
from ism3rules.batch import CRASHED, BundleOutcome, Interrupt, discover
from ism3rules.errors import BatchError
from ism3rules.limits import DEFAULT_LIMITS
from test_batch import fleet  # noqa: F401 - the fixture

if os.environ.get("CI"):     # on CI the extra is installed (it is in the test extra)
    import distributed
else:
    distributed = pytest.importorskip("distributed")

__all__ = ["fleet"]


def batch(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, ["batch", "-q", "-f", "json", *args])
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def same_as_two_jobs(fleet: Path, tmp_path: Path, *dask_args: str, code: int = 0,
                     common: tuple[str, ...] = ()) -> None:
    """The dask run and a `--jobs 2` run give the same summary and the same report files."""
    reports = tmp_path / "reports"
    local = batch(str(fleet), "-j", "2", "--reports-dir", str(reports), *common, code=code)
    local_reports = {p.name: p.read_bytes() for p in reports.iterdir()}
    shutil.rmtree(reports)
    assert batch(str(fleet), "--executor", "dask", *dask_args, "--reports-dir", str(reports),
                 *common, code=code) == local
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == local_reports
    assert len(local_reports) >= 5


def test_a_local_cluster_gives_what_two_jobs_give(fleet: Path, tmp_path: Path) -> None:
    (fleet / "bad").mkdir()
    (fleet / "bad" / "bundle.yaml").write_text("schema: [unclosed\n")   # an input error too
    same_as_two_jobs(fleet, tmp_path, "-j", "2", code=2)


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.LocalCluster]:
    """A cluster started elsewhere, as a user's would be: two processes, one thread each."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  silence_logs=50) as running:
        yield running


def test_a_scheduler_of_your_own_gives_what_two_jobs_give(
        fleet: Path, tmp_path: Path, cluster: distributed.LocalCluster) -> None:
    same_as_two_jobs(fleet, tmp_path, "--scheduler", cluster.scheduler_address,
                     common=("--as-of", "2026-01-10", "-p", "small-business"))
    same_as_two_jobs(fleet, tmp_path / "again", "--scheduler", cluster.scheduler_address)


def test_workers_of_another_version_are_refused(fleet: Path, cluster: distributed.LocalCluster,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dask_executor, "__version__", "0.0.1")   # the parent's version
    result = CliRunner().invoke(main, ["batch", str(fleet), "--executor", "dask",
                                       "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 2, result.output
    assert "this Dask worker has ism3rules" in result.output
    assert "the batch was started with 0.0.1: install the same version" in result.output


def crash_on_charlie(key: str, path: str, report: str | None) -> BundleOutcome:
    """Stands in for a worker that dies inside the engine on one bundle."""
    if path.endswith("charlie"):
        os._exit(70)
    return dask_executor.evaluate_task(key, path, report)


def test_a_worker_crash_is_retried_then_pinned_on_its_bundle(fleet: Path) -> None:
    tasks = [(str(p), None) for p in discover([fleet])]
    outcomes: dict[int, BundleOutcome] = {}
    dask_executor.run_dask(tasks, load_inputs(), None, DEFAULT_LIMITS, outcomes.__setitem__,
                           Interrupt(), None, 2, crash_on_charlie)
    assert sorted(outcomes) == list(range(5))
    failed = {Path(o.path).name: o for o in outcomes.values() if not o.ok}
    assert list(failed) == ["charlie"]
    assert failed["charlie"].error == CRASHED and failed["charlie"].error_kind == "internal"
    assert all(o.organization_id == Path(o.path).name for o in outcomes.values() if o.ok)


def test_scheduler_needs_the_dask_executor(fleet: Path) -> None:
    result = CliRunner().invoke(main, ["batch", str(fleet), "--scheduler", "tcp://x:8786"])
    assert result.exit_code == 2
    assert "--scheduler needs --executor dask" in result.output


def test_the_plugin_refuses_another_version_before_compiling() -> None:
    plugin = dask_executor.Ism3Plugin("k", load_inputs(), None, DEFAULT_LIMITS)
    plugin.version = "9.9.9"
    with pytest.raises(BatchError, match="install the same version on every worker"):
        plugin.setup()
    assert "k" not in dask_executor._state


def test_without_the_extra_the_dask_executor_says_what_to_install(
        fleet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)   # import distributed: ImportError
    result = CliRunner().invoke(main, ["batch", str(fleet), "--executor", "dask"])
    assert result.exit_code == 2, result.output
    assert "pip install 'ism3rules[dask]'" in result.output
