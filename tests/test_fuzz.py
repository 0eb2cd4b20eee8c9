"""A seeded fuzzing run over the shipped sample bundles.

Thousands of mutated copies (random bytes in bundle.yaml and in a CSV; structural
edits: keys dropped, duplicated, misspelt or retyped, values swapped, items
duplicated; the classes of issue 11: numbers beyond any float, YAML 1.1 coercions,
calendar ends, invisible and look-alike characters, NUL in paths, formulas; and file
system edits: a referenced file replaced by a symlink or a hard link to a secret
outside the bundle, a named pipe, a symlink loop, a folder or a huge sparse file)
must each end in a clean result, with every item in the report exactly once, or in a
clean input error (EvidenceError, every line naming the file), never in another
exception or a hang. Every format must come out strict (no NaN, no infinity in
JSON) and inert (no raw control, format or bidi character), and the secret outside
the bundle must never show. Work happens on copies; evidence/ is never touched.

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
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from conftest import ROOT, hang_guard
from ism3rules.assessment import assess
from ism3rules.catalogue import load_catalogue
from ism3rules.errors import EvidenceError
from ism3rules.evidence import load_bundle
from ism3rules.formats import FORMATS
from ism3rules.profiles import list_shipped
from ism3rules.report import to_document
from ism3rules.rules import load_rulebook
from ism3rules.safe import has_invisible

CASES = int(os.environ.get("ISM3_FUZZ_CASES", "2400"))
SEED = int(os.environ.get("ISM3_FUZZ_SEED", "20260706"))
ONLY = os.environ.get("ISM3_FUZZ_ONLY")
HANG_SECONDS = 30  # a liveness guard, far above any real evaluation: not a speed target

TOKENS = [b"*", b"&a ", b"*a", b"!!", b"!!python/object/apply:os.system ['true']", b"!x ",
          b"\xff", b"\x00", b"\xc3", b"'", b'"', b"{", b"}", b"[", b"]", b":", b": ", b"- ",
          b"\n", b"\n  ", b"\t", b"#", b"..", b"../", b"/", b"<<: ", b"2026-02-30", b"-1e999",
          b".nan", b"~", b"?", b"|", b">", b"%YAML 1.1\n", b"---\n", b",", b"\r\n", b"\xef\xbb\xbf",
          # issue 11: coercions, magnitudes, calendar ends, invisible and look-alike text
          b"0x1F", b"012", b"190:20:30", b"1.0e+400", b"1e308", b"-1.7e308", b"9999-12-31",
          b"0001-01-01", "\u202e".encode(), "\u200b".encode(), "\u0421".encode(), b'"\\0"',
          b'"\\e[2J"', b"7" * 5000, b"=cmd|' /C calc'!A0"]
ODD_VALUES: list[Any] = [None, 0, -1, 1e308, True, "", "x" * 300, [], {}, [1, 2], {"a": 1},
                         "2026-02-30", "../../etc/passwd", "/etc/passwd", "nan", ".inf",
                         "OSP-3", "metric", "documentation", "activity", "ab" * 32,
                         10 ** 400, -1.7e308, 1e15, "9999-12-31", "0001-01-01", "docs/x\nMATCH: ok",
                         "DOC\u200b1", "D\u202eX", "a\x00b", "=cmd|' /C calc'!A0", "Dr. \u0421hen",
                         int("7" * 4000), "\x1b[2J"]
SECRET = "SECRET-FROM-OUTSIDE-THE-BUNDLE"
FILE_EDITS = ["symlink-outside", "hardlink-outside", "fifo", "symlink-loop", "folder",
              "sparse-huge", "symlink-inside"]



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
    (its CSV metrics included) to keep each evaluation quick. Beside them, a secret the
    file-system edits try to make the tool read."""
    (tmp / "outside").mkdir()
    (tmp / "outside" / "secret.md").write_text(f"{SECRET}\n")
    (tmp / "outside" / "secret.csv").write_text(f"{SECRET},1\n")
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
    try:
        report = to_document(assess(bundle, world["profiles"], world["rulebook"],
                                    world["catalogue"]))
    except EvidenceError as exc:   # a limit on the evaluation itself (--max-facts)
        assert str(exc).startswith(str(root)), str(exc)
        return "input error"
    assert [e["id"] for e in report["evidence"]] == [i.id for i in bundle.items]
    assert len({i.id for i in bundle.items}) == len(bundle.items)
    for name, render in FORMATS.items():
        out = render(report)
        assert out and SECRET not in out, name
        assert not has_invisible(out.replace("\r\n", "").replace("\n", "")), name
        if name in ("json", "oscal"):
            json.loads(out, parse_constant=_not_strict)
    return "ok"


