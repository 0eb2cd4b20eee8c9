"""Many bundles at once: find them, evaluate each in a worker process, collect in path order.

The rules engine holds the GIL and allows one host per process, so parallelism means
processes. Each worker receives the catalogue, rules and profiles loaded once by the
parent and compiles the rulebook once, then evaluates bundle after bundle through the
same code path as a single evaluation (`api.report_document`, and
`formats.FORMATS["json"]` for the report files), so a batch gives exactly what
`ism3 evaluate` gives for each bundle.

Workers are started with the "spawn" method: a forked child would inherit the
parent's engine host (C state, timer threads and locks) if the parent had already
evaluated something; a spawned one starts clean, and its start-up cost (about the
time of one bundle) is paid once per worker, not per bundle.

One broken bundle never stops the batch: its error is its outcome. A worker that
dies (a crash inside the engine) breaks the pool; the bundles it may have been
evaluating are then re-run one per fresh process, so only the culprit is reported
as crashed, and the batch goes on with a new pool.

Workers never outlive the parent: each asks the kernel for SIGTERM when its parent
dies (Linux `PR_SET_PDEATHSIG`; elsewhere a thread watches the parent's pid), ignores
SIGINT (a terminal's Ctrl-C reaches the whole process group; the parent decides), and
on SIGTERM exits at once (removing the report file it may be writing). An `Interrupt`
passed to `run_batch` stops new work, stops the workers and returns the outcomes so
far; the bundles left are `not evaluated` and the summary is incomplete.

A batch can be split into shards (`Shard`, `--shard K/N`: contiguous blocks of the
sorted bundle list) run anywhere, and their summaries merged (`merge_summaries`) into
the summary a single run gives, byte for byte.

Nothing here prints: progress is reported through a callback.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import multiprocessing
import os
import re
import signal
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any

from . import __version__
from .api import Inputs, load_inputs, report_document
from .errors import BatchError, EngineError, EvidenceError, Ism3Error, ReportError
from .archive import archive_format, archive_stem, remove_unpacked
from .evidence import MANIFEST
from .gcpause import cyclic_gc_paused
from .limits import DEFAULT_LIMITS, Limits
from .output import write_atomically

SCHEMA = "ism3-batch/1"
START_METHOD = "spawn"
INPUT_ERROR = "input"
INTERNAL_ERROR = "internal"
OK, ERROR, NOT_EVALUATED = "ok", "error", "not_evaluated"   # a bundle's status
EXECUTORS = ("local", "dask")
CRASHED = ("the worker process evaluating this bundle died (a crash inside the rules engine); "
           "run `ism3 evaluate` on it alone and report the problem")
MAX_SUMMARY_BYTES = 1024 * 1024 * 1024
"""Default bound on one summary file read by `merge_summaries` (about 2.5 million bundles)."""
_POLL_SECONDS = 0.2   # how often a waiting parent looks at its Interrupt


@dataclass(frozen=True)
class ProfileLevel:
    """The maturity level one bundle reached against one profile."""

    profile: str
    achieved_level: int
    max_level: int


@dataclass(frozen=True)
class BundleOutcome:
    """What became of one bundle: its levels, the error that stopped it, or nothing yet."""

    path: str
    organization_id: str | None = None
    organization_name: str | None = None
    levels: tuple[ProfileLevel, ...] = ()
    report: str | None = None        # the report file written, when asked for
    error: str | None = None         # one line per problem, as `ism3 evaluate` says it
    error_kind: str | None = None    # INPUT_ERROR or INTERNAL_ERROR
    evaluated: bool = True           # False: the batch was interrupted before this bundle

    @property
    def ok(self) -> bool:
        """Whether the bundle was evaluated."""
        return self.evaluated and self.error is None

    @property
    def status(self) -> str:
        """OK, ERROR or NOT_EVALUATED."""
        return NOT_EVALUATED if not self.evaluated else OK if self.error is None else ERROR


@dataclass(frozen=True)
class ProfileInfo:
    """A profile every bundle of the batch is evaluated against."""

    id: str
    name: str
    source: str
    max_level: int
    sha256: str = ""


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`: one contiguous block of the sorted bundle list.

    Bundles 0..M-1 (sorted by path) are split at (k * M) // N for k = 0..N, so block
    sizes differ by at most one, and adding or removing a bundle moves at most one
    bundle across each block boundary.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: K must be between 1 and N")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`K/N` as a Shard.

        Raises:
            ValueError: not two integers K/N with 1 <= K <= N.
        """
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match:
            raise ValueError(f"'{text}' is not K/N (e.g. 3/8: the third of eight shards)")
        return cls(int(match[1]), int(match[2]))

    def select(self, total: int) -> range:
        """The positions of this shard's bundles in a sorted list of `total` bundles."""
        return range((self.index - 1) * total // self.count, self.index * total // self.count)


@dataclass(frozen=True)
class ShardInfo:
    """Which shard a result holds, and the whole batch it was cut from."""

    shard: Shard
    batch_bundles: int      # bundles in the whole batch
    batch_sha256: str       # `paths_digest` of the whole batch's bundle list


@dataclass(frozen=True)
class BatchResult:
    """Every bundle's outcome, sorted by path, and the inputs used."""

    profiles: tuple[ProfileInfo, ...]
    outcomes: tuple[BundleOutcome, ...]
    rules_sha256: str = ""
    as_of: date | None = None
    limits: Limits = DEFAULT_LIMITS
    shard: ShardInfo | None = None

    @property
    def failed(self) -> tuple[BundleOutcome, ...]:
        """The bundles that could not be evaluated."""
        return tuple(o for o in self.outcomes if o.status == ERROR)

    @property
    def not_evaluated(self) -> tuple[BundleOutcome, ...]:
        """The bundles an interrupt left out."""
        return tuple(o for o in self.outcomes if not o.evaluated)

    @property
    def complete(self) -> bool:
        """Whether every bundle was evaluated (no interrupt cut the batch short)."""
        return all(o.evaluated for o in self.outcomes)

    @property
    def has_internal_errors(self) -> bool:
        """Whether some failure was a bug or a crash rather than bad input."""
        return any(o.error_kind == INTERNAL_ERROR for o in self.outcomes)


Progress = Callable[[int, int, BundleOutcome | None], None]
"""Called once before the first bundle with (0, bundles in the batch, None), then after
each bundle with (bundles done, bundles in the batch, its outcome)."""
Task = tuple[str, str | None]
"""One bundle to evaluate: (its path, the report file to write or None)."""
Finished = Callable[[int, BundleOutcome], None]


class Interrupt:
    """A request to stop a batch, set from a signal handler (or any thread).

    `run_batch` looks at it between bundles and every fraction of a second while it
    waits for workers. Nothing is raised into a running evaluation (the rules engine
    calls back into Python and would report such an exception as its own failure):
    workers are stopped from outside, and a bundle evaluated in the calling process
    (`jobs=1`) is finished first.
    """

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        """Whether a stop was requested."""
        return self.signum is not None

    def request(self, signum: int = signal.SIGINT) -> None:
        """Ask the batch to stop (the first signal number is kept)."""
        if self.signum is None:
            self.signum = signum

    def handler(self, signum: int, _frame: FrameType | None) -> None:
        """A `signal.signal` handler that requests the stop."""
        self.request(signum)


def discover(paths: Sequence[Path | str]) -> list[Path]:
    """The bundles named by `paths`, sorted by path (as text), each once.

    A path is a bundle when it is a folder holding bundle.yaml (or a manifest file
    itself); any other folder is a folder of bundles: its subfolders holding a
    bundle.yaml, in name order.

    Raises:
        EvidenceError: a path does not exist, or a folder holds no bundle at all.
    """
    found: dict[Path, Path] = {}
    for given in paths:
        path = Path(given)
        if path.is_file() or (path / MANIFEST).is_file():
            bundles = [path]
        elif path.is_dir():
            bundles = sorted((c for c in path.iterdir() if (c / MANIFEST).is_file()
                              or (archive_format(c) is not None and c.is_file())), key=str)
            if not bundles:
                raise EvidenceError(f"{path}: no evidence bundle here: neither a {MANIFEST} "
                                    f"nor subfolders holding one, nor bundle archives "
                                    f"(.zip, .tar.gz, .tgz)")
        else:
            raise EvidenceError(f"{path}: no such bundle folder or file")
        for bundle in bundles:
            folder = (bundle if archive_format(bundle) is not None
                      else bundle.parent if bundle.is_file() else bundle)
            found.setdefault(folder.resolve(), bundle)
    return sorted(found.values(), key=str)


def report_names(bundles: Sequence[Path]) -> list[str]:
    """A distinct report file name per bundle: its folder's name, then -2, -3 on a clash."""
    names: list[str] = []
    taken: set[str] = set()
    for bundle in bundles:
        folder = bundle.parent if bundle.is_file() else bundle
        own = (archive_stem(bundle.resolve()) if archive_format(bundle) is not None
               else folder.resolve().name)
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", own) or "bundle"
        name, n = f"{stem}.json", 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}.json"
        taken.add(name)
        names.append(name)
    return names


