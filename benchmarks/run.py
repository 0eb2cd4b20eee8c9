"""The ism3rules benchmarks: what users run, measured from outside, against the targets of issue 15.

    python benchmarks/run.py            # full run, writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick    # fewer bundles and repeats: checks the harness,
                                        # writes benchmarks/out/RESULTS-quick.md only

What is measured is what a user runs: the package installed (not editable) into a
virtual environment of its own (benchmarks/out/venv, made on first use, the checkout
reinstalled into it on every run), its bytecode compiled, and every command run with
PYTHONDONTWRITEBYTECODE and PYTHONPATH unset. Each comparison is made of interleaved
pairs (A then B, then B then A, ...), so a slow patch of a shared machine hits both
sides; a ratio is the median of the pairs' ratios, given with its spread (quartiles
and extremes) and the load average around it. Generated bundles go to benchmarks/out/
(git-ignored) and are reused. Linux only for the memory figures (they read /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
VENV = OUT / "venv"
RESULTS = HERE / "RESULTS.md"
QUICK_RESULTS = OUT / "RESULTS-quick.md"
sys.path.insert(0, str(HERE))

from generate import SIZES, generate_many  # noqa: E402

TARGETS = {  # issue 15
    "cold_vs_floor": 1.3,         # large bundle, cold: ism3 evaluate <= 1.3 x the input floor
    "warm_vs_floor": 1.2,         # large bundle, warm (in process) <= 1.2 x
    "two_vs_one_worker": 1.9,     # batch: 2 workers >= 1.9 x the throughput of 1
    "memory_1000_vs_10": 1.2,     # batch: peak memory of 1,000 bundles <= 1.2 x that of 10
    "help_vs_import": 1.2,        # ism3 --help <= 1.2 x python -c "import click, yaml"
}


# -- figures -------------------------------------------------------------------------------

@dataclass
class Sample:
    """Repeated measurements of one quantity."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def spread(self, scale: float = 1.0, unit: str = "", digits: int = 2) -> str:
        """Quartiles and extremes: `IQR a-b, range c-d, n runs`."""
        v = sorted(x * scale for x in self.values)
        if len(v) < 2:
            return "1 run"
        q1, _, q3 = statistics.quantiles(v, n=4, method="inclusive")
        f = f"{{:.{digits}f}}"
        return (f"IQR {f.format(q1)}-{f.format(q3)}{unit}, range {f.format(v[0])}-"
                f"{f.format(v[-1])}{unit}, {len(v)} runs")


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def fmt_load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


@dataclass
class Section:
    """Load average before and after one part of the run."""

    before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def start(self) -> None:
        self.before = load_average()

    def stop(self) -> None:
        self.after = load_average()

    def __str__(self) -> str:
        return f"load {fmt_load(self.before)} -> {fmt_load(self.after)}"


def verdict(value: float, target: float, higher_is_better: bool = False,
            bound: float | None = None) -> str:
    """Met or missed, by how much; for a missed ratio whose lower bound on this stack is
    itself past the target, that no implementation on this stack can meet it."""
    met = value >= target if higher_is_better else value <= target
    margin = (value / target - 1) if higher_is_better else (1 - value / target)
    if met:
        return f"met ({margin:.0%} to spare)"
    if bound is not None and bound > target:
        return f"**missed by {-margin:.0%}; out of reach on this stack (bound {bound:.2f} x)**"
    return f"**missed by {-margin:.0%}**"


def warm_bound(size: SizeResult) -> float | None:
    """The lowest warm ratio an evaluation on durable_rules can have: reading the bundle
    at exactly the floor's cost and nothing else costing anything but the engine's C core
    on this bundle's facts. None when the core was not timed."""
    if not size.core.values:
        return None
    return 1 + size.core.median / size.warm_floor.median


