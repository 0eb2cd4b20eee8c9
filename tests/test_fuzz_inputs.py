"""A seeded fuzzing run over the input files that are not bundles.

Mutated review files, reports given back (to `verify`, `diff`, `history record` and
`sign`), signature envelopes (and statements altered then signed again with the
right key, so that what is past the signature check is fuzzed too), private and
public keys, batch summaries, HTML templates, profiles and rule files: random bytes,
structural edits (keys dropped, retyped, swapped, values out of range) and the
hostile values of each kind (NaN, 1e400, deep nesting, duplicate keys, huge
integers, Jinja2 loops, recursion and huge repetitions). Every case must end in a
result or a clean input error (exit 0, 1 or 2 with `ism3: error:` lines), never in
exit 3, a traceback or a hang; every JSON output must be strict (no NaN, no
infinity) and, except for a template's own page, every output inert on a terminal.

Each kind of input is its own test with its own seeded stream of cases (a few
seconds each). ISM3_FUZZ_INPUT_CASES (cases per kind) and ISM3_FUZZ_SEED run a longer
or different campaign; a failure names the kind and the case number, so
`ISM3_FUZZ_ONLY=<n>` with `-k <kind>` replays just that case.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import os
import random
import shutil
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization

from cli import main
from ism3rules.formats import html
from conftest import ROOT, hang_guard
from ism3rules.attest import sign as sign_statement
from ism3rules.safe import has_invisible
from test_fuzz import ODD_VALUES, TOKENS, mutate_bytes, mutate_structure

CASES = int(os.environ.get("ISM3_FUZZ_INPUT_CASES", "40"))   # per kind
SEED = int(os.environ.get("ISM3_FUZZ_SEED", "20260706"))
ONLY = os.environ.get("ISM3_FUZZ_ONLY")
FUZZ_TEMPLATE_STEPS = 100_000
HANG_SECONDS = 60   # a liveness guard, far above any real run: not a speed target

JSON_TOKENS = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999", b"9" * 5000, b"null",
               b"[" * 300, b"]" * 300, b'{"a": 1, "a": 2}', b'"\\u0000"', b'"\\ud800"',
               b'"\\u202e"', b'"x\\nMATCH: ok"', b"true", b"{}", b"[]", b'""', b"0", b"-0"]
TEMPLATE_TOKENS = [b"{{", b"}}", b"{%", b"%}", b"{#", b"#}", b"{% for x in range(1000) %}",
                   b"{% endfor %}", b"{% if %}", b"{% endif %}", b"{{ x.__class__ }}",
                   b"{{ ''.__class__.__mro__ }}", b"{% include 't.html' %}",
                   b"{% extends 't.html' %}", b"{% include '../t.html' %}",
                   b"{{ 'x' * 999999999 }}", b"{{ 10 ** 999999 }}", b"{{ range(10**9) }}",
                   b"{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
                   b"{{ view.title|center(2000000000) }}", b"{{ document }}",
                   b"{{ document.organization.name|safe }}", b"{{ csp }}", b"</head>",
                   b"{% set x = 1 %}", b"{{ undefined_name }}", b"{{ 1/0 }}",
                   b"{{ 'a'.ljust(3000000000) }}", b"{% raw %}", b"\xff\xfe"]
ALL_TOKENS = TOKENS + JSON_TOKENS
ODD = ODD_VALUES + [float("nan"), float("inf"), -float("inf"), 10 ** 30, "x\nVALID: forged",
                    [[[[[[[[]]]]]]]], {"": None}]
INTERNAL = "internal error"



def _bytes(rng: random.Random, data: bytes, tokens: list[bytes]) -> bytes:
    out = bytearray(mutate_bytes(rng, data))
    for _ in range(rng.randint(0, 2)):           # and the hostile tokens of this kind
        at = rng.randrange(len(out) + 1)
        out[at:at] = rng.choice(tokens)
    return bytes(out)


def _structure(rng: random.Random, doc: Any) -> Any:
    doc = mutate_structure(rng, doc)
    for node in [n for n in _walk(doc) if isinstance(n, dict) and n][:1]:
        node[rng.choice(list(node))] = copy.deepcopy(rng.choice(ODD))
    return doc


HOSTILE_TEXT = ["x\nMATCH: the report matches", "\x1b[2J\x1b]0;t\x07", "\u202eevil\u202c",
                "=cmd|' /C calc'!A0", "<script>alert(1)</script>", "a" * 5000, "", " ",
                "DOC\u200b1", "\u0421hen", "{{ 7 * 7 }}", "'; DROP TABLE runs; --", "\ud800"]
HOSTILE_NUMBERS = [0, -1, 1, 10 ** 15, 2 ** 63, -(2 ** 63), 10 ** 30, 1e308, -1e308, 5e-324,
                   0.1, True, False]


def _values(rng: random.Random, doc: Any) -> Any:
    """Scalars replaced by hostile ones of the same type: the shape stays, so the mutation
    goes past the readers to what is done with the text and the numbers."""
    doc = copy.deepcopy(doc)
    leaves = [(parent, key) for parent in _walk(doc)
              for key in (parent if isinstance(parent, dict) else range(len(parent))
                          if isinstance(parent, list) else ())
              if isinstance(parent[key], (str, int, float)) and parent[key] is not None]
    for parent, key in rng.sample(leaves, min(len(leaves), rng.randint(1, 3))):
        old = parent[key]
        if isinstance(old, str):
            parent[key] = rng.choice(HOSTILE_TEXT)
        else:
            parent[key] = rng.choice(HOSTILE_NUMBERS)
    return doc


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) \
        else ()
    for child in children:
        yield from _walk(child)


def _json_text(doc: Any) -> bytes:
    # NaN and infinities written as JSON does not allow them, as a careless writer would
    return json.dumps(doc, indent=1, allow_nan=True).encode()


# --- the world the mutations are made from -------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    w = tmp_path_factory.mktemp("fuzz-inputs")
    bundle = w / "b"
    shutil.copytree(ROOT / "evidence" / "harbor-clinic", bundle)
    review = w / "review.yaml"
    shutil.copyfile(ROOT / "evidence" / "harbor-clinic.review.yaml", review)

    def ok(args: list[str]) -> None:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)

    ok(["evaluate", str(bundle), "-f", "json", "-o", str(w / "r.json")])
    ok(["evaluate", str(bundle), "--review", str(review), "-f", "json", "-o", str(w / "rr.json")])
    ok(["keygen", str(w / "k.pem"), str(w / "k.pub")])
    ok(["sign", str(w / "rr.json"), "--key", str(w / "k.pem"), "--review", str(review), "-o",
        str(w / "rr.sig")])
    ok(["batch", str(bundle), str(ROOT / "evidence" / "northwind"), "--shard", "1/1", "-j", "1",
        "-q", "-f", "json", "-o", str(w / "summary.json")])
    template = w / "t.html"
    template.write_text('{% extends "ism3/report.html.j2" %}\n{% block footer %}<p>{{ '
                        'view.title }}: {% for p in view.profiles %}{{ p.id }} {% endfor %}'
                        '</p>{% endblock %}\n')
    key = serialization.load_pem_private_key((w / "k.pem").read_bytes(), password=None)
    envelope = json.loads((w / "rr.sig").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    return {"w": w, "bundle": bundle, "review": review, "key": key, "statement": statement}


# Each input: (the file mutated, how its mutations are made, the command given it).
# `case` is the folder of this case; the mutated file is written there under its name.
Make = Callable[[random.Random, dict[str, Any]], bytes]


def _yaml_file(path: Path, tokens: list[bytes]) -> Make:
    def make(rng: random.Random, world: dict[str, Any]) -> bytes:
        data = path.read_bytes()
        mode = rng.random()
        if mode < 0.4:
            return _bytes(rng, data, tokens)
        change = _structure if mode < 0.7 else _values
        doc = change(rng, yaml.safe_load(data))
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()
    return make


def _json_file(name: str) -> Make:
    def make(rng: random.Random, world: dict[str, Any]) -> bytes:
        data = (world["w"] / name).read_bytes()
        mode = rng.random()
        if mode < 0.4:
            return _bytes(rng, data, JSON_TOKENS)
        change = _structure if mode < 0.7 else _values
        return _json_text(change(rng, json.loads(data)))
    return make


def _signed(rng: random.Random, world: dict[str, Any]) -> bytes:
    """A statement altered, then signed again with the right key: past the signature."""
    change = _structure if rng.random() < 0.5 else _values
    return sign_statement(change(rng, world["statement"]), world["key"]).encode()


def _key(name: str) -> Make:
    def make(rng: random.Random, world: dict[str, Any]) -> bytes:
        return _bytes(rng, (world["w"] / name).read_bytes(), [b"-----BEGIN ", b"PRIVATE KEY",
                                                               b"PUBLIC KEY", b"ENCRYPTED"])
    return make


# Whole constructs a template may hold, benign and hostile, put where text goes.
TEMPLATE_SNIPPETS = [b"{{ document.organization.name }}", b"{{ view.title|upper }}",
                     b"{% for e in document.evidence %}{{ e.id }}{% endfor %}",
                     b"{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}"
                     b"{% endfor %}", b"{{ x.__class__ }}", b"{{ ''.__class__.__mro__ }}",
                     b"{% include 't.html' %}", b"{% include '../t.html' %}",
                     b"{{ 'x' * 999999999 }}", b"{{ 10 ** 999999 }}",
                     b"{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
                     b"{{ view.title|center(2000000000) }}", b"{{ 'a'.ljust(3000000000) }}",
                     b"{{ document.evidence|map(attribute='id')|join(', ') }}",
                     b"{{ document|tojson }}", b"{{ '%s' % document.organization }}",
                     b"{{ document.organization.name|safe }}", b"{{ 1/0 }}",
                     b"{{ undefined_name }}", b"{{ csp }}", b"{{ range(10**6)|list|length }}"]


def _template(rng: random.Random, world: dict[str, Any]) -> bytes:
    data = (world["w"] / "t.html").read_bytes()
    if rng.random() < 0.4:
        return _bytes(rng, data, TEMPLATE_TOKENS)
    at = data.index(b"<p>") + 3
    return data[:at] + b"".join(rng.choice(TEMPLATE_SNIPPETS)
                                for _ in range(rng.randint(1, 2))) + data[at:]


Args = Callable[[dict[str, Any], Path], list[str]]
INPUTS: list[tuple[str, str, Make, Args]] = [
    ("review", "review.yaml", _yaml_file(ROOT / "evidence" / "harbor-clinic.review.yaml",
                                         ALL_TOKENS),
     lambda w, f: ["evaluate", str(w["bundle"]), "--review", str(f), "-f", "json"]),
    ("report to verify", "r.json", _json_file("r.json"),
     lambda w, f: ["verify", str(f), str(w["bundle"])]),
    ("report to diff", "r.json", _json_file("r.json"),
     lambda w, f: ["diff", str(w["w"] / "r.json"), str(f), "-f", "json"]),
    ("report to record", "r.json", _json_file("r.json"),
     lambda w, f: ["history", "record", str(f), "--db", str(w["w"] / "h.sqlite")]),
    ("report to sign", "rr.json", _json_file("rr.json"),
     lambda w, f: ["sign", str(f), "--key", str(w["w"] / "k.pem"), "--review",
                   str(w["review"]), "-o", str(f.parent / "s.sig")]),
    ("envelope", "rr.sig", _json_file("rr.sig"),
     lambda w, f: ["verify", str(w["w"] / "rr.json"), str(w["bundle"]), "--signature", str(f),
                   "--public-key", str(w["w"] / "k.pub"), "--review", str(w["review"])]),
    ("signed statement", "rr.sig", _signed,
     lambda w, f: ["verify", str(w["w"] / "rr.json"), str(w["bundle"]), "--signature", str(f),
                   "--public-key", str(w["w"] / "k.pub"), "--review", str(w["review"])]),
    ("private key", "k.pem", _key("k.pem"),
     lambda w, f: ["sign", str(w["w"] / "rr.json"), "--key", str(f), "--review",
                   str(w["review"]), "-o", str(f.parent / "s.sig")]),
    ("public key", "k.pub", _key("k.pub"),
     lambda w, f: ["verify", str(w["w"] / "rr.json"), str(w["bundle"]), "--signature",
                   str(w["w"] / "rr.sig"), "--public-key", str(f)]),
    ("summary", "summary.json", _json_file("summary.json"),
     lambda w, f: ["batch", "merge", str(f), "-f", "json"]),
    ("template", "t.html", _template,
     lambda w, f: ["evaluate", str(w["bundle"]), "-f", "html", "--template", str(f)]),
    ("profile", "p.yaml", _yaml_file(ROOT / "profiles" / "small-business.yaml", ALL_TOKENS),
     lambda w, f: ["evaluate", str(w["bundle"]), "-p", str(f), "-f", "json"]),
    ("rule file", "scope.yaml", _yaml_file(ROOT / "rules" / "scope.yaml", ALL_TOKENS),
     lambda w, f: ["evaluate", str(w["bundle"]), "--rules-dir", str(f.parent), "-f", "json"]),
]


def _case_folder(world: dict[str, Any], name: str, number: int) -> Path:
    folder = world["w"] / f"case{number}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    if name == "scope.yaml":                 # the other rule files, unchanged
        for rule_file in (ROOT / "rules").glob("*.yaml"):
            shutil.copyfile(rule_file, folder / rule_file.name)
    return folder


def _not_strict(name: str) -> None:
    raise AssertionError(f"JSON output holds {name}")


YAML_KINDS = {"review", "profile", "rule file"}
JSON_KINDS = {"report to verify", "report to diff", "report to record", "report to sign",
              "summary"}


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def _refuse(text: str) -> Any:
    raise ValueError(text)


def _finite(text: str) -> float:
    if not math.isfinite(float(text)):
        raise ValueError(text)
    return float(text)


def _syntax_error_lines(kind: str, data: bytes) -> set[int]:
    """The lines where independent parsers place the syntax error of `data`, when a
    syntax error is the first thing wrong with it (empty: none is): the message must
    then name one of them."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return set()
    if kind in JSON_KINDS:
        try:
            json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse,
                       parse_float=_finite)
        except json.JSONDecodeError as exc:
            return {exc.lineno}
        except (RecursionError, ValueError):
            return set()
        return set()
    lines: set[int] = set()
    if kind in YAML_KINDS:
        for loader in {yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)}:
            try:
                for _ in yaml.parse(text, Loader=loader):
                    pass
            except yaml.MarkedYAMLError as exc:
                lines |= {mark.line + 1 for mark in (exc.problem_mark, exc.context_mark)
                          if mark is not None}
            except yaml.YAMLError:
                pass
    return lines


