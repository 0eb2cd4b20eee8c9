"""Indented JSON text exactly as `json.dumps(indent=N, ensure_ascii=False)` writes it, faster."""

from __future__ import annotations

from json.encoder import encode_basestring
from typing import Any

# `json.dumps` with an indent runs the pure-Python encoder: a generator per container,
# every token passed up through each enclosing one. A report of a large bundle is about
# a megabyte of JSON, and that encoder took longer than the rules engine on it. This
# writes the same text (same separators, escapes through the same C `encode_basestring`,
# numbers by the same `int.__repr__` / `float.__repr__`, same errors), into one list.


def _float(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("Out of range float values are not JSON compliant: " + repr(value))
    return float.__repr__(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def dumps_indented(document: Any, indent: int = 2) -> str:
    """`json.dumps(document, indent=indent, ensure_ascii=False, allow_nan=False)`, the same
    text (no final newline).

    Raises:
        ValueError: a float is NaN or an infinity.
        TypeError: a value is not JSON (a set, a date, ...) or a key is not a scalar.
    """
    parts: list[str] = []
    append = parts.append
    enc = encode_basestring
    step = " " * indent

    def write(value: Any, margin: str) -> None:
        # margin: the newline and indentation of the line `value` starts on
        if isinstance(value, str):
            append(enc(value))
        elif value is None:
            append("null")
        elif value is True:
            append("true")
        elif value is False:
            append("false")
        elif isinstance(value, int):
            append(int.__repr__(value))
        elif isinstance(value, float):
            append(_float(value))
        elif isinstance(value, (list, tuple)):
            if not value:
                append("[]")
                return
            inner = margin + step
            separator = "[" + inner
            for element in value:
                append(separator)
                separator = "," + inner
                kind = type(element)
                if kind is str:
                    append(enc(element))
                elif kind is dict:
                    write_dict(element, inner)
                else:
                    write(element, inner)
            append(margin + "]")
        elif isinstance(value, dict):
            write_dict(value, margin)
        else:
            raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")

    def write_dict(value: dict[Any, Any], margin: str) -> None:
        if not value:
            append("{}")
            return
        inner = margin + step
        separator = "{" + inner
        for key, element in value.items():
            append(separator + enc(key if type(key) is str else _key(key)) + ": ")
            separator = "," + inner
            kind = type(element)
            if kind is str:
                append(enc(element))
            elif kind is int:
                append(int.__repr__(element))
            elif element is None:
                append("null")
            elif kind is dict:
                write_dict(element, inner)
            else:
                write(element, inner)
        append(margin + "}")

    write(document, "\n")
    return "".join(parts)
