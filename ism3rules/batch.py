"""Many bundles at once: find them, evaluate each in a worker process, collect in path order.

The rules engine holds the GIL and allows one host per process, so parallelism means
processes. Each worker loads the catalogue, rules and profiles and compiles the
rulebook once, then evaluates bundle after bundle through the same code path as a
single evaluation (`api.report_document`, and `formats.FORMATS["json"]` for the
report files), so a batch gives exactly what `ism3 evaluate` gives for each bundle.

Workers are started with the "spawn" method: a forked child would inherit the
parent's engine host (C state, timer threads and locks) if the parent had already
evaluated something; a spawned one starts clean, and its start-up cost (about the
time of one bundle) is paid once per worker, not per bundle.

One broken bundle never stops the batch: its error is its outcome. A worker that
dies (a crash inside the engine) breaks the pool; the bundles it may have been
evaluating are then re-run one per fresh process, so only the culprit is reported
as crashed, and the batch goes on with a new pool.

Nothing here prints: progress is reported through a callback.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import re
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from . import __version__
from .api import Inputs, load_inputs, report_document
from .errors import EngineError, EvidenceError, Ism3Error
from .evidence import MANIFEST
from .limits import Limits
from .output import write_atomically

SCHEMA = "ism3-batch/1"
START_METHOD = "spawn"
INPUT_ERROR = "input"
INTERNAL_ERROR = "internal"


@dataclass(frozen=True)
class ProfileLevel:
    """The maturity level one bundle reached against one profile."""

    profile: str
    achieved_level: int
    max_level: int


@dataclass(frozen=True)
class BundleOutcome:
    """What became of one bundle: its levels, or the error that stopped it."""

    path: str
    organization_id: str | None = None
    organization_name: str | None = None
    levels: tuple[ProfileLevel, ...] = ()
    report: str | None = None        # the report file written, when asked for
    error: str | None = None         # one line per problem, as `ism3 evaluate` says it
    error_kind: str | None = None    # INPUT_ERROR or INTERNAL_ERROR

    @property
    def ok(self) -> bool:
        """Whether the bundle was evaluated."""
        return self.error is None


@dataclass(frozen=True)
class ProfileInfo:
    """A profile every bundle of the batch is evaluated against."""

    id: str
    name: str
    source: str
    max_level: int


@dataclass(frozen=True)
class BatchResult:
    """Every bundle's outcome, sorted by path, and the profiles used."""

    profiles: tuple[ProfileInfo, ...]
    outcomes: tuple[BundleOutcome, ...]

    @property
    def failed(self) -> tuple[BundleOutcome, ...]:
        """The bundles that could not be evaluated."""
        return tuple(o for o in self.outcomes if not o.ok)

    @property
    def has_internal_errors(self) -> bool:
        """Whether some failure was a bug or a crash rather than bad input."""
        return any(o.error_kind == INTERNAL_ERROR for o in self.outcomes)


Progress = Callable[[int, int, BundleOutcome | None], None]
"""Called once before the first bundle with (0, bundles in the batch, None), then after
each bundle with (bundles done, bundles in the batch, its outcome)."""
Task = tuple[str, str | None]
"""One bundle to evaluate: (its path, the report file to write or None)."""


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
            bundles = sorted((c for c in path.iterdir() if (c / MANIFEST).is_file()), key=str)
            if not bundles:
                raise EvidenceError(f"{path}: no evidence bundle here: neither a {MANIFEST} "
                                    f"nor subfolders holding one")
        else:
            raise EvidenceError(f"{path}: no such bundle folder or file")
        for bundle in bundles:
            folder = bundle.parent if bundle.is_file() else bundle
            found.setdefault(folder.resolve(), bundle)
    return sorted(found.values(), key=str)


def report_names(bundles: Sequence[Path]) -> list[str]:
    """A distinct report file name per bundle: its folder's name, then -2, -3 on a clash."""
    names: list[str] = []
    taken: set[str] = set()
    for bundle in bundles:
        folder = bundle.parent if bundle.is_file() else bundle
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", folder.resolve().name) or "bundle"
        name, n = f"{stem}.json", 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}.json"
        taken.add(name)
        names.append(name)
    return names


def run_batch(paths: Sequence[Path | str], profile_refs: Sequence[str] = (),
              rules_dir: Path | None = None, jobs: int | None = None,
              reports_dir: Path | None = None, progress: Progress | None = None,
              as_of: date | None = None, limits: Limits | None = None) -> BatchResult:
    """Evaluate every bundle under `paths`; `jobs` worker processes (None: one per core;
    1: in this process). Reports go to `reports_dir` when given; `as_of` and `limits`
    are as for `api.assess_bundle`.

    Raises:
        EvidenceError: a path does not exist or holds no bundle.
        ProfileError, RuleError: the profiles or rules cannot be loaded (checked
            here, once, before any bundle is evaluated).
        ValueError: `jobs` is less than 1.
    """
    if jobs is not None and jobs < 1:
        raise ValueError("jobs must be at least 1")
    inputs = load_inputs(profile_refs, rules_dir)
    bundles = discover(paths)
    if reports_dir is not None:
        reports_dir.mkdir(parents=True, exist_ok=True)
        targets: list[str | None] = [str(reports_dir / n) for n in report_names(bundles)]
    else:
        targets = [None] * len(bundles)
    tasks: list[Task] = [(str(b), t) for b, t in zip(bundles, targets, strict=True)]
    workers = min(jobs or available_cores(), len(tasks)) or 1
    outcomes: list[BundleOutcome | None] = [None] * len(tasks)
    done = 0

    def finished(index: int, outcome: BundleOutcome) -> None:
        nonlocal done
        outcomes[index] = outcome
        done += 1
        if progress is not None:
            progress(done, len(tasks), outcome)

    if progress is not None:
        progress(0, len(tasks), None)
    init_args = (tuple(profile_refs), rules_dir, as_of, limits)
    if workers == 1:
        _use_inputs(inputs, as_of, limits)
        for index, task in enumerate(tasks):
            finished(index, _evaluate_one(*task))
    else:
        _run_pool(tasks, workers, init_args, finished)
    profiles = tuple(ProfileInfo(p.id, p.name, p.source, p.max_level) for p in inputs.profiles)
    return BatchResult(profiles, tuple(o for o in outcomes if o is not None))


