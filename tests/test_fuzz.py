"""A seeded fuzzing run over the shipped sample bundles.

Thousands of mutated copies (random bytes in bundle.yaml and in a CSV; structural
edits: keys dropped, duplicated, misspelt or retyped, values swapped, items
duplicated) must each end in a clean result, with every item in the report exactly
once, or in a clean input error (EvidenceError, every line naming the file), never in
another exception or a hang. Work happens on copies; evidence/ is never touched.

ISM3_FUZZ_CASES and ISM3_FUZZ_SEED run a longer or different campaign; a failure
names the case number, so `ISM3_FUZZ_ONLY=<n>` replays just that case.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import shutil
import signal
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from conftest import ROOT
from ism3rules.assessment import assess
from ism3rules.catalogue import load_catalogue
from ism3rules.errors import EvidenceError
from ism3rules.evidence import load_bundle
from ism3rules.formats import FORMATS
from ism3rules.profiles import list_shipped
from ism3rules.report import to_document
from ism3rules.rules import load_rulebook

CASES = int(os.environ.get("ISM3_FUZZ_CASES", "2400"))
SEED = int(os.environ.get("ISM3_FUZZ_SEED", "20260706"))
ONLY = os.environ.get("ISM3_FUZZ_ONLY")
HANG_SECONDS = 30  # a liveness guard, far above any real evaluation: not a speed target

TOKENS = [b"*", b"&a ", b"*a", b"!!", b"!!python/object/apply:os.system ['true']", b"!x ",
          b"\xff", b"\x00", b"\xc3", b"'", b'"', b"{", b"}", b"[", b"]", b":", b": ", b"- ",
          b"\n", b"\n  ", b"\t", b"#", b"..", b"../", b"/", b"<<: ", b"2026-02-30", b"-1e999",
          b".nan", b"~", b"?", b"|", b">", b"%YAML 1.1\n", b"---\n", b",", b"\r\n", b"\xef\xbb\xbf"]
ODD_VALUES: list[Any] = [None, 0, -1, 1e308, True, "", "x" * 300, [], {}, [1, 2], {"a": 1},
                         "2026-02-30", "../../etc/passwd", "/etc/passwd", "nan", ".inf",
                         "OSP-3", "metric", "documentation", "activity", "ab" * 32]


def _timeout(signum: int, frame: Any) -> None:
    raise TimeoutError(f"no result after {HANG_SECONDS} s")


@contextmanager
def _hang_guard() -> Iterator[None]:
    old = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# --- mutations ------------------------------------------------------------------

def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            out += rng.choice(TOKENS)
            continue
        at = rng.randrange(len(out))
        op = rng.randrange(6)
        if op == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            out[at] = rng.randrange(256)
        elif op == 2:
            out[at:at] = rng.choice(TOKENS)
        elif op == 3:
            del out[at:at + rng.randint(1, 40)]
        elif op == 4:
            out[at:at] = out[at:at + rng.randint(1, 60)]
        else:
            del out[at:]
    return bytes(out)


def _containers(node: Any) -> list[Any]:
    found = [node] if isinstance(node, (dict, list)) else []
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        found += _containers(child)
    return found


def mutate_structure(rng: random.Random, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        targets = _containers(doc)
        if not targets:
            return rng.choice(ODD_VALUES)
        node = rng.choice(targets)
        if isinstance(node, dict) and node:
            key = rng.choice(list(node))
            op = rng.randrange(5)
            if op == 0:
                del node[key]
            elif op == 1:
                node[str(key)[:-1] + rng.choice("xs_") if len(str(key)) > 1 else "k"] = node[key]
            elif op == 2:
                node[key] = rng.choice(ODD_VALUES)
            elif op == 3:
                other = rng.choice(list(node))
                node[key], node[other] = node[other], node[key]
            else:
                node[key] = None
        elif isinstance(node, list) and node:
            at = rng.randrange(len(node))
            op = rng.randrange(4)
            if op == 0:
                del node[at]
            elif op == 1:
                node.insert(at, copy.deepcopy(node[at]))  # a duplicate id, usually
            elif op == 2:
                node[at] = rng.choice(ODD_VALUES)
            else:
                rng.shuffle(node)
    return doc


# --- the campaign ---------------------------------------------------------------

@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    catalogue = load_catalogue()
    return {"catalogue": catalogue, "rulebook": load_rulebook(None, catalogue),
            "profiles": list(list_shipped(catalogue))}


def _samples(tmp: Path) -> dict[str, Path]:
    """Copies of the shipped samples; northwind trimmed to a few items of each kind
    (its CSV metrics included) to keep each evaluation quick."""
    clinic = tmp / "harbor-clinic"
    shutil.copytree(ROOT / "evidence" / "harbor-clinic", clinic)
    north = tmp / "northwind"
    shutil.copytree(ROOT / "evidence" / "northwind", north)
    doc = yaml.safe_load((north / "bundle.yaml").read_text())
    keep = {sl.get("metric") for sl in doc.get("service_levels") or []}  # still valid
    counts: dict[str, int] = {}
    chosen = []
    for item in doc["evidence"]:
        counts[item["kind"]] = counts.get(item["kind"], 0) + 1
        if counts[item["kind"]] <= (10 if item["kind"] == "metric" else 6) or item["id"] in keep:
            chosen.append(item)
    doc["evidence"] = chosen
    (north / "bundle.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return {"harbor-clinic": clinic, "northwind": north}


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _run_one(root: Path, world: dict[str, Any]) -> str:
    """Evaluate a mutated bundle; return 'ok' or 'input error', raise on anything else."""
    try:
        bundle = load_bundle(root, world["catalogue"])
    except EvidenceError as exc:
        lines = str(exc).splitlines()
        assert lines, "an empty error message"
        for line in lines:
            assert line.startswith(str(root)), f"message does not name the file: {line!r}"
        return "input error"
    report = to_document(assess(bundle, world["profiles"], world["rulebook"], world["catalogue"]))
    assert [e["id"] for e in report["evidence"]] == [i.id for i in bundle.items]
    assert len({i.id for i in bundle.items}) == len(bundle.items)
    for render in FORMATS.values():
        assert render(report)
    json.loads(FORMATS["json"](report))
    return "ok"


def _cases(rng: random.Random, samples: dict[str, Path]) -> Iterator[tuple[int, str, Path, Path, bytes]]:
    """(case number, description, bundle root, file to mutate, mutated bytes)."""
    parsed = {name: yaml.safe_load((root / "bundle.yaml").read_text())
              for name, root in samples.items()}
    csvs = sorted((samples["northwind"] / "metrics").glob("*.csv"))
    used_csvs = [p for p in csvs if p.relative_to(samples["northwind"]).as_posix()
                 in {i.get("path") for i in parsed["northwind"]["evidence"]}]
    for number in range(CASES):
        name = rng.choice(sorted(samples))
        root = samples[name]
        manifest = root / "bundle.yaml"
        kind = rng.choice(["yaml-bytes", "yaml-bytes", "structure", "structure", "csv-bytes"])
        if kind == "csv-bytes" and name == "northwind":
            target = rng.choice(used_csvs)
            data = mutate_bytes(rng, target.read_bytes())
        elif kind == "structure":
            target = manifest
            mutated = mutate_structure(rng, parsed[name])
            data = yaml.safe_dump(mutated, sort_keys=False, allow_unicode=True).encode()
        else:
            target = manifest
            kind = "yaml-bytes"
            data = mutate_bytes(rng, manifest.read_bytes())
        yield number, f"case {number} ({kind} of {name}/{target.name})", root, target, data


def test_mutated_samples_end_cleanly(tmp_path: Path, world: dict[str, Any]) -> None:
    shipped = _tree_digest(ROOT / "evidence")
    samples = _samples(tmp_path)
    originals = {p: p.read_bytes() for root in samples.values() for p in root.rglob("*")
                 if p.is_file()}
    rng = random.Random(SEED)
    outcomes: dict[str, int] = {"ok": 0, "input error": 0}
    failures: list[str] = []
    for number, description, root, target, data in _cases(rng, samples):
        if ONLY is not None and str(number) != ONLY:
            continue
        target.write_bytes(data)
        try:
            with _hang_guard():
                outcomes[_run_one(root, world)] += 1
                if number % 50 == 0:  # and through the command line, now and then
                    result = CliRunner().invoke(main, ["evaluate", str(root)])
                    assert result.exit_code in (0, 1, 2), result.output
                    assert "Traceback" not in result.output and "internal error" not in result.output
        except Exception:  # noqa: BLE001 - every other outcome is a finding
            failures.append(f"{description}: {traceback.format_exc(limit=-3)}")
        finally:
            target.write_bytes(originals[target])
        if len(failures) >= 5:
            break
    assert not failures, "\n".join(failures)
    if ONLY is None:
        # both outcomes must be common, or the mutations are not exploring anything
        assert min(outcomes.values()) > CASES // 20, outcomes
    assert _tree_digest(ROOT / "evidence") == shipped  # the samples themselves untouched


def test_mutations_are_reproducible() -> None:
    data = (ROOT / "evidence" / "harbor-clinic" / "bundle.yaml").read_bytes()
    first = [mutate_bytes(random.Random(SEED + n), data) for n in range(20)]
    again = [mutate_bytes(random.Random(SEED + n), data) for n in range(20)]
    assert first == again and len(set(first)) > 15
    doc = yaml.safe_load(data)
    assert mutate_structure(random.Random(1), doc) == mutate_structure(random.Random(1), doc)
    assert doc == yaml.safe_load(data)  # the original is never modified

