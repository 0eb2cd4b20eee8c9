"""The ism3rules benchmarks: time, throughput and memory against the targets of issue 7.

    python benchmarks/run.py            # full run (about 20 minutes on 2 quiet cores)
    python benchmarks/run.py --quick    # 100 bundles instead of 1,000, fewer repeats

Prints the figures and writes benchmarks/RESULTS.md. Generated bundles go to
benchmarks/out/ (git-ignored) and are reused by later runs. Every figure is the median
of several runs; a ratio is taken pair by pair from runs interleaved in the same
session, then its median is reported, so slow patches of a shared machine hit both
sides. Linux only for the memory figures (they read /proc).
"""

from __future__ import annotations

import argparse
import csv
import gc
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
RESULTS = HERE / "RESULTS.md"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from generate import SIZES, generate_many  # noqa: E402

TARGETS = {
    "evaluate_vs_floor": 1.5,     # large bundle: evaluate at most 1.5 x the input floor
    "two_vs_one_worker": 1.7,     # 1,000 typical bundles: 2 workers >= 1.7 x 1 worker
    "memory_1000_vs_10": 1.2,     # peak memory for 1,000 bundles <= 1.2 x that for 10
    "help_vs_import": 1.5,        # ism3 --help <= 1.5 x python -c "import click, yaml"
}


# -- helpers -------------------------------------------------------------------------------

@dataclass
class Sample:
    """Repeated measurements of one quantity."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def noise(self) -> str:
        """The spread of the runs, as min-max around the median in percent."""
        if len(self.values) < 2:
            return "1 run"
        low, high = min(self.values), max(self.values)
        return (f"{len(self.values)} runs, -{(self.median - low) / self.median:.0%}"
                f"/+{(high - self.median) / self.median:.0%}")


def ism3_command() -> list[str]:
    """How a user runs ism3 from this environment (its console script)."""
    script = Path(sys.executable).parent / "ism3"
    return [str(script)] if script.exists() else [sys.executable, str(ROOT / "cli.py")]


def run_timed(cmd: Sequence[str]) -> float:
    """Wall-clock seconds of a command; its output is discarded. Raises on failure."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# -- the input floor -----------------------------------------------------------------------

def input_floor(bundle: Path) -> int:
    """Read the bundle as plainly as Python can: bundle.yaml with PyYAML's C loader, every
    CSV with the csv module, every document hashed. Returns the CSV rows read."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load((bundle / "bundle.yaml").read_text(encoding="utf-8"), Loader=loader)
    rows = 0
    for item in data["evidence"]:
        path = bundle / item["path"]
        if item["kind"] == "documentation":
            hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            with path.open(newline="", encoding="utf-8") as handle:
                for _row in csv.reader(handle):
                    rows += 1
    return rows


# -- single bundles ------------------------------------------------------------------------

@dataclass
class SizeResult:
    name: str
    items: int
    rows: int
    cli: Sample = field(default_factory=Sample)
    cli_floor: Sample = field(default_factory=Sample)
    cli_ratio: Sample = field(default_factory=Sample)
    warm: Sample = field(default_factory=Sample)
    warm_floor: Sample = field(default_factory=Sample)
    warm_ratio: Sample = field(default_factory=Sample)
    engine: Sample = field(default_factory=Sample)
    facts: int = 0
    derived: int = 0


def measure_size(name: str, repeats: int) -> SizeResult:
    """End-to-end evaluate against the input floor, cold (a process each) and warm."""
    from ism3rules import engine
    from ism3rules.api import evaluate_bundle
    from ism3rules.formats import FORMATS

    bundle = generate_many(name, OUT / "single", 1)[0]
    data = yaml.safe_load((bundle / "bundle.yaml").read_text())
    result = SizeResult(name, len(data["evidence"]), input_floor(bundle))
    report = OUT / f"report-{name}.json"
    cli = [*ism3_command(), "evaluate", str(bundle), "-f", "json", "-o", str(report)]
    floor = [sys.executable, str(Path(__file__)), "--floor", str(bundle)]
    run_timed(cli), run_timed(floor)  # warm the file cache
    for _ in range(repeats):
        a, b = run_timed(cli), run_timed(floor)
        result.cli.values.append(a)
        result.cli_floor.values.append(b)
        result.cli_ratio.values.append(a / b)

    # Warm: in this process, after a first evaluation (imports done, rules compiled), as
    # in a batch worker. The engine's time is that of CompiledRulebook.run.
    spent: list[tuple[float, int, int]] = []
    original = engine.CompiledRulebook.run

    def run(self: engine.CompiledRulebook, facts: list[dict[str, object]]) -> tuple[object, ...]:
        start = time.perf_counter()
        firings = original(self, facts)
        spent.append((time.perf_counter() - start, len(facts), len(firings)))
        return firings

    engine.CompiledRulebook.run = run  # type: ignore[method-assign]
    try:
        evaluate = lambda: FORMATS["json"](evaluate_bundle(bundle))  # noqa: E731
        evaluate()
        for _ in range(repeats):
            gc.collect()
            a = timed(evaluate)
            b = timed(lambda: input_floor(bundle))
            result.warm.values.append(a)
            result.warm_floor.values.append(b)
            result.warm_ratio.values.append(a / b)
            result.engine.values.append(spent[-1][0])
    finally:
        engine.CompiledRulebook.run = original  # type: ignore[method-assign]
    result.facts, result.derived = spent[-1][1], spent[-1][2]
    return result


# -- batches -------------------------------------------------------------------------------

class TreeMemory:
    """Samples the resident memory of a process and all its descendants (Linux /proc).

    `peak_sum` is the largest sum of VmRSS seen at one sampling instant; `hwm_sum` adds
    each process's own high-water mark (VmHWM), an upper bound that no sampling gap
    can miss.
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_sum = 0
        self.hwm: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @staticmethod
    def _status(pid: int) -> dict[str, int]:
        out: dict[str, int] = {}
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith(("VmRSS:", "VmHWM:", "PPid:")):
                        key, value = line.split(":", 1)
                        out[key] = int(value.split()[0])
        except (OSError, ValueError):
            pass
        return out

    def _tree(self) -> list[int]:
        """The process and its descendants, from each thread's /proc children list."""
        tree, frontier = [], [self.pid]
        while frontier:
            pid = frontier.pop()
            tree.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as handle:
                        frontier.extend(int(c) for c in handle.read().split())
            except OSError:
                continue
        return tree

    def _sample(self) -> None:
        total = 0
        for pid in self._tree():
            status = self._status(pid)
            total += status.get("VmRSS", 0)
            self.hwm[pid] = max(self.hwm.get(pid, 0), status.get("VmHWM", 0))
        self.peak_sum = max(self.peak_sum, total)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def stop(self) -> tuple[float, float]:
        """Stop sampling; (peak of the sum of RSS, sum of high-water marks), in MiB."""
        self._stop.set()
        self._thread.join()
        return self.peak_sum / 1024, sum(self.hwm.values()) / 1024


