"""The input floor of a bundle: what any reader must do (issue 15), in a Python process of its own.

Parses bundle.yaml (PyYAML's C loader when present), reads every CSV row with the csv
module and hashes every document with sha256, and nothing else. `ism3 evaluate` is
measured against this. Imports only what that needs, so its start-up is a Python
start-up plus PyYAML.

Usage: python benchmarks/floor.py BUNDLE
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

import yaml


def input_floor(bundle: Path) -> int:
    """Read `bundle` as plainly as Python can; the CSV rows read."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load((bundle / "bundle.yaml").read_bytes(), Loader=loader)
    rows = 0
    for item in data["evidence"]:
        path = item.get("path")
        if path is None:
            continue
        if item["kind"] == "metric":
            with (bundle / path).open(newline="", encoding="utf-8") as handle:
                for _row in csv.reader(handle):
                    rows += 1
        else:
            hashlib.sha256((bundle / path).read_bytes()).hexdigest()
    return rows


if __name__ == "__main__":
    input_floor(Path(sys.argv[1]))