def cold_bound(size: SizeResult, startup: StartupResult) -> float | None:
    """`warm_bound` for a cold run: also importing click and the engine's C core (the
    design's fixed parts), beyond the floor's PyYAML. None when either was not measured."""
    if not size.core.values or not startup.imports_extra.values:
        return None
    return 1 + (max(0.0, startup.imports_extra.median) + size.core.median) / size.cold_floor.median


def bound_text(bound: float | None) -> str:
    return f"{bound:.2f} x" if bound is not None else "n/a"


# -- the environment users run -------------------------------------------------------------

def clean_env() -> dict[str, str]:
    """This environment without what changes how Python imports the package."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def python() -> str:
    return str(VENV / "bin" / "python")


def ism3() -> str:
    return str(VENV / "bin" / "ism3")


def prepare_environment(fresh: bool) -> str:
    """Install this checkout, not editable, into benchmarks/out/venv; compile its bytecode.

    Returns a one-line description. Raises CalledProcessError when pip fails.
    """
    if fresh and VENV.exists():
        shutil.rmtree(VENV)
    env = clean_env()
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([python(), "-m", "pip", "install", "--quiet", str(ROOT)], check=True,
                       env=env, cwd=OUT)
    else:   # the dependencies are there: reinstall the package from this checkout
        subprocess.run([python(), "-m", "pip", "install", "--quiet", "--no-deps",
                        "--force-reinstall", str(ROOT)], check=True, env=env, cwd=OUT)
    probe = ("import sysconfig, cli, ism3rules; "
             "site = sysconfig.get_paths()['purelib']; "
             "print(ism3rules.__file__); print(cli.__file__); print(site)")
    lines = subprocess.run([python(), "-c", probe], check=True, env=env, cwd=OUT,
                           capture_output=True, text=True).stdout.splitlines()
    package, module, site = lines
    if not package.startswith(site) or not module.startswith(site):
        raise RuntimeError(f"the benchmark environment imports {package}, not an installed copy")
    subprocess.run([python(), "-m", "compileall", "-q", str(Path(package).parent), module],
                   check=True, env=env, cwd=OUT)
    cached = list(Path(package).parent.glob("__pycache__/*.pyc"))
    if not cached:
        raise RuntimeError("no bytecode next to the installed package")
    version = subprocess.run([ism3(), "--version"], check=True, env=env, cwd=OUT,
                             capture_output=True, text=True).stdout.strip()
    return (f"{version}, installed from this checkout (not editable) into "
            f"{VENV.relative_to(ROOT)}, {len(cached)} compiled modules in "
            f"{Path(package).parent.name}/__pycache__")


def run_timed(cmd: Sequence[str]) -> float:
    """Wall-clock seconds of a command; its output is discarded. Raises on failure."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   env=clean_env(), cwd=OUT)
    return time.perf_counter() - start


def interleaved(a: Sequence[str], b: Sequence[str], repeats: int
                ) -> tuple[Sample, Sample, Sample]:
    """`repeats` pairs of runs of a and b, order alternating; (a, b, a/b pair by pair)."""
    run_timed(a), run_timed(b)   # file cache and bytecode warm
    sa, sb, ratio = Sample(), Sample(), Sample()
    for i in range(repeats):
        if i % 2 == 0:
            x, y = run_timed(a), run_timed(b)
        else:
            y, x = run_timed(b), run_timed(a)
        sa.values.append(x)
        sb.values.append(y)
        ratio.values.append(x / y)
    return sa, sb, ratio


# -- single bundles ------------------------------------------------------------------------

@dataclass
class SizeResult:
    name: str
    items: int = 0
    rows: int = 0
    cold: Sample = field(default_factory=Sample)
    cold_floor: Sample = field(default_factory=Sample)
    cold_ratio: Sample = field(default_factory=Sample)
    warm: Sample = field(default_factory=Sample)
    warm_floor: Sample = field(default_factory=Sample)
    warm_ratio: Sample = field(default_factory=Sample)
    engine: Sample = field(default_factory=Sample)
    core: Sample = field(default_factory=Sample)   # inside durable_rules' C core (warm)
    facts: int = 0
    derived: int = 0
    section: Section = field(default_factory=Section)