def run_batch_measured(paths: Sequence[Path], jobs: int) -> tuple[float, float, float]:
    """Run `ism3 batch` on `paths`; (seconds, peak tree RSS MiB, sum of high-water marks MiB)."""
    cmd = [*ism3_command(), "batch", *map(str, paths), "-j", str(jobs), "-q", "-f", "json",
           "-o", str(OUT / f"batch-summary-{jobs}.json")]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    memory = TreeMemory(proc.pid)
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    peak, hwm = memory.stop()
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"ism3 batch failed ({proc.returncode}): {err.decode()[-2000:]}")
    return seconds, peak, hwm


@dataclass
class BatchResult:
    count: int
    one: Sample = field(default_factory=Sample)
    two: Sample = field(default_factory=Sample)
    speedup: Sample = field(default_factory=Sample)
    mem_small: Sample = field(default_factory=Sample)
    mem_small_hwm: Sample = field(default_factory=Sample)
    mem_big: Sample = field(default_factory=Sample)
    mem_big_hwm: Sample = field(default_factory=Sample)
    mem_ratio: Sample = field(default_factory=Sample)


def measure_batches(count: int, repeats: int) -> BatchResult:
    """Throughput with 1 and 2 workers on `count` typical bundles; memory for 10 and `count`."""
    folder = OUT / "typical-batch"
    bundles = generate_many("typical", folder, count)
    # the folder itself, as a user would pass it, unless it holds more (from a larger run)
    paths = [folder] if len(list(folder.iterdir())) == count else bundles
    result = BatchResult(count)
    for _ in range(repeats):
        one, _, _ = run_batch_measured(paths, 1)
        two, peak_big, hwm_big = run_batch_measured(paths, 2)
        _, peak_small, hwm_small = run_batch_measured(bundles[:10], 2)
        result.one.values.append(count / one)
        result.two.values.append(count / two)
        result.speedup.values.append(one / two)
        result.mem_big.values.append(peak_big)
        result.mem_big_hwm.values.append(hwm_big)
        result.mem_small.values.append(peak_small)
        result.mem_small_hwm.values.append(hwm_small)
        result.mem_ratio.values.append(hwm_big / hwm_small)
    return result


# -- start-up ------------------------------------------------------------------------------

