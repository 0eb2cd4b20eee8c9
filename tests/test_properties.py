"""Invariants of every evaluation, on random valid bundles (hypothesis).

- every evidence item appears exactly once in the report, and under its own process;
- adding an item never lowers a capability or an achieved level; removing one never
  raises them;
- a level is met iff it has no gaps, iff all its requirements are met; the achieved
  level is the highest N with levels 1..N met;
- the same inputs give byte-identical JSON, across runs and across PYTHONHASHSEED.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from ism3rules.api import evaluate_bundle
from ism3rules.catalogue import load_catalogue
from ism3rules.formats import FORMATS

CAT = load_catalogue()
PROCESSES = sorted(CAT.process_ids)[:12]  # few processes, so items pile up and interact
TYPES = [m.name for m in CAT.metric_types]
CAPS = ["initial", "managed", "defined", "controlled", "optimized"]
PERIOD = ("2026-01-01", "2026-06-30")
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# One item: (process, kind and variant, metric type). Variants cover both verdicts.
item_strategy = st.tuples(
    st.sampled_from(PROCESSES),
    st.sampled_from(["doc", "doc-hash", "doc-bad-hash", "doc-missing",
                     "metric", "metric-csv", "metric-outside", "metric-empty"]),
    st.sampled_from(TYPES),
)
bundle_strategy = st.tuples(st.lists(item_strategy, max_size=25), st.booleans())
profile_strategy = st.lists(
    st.dictionaries(st.sampled_from(PROCESSES), st.sampled_from(CAPS), min_size=1, max_size=4),
    min_size=1, max_size=4)


def _item(n: int, spec: tuple[str, str, str], files: dict[str, str]) -> dict[str, Any]:
    process, variant, mtype = spec
    item_id = f"I{n:03d}"
    if variant.startswith("doc"):
        path = f"docs/{item_id}.md"
        text = f"procedure {item_id}\n"
        if variant != "doc-missing":
            files[path] = text
        item = {"id": item_id, "process": process, "kind": "documentation", "path": path}
        if variant == "doc-hash":
            item["sha256"] = hashlib.sha256(text.encode()).hexdigest()
        elif variant == "doc-bad-hash":
            item["sha256"] = "ab" * 32
        return item
    item = {"id": item_id, "process": process, "kind": "metric", "metric_type": mtype}
    dates = {"metric": ["2026-02-01"], "metric-csv": ["2025-12-01", "2026-03-01"],
             "metric-outside": ["2025-06-01"], "metric-empty": []}[variant]
    if variant == "metric-csv":
        path = f"metrics/{item_id}.csv"
        files[path] = "date,value\n" + "".join(f"{d},{k}.5\n" for k, d in enumerate(dates))
        item["path"] = path
    else:
        item["observations"] = [{"date": d, "value": 2} for d in dates]
    return item


def _write(root: Path, specs: list[tuple[str, str, str]], period: bool,
           profile: list[dict[str, str]] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    items = [_item(n, spec, files) for n, spec in enumerate(specs)]
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    doc: dict[str, Any] = {"schema": "ism3-evidence/1",
                           "organization": {"id": "prop", "name": "Property Ltd"}}
    if period:
        doc["assessment"] = {"period": {"start": PERIOD[0], "end": PERIOD[1]}}
    doc["evidence"] = items
    (root / "bundle.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    if profile is not None:
        (root / "profile.yaml").write_text(yaml.safe_dump(
            {"schema": "ism3-profile/1", "id": "random", "name": "Random", "source": "custom",
             "levels": [{"level": i + 1, "name": f"L{i + 1}", "requires": req}
                        for i, req in enumerate(profile)]}))
    return root


def _evaluate(root: Path, profile: Path) -> dict[str, Any]:
    return evaluate_bundle(root, ["ism3-derived", "small-business", "cloud-saas", str(profile)])


def _ranks(report: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    return ({p: v["rank"] for p, v in report["processes"].items()},
            {p["id"]: p["achieved_level"] for p in report["profiles"]})


@SETTINGS
@given(bundle=bundle_strategy, profile=profile_strategy)
def test_every_item_appears_exactly_once(tmp_path_factory: Any, bundle: Any, profile: Any) -> None:
    specs, period = bundle
    root = _write(tmp_path_factory.mktemp("b"), specs, period, profile)
    report = _evaluate(root, root / "profile.yaml")
    ids = [f"I{n:03d}" for n in range(len(specs))]
    assert [e["id"] for e in report["evidence"]] == ids
    assert all(e["status"] in ("accepted", "rejected") for e in report["evidence"])
    assert all(("reason" in e) == (e["status"] == "rejected") for e in report["evidence"])
    listed: list[tuple[str, str]] = []
    for process, entry in report["processes"].items():
        for key in ("evidence", "other_evidence", "rejected_evidence"):
            listed += [(process, i) for i in entry[key]]
    owner = {e["id"]: e["process"] for e in report["evidence"]}
    assert sorted(listed) == sorted((owner[i], i) for i in ids)


@SETTINGS
@given(bundle=bundle_strategy, extra=item_strategy, profile=profile_strategy, data=st.data())
def test_adding_evidence_never_lowers_and_removing_never_raises(
        tmp_path_factory: Any, bundle: Any, extra: Any, profile: Any, data: Any) -> None:
    specs, period = bundle
    base_dir = tmp_path_factory.mktemp("b")
    base = _write(base_dir / "base", specs, period, profile)
    grown = _write(base_dir / "grown", [*specs, extra], period)
    caps, levels = _ranks(_evaluate(base, base / "profile.yaml"))
    more_caps, more_levels = _ranks(_evaluate(grown, base / "profile.yaml"))
    assert all(more_caps[p] >= caps[p] for p in caps), (caps, more_caps)
    assert all(more_levels[p] >= levels[p] for p in levels), (levels, more_levels)
    if specs:
        drop = data.draw(st.integers(0, len(specs) - 1), label="dropped item")
        shrunk = _write(base_dir / "shrunk", specs[:drop] + specs[drop + 1:], period)
        less_caps, less_levels = _ranks(_evaluate(shrunk, base / "profile.yaml"))
        assert all(less_caps[p] <= caps[p] for p in caps), (caps, less_caps)
        assert all(less_levels[p] <= levels[p] for p in levels), (levels, less_levels)


@SETTINGS
@given(bundle=bundle_strategy, profile=profile_strategy)
def test_achieved_level_is_consistent_with_gaps(tmp_path_factory: Any, bundle: Any,
                                                profile: Any) -> None:
    specs, period = bundle
    root = _write(tmp_path_factory.mktemp("b"), specs, period, profile)
    report = _evaluate(root, root / "profile.yaml")
    for prof in report["profiles"]:
        achieved = 0
        for number, level in enumerate(prof["levels"], start=1):
            assert level["level"] == number
            unmet = {r["process"] for r in level["requirements"] if not r["met"]}
            assert level["met"] == (not level["gaps"]) == (not unmet), level
            assert {g["process"] for g in level["gaps"]} == unmet
            for req in level["requirements"]:
                actual = report["processes"][req["process"]]["capability"]
                assert req["actual"] == actual
                assert req["met"] == (CAT.capability(actual).rank >= CAT.capability(req["required"]).rank)
            if level["met"] and achieved == number - 1:
                achieved = number
        assert prof["achieved_level"] == achieved, prof["id"]


# A bundle with a bit of everything, for the determinism checks below.
_MIXED = [(p, v, t) for p, v, t in zip(
    PROCESSES * 4,
    ["doc", "doc-hash", "metric", "metric-csv", "doc-bad-hash", "metric-outside",
     "metric-empty", "doc-missing"] * 6,
    TYPES * 7, strict=False)]


def test_output_is_identical_across_runs(tmp_path: Path) -> None:
    root = _write(tmp_path / "b", _MIXED, True, [{"OSP-1": "initial"}, {"OSP-10": "managed"}])
    outputs = {FORMATS[f](_evaluate(root, root / "profile.yaml")) for f in FORMATS for _ in (1, 2)}
    assert len(outputs) == len(FORMATS)


def test_output_is_identical_across_hash_seeds(tmp_path: Path) -> None:
    """Set and dict order must never leak into the output: two interpreters, two seeds."""
    mixed = _write(tmp_path / "mixed", _MIXED, True, [{"OSP-1": "initial"}])
    bundles = [mixed, ROOT / "evidence" / "northwind", ROOT / "evidence" / "harbor-clinic"]
    for bundle in bundles:
        outputs = []
        for seed in ("1", "4242"):
            env = {**os.environ, "PYTHONHASHSEED": seed}
            run = subprocess.run(
                [sys.executable, "-c", "import cli; cli.main()", "evaluate", str(bundle),
                 "--format", "json"], cwd=ROOT, env=env, capture_output=True, timeout=120)
            assert run.returncode in (0, 1), run.stderr
            outputs.append(run.stdout)
        assert outputs[0] == outputs[1], bundle
        assert json.loads(outputs[0])["schema"] == "ism3-report/1"