def measure_size(name: str, repeats: int) -> SizeResult:
    """`ism3 evaluate BUNDLE -f json -o FILE` against the input floor, cold and warm."""
    import yaml

    from floor import input_floor

    result = SizeResult(name)
    result.section.start()
    bundle = generate_many(name, OUT / "single", 1)[0]
    result.items = len(yaml.safe_load((bundle / "bundle.yaml").read_text())["evidence"])
    result.rows = input_floor(bundle)
    cli = [ism3(), "evaluate", str(bundle), "-f", "json", "-o", str(OUT / f"report-{name}.json")]
    floor = [python(), str(HERE / "floor.py"), str(bundle)]
    result.cold, result.cold_floor, result.cold_ratio = interleaved(cli, floor, repeats)
    warm = json.loads(subprocess.run([python(), str(HERE / "warm.py"), str(bundle),
                                      str(repeats)], check=True, capture_output=True,
                                     text=True, env=clean_env(), cwd=OUT).stdout)
    result.warm.values = warm["evaluate"]
    result.warm_floor.values = warm["floor"]
    result.warm_ratio.values = [a / b for a, b in zip(warm["evaluate"], warm["floor"],
                                                        strict=True)]
    result.engine.values = warm["engine"]
    result.core.values = warm.get("core", [])
    result.facts, result.derived = warm.get("facts", 0), warm.get("derived", 0)
    result.section.stop()
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
                    if line.startswith(("VmRSS:", "VmHWM:")):
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
    cmd = [ism3(), "batch", *map(str, paths), "-j", str(jobs), "-q", "-f", "json",
           "-o", str(OUT / f"batch-summary-{jobs}.json")]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=clean_env(), cwd=OUT)
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
    section: Section = field(default_factory=Section)


def measure_batches(count: int, repeats: int) -> BatchResult:
    """Throughput with 1 and 2 workers on `count` typical bundles (interleaved, order
    alternating); peak memory for 10 and for `count` bundles (2 workers)."""
    folder = OUT / "typical-batch"
    bundles = generate_many("typical", folder, count)
    # the folder itself, as a user would pass it, unless it holds more (from a larger run)
    paths = [folder] if len(list(folder.iterdir())) == count else bundles
    result = BatchResult(count)
    result.section.start()
    for i in range(repeats):
        if i % 2 == 0:
            one, _, _ = run_batch_measured(paths, 1)
            two, peak_big, hwm_big = run_batch_measured(paths, 2)
        else:
            two, peak_big, hwm_big = run_batch_measured(paths, 2)
            one, _, _ = run_batch_measured(paths, 1)
        _, peak_small, hwm_small = run_batch_measured(bundles[:10], 2)
        result.one.values.append(count / one)
        result.two.values.append(count / two)
        result.speedup.values.append(one / two)
        result.mem_big.values.append(peak_big)
        result.mem_big_hwm.values.append(hwm_big)
        result.mem_small.values.append(peak_small)
        result.mem_small_hwm.values.append(hwm_small)
        result.mem_ratio.values.append(hwm_big / hwm_small)
    result.section.stop()
    return result


# -- start-up ------------------------------------------------------------------------------

@dataclass
class StartupResult:
    help: Sample = field(default_factory=Sample)
    baseline: Sample = field(default_factory=Sample)
    ratio: Sample = field(default_factory=Sample)
    imports_extra: Sample = field(default_factory=Sample)   # seconds, pair by pair
    help_imports_engine: bool = False
    json_imports_tabulate: bool = False
    section: Section = field(default_factory=Section)