def paths_digest(paths: Sequence[str]) -> str:
    """The sha256 of the bundle paths, one per line, in order: what a shard was cut from."""
    return hashlib.sha256("".join(f"{p}\n" for p in paths).encode("utf-8")).hexdigest()


def run_batch(paths: Sequence[Path | str], profile_refs: Sequence[str] = (),
              rules_dir: Path | None = None, jobs: int | None = None,
              reports_dir: Path | None = None, progress: Progress | None = None,
              as_of: date | None = None, limits: Limits | None = None, *,
              shard: Shard | None = None, executor: str = "local",
              scheduler: str | None = None, interrupt: Interrupt | None = None) -> BatchResult:
    """Evaluate every bundle under `paths` (or the `shard` of them).

    `jobs` worker processes (None: one per core; 1: in this process; with the dask
    executor, the workers of the local cluster). Reports go to `reports_dir` when
    given; `as_of` and `limits` are as for `api.assess_bundle`. `executor` "dask"
    runs the bundles on a Dask cluster (`scheduler`: its address; None: a local
    cluster), see `ism3rules.dask_executor`. When `interrupt` is requested, no new
    bundle is started, the workers are stopped, and the bundles left are returned
    as not evaluated.

    Raises:
        EvidenceError: a path does not exist or holds no bundle.
        ProfileError, RuleError: the profiles or rules cannot be loaded (checked
            here, once, before any bundle is evaluated).
        BatchError: the dask executor is not installed or its cluster cannot be used.
        ValueError: `jobs` is less than 1, or `executor` is unknown.
    """
    if jobs is not None and jobs < 1:
        raise ValueError("jobs must be at least 1")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}")
    inputs = load_inputs(profile_refs, rules_dir)
    bundles = discover(paths)
    chosen = range(len(bundles)) if shard is None else shard.select(len(bundles))
    targets: list[str | None] = [None] * len(bundles)
    if reports_dir is not None:
        reports_dir.mkdir(parents=True, exist_ok=True)
        # names over the whole batch, so that a shard names its reports as a single run does
        targets = [str(reports_dir / n) for n in report_names(bundles)]
    tasks: list[Task] = [(str(bundles[i]), targets[i]) for i in chosen]
    workers = min(jobs or available_cores(), len(tasks)) or 1
    outcomes: list[BundleOutcome | None] = [None] * len(tasks)
    interrupt = interrupt or Interrupt()
    done = 0

    def finished(index: int, outcome: BundleOutcome) -> None:
        nonlocal done
        outcomes[index] = outcome
        done += 1
        if progress is not None:
            progress(done, len(tasks), outcome)

    if progress is not None:
        progress(0, len(tasks), None)
    limits = limits or DEFAULT_LIMITS
    if executor == "dask":
        from .dask_executor import run_dask

        run_dask(tasks, inputs, as_of, limits, finished, interrupt, scheduler, jobs)
    elif workers == 1:
        _use_inputs(inputs, as_of, limits)
        for index, task in enumerate(tasks):
            if interrupt.requested:
                break
            finished(index, _evaluate_one(*task))
    else:
        _run_pool(tasks, workers, (inputs, as_of, limits), finished, interrupt=interrupt)
    profiles = tuple(ProfileInfo(p.id, p.name, p.source, p.max_level, p.sha256)
                     for p in inputs.profiles)
    info = None
    if shard is not None:
        info = ShardInfo(shard, len(bundles), paths_digest([str(b) for b in bundles]))
    return BatchResult(profiles,
                       tuple(o or BundleOutcome(t[0], evaluated=False)
                             for o, t in zip(outcomes, tasks, strict=True)),
                       inputs.rulebook.digest, as_of, limits, info)


