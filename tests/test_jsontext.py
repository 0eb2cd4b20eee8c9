"""Reports as JSON are exactly the text `json.dumps(indent=2)` writes, errors included."""

from __future__ import annotations

import enum
import json
import random
from pathlib import Path
from typing import Any

import pytest

from ism3rules.api import evaluate_bundle
from ism3rules.jsontext import dumps_indented
from ism3rules.safe import json_dumps

ROOT = Path(__file__).resolve().parent.parent


def reference(document: Any, indent: int = 2) -> str:
    return json.dumps(document, indent=indent, ensure_ascii=False, allow_nan=False)


class Level(enum.IntEnum):
    HIGH = 3


EDGES: list[Any] = [
    {}, [], (), "", 0, -0.0, 1e16, 1.5e-300, 2**80, -7, True, False, None, Level.HIGH,
    {"a": [], "b": {}, "c": [[]], "d": [{}], "e": ({"x": ()},)},
    {"quote\"back\\slash": "tab\tnew\nline\x00nul\x1f\u2028\u00e9\U0001f600"},
    {7: "int key", 2.5: "float key", True: "bool key", None: "null key", Level.HIGH: "enum"},
    [1, [2, [3, [4, {"deep": [5.25, "s", None, False]}]]]],
    {"mixed": [1, "two", 3.0, None, True, {"k": (1, 2)}, [], {}]},
]


@pytest.mark.parametrize("document", EDGES, ids=range(len(EDGES)))
@pytest.mark.parametrize("indent", [0, 2, 4])
def test_same_text_as_json_dumps(document: Any, indent: int) -> None:
    assert dumps_indented(document, indent) == reference(document, indent)


def _random(rng: random.Random, depth: int) -> Any:
    pick = rng.randrange(9 if depth < 5 else 6)
    scalars = [lambda: rng.choice(["", "a", "é\n", "\x07", "\"q\""]),
               lambda: rng.randint(-10**6, 10**6),
               lambda: rng.uniform(-1e9, 1e9), lambda: None, lambda: rng.random() < 0.5,
               lambda: rng.choice([0.1, 1e-7, 123456789.0, -0.0])]
    if pick < 6:
        return scalars[pick]()
    if pick == 6:
        return [_random(rng, depth + 1) for _ in range(rng.randrange(4))]
    if pick == 7:
        return tuple(_random(rng, depth + 1) for _ in range(rng.randrange(3)))
    return {rng.choice(["k", "id", "ß", "x y", str(n)]) + str(n): _random(rng, depth + 1)
            for n in range(rng.randrange(4))}


def test_same_text_as_json_dumps_on_random_documents() -> None:
    rng = random.Random(15)
    for _ in range(500):
        document = _random(rng, 0)
        assert dumps_indented(document) == reference(document)


@pytest.mark.parametrize("sample", ["harbor-clinic", "northwind"])
def test_a_report_is_the_text_json_dumps_writes(sample: str) -> None:
    document = evaluate_bundle(ROOT / "evidence" / sample)
    assert json_dumps(document) == reference(document) + "\n"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), [float("-inf")], {"k": float("nan")},
                                 {float("nan"): 1}])
def test_nan_and_infinity_are_refused_as_json_dumps_refuses_them(bad: Any) -> None:
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        reference(bad)
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        dumps_indented(bad)


@pytest.mark.parametrize("bad", [{1, 2}, {"k": object()}, [b"bytes"], {(1, 2): "tuple key"}])
def test_what_is_not_json_is_a_type_error_as_in_json_dumps(bad: Any) -> None:
    with pytest.raises(TypeError):
        reference(bad)
    with pytest.raises(TypeError):
        dumps_indented(bad)