def available_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run_pool(tasks: list[Task], workers: int, init_args: tuple[Any, ...],
              finished: Callable[[int, BundleOutcome], None],
              evaluate: Callable[[str, str | None], BundleOutcome] | None = None) -> None:
    """Run `tasks` in a pool of `workers`; isolate the bundle behind any worker crash.

    `evaluate` (default `_evaluate_one`) must be a module-level function: the pool
    sends it to the workers by name.
    """
    evaluate = evaluate or _evaluate_one
    context = multiprocessing.get_context(START_METHOD)
    pending = deque(range(len(tasks)))
    while pending:
        suspects: list[int] = []
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                 initargs=init_args) as pool:
            in_flight: dict[Future[BundleOutcome], int] = {}
            # A bounded window keeps parent memory flat and tells, after a crash,
            # which bundles may have caused it.
            while pending or in_flight:
                while pending and len(in_flight) < 2 * workers and not suspects:
                    index = pending.popleft()
                    in_flight[pool.submit(evaluate, *tasks[index])] = index
                if not in_flight:
                    break
                ready, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in ready:
                    index = in_flight.pop(future)
                    try:
                        finished(index, future.result())
                    except BrokenProcessPool:
                        suspects.append(index)
                if suspects:
                    suspects.extend(in_flight.values())
                    break
        for index in sorted(set(suspects)):
            finished(index, _run_alone(tasks[index], init_args, context, evaluate))


def _run_alone(task: Task, init_args: tuple[Any, ...], context: Any,
               evaluate: Callable[[str, str | None], BundleOutcome]) -> BundleOutcome:
    """Evaluate one bundle in a fresh process of its own; a crash is its own outcome."""
    with ProcessPoolExecutor(1, mp_context=context, initializer=_init_worker,
                             initargs=init_args) as pool:
        try:
            return pool.submit(evaluate, *task).result()
        except BrokenProcessPool:
            return BundleOutcome(task[0], error="the worker process evaluating this bundle "
                                 "died (a crash inside the rules engine); run `ism3 evaluate` "
                                 "on it alone and report the problem", error_kind=INTERNAL_ERROR)


_inputs: Inputs | None = None
_as_of: date | None = None
_limits: Limits | None = None


def _use_inputs(inputs: Inputs, as_of: date | None, limits: Limits | None = None) -> None:
    """Make `inputs` the ones `_evaluate_one` uses, with the rulebook compiled."""
    global _inputs, _as_of, _limits
    from .assessment import compile_rulebook

    compile_rulebook(inputs.rulebook)
    _inputs, _as_of, _limits = inputs, as_of, limits


def _init_worker(profile_refs: tuple[str, ...], rules_dir: Path | None,
                 as_of: date | None, limits: Limits | None = None) -> None:
    """Load the inputs and compile the rulebook, once per worker process."""
    _use_inputs(load_inputs(profile_refs, rules_dir), as_of, limits)
    gc.freeze()  # what a worker loaded once lives as long as it: keep it out of collections


def _evaluate_one(path: str, report: str | None) -> BundleOutcome:
    """Evaluate one bundle in this worker; never raises."""
    assert _inputs is not None, "worker not initialized"
    try:
        document = report_document(path, _inputs, _as_of, _limits)
        if report is not None:
            from .formats import FORMATS

            write_atomically(Path(report), FORMATS["json"](document))
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


def to_summary(result: BatchResult) -> dict[str, Any]:
    """The batch summary document (ism3-batch/1), keys in a fixed order."""
    bundles = []
    for o in result.outcomes:
        bundles.append({
            "path": o.path,
            "status": "ok" if o.ok else "error",
            "organization": ({"id": o.organization_id, "name": o.organization_name}
                             if o.ok else None),
            "levels": {lv.profile: lv.achieved_level for lv in o.levels},
            "report": o.report,
            "error": o.error,
            "error_kind": o.error_kind,
        })
    failed = len(result.failed)
    return {
        "schema": SCHEMA,
        "tool": {"name": "ism3rules", "version": __version__},
        "profiles": [{"id": p.id, "name": p.name, "source": p.source, "max_level": p.max_level}
                     for p in result.profiles],
        "totals": {"bundles": len(result.outcomes), "ok": len(result.outcomes) - failed,
                   "failed": failed},
        "bundles": bundles,
    }