def _not_strict(name: str) -> None:
    raise AssertionError(f"JSON holds {name}")


def edit_file(kind: str, target: Path, outside: Path) -> None:
    """Replace the bundle file `target` by something hostile (see FILE_EDITS)."""
    target.unlink()
    if kind == "symlink-outside":
        os.symlink(outside / ("secret.csv" if target.suffix == ".csv" else "secret.md"), target)
    elif kind == "hardlink-outside":
        os.link(outside / ("secret.csv" if target.suffix == ".csv" else "secret.md"), target)
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink-loop":
        os.symlink(target.name, target)
    elif kind == "folder":
        target.mkdir()
    elif kind == "sparse-huge":
        with open(target, "wb") as handle:
            handle.truncate(300 * 1024 * 1024)    # past the one-document limit
    else:   # a symlink to another file of the bundle: allowed
        os.symlink(os.path.relpath(target.parent.parent / "bundle.yaml", target.parent), target)


def restore_file(target: Path, data: bytes) -> None:
    if target.is_dir() and not target.is_symlink():
        target.rmdir()
    elif target.exists() or target.is_symlink():
        target.unlink()
    target.write_bytes(data)


def _cases(rng: random.Random, samples: dict[str, Path]
           ) -> Iterator[tuple[int, str, Path, Path, bytes | str]]:
    """(case number, description, bundle root, file to mutate, mutated bytes or the name
    of a file-system edit)."""
    parsed = {name: yaml.safe_load((root / "bundle.yaml").read_text())
              for name, root in samples.items()}
    csvs = sorted((samples["northwind"] / "metrics").glob("*.csv"))
    used_csvs = [p for p in csvs if p.relative_to(samples["northwind"]).as_posix()
                 in {i.get("path") for i in parsed["northwind"]["evidence"]}]
    referenced = {name: [root / i["path"] for i in parsed[name]["evidence"]
                         if isinstance(i.get("path"), str) and (root / i["path"]).is_file()]
                  for name, root in samples.items()}
    for number in range(CASES):
        name = rng.choice(sorted(samples))
        root = samples[name]
        manifest = root / "bundle.yaml"
        kind = rng.choice(["yaml-bytes", "yaml-bytes", "structure", "structure", "csv-bytes",
                           "file"])
        if kind == "file" and referenced[name]:
            target = rng.choice(referenced[name])
            edit = rng.choice(FILE_EDITS)
            yield number, f"case {number} ({edit} for {name}/{target.name})", root, target, edit
            continue
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
        if isinstance(data, str):
            edit_file(data, target, tmp_path / "outside")
        else:
            target.write_bytes(data)
        try:
            with hang_guard(HANG_SECONDS):
                outcomes[_run_one(root, world)] += 1
                if number % 50 == 0:  # and through the command line, now and then
                    result = CliRunner().invoke(main, ["evaluate", str(root)])
                    assert result.exit_code in (0, 1, 2), result.output
                    assert "Traceback" not in result.output and "internal error" not in result.output
        except Exception:  # noqa: BLE001 - every other outcome is a finding
            failures.append(f"{description}: {traceback.format_exc(limit=-3)}")
        finally:
            restore_file(target, originals[target])
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