def available_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# -- the local pool ----------------------------------------------------------------------

def _run_pool(tasks: list[Task], workers: int, init_args: tuple[Any, ...], finished: Finished,
              evaluate: Callable[[str, str | None], BundleOutcome] | None = None,
              interrupt: Interrupt | None = None) -> None:
    """Run `tasks` in a pool of `workers`; isolate the bundle behind any worker crash.

    `init_args` are (inputs, as_of, limits) for `_init_worker`. `evaluate` (default
    `_evaluate_one`) must be a module-level function: the pool sends it to the
    workers by name. When `interrupt` is requested the workers are stopped and the
    tasks not finished are left without an outcome.
    """
    evaluate = evaluate or _evaluate_one
    interrupt = interrupt or Interrupt()
    context = multiprocessing.get_context(START_METHOD)
    init = (*init_args, os.getpid())
    pending = deque(range(len(tasks)))
    while pending and not interrupt.requested:
        suspects: list[int] = []
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                   initargs=init)
        in_flight: dict[Future[BundleOutcome], int] = {}
        try:
            # A bounded window keeps parent memory flat and tells, after a crash,
            # which bundles may have caused it.
            while (pending or in_flight) and not interrupt.requested:
                while pending and len(in_flight) < 2 * workers and not suspects:
                    index = pending.popleft()
                    in_flight[pool.submit(_in_worker, evaluate, *tasks[index])] = index
                if not in_flight:
                    break
                ready, _ = wait(in_flight, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in ready:
                    index = in_flight.pop(future)
                    try:
                        finished(index, future.result())
                    except BrokenProcessPool:
                        suspects.append(index)
                if suspects:
                    suspects.extend(in_flight.values())
                    break
        finally:
            if interrupt.requested:
                _stop_workers(pool)
                for future, index in in_flight.items():   # finished in the meantime
                    if future.done() and not future.cancelled() and future.exception() is None:
                        finished(index, future.result())
            pool.shutdown(wait=True, cancel_futures=True)
        for index in sorted(set(suspects)):
            if interrupt.requested:
                return
            finished(index, _run_alone(tasks[index], init, context, evaluate, interrupt))


def _run_alone(task: Task, init: tuple[Any, ...], context: Any,
               evaluate: Callable[[str, str | None], BundleOutcome],
               interrupt: Interrupt) -> BundleOutcome:
    """Evaluate one bundle in a fresh process of its own; a crash is its own outcome."""
    pool = ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker, initargs=init)
    try:
        future = pool.submit(_in_worker, evaluate, *task)
        while not interrupt.requested:
            try:
                return future.result(timeout=_POLL_SECONDS)
            except TimeoutError:
                continue
            except BrokenProcessPool:
                return BundleOutcome(task[0], error=CRASHED, error_kind=INTERNAL_ERROR)
        _stop_workers(pool)
        return BundleOutcome(task[0], evaluated=False)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """SIGTERM every worker of `pool` (each removes its half-written report and exits),
    SIGKILL any still there after two seconds; wait until all are gone."""
    # ProcessPoolExecutor has no public way to stop its workers before Python 3.14
    # (terminate_workers); `_processes` is the pid -> Process map it keeps.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(2.0)
        if process.is_alive():
            process.kill()
            process.join()