@dataclass
class StartupResult:
    help: Sample = field(default_factory=Sample)
    baseline: Sample = field(default_factory=Sample)
    ratio: Sample = field(default_factory=Sample)
    engine_imported: bool = False


def measure_startup(repeats: int) -> StartupResult:
    """`ism3 --help` against `python -c "import click, yaml"`; does --help load the engine?"""
    result = StartupResult()
    help_cmd = [*ism3_command(), "--help"]
    base_cmd = [sys.executable, "-c", "import click, yaml"]
    run_timed(help_cmd), run_timed(base_cmd)
    for _ in range(repeats):
        a, b = run_timed(help_cmd), run_timed(base_cmd)
        result.help.values.append(a)
        result.baseline.values.append(b)
        result.ratio.values.append(a / b)
    trace = subprocess.run([sys.executable, "-X", "importtime", "-c",
                            "import sys; sys.argv = ['ism3', '--help']; import cli; cli.main()"],
                           capture_output=True, text=True, cwd=ROOT)
    result.engine_imported = "durable" in trace.stderr
    return result


# -- report --------------------------------------------------------------------------------

def verdict(value: float, target: float, higher_is_better: bool = False) -> str:
    met = value >= target if higher_is_better else value <= target
    if met:
        return "met"
    off = (target / value - 1) if higher_is_better else (value / target - 1)
    return f"**missed by {off:.0%}**"


