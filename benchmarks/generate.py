"""Seeded generator of ism3-evidence/1 bundles for the benchmarks (and the batch tests).

Three sizes, as issue 7 defines them:

| size    | processes | metric types | observations        | documents |
|---------|-----------|--------------|---------------------|-----------|
| small   | 10        | 7            | weekly, one quarter | 10        |
| typical | 45        | 7            | weekly, one year    | 45        |
| large   | 45        | 7            | daily, one year     | 45        |

Metrics are CSV files (`path:`), documents are markdown files with a declared sha256.
Each metric is a process in control (normal noise of 5% around a level of its own) with
rare anomalies far above it, so a few observations per bundle fall outside their control
limits and become findings, as in a real bundle.
The same (size, seed) always gives byte-identical files. A few items per bundle do not
count (a document whose hash no longer matches, a metric with no observation in the
period), so every bundle exercises rejection too; which ones depends on the seed.

Usage: python benchmarks/generate.py SIZE DEST [--count N] [--seed S]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ism3rules.catalogue import load_catalogue  # noqa: E402


@dataclass(frozen=True)
class Size:
    """What one bundle of a size holds."""

    name: str
    processes: int
    step_days: int
    period_days: int
    doc_paragraphs: int


SIZES = {
    "small": Size("small", 10, 7, 91, 6),
    "typical": Size("typical", 45, 7, 365, 8),
    "large": Size("large", 45, 1, 365, 40),
}
PERIOD_START = date(2026, 1, 1)
ANOMALY_RATE = 0.003   # share of observations drawn far above their metric's level
VALUES = "values in control"   # in the header: bundles of an older generator are rewritten
WORDS = ("asset", "control", "review", "owner", "record", "incident", "backup", "access",
         "change", "patch", "audit", "risk", "policy", "report", "test", "schedule", "approve",
         "monitor", "network", "vendor", "training", "evidence", "retention", "register")


def _paragraph(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(40, 90))]
    return " ".join(words).capitalize() + "."


def generate(size: str | Size, dest: Path, seed: int = 0, org_id: str | None = None) -> Path:
    """Write one bundle of `size` into folder `dest` (created); return `dest`."""
    spec = SIZES[size] if isinstance(size, str) else size
    rng = random.Random(f"{spec.name}:{seed}")
    catalogue = load_catalogue()
    processes = sorted(rng.sample(catalogue.process_ids, spec.processes),
                       key=catalogue.process_ids.index)
    metric_types = [m.name for m in catalogue.metric_types]
    org = org_id or f"{spec.name}-{seed:05d}"
    start = PERIOD_START
    end = start + timedelta(days=spec.period_days - 1)
    (dest / "docs").mkdir(parents=True, exist_ok=True)
    (dest / "metrics").mkdir(parents=True, exist_ok=True)
    items: list[dict[str, object]] = []
    for process in processes:
        slug = process.lower()
        text = f"# {process} procedure of {org}\n\n" + "\n\n".join(
            _paragraph(rng) for _ in range(spec.doc_paragraphs)) + "\n"
        doc_path = f"docs/{slug}-procedure.md"
        digest = hashlib.sha256(text.encode()).hexdigest()
        if rng.random() < 0.05:  # edited after it was hashed: rejected
            text += "\nEdited after approval.\n"
        (dest / doc_path).write_text(text, encoding="utf-8", newline="\n")
        items.append({"id": f"DOC-{process}", "process": process, "kind": "documentation",
                      "title": f"{process} procedure", "path": doc_path, "sha256": digest})
        for mtype in metric_types:
            metric_path = f"metrics/{slug}-{mtype}.csv"
            first = start
            if rng.random() < 0.04:  # reported only before the period: rejected
                first = start - timedelta(days=spec.period_days)
            level = rng.uniform(5, 500)
            rows = ["date,value"]
            day = first
            for _ in range(spec.period_days // spec.step_days):
                # a process in control: noise around its level, and now and then an
                # anomaly far outside it (a random walk, as before issue 10's XmR limits,
                # put most points outside their band: 88,511 facts for the large bundle)
                value = max(0.0, rng.gauss(level, level * 0.05))
                if rng.random() < ANOMALY_RATE:
                    value = level * rng.uniform(1.5, 3.0)
                rows.append(f"{day.isoformat()},{value:.2f}")
                day += timedelta(days=spec.step_days)
            (dest / metric_path).write_text("\n".join(rows) + "\n", encoding="utf-8",
                                            newline="\n")
            items.append({"id": f"MET-{process}-{mtype}", "process": process, "kind": "metric",
                          "metric_type": mtype, "name": f"{mtype} of {process}",
                          "path": metric_path})
    manifest = {
        "schema": "ism3-evidence/1",
        "organization": {"id": org, "name": f"Organization {org}"},
        "assessment": {"period": {"start": start.isoformat(), "end": end.isoformat()},
                       "as_of": (end + timedelta(days=14)).isoformat()},
        "evidence": items,
    }
    (dest / "bundle.yaml").write_text(
        f"# Generated by benchmarks/generate.py (size {spec.name}, seed {seed}, {VALUES}).\n"
        + yaml.safe_dump(manifest, sort_keys=False, width=120), encoding="utf-8")
    return dest


def generate_many(size: str, parent: Path, count: int, first_seed: int = 0) -> list[Path]:
    """Write `count` bundles of `size` as subfolders of `parent`; reuse ones already there.

    A bundle is reused when its folder holds a complete bundle.yaml written by the same
    (size, seed): generation is deterministic, so regenerating would give the same bytes.
    """
    paths = []
    for seed in range(first_seed, first_seed + count):
        dest = parent / f"{size}-{seed:05d}"
        manifest = dest / "bundle.yaml"
        if not (manifest.is_file() and manifest.read_text(encoding="utf-8").startswith(
                f"# Generated by benchmarks/generate.py (size {size}, seed {seed}, {VALUES}).")):
            generate(size, dest, seed)
        paths.append(dest)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: write bundles of one size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", choices=sorted(SIZES))
    parser.add_argument("dest", type=Path)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.count == 1:
        generate(args.size, args.dest, args.seed)
    else:
        generate_many(args.size, args.dest, args.count, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