def imported(args: Sequence[str]) -> str:
    """The `-X importtime` trace of `ism3 ARGS` run by the installed console script."""
    return subprocess.run([python(), "-X", "importtime", ism3(), *args], capture_output=True,
                          text=True, env=clean_env(), cwd=OUT).stderr


def measure_startup(repeats: int) -> StartupResult:
    """`ism3 --help` against `python -c "import click, yaml"`, and what each loads."""
    result = StartupResult()
    result.section.start()
    result.help, result.baseline, result.ratio = interleaved(
        [ism3(), "--help"], [python(), "-c", "import click, yaml"], repeats)
    # What the design's fixed parts add to a cold start before any work: importing click
    # (the CLI) and durable_rules' C core (the engine), beyond the floor's own PyYAML.
    with_stack, plain, _ = interleaved(
        [python(), "-c", "import yaml, click, durable_rules_engine"],
        [python(), "-c", "import yaml"], repeats)
    result.imports_extra.values = [a - b for a, b in zip(with_stack.values, plain.values,
                                                         strict=True)]
    result.help_imports_engine = "durable" in imported(["--help"])
    sample = ROOT / "evidence" / "northwind"
    trace = imported(["evaluate", str(sample), "-f", "json", "-o", str(OUT / "startup.json")])
    result.json_imports_tabulate = "tabulate" in trace
    result.section.stop()
    return result


# -- report --------------------------------------------------------------------------------

