"""One bounded reader for every input file that is not part of a bundle (reports, reviews, keys, ...).

Reports given back to the tool, review files, HTML templates, keys, signature
envelopes, batch summaries, profiles and rule files are untrusted like a bundle.
Each is read here, the same way:

- only a regular file is read: its type is checked before it is opened (a named
  pipe, a device, a socket or a folder is never opened, so it can neither block nor
  have an effect) and again on the open descriptor (`fstat`), with its identity, so a
  file swapped between the two is refused; it is opened with `O_NONBLOCK` and
  `O_NOCTTY` all the same;
- its size is bounded by the limit of its kind, checked from `fstat` before any byte
  is read and again while reading (a file that grows is cut off, never trusted);
- it is read once: whatever is hashed is the very bytes that are parsed;
- every refusal is an input error (exit 2) naming the file and the limit, and the
  flag that changes it where there is one.

`parse_json` is the strict JSON reading these files share: UTF-8 only, no duplicate
keys, no NaN, no infinity (nor a number too large for a float), no lone surrogate,
nesting bounded.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import safe
from .errors import (AttestationError, Ism3Error, ProfileError, ReportError, ReviewError,
                     RuleError)
from .limits import DEFAULT_LIMITS, Limits

KIB = 1024
MIB = 1024 * KIB
# Fixed limits (no flag: no honest file comes near them).
MAX_KEY_BYTES = 64 * KIB           # a PEM Ed25519 key is about 120 bytes (300 encrypted)
MAX_CONFIG_BYTES = 4 * MIB         # one profile or rule file (the shipped ones: a few KiB)
MAX_RULE_FILES = 1000              # rule files in one --rules-dir folder
MAX_JSON_DEPTH = 64                # nesting of a JSON file without a depth limit of its own

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FLAGS = os.O_RDONLY | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC | getattr(os, "O_BINARY", 0)
_CHUNK = 1 << 20
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Kind:
    """A kind of input file: what it is called, what is expected, how a refusal is raised."""

    name: str                     # "report", "review file", ...: "larger than ... for a <name>"
    expected: str                 # "a JSON report file": "expected <this>, found a folder"
    error: type[Ism3Error]
    flag: str | None = None       # the flag that changes its size limit; None: a fixed limit

    def changes(self) -> str:
        """The end of a message about its limit: the flag, or that the limit is fixed."""
        return f"({self.flag} changes it)" if self.flag else "(a fixed limit)"


REPORT = Kind("report", "a JSON report file", ReportError, "--max-report-bytes")
SIGNED_REPORT = Kind("report", "a report file", AttestationError, "--max-report-bytes")
REVIEW = Kind("review file", "a YAML file", ReviewError, "--max-review-bytes")
TEMPLATE = Kind("template", "a template file", ReportError, "--max-template-bytes")
PRIVATE_KEY = Kind("private key", "a PEM key file", AttestationError)
PUBLIC_KEY = Kind("public key", "a PEM key file", AttestationError)
SIGNATURE = Kind("signature", "a DSSE envelope file", AttestationError, "--max-signature-bytes")
SUMMARY = Kind("batch summary", "a JSON summary file", ReportError, "--max-summary-bytes")
PROFILE = Kind("profile", "a YAML file", ProfileError)
RULE_FILE = Kind("rule file", "a YAML file", RuleError)


def file_type(mode: int) -> str:
    """What a file of this `st_mode` is, for a message: 'a folder', 'a named pipe', ..."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "another kind of file"


def _refused(shown: str, kind: Kind, mode: int) -> Ism3Error:
    found = file_type(mode)
    if stat.S_ISDIR(mode):
        return kind.error(f"{shown}: expected {kind.expected}, found a folder")
    return kind.error(f"{shown}: expected {kind.expected}, found not a regular file ({found}: "
                      "never opened)")


def _too_large(shown: str, kind: Kind, size: int, limit: int) -> Ism3Error:
    return kind.error(f"{shown}: {size} bytes is larger than the limit of {limit} bytes for a "
                      f"{kind.name} {kind.changes()}")


def _unreadable(shown: str, kind: Kind, exc: OSError) -> Ism3Error:
    if exc.errno == errno.ENOENT:
        return kind.error(f"{shown}: no such file (the {kind.name} was not found)")
    return kind.error(f"{shown}: cannot read the {kind.name} ({exc.strerror or exc})")


