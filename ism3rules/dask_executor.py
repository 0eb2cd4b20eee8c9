"""The Dask executor of `ism3 batch`: bundles on a Dask distributed cluster, one engine per worker.

Optional (`pip install 'ism3rules[dask]'`). The parent loads the catalogue, rules and
profiles once and registers a worker plugin holding them; every worker process (of a
local cluster, or of the cluster at `--scheduler ADDRESS`) compiles the rulebook once
when the plugin is set up, then evaluates the bundles it is given through the same
code path as a single evaluation (`batch.evaluate_with`), writes each report itself
and returns only the small outcome. The rules engine allows one host per process, so a
worker runs one evaluation at a time (a lock; start workers with `--nthreads 1`).

Failures: a worker that dies (a crash inside the engine) has its tasks re-run on other
workers by the scheduler, up to `ALLOWED_FAILURES` deaths per task (for a local
cluster; a cluster of your own keeps its `distributed.scheduler.allowed-failures`);
any task that still failed is then re-run alone, one at a time, so only the bundle
that kills a worker on its own is reported as crashed, as the local pool does.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from . import __version__
from .api import Inputs
from .batch import (CRASHED, INTERNAL_ERROR, BundleOutcome, Finished, Interrupt, Task,
                    available_cores, evaluate_with)
from .errors import BatchError
from .limits import Limits

ALLOWED_FAILURES = 2
"""Worker deaths a task may cause on a local cluster before it is isolated."""
RETRIES = 2
"""Times a task that raised (rather than returning its outcome) is tried again."""
_POLL_SECONDS = 0.2
_RESULT_SECONDS = 30.0   # to fetch a finished task's outcome from its worker
_CHECK_SECONDS = 10.0    # how often the scheduler is asked whether it still knows a task

if TYPE_CHECKING:
    from distributed import WorkerPlugin
else:
    try:
        from distributed import WorkerPlugin
    except ImportError:  # the extra is not installed: run_dask says what to do
        WorkerPlugin = object


_state: dict[str, tuple[Inputs, date | None, Limits]] = {}   # in a worker: key -> inputs
_lock = threading.Lock()   # one evaluation at a time per worker process (one engine host)


class Ism3Plugin(WorkerPlugin):
    """Holds a batch's inputs on every worker and compiles the rulebook once per worker."""

    idempotent = False

    def __init__(self, key: str, inputs: Inputs, as_of: date | None, limits: Limits) -> None:
        self.key = key
        self.version = __version__
        self.inputs = inputs
        self.as_of = as_of
        self.limits = limits

    def setup(self, worker: Any = None) -> None:
        """Compile the rulebook in this worker process and keep the inputs for its tasks.

        Raises:
            BatchError: this worker runs another version of ism3rules.
        """
        if self.version != __version__:
            raise BatchError(f"this Dask worker has ism3rules {__version__}, the batch was "
                             f"started with {self.version}: install the same version on "
                             "every worker")
        if threading.current_thread() is threading.main_thread():
            # a terminal's Ctrl-C reaches the whole process group: the batch decides
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        from .assessment import compile_rulebook

        compile_rulebook(self.inputs.rulebook)
        _state[self.key] = (self.inputs, self.as_of, self.limits)

    def teardown(self, worker: Any = None) -> None:
        """Forget the batch's inputs."""
        _state.pop(self.key, None)


def evaluate_task(key: str, path: str, report: str | None) -> BundleOutcome:
    """Evaluate one bundle on a worker, with the inputs its plugin set up.

    Raises:
        RuntimeError: the plugin was not set up on this worker (the task is retried).
    """
    state = _state.get(key)
    if state is None:
        raise RuntimeError("the ism3rules worker plugin is not set up on this worker")
    with _lock:
        return evaluate_with(path, report, *state)