def render(sizes: list[SizeResult], batch: BatchResult | None, startup: StartupResult,
           quick: bool, environment: str, loads: tuple[tuple[float, float, float], ...],
           seconds: float) -> str:
    ms = lambda s: f"{s.median * 1000:.0f} ms"  # noqa: E731
    lines = [
        "# Benchmark results",
        "",
        "Written by `python benchmarks/run.py" + (" --quick" if quick else "") + "`; do not "
        "edit by hand (the analysis below the figures is kept in `benchmarks/ANALYSIS.md`).",
        "",
        f"- Machine: {os.cpu_count()} CPU(s), {platform.platform()}, Python "
        f"{platform.python_version()}.",
        f"- Measured: {environment}; commands run with PYTHONDONTWRITEBYTECODE unset.",
        f"- Load average (1, 5, 15 min) at the start: {fmt_load(loads[0])}; at the end: "
        f"{fmt_load(loads[1])}. Each part below gives its own. Figures from a machine whose "
        "load exceeds its cores are not comparable.",
        f"- Run took {seconds / 60:.1f} minutes. Pairs interleaved, order alternating; a "
        "ratio is the median of the pairs' ratios; spread: quartiles (IQR) and extremes.",
        "",
        "## Targets (issue 15)",
        "",
        "| target | measured (median) | spread of the ratio | goal | lower bound on this "
        "stack | verdict |",
        "|---|---|---|---|---|---|",
    ]
    large = next((s for s in sizes if s.name == "large"), None)
    if large is not None:
        cold_lowest, warm_lowest = cold_bound(large, startup), warm_bound(large)
        lines.append(
            f"| large bundle, cold: `ism3 evaluate -f json -o FILE` / input floor | "
            f"{large.cold_ratio.median:.2f} x | {large.cold_ratio.spread()} | "
            f"<= {TARGETS['cold_vs_floor']} x | {bound_text(cold_lowest)} | "
            f"{verdict(large.cold_ratio.median, TARGETS['cold_vs_floor'], False, cold_lowest)} |")
        lines.append(
            f"| large bundle, warm (in process) / input floor | {large.warm_ratio.median:.2f} x "
            f"| {large.warm_ratio.spread()} | <= {TARGETS['warm_vs_floor']} x | "
            f"{bound_text(warm_lowest)} | "
            f"{verdict(large.warm_ratio.median, TARGETS['warm_vs_floor'], False, warm_lowest)} |")
    if batch is not None:
        lines.append(
            f"| {batch.count:,} typical bundles: throughput 2 workers / 1 worker | "
            f"{batch.speedup.median:.2f} x | {batch.speedup.spread()} | "
            f">= {TARGETS['two_vs_one_worker']} x | n/a | "
            f"{verdict(batch.speedup.median, TARGETS['two_vs_one_worker'], True)} |")
        lines.append(
            f"| peak memory, {batch.count:,} bundles / 10 bundles (2 workers, high-water) | "
            f"{batch.mem_ratio.median:.2f} x | {batch.mem_ratio.spread()} | "
            f"<= {TARGETS['memory_1000_vs_10']} x | n/a | "
            f"{verdict(batch.mem_ratio.median, TARGETS['memory_1000_vs_10'])} |")
    lines.append(
        f"| `ism3 --help` / `python -c \"import click, yaml\"` | {startup.ratio.median:.2f} x | "
        f"{startup.ratio.spread()} | <= {TARGETS['help_vs_import']} x | n/a | "
        f"{verdict(startup.ratio.median, TARGETS['help_vs_import'])} |")
    if large is not None and large.core.values:
        lines += [
            "",
            "Lower bound on this stack: the ratio an evaluation would have if it read the "
            "bundle at exactly the floor's cost and nothing but the parts the design fixes "
            "cost anything more: durable_rules' C core running this bundle's facts "
            f"({large.core.median * 1000:.0f} ms, timed call by call in `warm.py`) and, cold, "
            "importing click and the engine beyond the floor's PyYAML ("
            + (f"{startup.imports_extra.median * 1000:.0f} ms, interleaved pairs"
               if startup.imports_extra.values else "not measured") + "). "
            "Everything an evaluation does besides (checking the bundle, converting "
            "observations, statistics, the rule actions, the cross-check, findings, plans, "
            "the report) comes on top of it.",
        ]
    if quick:
        lines += ["", "A quick run (fewer bundles and repeats) checks the harness; its "
                  "figures are not the targets' measurement."]
    lines += [
        "",
        "## Single bundles",
        "",
        "Cold: `ism3 evaluate BUNDLE -f json -o FILE` against `python benchmarks/floor.py "
        "BUNDLE` (the input floor: parse bundle.yaml with PyYAML's C loader, read every CSV "
        "row with the csv module, sha256 every document), one process each. Warm: "
        "`benchmarks/warm.py`, in one process after a first evaluation (imports done, "
        "rulebook compiled: what a batch worker sees), the report document rendered as JSON, "
        "against the floor's function.",
        "",
        "| size | items | CSV rows | evaluate, cold | floor, cold | ratio | evaluate, warm | "
        "floor, warm | ratio | engine share (warm) | of which durable_rules' C core | "
        "facts asserted / derived |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in sizes:
        engine = (f"{s.engine.median / s.warm.median:.0%} ({ms(s.engine)})" if s.engine.values
                  else "n/a")
        lines.append(
            f"| {s.name} | {s.items} | {s.rows:,} | {ms(s.cold)} | {ms(s.cold_floor)} | "
            f"{s.cold_ratio.median:.2f} x | {ms(s.warm)} | {ms(s.warm_floor)} | "
            f"{s.warm_ratio.median:.2f} x | {engine} | "
            f"{ms(s.core) if s.core.values else 'n/a'} | {s.facts} / {s.derived} |")
    lines += ["", "Spread:", ""]
    for s in sizes:
        lines.append(f"- {s.name} ({s.section}): cold ratio {s.cold_ratio.spread()}; "
                     f"evaluate cold {s.cold.spread(1000, ' ms', 0)}; floor cold "
                     f"{s.cold_floor.spread(1000, ' ms', 0)}; warm ratio "
                     f"{s.warm_ratio.spread()}")
    if batch is not None:
        lines += [
            "",
            "## Batches",
            "",
            f"`ism3 batch` on {batch.count:,} typical bundles (45 processes x 7 metric types, "
            "weekly data for a year), summary as JSON to a file, no report files; 1 and 2 "
            "workers interleaved. Memory: the whole process tree (the command, its workers "
            "and multiprocessing's helper), sampled from /proc every 100 ms; 'high-water' "
            f"adds each process's own peak (VmHWM), which sampling cannot miss. {batch.section}.",
            "",
            "| measure | median | spread |",
            "|---|---|---|",
            f"| throughput, 1 worker | {batch.one.median:.1f} bundles/s | {batch.one.spread()} |",
            f"| throughput, 2 workers | {batch.two.median:.1f} bundles/s | "
            f"{batch.two.spread()} |",
            f"| speed-up 2 vs 1 (pairwise) | {batch.speedup.median:.2f} x | "
            f"{batch.speedup.spread()} |",
            f"| peak tree RSS, 10 bundles | {batch.mem_small.median:.0f} MiB | "
            f"{batch.mem_small.spread(digits=0)} |",
            f"| peak tree RSS, {batch.count:,} bundles | {batch.mem_big.median:.0f} MiB | "
            f"{batch.mem_big.spread(digits=0)} |",
            f"| high-water sum, 10 bundles | {batch.mem_small_hwm.median:.0f} MiB | "
            f"{batch.mem_small_hwm.spread(digits=0)} |",
            f"| high-water sum, {batch.count:,} bundles | {batch.mem_big_hwm.median:.0f} MiB | "
            f"{batch.mem_big_hwm.spread(digits=0)} |",
            f"| memory ratio (high-water, pairwise) | {batch.mem_ratio.median:.2f} x | "
            f"{batch.mem_ratio.spread()} |",
        ]
    lines += [
        "",
        "## Start-up",
        "",
        f"Interleaved pairs, {startup.section}.",
        "",
        f"- `ism3 --help`: {ms(startup.help)} ({startup.help.spread(1000, ' ms', 0)})",
        f"- `python -c \"import click, yaml\"`: {ms(startup.baseline)} "
        f"({startup.baseline.spread(1000, ' ms', 0)})",
        f"- `ism3 --help` imports the rules engine (`-X importtime`): "
        f"{'YES (a regression)' if startup.help_imports_engine else 'no'}",
        f"- `ism3 evaluate -f json` imports tabulate: "
        f"{'YES (a regression)' if startup.json_imports_tabulate else 'no'}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark, print the results, write RESULTS.md (or the quick file)."""
    parser = argparse.ArgumentParser(description="ism3rules benchmarks (see module docstring)")
    parser.add_argument("--quick", action="store_true",
                        help="100 bundles instead of 1,000, fewer repeats; writes "
                             "benchmarks/out/RESULTS-quick.md, not RESULTS.md")
    parser.add_argument("--skip-batch", action="store_true", help="single bundles and start-up only")
    parser.add_argument("--repeats", type=int, default=None,
                        help="pairs per single-bundle comparison (default 15; quick 3)")
    parser.add_argument("--batch-repeats", type=int, default=3,
                        help="runs of each batch measurement (default 3: a 1,000-bundle run "
                             "with 1 worker takes minutes)")
    parser.add_argument("--fresh-venv", action="store_true",
                        help="rebuild benchmarks/out/venv from scratch")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    OUT.mkdir(exist_ok=True)
    first_load = load_average()
    print("installing the package into the benchmark environment ...", flush=True)
    environment = prepare_environment(args.fresh_venv)
    repeats = args.repeats or (3 if args.quick else 15)
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
    startup = measure_startup(7 if args.quick else 31)
    text = render(sizes, batch, startup, args.quick, environment,
                  (first_load, load_average()), time.perf_counter() - started)
    analysis = HERE / "ANALYSIS.md"
    if analysis.exists() and not args.quick:
        text += "\n" + analysis.read_text(encoding="utf-8")
    (QUICK_RESULTS if args.quick else RESULTS).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