# -- in a worker process -----------------------------------------------------------------

_inputs: Inputs | None = None
_as_of: date | None = None
_limits: Limits | None = None
_writing = False   # whether a report file is being written (see _on_sigterm)


class _WorkerStopped(BaseException):
    """Raised in a worker by SIGTERM while it writes a report file."""


def _use_inputs(inputs: Inputs, as_of: date | None, limits: Limits | None = None) -> None:
    """Make `inputs` the ones `_evaluate_one` uses, with the rulebook compiled."""
    global _inputs, _as_of, _limits
    from .assessment import compile_rulebook

    compile_rulebook(inputs.rulebook)
    _inputs, _as_of, _limits = inputs, as_of, limits


def _init_worker(inputs: Inputs, as_of: date | None, limits: Limits | None,
                 parent: int) -> None:
    """Tie this worker's life to `parent`'s, then compile the rulebook, once per worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    die_with_parent(parent)
    _use_inputs(inputs, as_of, limits)
    gc.freeze()  # what a worker loaded once lives as long as it: keep it out of collections


def die_with_parent(parent: int) -> None:
    """Have this process receive SIGTERM when process `parent` (its parent) ends.

    On Linux the kernel does it (prctl PR_SET_PDEATHSIG, which fires when the thread
    that started this process ends: `run_batch` starts workers from the thread that
    waits for them); elsewhere a daemon thread checks the parent's pid every second.
    If the parent is already gone, the signal is sent at once.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        if libc.prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    except (OSError, AttributeError):
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                         name="ism3-watch-parent").start()
    if os.getppid() != parent:   # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def _watch_parent(parent: int) -> None:
    """Send SIGTERM to this process once `parent` is no longer its parent."""
    while os.getppid() == parent:
        threading.Event().wait(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """In a worker: exit at once (removing a bundle archive being unpacked); while a
    report file is being written, first unwind through the writer, which removes its
    temporary file."""
    if _writing:
        raise _WorkerStopped()
    remove_unpacked()
    os._exit(128 + signum)


def _in_worker(evaluate: Callable[[str, str | None], BundleOutcome], path: str,
               report: str | None) -> BundleOutcome:
    """`evaluate(path, report)` in a worker process, which SIGTERM stops cleanly."""
    try:
        return evaluate(path, report)
    except _WorkerStopped:
        os._exit(128 + signal.SIGTERM)


def _evaluate_one(path: str, report: str | None) -> BundleOutcome:
    """Evaluate one bundle with the inputs `_use_inputs` set; never raises an Exception."""
    assert _inputs is not None, "worker not initialized"
    return evaluate_with(path, report, _inputs, _as_of, _limits)


def evaluate_with(path: str, report: str | None, inputs: Inputs, as_of: date | None,
                  limits: Limits | None) -> BundleOutcome:
    """Evaluate one bundle (writing its report when `report` is given) into its outcome.

    Never raises an Exception: bad input and internal errors are the outcome.
    """
    global _writing
    try:
        # The collector stays paused until the bundle's objects are freed: resumed with
        # them alive, its first pass would walk every one of them (a year of daily
        # observations is a hundred thousand tuples: a fifth of a warm evaluation of
        # the large benchmark bundle), to find nothing to free.
        with cyclic_gc_paused():
            document = report_document(path, inputs, as_of, limits)
            if report is not None:
                from .formats import FORMATS

                text = FORMATS["json"](document)
                _writing = True
                try:
                    write_atomically(Path(report), text)
                finally:
                    _writing = False
    except EngineError as exc:   # the engine failed or contradicted the rules: a bug
        return BundleOutcome(path, error=str(exc), error_kind=INTERNAL_ERROR)
    except (Ism3Error, OSError) as exc:
        text = str(exc)
        if isinstance(exc, OSError):
            text = f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc)
        return BundleOutcome(path, error=text, error_kind=INPUT_ERROR)
    except Exception as exc:  # noqa: BLE001 - one bundle's bug must not stop the batch
        return BundleOutcome(path, error=f"internal error: {type(exc).__name__}: {exc}",
                             error_kind=INTERNAL_ERROR)
    org = document["organization"]
    return BundleOutcome(
        path, org["id"], org["name"],
        tuple(ProfileLevel(p["id"], p["achieved_level"], p["max_level"])
              for p in document["profiles"]),
        report)