def run_dask(tasks: list[Task], inputs: Inputs, as_of: date | None, limits: Limits,
             finished: Finished, interrupt: Interrupt, scheduler: str | None = None,
             jobs: int | None = None, evaluate: Callable[..., BundleOutcome] | None = None
             ) -> None:
    """Run `tasks` on a Dask cluster: the one at `scheduler`, or a local cluster of
    `jobs` worker processes (default: one per core), one thread each.

    Calls `finished(index, outcome)` as `batch._run_pool` does; when `interrupt` is
    requested, cancels what is left (a local cluster is shut down with its workers).
    `evaluate` (default `evaluate_task`, same arguments) is what the workers run.

    Raises:
        BatchError: Dask distributed is not installed, the scheduler cannot be
            reached, or the workers cannot take the batch's inputs.
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise BatchError("--executor dask needs Dask distributed: pip install "
                         "'ism3rules[dask]'") from exc
    key = uuid.uuid4().hex   # this batch's inputs on the workers, whatever else runs there
    name = f"ism3rules-batch-{key}"
    cluster = None
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        try:
            if scheduler is None:
                cluster = LocalCluster(n_workers=min(jobs or available_cores(), len(tasks)) or 1,
                                       threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address="127.0.0.1:0",
                                       silence_logs=logging.CRITICAL)
                client = Client(cluster)
            else:
                client = Client(scheduler, timeout=30)
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            where = f"the Dask scheduler at {scheduler}" if scheduler else "a local Dask cluster"
            raise BatchError(f"cannot use {where}: {exc}") from exc
    try:
        try:
            client.register_plugin(Ism3Plugin(key, inputs, as_of, limits), name=name)
        except BatchError:
            raise
        except Exception as exc:  # noqa: BLE001 - a worker refused: say why, as input
            raise BatchError(f"the Dask workers cannot take the batch: {exc}") from exc
        evaluate = evaluate or evaluate_task
        suspects = _run_wave(client, key, tasks, finished, interrupt, evaluate)
        for index in suspects:
            if interrupt.requested:
                break
            outcome = _run_alone(client, key, tasks[index], interrupt, evaluate)
            if outcome is not None:
                finished(index, outcome)
    finally:
        try:
            client.unregister_worker_plugin(name)
        except Exception:  # noqa: BLE001, S110 - a cluster going away forgets it anyway
            pass
        client.close()
        if cluster is not None:
            cluster.close()


def _run_wave(client: Any, key: str, tasks: list[Task], finished: Finished,
              interrupt: Interrupt, evaluate: Callable[..., BundleOutcome]) -> list[int]:
    """Every task once, a bounded window at a time; the indexes of the tasks that failed."""
    from distributed import wait

    threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
    window = max(16, 4 * threads)
    pending = deque(range(len(tasks)))
    running: dict[Any, int] = {}
    born: dict[Any, float] = {}
    resubmitted: dict[int, int] = {}
    suspects: list[int] = []
    checked = time.monotonic()

    def submit(index: int) -> None:
        future = client.submit(evaluate, key, *tasks[index], pure=False, retries=RETRIES)
        running[future], born[future] = index, time.monotonic()

    while (pending or running) and not interrupt.requested:
        while pending and len(running) < window:
            submit(pending.popleft())
        try:
            done, _ = wait(list(running), timeout=_POLL_SECONDS, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = set()
        for future in done:
            index = running.pop(future)
            born.pop(future)
            outcome = _outcome(future) if future.status == "finished" else None
            if outcome is not None:
                finished(index, outcome)
            elif future.status == "finished":     # its result is being computed again
                running[future], born[future] = index, time.monotonic()
                continue
            else:
                suspects.append(index)
            future.release()
        if time.monotonic() - checked > _CHECK_SECONDS:
            checked = time.monotonic()
            for future in _forgotten(client, [f for f in running
                                              if checked - born[f] > _CHECK_SECONDS]):
                index = running.pop(future)
                born.pop(future)
                resubmitted[index] = resubmitted.get(index, 0) + 1
                if resubmitted[index] > RETRIES:
                    suspects.append(index)
                else:
                    submit(index)
    for future, index in running.items():   # finished in the meantime
        outcome = _outcome(future) if future.status == "finished" else None
        if outcome is not None:
            finished(index, outcome)
    if running:
        client.cancel(list(running))
    return sorted(suspects)


def _outcome(future: Any) -> BundleOutcome | None:
    """The result of a finished future, or None when it cannot be had promptly (the
    worker holding it died: the scheduler computes it again)."""
    try:
        outcome: BundleOutcome = future.result(timeout=_RESULT_SECONDS)
    except Exception:  # noqa: BLE001 - a timeout or a lost worker: the caller reads the status
        return None
    return outcome


def _forgotten(client: Any, futures: list[Any]) -> list[Any]:
    """The pending futures the scheduler no longer knows (dropped with a lost connection,
    which would leave them pending for ever), and the cancelled ones."""
    cancelled = [f for f in futures if f.status == "cancelled"]
    waiting = [f for f in futures if f.status == "pending"]
    if not waiting:
        return cancelled
    try:
        known = set(client.run_on_scheduler(_known_keys, keys=[f.key for f in waiting]))
    except Exception:  # noqa: BLE001 - a scheduler that cannot tell: wait on
        return cancelled
    return cancelled + [f for f in waiting if f.key not in known]


def _known_keys(keys: list[Any], dask_scheduler: Any = None) -> list[Any]:
    """On the scheduler: which of `keys` it has tasks for."""
    return [k for k in keys if k in dask_scheduler.tasks]


def _run_alone(client: Any, key: str, task: Task, interrupt: Interrupt,
               evaluate: Callable[..., BundleOutcome]) -> BundleOutcome | None:
    """Run one task with nothing else on the cluster; its failure is its own outcome.

    None when interrupted first.
    """
    from distributed import KilledWorker

    for _attempt in range(RETRIES + 1):
        future = client.submit(evaluate, key, *task, pure=False, retries=0)
        started = checked = time.monotonic()
        try:
            while not interrupt.requested:
                try:
                    return future.result(timeout=_POLL_SECONDS)  # type: ignore[no-any-return]
                except TimeoutError:
                    pass
                except KilledWorker:
                    return BundleOutcome(task[0], error=CRASHED, error_kind=INTERNAL_ERROR)
                except Exception as exc:  # noqa: BLE001 - the task failed: its outcome
                    if future.status != "cancelled":
                        return BundleOutcome(task[0], error=f"internal error: "
                                             f"{type(exc).__name__}: {exc}",
                                             error_kind=INTERNAL_ERROR)
                now = time.monotonic()
                if now - checked > _CHECK_SECONDS and now - started > _CHECK_SECONDS:
                    checked = now
                    if _forgotten(client, [future]):
                        break   # submit it again
            else:
                return None
        finally:
            future.release()
    return BundleOutcome(task[0], error="internal error: the Dask cluster lost this bundle's "
                         f"task {RETRIES + 1} times", error_kind=INTERNAL_ERROR)
