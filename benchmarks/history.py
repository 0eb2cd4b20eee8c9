"""History store speed: 10,000 recorded runs, `history trend` and `history portfolio` on SQLite
against reading the same reports from disk.

    python benchmarks/history.py                    # 10,000 runs (about 15 minutes, 5 GB of
                                                    # scratch files in benchmarks/out/)
    python benchmarks/history.py --runs 1000 --repeats 3     # a quick look

The runs are real reports, relabelled. 20 generated typical bundles (45 processes, 7
metric types each, a year of weekly data: `generate.py`) are evaluated as of the end of
each quarter of their evidence year: 80 real ism3-report/1 documents, 400 KB each, whose
capabilities and levels grow over the year as a backfill's do. Each recorded run is one
of them given another organization id and evaluation date: 990 organizations with 10
quarterly runs and one with 100, 10,000 runs in all. Neither field is under a digest, so
each run passes every check a real report passes, and `trend` and `portfolio` read
exactly the rows a real run has (45 process rows, 3 profile rows, its findings and gaps).
What only evaluating 10,000 different bundles would add is variety in the values, which
changes neither the number of rows nor the queries.

The same 10,000 reports are written as JSON files, one folder per organization
(`<org>/<as_of>.json`), and the same answers are computed from them in plain Python:
that is the alternative to a store. The store's commands are timed end to end (`ism3`
in a fresh process, as a user runs them) and in-process; the files are read in-process
(no start-up counted, in their favour). Pairs are interleaved, each figure the median
of the repeats with its range; the load average is recorded before and after.

Writes benchmarks/out/history.md (figures) besides printing them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from generate import generate_many  # noqa: E402

from ism3rules.report_check import CAPABILITIES, canonical_json  # noqa: E402

BASE_BUNDLES = 20
QUARTER_ENDS = ("2026-03-31", "2026-06-30", "2026-09-30", "2026-12-31")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def base_reports(folder: Path) -> list[list[dict[str, Any]]]:
    """Per generated bundle, its reports as of each quarter end (evaluated once, cached)."""
    from ism3rules.api import load_inputs, report_document

    folder.mkdir(parents=True, exist_ok=True)
    bundles = generate_many("typical", OUT, BASE_BUNDLES)
    inputs = None
    out = []
    for bundle in bundles:
        per_quarter = []
        for day in QUARTER_ENDS:
            cached = folder / f"{bundle.name}-{day}.json"
            if not cached.is_file():
                inputs = inputs or load_inputs()
                cached.write_text(canonical_json(report_document(
                    bundle, inputs, date.fromisoformat(day))), encoding="utf-8")
            per_quarter.append(json.loads(cached.read_text(encoding="utf-8")))
        out.append(per_quarter)
    return out


def quarter_ends(first: date, count: int) -> list[str]:
    """`count` quarter ends from the one on or after `first`."""
    out, year, quarter = [], first.year, (first.month - 1) // 3
    for _ in range(count):
        month = quarter * 3 + 3
        end = date(year + (month // 12), month % 12 + 1, 1) - timedelta(days=1)
        out.append(end.isoformat())
        quarter += 1
        if quarter == 4:
            quarter, year = 0, year + 1
    return out


def plan(runs: int) -> list[tuple[str, str, int, int]]:
    """(organization, as_of, base bundle, quarter) for every run: one organization with
    100 runs (or a tenth of them), the rest with 10 each."""
    big = max(10, runs // 100)
    out = [("org-big", day, 0, min(3, i * 4 // big))
           for i, day in enumerate(quarter_ends(date(2001, 1, 1), big))]
    org = 0
    while len(out) < runs:
        days = quarter_ends(date(2024, 1, 1), 10)
        for i, day in enumerate(days[: runs - len(out)]):
            out.append((f"org-{org:04d}", day, org % BASE_BUNDLES, min(3, i * 4 // 10)))
        org += 1
    return out


def build(runs: int, db: Path, files: Path, bases: list[list[dict[str, Any]]]) -> dict[str, float]:
    """Record every planned run (100 per transaction) and write the same reports as files."""
    from ism3rules.history import open_store

    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    shutil.rmtree(files, ignore_errors=True)
    planned = plan(runs)
    started = time.perf_counter()
    recorded = 0
    with open_store(str(db)) as store:
        batch: list[dict[str, Any]] = []
        for org, day, base, quarter in planned:
            document = dict(bases[base][quarter])      # shares all but what is relabelled
            document["organization"] = {"id": org, "name": f"Organization {org}"}
            document["assessment"] = {**document["assessment"], "as_of": day}
            batch.append(document)
            target = files / org / f"{day}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(canonical_json(document), encoding="utf-8")
            if len(batch) == 100:
                recorded += sum(r.new for r in store.record(batch, "record"))
                batch = []
        if batch:
            recorded += sum(r.new for r in store.record(batch, "record"))
    elapsed = time.perf_counter() - started
    assert recorded == runs, (recorded, runs)
    size = sum(p.stat().st_size for p in files.rglob("*.json"))
    return {"seconds": elapsed, "runs_per_second": runs / elapsed,
            "db_mb": db.stat().st_size / 2**20, "files_mb": size / 2**20}


# -- the same answers from files ------------------------------------------------------------

def _levels(document: dict[str, Any]) -> dict[str, int]:
    return {p["id"]: p["achieved_level"] for p in document["profiles"]}


def trend_from_files(folder: Path) -> list[dict[str, Any]]:
    """Per report of one organization, by date: levels and capability counts."""
    points = []
    for path in sorted(folder.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        counts = dict.fromkeys(CAPABILITIES, 0)
        for proc in document["processes"].values():
            counts[proc["capability"]] += 1
        points.append({"as_of": document["assessment"]["as_of"], "levels": _levels(document),
                       "capabilities": counts, "rules": document["inputs"]["rules_sha256"]})
    return points


def portfolio_from_files(root: Path) -> list[dict[str, Any]]:
    """Per organization: latest levels, the run before's, open findings by severity."""
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        documents = sorted((json.loads(p.read_text(encoding="utf-8"))
                            for p in folder.glob("*.json")),
                           key=lambda d: d["assessment"]["as_of"])
        latest = documents[-1]
        previous = documents[-2] if len(documents) > 1 else None
        severities: dict[str, int] = {}
        for finding in latest.get("findings", []):
            if (finding.get("status") or "open") == "open":
                name = finding.get("severity") or "unrated"
                severities[name] = severities.get(name, 0) + 1
        out.append({"id": latest["organization"]["id"], "levels": _levels(latest),
                    "previous": _levels(previous) if previous else None,
                    "findings": severities})
    return out