# -- summaries ---------------------------------------------------------------------------

def to_summary(result: BatchResult) -> dict[str, Any]:
    """The batch summary document (ism3-batch/1), keys in a fixed order."""
    shard = None
    if result.shard is not None:
        shard = {"index": result.shard.shard.index, "count": result.shard.shard.count,
                 "batch_bundles": result.shard.batch_bundles,
                 "batch_sha256": result.shard.batch_sha256}
    return _summary(
        {"name": "ism3rules", "version": __version__},
        [{"id": p.id, "name": p.name, "source": p.source, "max_level": p.max_level}
         for p in result.profiles],
        {"rules_sha256": result.rules_sha256,
         "profiles": [{"id": p.id, "sha256": p.sha256} for p in result.profiles],
         "as_of": result.as_of.isoformat() if result.as_of else None,
         "limits": dataclasses.asdict(result.limits)},
        shard,
        [_entry(o.path, o.status,
                {"id": o.organization_id, "name": o.organization_name} if o.ok else None,
                {lv.profile: lv.achieved_level for lv in o.levels}, o.report, o.error,
                o.error_kind)
         for o in result.outcomes])


def _entry(path: str, status: str, organization: dict[str, Any] | None, levels: dict[str, int],
           report: str | None, error: str | None, error_kind: str | None) -> dict[str, Any]:
    """One bundle of a summary, keys in their fixed order."""
    return {"path": path, "status": status, "organization": organization, "levels": levels,
            "report": report, "error": error, "error_kind": error_kind}


