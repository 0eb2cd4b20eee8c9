"""Measure what hostile bundles cost to refuse: time and peak memory per attack.

Not a test (no assertions): run it and read the table, e.g. after changing yamlio.py
or the CSV reader.  `python benchmarks/hostile_inputs.py`
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ism3rules.errors import Ism3Error  # noqa: E402
from ism3rules.evidence import load_bundle  # noqa: E402
from ism3rules.limits import Limits  # noqa: E402

HEAD = "schema: ism3-evidence/1\norganization: {id: a, name: A}\n"
METRIC = ("evidence:\n  - {id: M1, process: OSP-3, kind: metric, metric_type: scope, "
          "path: m.csv}\n")


def laughs(levels: int, width: int) -> str:
    lines = ['l0: &l0 "lol"']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return HEAD + "evidence: []\n" + "\n".join(lines) + "\n"


def merges(levels: int) -> str:
    lines = ["m0: &m0 {a: 1, b: 2, c: 3}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}, *m{i - 1}]}}" for i in range(1, levels)]
    return HEAD + "evidence: []\n" + "\n".join(lines) + "\n"


def write(root: Path, manifest: str, csv: Callable[[Path], None] | None = None) -> Path:
    root.mkdir()
    (root / "bundle.yaml").write_text(manifest)
    if csv:
        csv(root / "m.csv")
    return root


def sparse(head: str, size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_text(head)
        with open(path, "r+b") as handle:
            handle.truncate(size)
    return make


def rows(count: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with open(path, "w") as handle:
            handle.write("date,value\n")
            for n in range(count):
                handle.write(f"2026-{1 + n % 12:02d}-{1 + n % 28:02d},{n % 1000}\n")
    return make


CASES: list[tuple[str, str, Callable[[Path], None] | None, Limits]] = [
    ("billion laughs 10x10 (10^10 nodes)", laughs(10, 10), None, Limits()),
    ("billion laughs, alias count raised", laughs(10, 10), None, Limits(max_aliases=10**6)),
    ("narrow chain 3^29, aliases raised", laughs(30, 3), None, Limits(max_aliases=10**6)),
    ("merge-key chain 3^24", merges(25), None, Limits(max_aliases=10**6)),
    ("1,000,000 nested flow lists", HEAD + "x: " + "[" * 10**6 + "]" * 10**6 + "\n", None, Limits()),
    ("1,000,000 nested block lists", HEAD + "x:\n  " + "- " * 10**6 + "y\n", None, Limits()),
    ("recursive alias", HEAD + "evidence: &e [*e]\n", None, Limits()),
    ("bundle.yaml of 17 MiB (sparse)", HEAD + "evidence: []\n#" + " " * (17 * 2**20), None, Limits()),
    ("CSV 30 MiB, bad row 3 (sparse)", HEAD + METRIC,
     sparse("date,value\n2026-01-01,3\n2026-01-08,x\n", 30 * 2**20), Limits()),
    ("CSV 33 MiB (over the limit)", HEAD + METRIC, sparse("date,value\n", 33 * 2**20), Limits()),
    ("CSV 1,000,000 valid rows (17 MiB)", HEAD + METRIC, rows(1_000_000), Limits()),
]


TRACE = "--no-trace" not in sys.argv  # tracemalloc slows allocation-heavy cases several times


def main() -> None:
    print(f"{'case':40} {'outcome':10} {'seconds':>8} {'peak MiB':>9}  message")
    for name, manifest, csv, limits in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            root = write(Path(tmp) / "b", manifest, csv)
            if TRACE:
                tracemalloc.start()
            start = time.perf_counter()
            try:
                bundle = load_bundle(root, limits=limits)
                outcome, message = "loaded", f"{sum(len(i.observations) for i in bundle.items)} obs"
            except Ism3Error as exc:
                outcome, message = "refused", str(exc).splitlines()[0].split(": ", 1)[-1][:70]
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1] / 2**20 if TRACE else float("nan")
            tracemalloc.stop()
            print(f"{name:40} {outcome:10} {elapsed:8.3f} {peak:9.1f}  {message}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS of the whole run: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