def render(sizes: list[SizeResult], batch: BatchResult | None, startup: StartupResult,
           quick: bool, loads: tuple[str, str], seconds: float) -> str:
    ms = lambda s: f"{s.median * 1000:.0f} ms"  # noqa: E731
    lines = [
        "# Benchmark results",
        "",
        "Written by `python benchmarks/run.py" + (" --quick" if quick else "") + "`; do not "
        "edit by hand (the analysis below the figures is kept in `benchmarks/ANALYSIS.md`).",
        "",
        f"- Machine: {os.cpu_count()} CPU(s), {platform.platform()}, Python "
        f"{platform.python_version()}, PyYAML C loader: "
        f"{'yes' if hasattr(yaml, 'CSafeLoader') else 'no'}",
        f"- Load average (1, 5, 15 min) before: {loads[0]}; after: {loads[1]}. "
        "The machine is shared: 'noise' gives the spread of the runs around the median.",
        f"- Run took {seconds / 60:.1f} minutes.",
        "",
        "## Targets",
        "",
        "| target | measured | goal | verdict |",
        "|---|---|---|---|",
    ]
    large = next((s for s in sizes if s.name == "large"), None)
    if large is not None:
        lines.append(f"| large bundle: evaluate / input floor, cold (one process each) | "
                     f"{large.cli_ratio.median:.2f} x | <= {TARGETS['evaluate_vs_floor']} x | "
                     f"{verdict(large.cli_ratio.median, TARGETS['evaluate_vs_floor'])} |")
        lines.append(f"| large bundle: evaluate / input floor, warm (in process) | "
                     f"{large.warm_ratio.median:.2f} x | <= {TARGETS['evaluate_vs_floor']} x | "
                     f"{verdict(large.warm_ratio.median, TARGETS['evaluate_vs_floor'])} |")
    if batch is not None:
        lines.append(f"| {batch.count:,} typical bundles: throughput 2 workers / 1 worker | "
                     f"{batch.speedup.median:.2f} x | >= {TARGETS['two_vs_one_worker']} x | "
                     f"{verdict(batch.speedup.median, TARGETS['two_vs_one_worker'], True)} |")
        lines.append(f"| peak memory, {batch.count:,} bundles / 10 bundles (2 workers) | "
                     f"{batch.mem_ratio.median:.2f} x | <= {TARGETS['memory_1000_vs_10']} x | "
                     f"{verdict(batch.mem_ratio.median, TARGETS['memory_1000_vs_10'])} |")
    lines.append(f"| `ism3 --help` / `python -c \"import click, yaml\"` | "
                 f"{startup.ratio.median:.2f} x | <= {TARGETS['help_vs_import']} x | "
                 f"{verdict(startup.ratio.median, TARGETS['help_vs_import'])} |")
    lines += [
        "",
        "## Single bundles",
        "",
        "Cold: `ism3 evaluate BUNDLE -f json -o FILE` against a Python process running the "
        "input floor (read bundle.yaml with PyYAML's C loader, every CSV with the csv module, "
        "hash every document). Warm: the same two in one process after a first evaluation "
        "(imports done, rules compiled: what a batch worker sees per bundle).",
        "",
        "| size | items | CSV rows | evaluate, cold | floor, cold | ratio | evaluate, warm | "
        "floor, warm | ratio | engine share (warm) | facts asserted / derived | facts/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sizes:
        lines.append(
            f"| {s.name} | {s.items} | {s.rows:,} | {ms(s.cli)} | {ms(s.cli_floor)} | "
            f"{s.cli_ratio.median:.2f} x | {ms(s.warm)} | {ms(s.warm_floor)} | "
            f"{s.warm_ratio.median:.2f} x | {s.engine.median / s.warm.median:.0%} "
            f"({ms(s.engine)}) | {s.facts} / {s.derived} | "
            f"{(s.facts + s.derived) / s.engine.median:,.0f} |")
    lines += ["", "Noise (spread of the runs around the median):", ""]
    for s in sizes:
        lines.append(f"- {s.name}: evaluate cold {s.cli.noise()}; floor cold "
                     f"{s.cli_floor.noise()}; evaluate warm {s.warm.noise()}; floor warm "
                     f"{s.warm_floor.noise()}")
    if batch is not None:
        lines += [
            "",
            "## Batches",
            "",
            f"`ism3 batch` on {batch.count:,} typical bundles (45 processes x 7 metric types, "
            "weekly data for a year), summary as JSON to a file, no report files. Memory: "
            "the whole process tree (the command, its workers and multiprocessing's "
            "helper), sampled from /proc every 100 ms; 'high-water' adds each process's own "
            "peak (VmHWM), which sampling cannot miss.",
            "",
            "| measure | median | noise |",
            "|---|---|---|",
            f"| throughput, 1 worker | {batch.one.median:.1f} bundles/s | {batch.one.noise()} |",
            f"| throughput, 2 workers | {batch.two.median:.1f} bundles/s | {batch.two.noise()} |",
            f"| speed-up 2 vs 1 (pairwise) | {batch.speedup.median:.2f} x | "
            f"{batch.speedup.noise()} |",
            f"| peak tree RSS, 10 bundles | {batch.mem_small.median:.0f} MiB | "
            f"{batch.mem_small.noise()} |",
            f"| peak tree RSS, {batch.count:,} bundles | {batch.mem_big.median:.0f} MiB | "
            f"{batch.mem_big.noise()} |",
            f"| high-water sum, 10 bundles | {batch.mem_small_hwm.median:.0f} MiB | "
            f"{batch.mem_small_hwm.noise()} |",
            f"| high-water sum, {batch.count:,} bundles | {batch.mem_big_hwm.median:.0f} MiB | "
            f"{batch.mem_big_hwm.noise()} |",
            f"| memory ratio (high-water, pairwise) | {batch.mem_ratio.median:.2f} x | "
            f"{batch.mem_ratio.noise()} |",
        ]
    lines += [
        "",
        "## Start-up",
        "",
        f"- `ism3 --help`: {ms(startup.help)} ({startup.help.noise()})",
        f"- `python -c \"import click, yaml\"`: {ms(startup.baseline)} "
        f"({startup.baseline.noise()})",
        f"- `python -X importtime` of `ism3 --help` imports the rules engine: "
        f"{'YES (a regression)' if startup.engine_imported else 'no'}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark, print the results and write RESULTS.md."""
    parser = argparse.ArgumentParser(description="ism3rules benchmarks (see module docstring)")
    parser.add_argument("--quick", action="store_true",
                        help="100 bundles instead of 1,000 and fewer repeats")
    parser.add_argument("--skip-batch", action="store_true", help="single bundles and start-up only")
    parser.add_argument("--batch-repeats", type=int, default=2,
                        help="runs of each batch measurement (default 2: a 1,000-bundle run "
                             "with 1 worker takes minutes)")
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)  # used by the runner
    args = parser.parse_args(argv)
    if args.floor:
        input_floor(args.floor)
        return 0
    started = time.perf_counter()
    before = load_average()
    OUT.mkdir(exist_ok=True)
    repeats = 3 if args.quick else 7
    sizes = []
    for name in SIZES:
        print(f"single bundle: {name} ...", flush=True)
        sizes.append(measure_size(name, repeats))
    batch = None
    if not args.skip_batch:
        count = 100 if args.quick else 1000
        print(f"batches of {count} typical bundles (generated on first use) ...", flush=True)
        batch = measure_batches(count, 1 if args.quick else args.batch_repeats)
    print("start-up ...", flush=True)
    startup = measure_startup(7 if args.quick else 21)
    text = render(sizes, batch, startup, args.quick, (before, load_average()),
                  time.perf_counter() - started)
    analysis = HERE / "ANALYSIS.md"
    if analysis.exists():
        text += "\n" + analysis.read_text(encoding="utf-8")
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