def _summary(tool: dict[str, Any], profiles: list[dict[str, Any]], inputs: dict[str, Any],
             shard: dict[str, Any] | None, bundles: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary document from its parts; totals and completeness counted from `bundles`."""
    counts = {status: sum(1 for b in bundles if b["status"] == status)
              for status in (OK, ERROR, NOT_EVALUATED)}
    document: dict[str, Any] = {"schema": SCHEMA, "tool": tool, "profiles": profiles,
                                "inputs": inputs}
    if shard is not None:
        document["shard"] = shard
    document["complete"] = counts[NOT_EVALUATED] == 0
    document["totals"] = {"bundles": len(bundles), "ok": counts[OK], "failed": counts[ERROR],
                          "not_evaluated": counts[NOT_EVALUATED]}
    document["bundles"] = bundles
    return document


def read_summary(path: Path, max_bytes: int = MAX_SUMMARY_BYTES) -> dict[str, Any]:
    """A summary file (ism3-batch/1 JSON), read once within `max_bytes` by the bounded
    reader of input files, and parsed as strict JSON.

    Raises:
        ReportError: the file is missing or not a regular file (a pipe or a device is
            never opened), is larger than `max_bytes`, or is not strict JSON holding an
            object.
    """
    from .inputfiles import SUMMARY, JsonProblem, parse_json, read_input
    from .safe import terminal

    raw = read_input(path, SUMMARY, max_bytes)
    shown = terminal(str(path))
    try:
        document = parse_json(raw)
    except JsonProblem as exc:
        where = f":{exc.line}" if exc.line else ""
        raise ReportError(f"{shown}{where}: not a batch summary (JSON): {exc}") from exc
    if not isinstance(document, dict):
        raise ReportError(f"{shown}: not a batch summary: the JSON is not an object")
    return document


_SHARD_KEYS = ("index", "count", "batch_bundles", "batch_sha256")
_ENTRY_KEYS = ("path", "status", "organization", "levels", "report", "error", "error_kind")


def merge_summaries(named: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Join the summaries of the N shards of one batch into the summary one run gives.

    `named` holds (file name, document) pairs, in any order. The shards must be
    1/N..N/N of the same batch (same bundle list, same tool version, profiles, rules,
    as-of date and limits), each complete; the result is what `to_summary` gives for
    the whole batch run at once, so its JSON is byte-identical.

    Raises:
        ReportError: a document is not a complete shard summary of this tool version.
        BatchError: the shards do not fit together (other batches or inputs,
            overlapping, missing).
    """
    if not named:
        raise BatchError("no shard summaries to merge")
    shards: dict[int, tuple[str, dict[str, Any]]] = {}
    first_name, first = named[0]
    count = None
    for name, document in named:
        shard = _check_shard_summary(name, document)
        if count is None:
            count = shard["count"]
        if shard["count"] != count or shard["batch_sha256"] != first["shard"]["batch_sha256"] \
                or shard["batch_bundles"] != first["shard"]["batch_bundles"]:
            raise BatchError(
                f"{name} (shard {shard['index']}/{shard['count']} of "
                f"{shard['batch_bundles']} bundles) and {first_name} (shard "
                f"{first['shard']['index']}/{first['shard']['count']} of "
                f"{first['shard']['batch_bundles']} bundles) are shards of different batches "
                "(other bundle lists or shard counts): merge the shards of one batch")
        for key in ("profiles", "inputs"):
            if document[key] != first[key]:
                raise BatchError(f"{name} and {first_name} were made with different {key} "
                                 f"({_difference(document[key], first[key])}): every shard "
                                 "must run with the same --profile, --rules-dir, --as-of "
                                 "and limits")
        if shard["index"] in shards:
            raise BatchError(f"{name} and {shards[shard['index']][0]} are both shard "
                             f"{shard['index']}/{count}: shards overlap; give each once")
        shards[shard["index"]] = (name, document)
    assert count is not None
    missing = [k for k in range(1, count + 1) if k not in shards]
    if missing:
        raise BatchError(f"shard(s) {', '.join(f'{k}/{count}' for k in missing)} missing "
                         f"(given: {', '.join(f'{k}/{count}' for k in sorted(shards))}): "
                         "merge needs every shard of the batch")
    total = first["shard"]["batch_bundles"]
    bundles: list[dict[str, Any]] = []
    for k in range(1, count + 1):
        name, document = shards[k]
        expected = len(Shard(k, count).select(total))
        if len(document["bundles"]) != expected:
            raise BatchError(f"{name}: shard {k}/{count} of {total} bundles must hold "
                             f"{expected}, it holds {len(document['bundles'])}")
        bundles.extend(document["bundles"])
    if paths_digest([b["path"] for b in bundles]) != first["shard"]["batch_sha256"]:
        raise BatchError(f"the shards' bundles ({', '.join(n for n, _ in named)}) are not the "
                         "batch they were cut from (a summary was edited, or shards of other "
                         "batches are mixed)")
    return _summary(first["tool"], first["profiles"], first["inputs"], None, bundles)


def _check_shard_summary(name: str, document: dict[str, Any]) -> dict[str, Any]:
    """The `shard` block of a complete shard summary, its bundles rebuilt in key order.

    Raises:
        ReportError: anything a shard summary of this tool version would not hold.
    """
    if document.get("schema") != SCHEMA:
        raise ReportError(f"{name}: not an {SCHEMA} summary (schema "
                          f"{json.dumps(document.get('schema'))}); give the files that "
                          "`ism3 batch --shard K/N -f json -o FILE` wrote")
    tool = document.get("tool")
    if tool != {"name": "ism3rules", "version": __version__}:
        raise ReportError(f"{name}: made by {json.dumps(tool)}, not by this ism3rules "
                          f"{__version__}: merge with the version that ran the shards")
    shard: dict[str, Any] | None = document.get("shard")
    if shard is None:
        raise ReportError(f"{name}: not a shard summary (made without --shard K/N)")
    ok = (isinstance(shard, dict) and tuple(shard) == _SHARD_KEYS
          and all(isinstance(shard[k], int) and not isinstance(shard[k], bool)
                  for k in _SHARD_KEYS[:3])
          and isinstance(shard["batch_sha256"], str)
          and 1 <= shard["index"] <= shard["count"] and shard["batch_bundles"] >= 0)
    if not ok or not isinstance(document.get("profiles"), list) \
            or not isinstance(document.get("inputs"), dict) \
            or not isinstance(document.get("bundles"), list):
        raise ReportError(f"{name}: not a valid shard summary (its shard, profiles, inputs "
                          "or bundles are malformed)")
    if document.get("complete") is not True:
        raise ReportError(f"{name}: shard {shard['index']}/{shard['count']} is incomplete (it "
                          "was interrupted): run that shard again")
    rebuilt = []
    for position, entry in enumerate(document["bundles"]):
        if not (isinstance(entry, dict) and tuple(entry) == _ENTRY_KEYS
                and isinstance(entry["path"], str) and entry["status"] in (OK, ERROR)
                and isinstance(entry["levels"], dict)):
            raise ReportError(f"{name}: bundle {position + 1}: not a bundle entry of an "
                              f"{SCHEMA} summary")
        rebuilt.append(_entry(*(entry[k] for k in _ENTRY_KEYS)))
    document["bundles"] = rebuilt
    return shard


def _difference(one: Any, other: Any) -> str:
    """Which top-level keys (or positions) of two inputs blocks differ, for a message."""
    if isinstance(one, dict) and isinstance(other, dict):
        keys = [k for k in {**one, **other} if one.get(k) != other.get(k)]
        return ", ".join(keys) + " differ"
    return "they differ"
