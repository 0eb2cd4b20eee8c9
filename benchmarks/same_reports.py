"""Speed changes must not change a report: save every sample's and generated bundle's JSON, compare later.

    python benchmarks/same_reports.py save DIR    # before a change: write the reports to DIR
    python benchmarks/same_reports.py check DIR   # after it: the same reports, byte for byte?

The bundles: both samples in evidence/ and the generated small, typical and large
bundles of benchmarks/generate.py (seeds 0-2), each evaluated by this checkout
against every shipped profile, as `ism3 evaluate BUNDLE -f json` prints it. `check`
exits 1 and names each bundle whose report differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from generate import SIZES, generate_many  # noqa: E402

from ism3rules.api import evaluate_bundle  # noqa: E402
from ism3rules.formats import FORMATS  # noqa: E402


def bundles() -> dict[str, Path]:
    """Name -> bundle folder of every bundle compared."""
    found = {f"sample-{p.name}": p for p in sorted((ROOT / "evidence").iterdir())
             if (p / "bundle.yaml").is_file()}
    for size in SIZES:
        for path in generate_many(size, HERE / "out" / "same-reports", 3):
            found[path.name] = path
    return found


def main(argv: list[str] | None = None) -> int:
    """Save or check the reports; 1 when `check` finds a difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["save", "check"])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    differ = []
    for name, bundle in bundles().items():
        report = FORMATS["json"](evaluate_bundle(bundle))
        target = args.folder / f"{name}.json"
        if args.action == "save":
            target.write_text(report, encoding="utf-8")
        elif not target.is_file() or target.read_text(encoding="utf-8") != report:
            differ.append(name)
    if differ:
        print(f"reports differ from {args.folder}: {', '.join(differ)}")
        return 1
    print(f"{'saved' if args.action == 'save' else 'same'}: {len(bundles())} reports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