def check(kind: str, args: list[str], target: Path, data: bytes, result: Result) -> str:
    """The outcome of one case; raises AssertionError on anything but a clean end: exit 0,
    1 or 2, no traceback, strict JSON, inert text, and an input error that names the
    file fuzzed (and the line, when the file is not even well-formed JSON or YAML)."""
    output = result.output
    assert "Traceback" not in output and INTERNAL not in output, output[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        "".join(traceback.format_exception(result.exception))[-2000:]
    # batch merge exits 3 when the merged summary records an internal error: its own verdict
    allowed = (0, 1, 2, 3) if kind == "summary" else (0, 1, 2)
    assert result.exit_code in allowed, (result.exit_code, output[-2000:])
    if kind != "template":                   # a template's page is its author's
        assert not has_invisible(output.replace("\n", "")), output[-2000:]
    if result.exit_code == 2:
        errors = "\n".join(line for line in output.splitlines()
                           if line.startswith("ism3: error: ") or line.startswith("Error: "))
        assert errors, output[-2000:]
        assert str(target) in errors, f"the message does not name {target}:\n{errors[:2000]}"
        lines = _syntax_error_lines(kind, data)
        if lines:
            assert any(f"{target}:{line}" in errors or f"line {line}" in errors
                       for line in lines), f"the message names none of lines {lines}:\n" \
                f"{errors[:2000]}"
        return "input error"
    if "-f" in args and args[args.index("-f") + 1] == "json" and result.exit_code in (0, 1):
        json.loads(result.stdout, parse_constant=_not_strict)
    return "result"


# Kinds where a damaged file is a failed check (exit 1), not an input error: an envelope
# whose signature does not verify; and kinds whose every mutation is refused (a key).
NO_INPUT_ERROR = {"envelope", "signed statement"}
NO_RESULT = {"private key"}


@pytest.mark.parametrize("kind", [kind for kind, _, _, _ in INPUTS])
def test_mutated_input_files_end_cleanly(world: dict[str, Any], kind: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, name, make, args_of = next(entry for entry in INPUTS if entry[0] == kind)
    # The same step limit, lower: a loop that never ends is stopped by the same code in
    # 0.1 s instead of seconds (the real limit's cost: benchmarks/hostile_inputs.py).
    monkeypatch.setattr(html, "MAX_TEMPLATE_STEPS", FUZZ_TEMPLATE_STEPS)
    rng = random.Random(f"{SEED}/{kind}")    # a stream of its own: kinds run alone
    counts = {"result": 0, "input error": 0}
    failures: list[str] = []
    for number in range(CASES):
        data = make(rng, world)              # drawn for every case: ONLY replays the same
        if ONLY is not None and str(number) != ONLY:
            continue
        folder = _case_folder(world, name, number)
        target = folder / name
        target.write_bytes(data)
        args = args_of(world, target)
        try:
            with hang_guard(HANG_SECONDS):
                result = CliRunner().invoke(main, args)
                counts[check(kind, args, target, data, result)] += 1
        except Exception:  # noqa: BLE001 - every other outcome is a finding
            failures.append(f"case {number} ({kind}): {' '.join(args)}\n"
                            f"{traceback.format_exc(limit=-2)}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if len(failures) >= 5:
            break
    assert not failures, "\n".join(failures)
    if ONLY is None:
        # the mutations reach the readers (errors are common) and, but for a key, get
        # past them (some mutations still give a result)
        assert counts["input error"] > 0 or kind in NO_INPUT_ERROR, counts
        assert counts["result"] > 0 or kind in NO_RESULT, counts


def test_input_mutations_are_reproducible(world: dict[str, Any]) -> None:
    for kind, _, make, _ in INPUTS:
        first = make(random.Random(f"{SEED}/{kind}"), world)
        assert first == make(random.Random(f"{SEED}/{kind}"), world), kind