# -- timing ---------------------------------------------------------------------------------

def _time(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _cli(*args: str) -> Callable[[], Any]:
    ism3 = Path(sys.executable).with_name("ism3")
    command = [str(ism3), *args]

    def go() -> None:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    return go


def _python(code: str) -> Callable[[], Any]:
    def go() -> None:
        subprocess.run([sys.executable, "-c", code], check=True)

    return go


def measure(db: Path, files: Path, repeats: int) -> dict[str, list[float]]:
    """Interleaved timings of every way of answering, `repeats` times each."""
    from ism3rules.history import open_store
    from ism3rules.history.views import portfolio, trend

    url = str(db)
    actions: dict[str, Callable[[], Any]] = {
        "start-up: ism3 --version (CLI)": _cli("--version"),
        "start-up: python -c 'import sqlalchemy'": _python("import sqlalchemy"),
        "trend, 10 runs: ism3 history trend (CLI)": _cli("history", "trend", "org-0007", "-f",
                                                        "json", "--db", url),
        "trend, 10 runs: store, in-process": lambda: _in(url, lambda s: trend(s, "org-0007")),
        "trend, 10 runs: files, in-process": lambda: trend_from_files(files / "org-0007"),
        "trend, 100 runs: ism3 history trend (CLI)": _cli("history", "trend", "org-big", "-f",
                                                         "json", "--db", url),
        "trend, 100 runs: store, in-process": lambda: _in(url, lambda s: trend(s, "org-big")),
        "trend, 100 runs: files, in-process": lambda: trend_from_files(files / "org-big"),
        "portfolio: ism3 history portfolio (CLI)": _cli("history", "portfolio", "-f", "json",
                                                        "--db", url),
        "portfolio: store, in-process": lambda: _in(url, portfolio),
        "portfolio: files, in-process": lambda: portfolio_from_files(files),
    }
    if not files.is_dir():
        actions = {k: v for k, v in actions.items() if "files" not in k}
    open_store(url).close()
    for action in actions.values():   # warm the page cache and the bytecode once
        action()
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            times[name].append(_time(action))
    return times


def _in(url: str, query: Callable[[Any], Any]) -> Any:
    from ism3rules.history import open_store

    with open_store(url) as store:
        return query(store)


def report(build_figures: dict[str, float] | None, times: dict[str, list[float]], runs: int,
           load_before: str, load_after: str) -> str:
    lines = [f"History store benchmark: {runs} runs on SQLite "
             f"(python benchmarks/history.py --runs {runs})", ""]
    if build_figures:
        lines.append(f"Recording: {build_figures['seconds']:.0f} s, "
                     f"{build_figures['runs_per_second']:.0f} runs/s (100 per transaction); "
                     f"database {build_figures['db_mb']:.0f} MB; the same reports as JSON "
                     f"files {build_figures['files_mb']:.0f} MB.")
        lines.append("")
    lines += ["| what | median | min | max |", "| --- | --- | --- | --- |"]
    for name, values in times.items():
        lines.append(f"| {name} | {statistics.median(values) * 1000:.0f} ms | "
                     f"{min(values) * 1000:.0f} ms | {max(values) * 1000:.0f} ms |")
    lines += ["", f"{len(next(iter(times.values())))} interleaved repeats; load average "
              f"before {load_before}, after {load_after} (2 cores, shared)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the store and the files, time the answers, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reuse", action="store_true",
                        help="Reuse the store (and the files, if kept) of an earlier run with "
                             "as many runs; without the files only the store is timed.")
    parser.add_argument("--keep", action="store_true",
                        help="Keep the scratch report files (several GB) afterwards.")
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    db, files = OUT / f"history-{args.runs}.sqlite", OUT / f"history-{args.runs}-reports"
    load_before = _load()
    figures = None
    if not (args.reuse and db.is_file()):
        bases = base_reports(OUT / "history-base")
        figures = build(args.runs, db, files, bases)
        print(f"recorded {args.runs} runs in {figures['seconds']:.0f} s", flush=True)
    times = measure(db, files, args.repeats)
    text = report(figures, times, args.runs, load_before, _load())
    (OUT / "history.md").write_text(text, encoding="utf-8")
    print(text)
    if not args.keep:
        shutil.rmtree(files, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