def read_input(path: Path, kind: Kind, limit: int) -> bytes:
    """All bytes of the input file `path` of `kind`, at most `limit` of them, read once.

    Raises:
        Ism3Error (`kind.error`): the file is missing or unreadable, is not a regular
            file (a folder, a named pipe, a device, a socket: never opened), changed
            between the check and the open, or holds more than `limit` bytes (from its
            size before reading, or while reading when it grows).
    """
    shown = safe.terminal(str(path))
    try:
        before = os.stat(path)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValueError):      # a NUL in the name
            raise kind.error(f"{shown}: not a usable file name ({exc})") from None
        raise _unreadable(shown, kind, exc) from None
    if not stat.S_ISREG(before.st_mode):
        raise _refused(shown, kind, before.st_mode)
    if before.st_size > limit:
        raise _too_large(shown, kind, before.st_size, limit)
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        raise _unreadable(shown, kind, exc) from None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode):
            raise _refused(shown, kind, now.st_mode)
        if (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
            raise kind.error(f"{shown}: the {kind.name} was replaced while it was opened; "
                             "give it again")
        if now.st_size > limit:
            raise _too_large(shown, kind, now.st_size, limit)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise kind.error(f"{shown}: larger than the limit of {limit} bytes for a "
                                 f"{kind.name} (it grew while it was read) {kind.changes()}")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise _unreadable(shown, kind, exc) from None
    finally:
        os.close(fd)


class JsonProblem(ValueError):
    """Why bytes are not strict JSON; `line` is where, when known (1-based, else 0)."""

    def __init__(self, message: str, line: int = 0, truncated: bool = False) -> None:
        super().__init__(message)
        self.line = line
        self.truncated = truncated


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is too large for a number")
    return value


def depth(document: Any) -> int:
    """The nesting depth of a parsed JSON document (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        elif not isinstance(node, list):
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in node if isinstance(child, (dict, list)))
    return deepest


def parse_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The strict JSON document in `raw`: UTF-8, no duplicate keys, no NaN or infinity
    (nor a number that would overflow to one), no lone surrogate (`"\\ud800"`), at most
    `max_depth` levels of nesting.

    Raises:
        JsonProblem: what is wrong, with its line where JSON says it.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonProblem(f"not UTF-8 text (byte {exc.start})",
                          raw[:exc.start].count(b"\n") + 1) from None
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates,
                              parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        stripped = text.strip()
        cut = (stripped[:1], stripped[-1:]) in (("{", ""), ("[", "")) or (
            stripped[:1] in ("{", "[") and stripped[-1:] not in ("}", "]"))
        raise JsonProblem(exc.msg, exc.lineno, cut) from None
    except RecursionError:
        raise JsonProblem(f"nested deeper than the limit of {max_depth} levels") from None
    except ValueError as exc:        # a duplicate key, NaN, an infinity, a huge integer
        raise JsonProblem(str(exc)) from None
    found = depth(document)
    if found > max_depth:
        raise JsonProblem(f"nested {found} levels deep, more than the limit of {max_depth}")
    lone = _lone_surrogate(document)
    if lone is not None:
        raise JsonProblem(f"a string holds {lone}, half of a UTF-16 pair alone: not text")
    return document


def _lone_surrogate(document: Any) -> str | None:
    """The first lone surrogate (`\\ud800`, written as an escape) in a key or a string of
    a parsed JSON document, as an escape; None when there is none. JSON's `\\uXXXX`
    escapes can spell one, and no UTF-8 output can hold it."""
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            found = _SURROGATE.search(node)
            if found:
                return f"\\u{ord(found.group()):04x}"
    return None


def read_yaml(path: Path, kind: Kind, limit: int, limits: Limits = DEFAULT_LIMITS,
              flags: Mapping[str, str] | None = None) -> tuple[Any, str]:
    """(the YAML document, the sha256 of the very bytes parsed) of the input file `path`:
    read by `read_input`, parsed by the safe YAML reader within `limits`.

    `flags`: the flag that changes each YAML limit, for messages (None: the command
    reading this file has none, so every limit is said to be fixed).

    Raises:
        Ism3Error (`kind.error`): as `read_input`, or the YAML is invalid or over a limit
            (the message names the file and line).
    """
    from .yamlio import parse_yaml

    raw = read_input(path, kind, limit)
    try:
        data = parse_yaml(raw, safe.terminal(str(path)), limits,
                          {k: v for k, v in (flags or {}).items() if k != "max_bytes"})
    except ValueError as exc:
        raise kind.error(str(exc)) from exc
    return data, hashlib.sha256(raw).hexdigest()


__all__ = ["KIB", "MAX_CONFIG_BYTES", "MAX_JSON_DEPTH", "MAX_KEY_BYTES", "MAX_RULE_FILES",
           "MIB", "PRIVATE_KEY", "PROFILE", "PUBLIC_KEY", "REPORT", "REVIEW", "RULE_FILE",
           "SIGNATURE", "SIGNED_REPORT", "SUMMARY", "TEMPLATE", "JsonProblem", "Kind", "depth", "file_type",
           "parse_json", "read_input", "read_yaml"]
