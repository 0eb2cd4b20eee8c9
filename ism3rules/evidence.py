"""Evidence bundles (ism3-evidence/1): reading, validating and accounting for every item.

A bundle is untrusted input. Nothing in it is executed, no file outside its folder
is opened, and every item comes out either accepted or rejected with a reason.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import functools
import gc
import hashlib
import itertools
import math
import os
import re
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, NamedTuple

from .catalogue import Catalogue, load_catalogue
from .errors import EvidenceError, did_you_mean
from .limits import FLAGS
from .specs import MetricSpec, ServiceLevel, parse_service_levels, parse_spec
from .yamlio import DEFAULT_LIMITS, Limits, Node, load_yaml

SCHEMA = "ism3-evidence/1"
MANIFEST = "bundle.yaml"
KINDS = ("documentation", "metric", "exclusion", "role")
ROLES = ("owner", "supervisor", "operator", "auditor", "customer")   # O-ISM3 SSP-4
ORG_ID = re.compile(r"^[A-Za-z0-9_-]+$")
SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")

TOP_KEYS = ("schema", "organization", "assessment", "evidence", "service_levels")
ORG_KEYS = ("id", "name")
ASSESSMENT_KEYS = ("period", "as_of")
PERIOD_KEYS = ("start", "end")
COMMON_ITEM_KEYS = ("id", "process", "kind")
ITEM_KEYS = {
    "documentation": COMMON_ITEM_KEYS + ("title", "path", "sha256", "date", "expires"),
    "metric": COMMON_ITEM_KEYS + ("metric_type", "name", "observations", "path",
                                  "specification"),
    "exclusion": COMMON_ITEM_KEYS + ("justification", "approver", "expires"),
    "role": COMMON_ITEM_KEYS + ("role", "person", "title", "date", "expires"),
}
OBS_KEYS = ("date", "value")
MAX_CSV_BYTES = DEFAULT_LIMITS.max_csv_bytes
MAX_CSV_LINE = 1024 * 1024  # one CSV line; longer is malformed (and never buffered whole)
# CSV files in the plain form every tool writes (header `date,value`, one `date,number` per
# line) are read in one pass of a regular expression; anything else takes the csv module's
# path, which says exactly what is wrong and where. Both give the same observations.
FAST_CSV_MAX_BYTES = 8 * 1024 * 1024
_FAST_CSV_ROW = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2}),([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\r?\n",
    re.MULTILINE)
_FAST_CSV_HEADER = re.compile(r"date,value\r?\n")


class Observation(NamedTuple):
    """One reported value of a metric (immutable; orders by date, then value).

    A named tuple rather than a dataclass: a year of daily data is hundreds of
    thousands of them per bundle, and a tuple is several times cheaper to build.
    """

    date: date
    value: float


@dataclass(frozen=True)
class EvidenceItem:
    """One item of a bundle, with the verdict on whether it counts.

    `status` is "accepted" or "rejected"; a rejected item carries `reason`.
    """

    id: str
    process: str
    kind: str
    line: int
    status: str
    reason: str | None = None
    title: str | None = None
    path: str | None = None
    sha256: str | None = None
    metric_type: str | None = None
    observations: tuple[Observation, ...] = ()
    observations_in_period: int = 0
    # exclusion items (statement of applicability) only
    justification: str | None = None
    approver: str | None = None
    # exclusion, documentation and role items: in force up to and including this date
    expires: date | None = None
    specification: MetricSpec | None = None
    observations_after_as_of: int = 0      # ignored: dated after the evaluation date
    effective: date | None = None          # documentation/role: in force from this date
    role: str | None = None
    person: str | None = None

    @property
    def accepted(self) -> bool:
        """Whether the item counts as evidence."""
        return self.status == "accepted"


@dataclass(frozen=True)
class Bundle:
    """A validated bundle: who, when, and every evidence item with its verdict."""

    root: Path
    manifest: Path
    organization_id: str
    organization_name: str
    period_start: date | None
    period_end: date | None
    as_of: date | None
    items: tuple[EvidenceItem, ...] = field(default_factory=tuple)
    service_levels: tuple[ServiceLevel, ...] = ()

    @property
    def judged_at(self) -> date | None:
        """The date evidence is judged at (expiries, effective dates, observations):
        `as_of`, else the period's end."""
        return self.as_of or self.period_end


class _Problems:
    """Collects every problem of a manifest so a user can fix them in one pass."""

    def __init__(self, manifest: Path) -> None:
        self.manifest = manifest
        self.lines: list[str] = []

    def add(self, line: int, message: str, item: str | None = None) -> None:
        where = f"{self.manifest}:{line}" if line else str(self.manifest)
        prefix = f"{where}: item {item}: " if item else f"{where}: "
        # one problem, one line; and nothing from the bundle may drive the terminal
        self.lines.append(printable(prefix + message))

    def raise_if_any(self) -> None:
        if self.lines:
            raise EvidenceError("\n".join(self.lines))


_CONTROL = ("Cc", "Zl", "Zp")  # control characters, line and paragraph separators


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in _CONTROL for c in text)


def printable(text: str) -> str:
    """`text` with control characters (newlines, escape sequences) shown escaped."""
    if not _has_control(text):
        return text
    return "".join(repr(c)[1:-1] if unicodedata.category(c) in _CONTROL else c for c in text)


def find_manifest(path: Path) -> tuple[Path, Path]:
    """Return (bundle folder, manifest file) for a bundle folder or its bundle.yaml.

    Raises:
        EvidenceError: the path does not exist or holds no bundle.yaml, or the
            manifest is a symlink leading outside the bundle folder.
    """
    if path.is_dir():
        root, manifest = path, path / MANIFEST
        if not manifest.exists() and not manifest.is_symlink():
            raise EvidenceError(f"{path}: no {MANIFEST} in this folder; is it an evidence bundle?")
    elif path.exists():
        root, manifest = path.parent, path
    else:
        raise EvidenceError(f"{path}: no such bundle folder or file")
    try:
        base, real = root.resolve(), manifest.resolve()
    except (OSError, RuntimeError) as exc:
        raise EvidenceError(f"{manifest}: cannot be resolved (symlink loop?)") from exc
    if base not in real.parents:
        raise EvidenceError(f"{manifest}: leads outside the bundle folder (symlink to {real}); "
                            "a bundle is read only inside its own folder")
    return root, manifest


def load_bundle(
    path: Path | str,
    catalogue: Catalogue | None = None,
    limits: Limits = DEFAULT_LIMITS,
    as_of: date | None = None,
) -> Bundle:
    """Read and validate the bundle at `path` (a folder or its bundle.yaml).

    `as_of` replaces the bundle's own `assessment.as_of`: the bundle is judged as it
    stood at that date (observations dated after it are ignored; whether evidence is in
    force or expired at that date is for the rules, rules/evidence.yaml).

    Raises:
        EvidenceError: the bundle cannot be read or is not valid ism3-evidence/1;
            the message has one line per problem, each naming file, line and item.
    """
    catalogue = catalogue or load_catalogue()
    root, manifest = find_manifest(Path(path))
    try:
        data = load_yaml(manifest, limits)
    except ValueError as exc:
        raise EvidenceError(printable(str(exc))) from exc
    problems = _Problems(manifest)
    if data is None:
        raise EvidenceError(f"{manifest}: empty file; expected a mapping with 'schema: {SCHEMA}'")
    if not isinstance(data, Node):
        raise EvidenceError(
            f"{manifest}:1: expected a mapping at the top level, found {_kind(data)}"
        )
    _unknown_keys(data, TOP_KEYS, problems, "")
    schema = data.get("schema")
    if schema != SCHEMA:
        problems.add(
            data.line_of("schema"),
            f"schema is {schema!r}; this tool reads '{SCHEMA}'"
            if schema is not None
            else f"missing 'schema: {SCHEMA}'",
        )
        problems.raise_if_any()
    org_id, org_name = _organization(data, problems)
    start, end, declared_as_of = _assessment(data, problems)
    as_of = as_of or declared_as_of
    raw_items = data.get("evidence")
    if raw_items is None:
        problems.add(data.line, "missing 'evidence' (a list, which may be empty)")
        raw_items = []
    elif not isinstance(raw_items, list):
        problems.add(data.line_of("evidence"), f"'evidence' must be a list, found {_kind(raw_items)}")
        raw_items = []
    seen: dict[str, int] = {}
    parsed: list[tuple[Node, dict[str, Any]]] = []
    for index, raw in enumerate(raw_items):
        entry = _item_fields(raw, index, data.line_of("evidence"), catalogue, problems)
        if entry is None:
            continue
        item_id = entry["id"]
        if item_id in seen:
            problems.add(raw.line, f"duplicate id (first used at line {seen[item_id]})", item_id)
            continue
        seen[item_id] = raw.line
        parsed.append((raw, entry))
    service_levels = parse_service_levels(
        data.get("service_levels"), data.line_of("service_levels"),
        lambda line, message, label: problems.add(line, f"{label}: {message}" if label
                                                  else message),
        catalogue.process_ids, lambda name: catalogue.metric_type(name).name,
        {e["id"]: e["process"] for _, e in parsed if e["kind"] == "metric"})
    # Observation files are read only once the manifest itself is valid.
    _exclusion_dates(parsed, as_of or end, problems)
    problems.raise_if_any()
    cutoff = as_of or end
    real_root = root.resolve()
    files = _Files(limits)
    with _gc_paused():
        # Dates in force and expiries are criteria: the rules judge them (rules/evidence.yaml).
        items = tuple(_judge(raw, entry, real_root, manifest, start, end, problems, cutoff, files)
                      for raw, entry in parsed)
    problems.raise_if_any()
    return Bundle(root, manifest, org_id, org_name, start, end, as_of, items, service_levels)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, restoring its previous state afterwards.

    A year of daily data is hundreds of thousands of small acyclic tuples; the
    collections their allocation triggers cost about a third of the loading time
    (measured on the benchmarks' large bundle) and can free nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def _unknown_keys(node: Node, allowed: tuple[str, ...], problems: _Problems, item: str | None,
                  where: str = "") -> None:
    for key in node:
        if key not in allowed:
            problems.add(
                node.line_of(str(key)),
                f"unknown key '{key}'{where}{did_you_mean(str(key), allowed)}; "
                f"allowed: {', '.join(allowed)}",
                item,
            )


def _text(node: Node, key: str, problems: _Problems, item: str | None, required: bool) -> str | None:
    value = node.get(key)
    if value is None:
        if required:
            problems.add(node.line, f"missing required field '{key}'", item)
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.add(node.line_of(key), f"'{key}' must be text, found {_kind(value)}", item)
        return None
    text = str(value).strip()
    if required and not text:
        problems.add(node.line_of(key), f"'{key}' must not be empty", item)
        return None
    return text


def parse_date(value: Any) -> date:
    """Parse an ISO date (YYYY-MM-DD). Raises ValueError with a readable reason."""
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"{text!r} is not a date in YYYY-MM-DD form")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date ({exc})") from exc


def _date_field(node: Node, key: str, problems: _Problems, item: str | None) -> date | None:
    if node.get(key) is None:
        return None
    try:
        return parse_date(node[key])
    except ValueError as exc:
        problems.add(node.line_of(key), f"'{key}': {exc}", item)
        return None


def _organization(data: Node, problems: _Problems) -> tuple[str, str]:
    org = data.get("organization")
    if not isinstance(org, Node):
        problems.add(data.line_of("organization"),
                     "missing 'organization' mapping with 'id' and 'name'" if org is None
                     else f"'organization' must be a mapping, found {_kind(org)}")
        return "", ""
    _unknown_keys(org, ORG_KEYS, problems, None, " in organization")
    org_id = _text(org, "id", problems, None, required=True) or ""
    if org_id and not ORG_ID.match(org_id):
        problems.add(org.line_of("id"),
                     f"organization id '{org_id}' may hold only letters, digits, '-' and '_'")
    org_name = _text(org, "name", problems, None, required=True) or ""
    return org_id, org_name


def _assessment(data: Node, problems: _Problems) -> tuple[date | None, date | None, date | None]:
    assessment = data.get("assessment")
    if assessment is None:
        return None, None, None
    if not isinstance(assessment, Node):
        problems.add(data.line_of("assessment"),
                     f"'assessment' must be a mapping, found {_kind(assessment)}")
        return None, None, None
    _unknown_keys(assessment, ASSESSMENT_KEYS, problems, None, " in assessment")
    as_of = _date_field(assessment, "as_of", problems, None)
    period = assessment.get("period")
    if period is None:
        return None, None, as_of
    if not isinstance(period, Node):
        problems.add(assessment.line_of("period"),
                     f"'period' must be a mapping with 'start' and 'end', found {_kind(period)}")
        return None, None, as_of
    _unknown_keys(period, PERIOD_KEYS, problems, None, " in period")
    start = _date_field(period, "start", problems, None)
    end = _date_field(period, "end", problems, None)
    for key, value in (("start", start), ("end", end)):
        if value is None and period.get(key) is None:
            problems.add(period.line, f"period needs '{key}'")
    if start and end and start > end:
        problems.add(period.line, f"period starts ({start}) after it ends ({end})")
    return start, end, as_of


def _item_fields(raw: Any, index: int, list_line: int, catalogue: Catalogue,
                 problems: _Problems) -> dict[str, Any] | None:
    """Validate one item's structure; return its fields or None when it is unusable."""
    if not isinstance(raw, Node):
        problems.add(list_line, f"evidence entry #{index + 1} must be a mapping, found {_kind(raw)}")
        return None
    item_id = _text(raw, "id", problems, f"#{index + 1}", required=True)
    label = item_id or f"#{index + 1}"
    before = len(problems.lines)
    process = _text(raw, "process", problems, label, required=True)
    if process is not None and process not in catalogue.process_ids:
        problems.add(raw.line_of("process"),
                     f"unknown process '{process}'{did_you_mean(process, catalogue.process_ids)}; "
                     "`ism3 processes` lists the 45 O-ISM3 processes", label)
    kind = _text(raw, "kind", problems, label, required=True)
    if kind is not None and kind not in KINDS:
        problems.add(raw.line_of("kind"),
                     f"unknown kind '{kind}'{did_you_mean(kind, KINDS)}; allowed: {', '.join(KINDS)}",
                     label)
        kind = None
    if kind is None:
        return None
    _unknown_keys(raw, ITEM_KEYS[kind], problems, label, f" for a {kind} item")
    entry: dict[str, Any] = {"id": item_id, "process": process, "kind": kind}
    if kind in ("documentation", "role"):
        entry["effective"] = _date_field(raw, "date", problems, label)
        entry["expires"] = _date_field(raw, "expires", problems, label)
        if entry["effective"] and entry["expires"] and entry["effective"] > entry["expires"]:
            problems.add(raw.line_of("expires"), f"expires ({entry['expires']}) before its "
                         f"date ({entry['effective']})", label)
    if kind == "exclusion":
        entry.update(_exclusion_fields(raw, problems, label))
    elif kind == "role":
        entry["title"] = _text(raw, "title", problems, label, required=False)
        entry["role"] = _text(raw, "role", problems, label, required=True)
        if entry["role"] is not None and entry["role"] not in ROLES:
            problems.add(raw.line_of("role"), f"unknown role '{entry['role']}'"
                         f"{did_you_mean(entry['role'], ROLES)}; allowed: {', '.join(ROLES)}",
                         label)
        entry["person"] = _text(raw, "person", problems, label, required=True)
    elif kind == "documentation":
        entry["title"] = _text(raw, "title", problems, label, required=False)
        entry["path"] = _text(raw, "path", problems, label, required=True)
        sha = _text(raw, "sha256", problems, label, required=False)
        if sha is not None and not SHA256.match(sha):
            problems.add(raw.line_of("sha256"),
                         "sha256 must be 64 hexadecimal characters", label)
        entry["sha256"] = sha.lower() if sha else None
    else:
        entry["title"] = _text(raw, "name", problems, label, required=False)
        mtype = _text(raw, "metric_type", problems, label, required=True)
        if mtype is not None:
            try:
                entry["metric_type"] = catalogue.metric_type(mtype).name
            except KeyError:
                problems.add(raw.line_of("metric_type"),
                             f"unknown metric_type '{mtype}'"
                             f"{did_you_mean(mtype, catalogue.metric_type_choices())}; allowed: "
                             + ", ".join(m.name for m in catalogue.metric_types), label)
        entry.update(_observation_source(raw, problems, label))
        if "specification" in raw:
            entry["specification"] = parse_spec(
                raw["specification"], raw.line_of("specification"),
                lambda line, message: problems.add(line, message, label))
    if len(problems.lines) > before or item_id is None:
        return None
    return entry


def _exclusion_fields(raw: Node, problems: _Problems, label: str) -> dict[str, Any]:
    """An exclusion (statement of applicability): why, who approved it, until when."""
    fields: dict[str, Any] = {}
    for key, what in (("justification", "why the process is out of scope"),
                      ("approver", "who approved the exclusion")):
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.add(raw.line_of(key), f"an exclusion needs '{key}' ({what}); "
                         "an exclusion without it is not accepted", label)
            continue
        fields[key] = _text(raw, key, problems, label, required=True)
    fields["expires"] = _date_field(raw, "expires", problems, label)
    return fields


def _exclusion_dates(parsed: list[tuple[Node, dict[str, Any]]], judged_at: date | None,
                     problems: _Problems) -> None:
    """An expiry needs a date to be judged at; wall-clock time is never used."""
    if judged_at is not None:
        return
    for raw, entry in parsed:
        if entry["kind"] == "exclusion" and entry.get("expires") is not None:
            problems.add(raw.line_of("expires"), "this exclusion expires, but the bundle gives no "
                         "date to judge that at: add 'assessment: {as_of: YYYY-MM-DD}' (or an "
                         "assessment period)", entry["id"])


def _observation_source(raw: Node, problems: _Problems, label: str) -> dict[str, Any]:
    """Where a metric's observations come from: inline list or a CSV path."""
    obs = raw.get("observations")
    path = raw.get("path")
    if isinstance(obs, Node) and set(obs) <= {"path"} and "path" in obs:
        if path is not None:
            problems.add(raw.line_of("path"), "give 'path' once: either at item level or "
                         "under 'observations'", label)
            return {}
        path, obs = obs["path"], None
        path_line = raw.line_of("observations")
    else:
        path_line = raw.line_of("path")
    if obs is not None and path is not None:
        problems.add(raw.line, "give either inline 'observations' or a CSV 'path', not both", label)
        return {}
    if obs is None and path is None:
        problems.add(raw.line, "a metric needs 'observations' (a list of {date, value}) "
                     "or 'path' to a CSV file with header date,value", label)
        return {}
    if path is not None:
        if not isinstance(path, str) or not path.strip():
            problems.add(path_line, "'path' must be a non-empty relative path", label)
            return {}
        return {"path": path.strip(), "observations": None}
    if not isinstance(obs, list):
        problems.add(raw.line_of("observations"),
                     f"'observations' must be a list of {{date, value}}, found {_kind(obs)}", label)
        return {}
    observations: list[Observation] = []
    for number, entry in enumerate(obs, start=1):
        line = entry.line if isinstance(entry, Node) else raw.line_of("observations")
        if not isinstance(entry, Node):
            problems.add(line, f"observation #{number} must be a mapping {{date, value}}", label)
            continue
        _unknown_keys(entry, OBS_KEYS, problems, label, f" in observation #{number}")
        try:
            when = parse_date(entry.get("date", ""))
            value = parse_value(entry.get("value"))
        except ValueError as exc:
            problems.add(line, f"observation #{number}: {exc}", label)
            continue
        observations.append(Observation(when, value))
    return {"path": None, "observations": tuple(observations)}


def parse_value(value: Any) -> float:
    """A finite number from YAML or CSV. Raises ValueError with a readable reason."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("value is empty")
    if isinstance(value, bool):
        raise ValueError(f"value {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"value {str(value)!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"value {str(value)!r} is not a finite number")
    return number


def _plain_path_below(base: Path, parts: tuple[str, ...]) -> tuple[Path, int] | None:
    """(path, st_mode) of `base`/parts when no component below the real folder `base` is a
    symlink, so the path is its own real path; None (check the slow way) otherwise."""
    path = str(base)
    mode = 0
    try:
        for part in parts:
            path = os.path.join(path, part)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                return None
    except OSError:
        return None
    return (Path(path), mode) if parts else None


def resolve_inside(root: Path, relative: str,
                   root_is_real: bool = False) -> tuple[Path | None, str | None]:
    """Resolve `relative` inside bundle folder `root` without leaving it.

    Returns (path, None) for a regular file inside the bundle, or (None, reason)
    naming why it does not count. Nothing is opened here. `root_is_real` says
    `root` is already resolved (saves resolving it again for every item).
    """
    posix = PurePosixPath(relative.replace("\\", "/"))
    if posix.is_absolute() or re.match(r"^[A-Za-z]:", relative):
        return None, f"path outside the bundle (absolute path '{relative}')"
    if ".." in posix.parts:
        return None, f"path outside the bundle ('..' in '{relative}')"
    base = root if root_is_real else root.resolve()
    plain = _plain_path_below(base, posix.parts)
    if plain is not None:  # the common case, in one lstat per component
        if not stat.S_ISREG(plain[1]):
            return None, f"not a regular file ('{relative}')"
        return plain[0], None
    candidate = base.joinpath(*posix.parts)
    try:
        real = candidate.resolve(strict=False)
    except (OSError, RuntimeError):
        return None, f"path cannot be resolved ('{relative}', symlink loop?)"
    if real != base and base not in real.parents:
        return None, f"path outside the bundle ('{relative}' leads through a symlink to outside)"
    try:
        if not real.exists():
            return None, f"file missing ('{relative}')"
        if not real.is_file():
            return None, f"not a regular file ('{relative}')"
    except OSError as exc:  # a name too long for the file system, a permission, ...
        return None, f"path cannot be used ('{relative}': {exc.strerror or exc})"
    return real, None


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in chunks. Raises OSError."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_new_observation = functools.partial(tuple.__new__, Observation)


@functools.lru_cache(maxsize=8192)
def _iso_date(text: str) -> date:
    # A year of data repeats a few hundred dates across all of a bundle's files.
    return date.fromisoformat(text)


def _read_plain_csv(path: Path, max_bytes: int) -> list[Observation] | None:
    """Observations of a CSV in the plain form, or None when it is not (or is invalid).

    At most `max_bytes` (and FAST_CSV_MAX_BYTES) are read, whatever the file claims
    to hold. None sends the caller to `read_csv_observations`, which reports any
    problem and keeps to the same budget.
    """
    limit = min(max_bytes, FAST_CSV_MAX_BYTES)
    try:
        if path.stat().st_size > limit:  # a big file is streamed instead, never read whole
            return None
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
        if len(raw) > limit:
            return None
        text = raw.decode("utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    header = _FAST_CSV_HEADER.match(text)
    if header is None:
        return None
    if not text.endswith("\n"):
        text += "\n"
    rows = _FAST_CSV_ROW.findall(text, header.end())
    # Each match is one whole line (anchored at a line start, ending at its newline):
    # as many matches as lines after the header means every line is plain.
    if len(rows) != text.count("\n", header.end()):
        return None
    if not rows:
        return []
    dates, texts = zip(*rows, strict=True)
    values = list(map(float, texts))
    if not all(map(math.isfinite, values)):  # 1e999 parses, as infinity
        return None
    try:  # built by C-level calls only: this loop is the cost of a year of daily data
        return list(map(_new_observation, zip(map(_iso_date, dates), values, strict=True)))
    except ValueError:  # an impossible date such as 2026-02-30
        return None


def _text_lines(handle: BinaryIO, shown: str, max_bytes: int) -> Iterator[str]:
    """The lines of a binary file as text, counting bytes: UTF-8 errors get their line."""
    total = 0
    for number in itertools.count(1):
        raw = handle.readline(MAX_CSV_LINE + 1)
        if not raw:
            return
        total += len(raw)
        if total > max_bytes:
            raise ValueError(f"{shown}:{number}: larger than the limit of {max_bytes} bytes "
                             f"({FLAGS['max_csv_bytes']} changes it)")
        if len(raw) > MAX_CSV_LINE:
            raise ValueError(f"{shown}:{number}: line longer than {MAX_CSV_LINE} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{shown}:{number}: not UTF-8 text (byte {exc.start + 1} of the "
                             "line); save the file as UTF-8") from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def read_csv_observations(path: Path, shown: str,
                          max_bytes: int = MAX_CSV_BYTES) -> Iterator[Observation]:
    """Stream observations from a CSV with header `date,value`, one row at a time.

    At most `max_bytes` are read, whatever the file claims to hold.

    Raises:
        ValueError: naming `shown` and the line, for a bad header, row or encoding,
            or a file larger than `max_bytes`.
        OSError: the file cannot be read.
    """
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{shown}: {size} bytes is larger than the limit of {max_bytes} bytes "
                         f"({FLAGS['max_csv_bytes']} changes it)")
    with path.open("rb") as handle:
        reader = csv.reader(_text_lines(handle, shown, max_bytes), strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{shown}:1: empty file; expected the header 'date,value'")
            if [h.strip().lower() for h in header] != ["date", "value"]:
                raise ValueError(f"{shown}:1: header must be 'date,value', found '{','.join(header)}'")
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != 2:
                    raise ValueError(f"{shown}:{line}: expected 2 columns (date,value), found {len(row)}")
                try:
                    yield Observation(parse_date(row[0]), parse_value(row[1]))
                except ValueError as exc:
                    raise ValueError(f"{shown}:{line}: {exc}") from None
        except csv.Error as exc:
            raise ValueError(f"{shown}:{reader.line_num}: malformed CSV: {exc}") from None


class _Files:
    """Reads the files of one bundle: each file once, observation files within a budget.

    Items naming the same file share one reading, so a bundle cannot multiply work
    by naming one big file many times.
    """

    def __init__(self, limits: Limits) -> None:
        self.limit = limits.max_csv_bytes
        self.used = 0
        self.hashes: dict[Path, str] = {}
        self.observations: dict[Path, tuple[Observation, ...] | ValueError] = {}

    def sha256(self, real: Path) -> str:
        """sha256 of a file inside the bundle. Raises OSError."""
        if real not in self.hashes:
            self.hashes[real] = file_sha256(real)
        return self.hashes[real]

    def read_observations(self, real: Path, shown: str) -> tuple[Observation, ...]:
        """The observations of a CSV inside the bundle.

        Raises:
            ValueError: malformed file, or the bundle's observation files together
                exceed the limit on their size.
            OSError: the file cannot be read.
        """
        if real not in self.observations:
            try:
                size = real.stat().st_size
                if self.used + size > self.limit:
                    raise ValueError(
                        f"{shown}: its {size} bytes take the bundle's observation files past "
                        f"the limit of {self.limit} bytes in total ({FLAGS['max_csv_bytes']} "
                        "changes it)")
                self.used += size
                plain = _read_plain_csv(real, size)
                self.observations[real] = tuple(
                    plain if plain is not None else read_csv_observations(real, shown, size))
            except ValueError as exc:
                self.observations[real] = exc
        result = self.observations[real]
        if isinstance(result, ValueError):
            raise result
        return result


def _judge(raw: Node, entry: dict[str, Any], root: Path, manifest: Path,
           start: date | None, end: date | None, problems: _Problems,
           cutoff: date | None = None, files: _Files | None = None) -> EvidenceItem:
    """Decide whether one structurally valid item counts, and why not."""
    files = files or _Files(DEFAULT_LIMITS)
    if entry["kind"] == "exclusion":
        # Whether an exclusion applies (expiry, mandatory processes) is for the rules.
        return EvidenceItem(id=entry["id"], process=entry["process"], kind="exclusion",
                            line=raw.line, status="accepted",
                            justification=entry["justification"], approver=entry["approver"],
                            expires=entry["expires"])
    common = dict(id=entry["id"], process=entry["process"], kind=entry["kind"], line=raw.line,
                  title=entry.get("title"), path=entry.get("path"),
                  effective=entry.get("effective"), expires=entry.get("expires"))
    if entry["kind"] == "role":
        return EvidenceItem(status="accepted", role=entry["role"], person=entry["person"],
                            **common)
    if entry["kind"] == "documentation":
        real, reason = resolve_inside(root, entry["path"], root_is_real=True)
        if real is None:
            return EvidenceItem(status="rejected", reason=reason, sha256=entry["sha256"], **common)
        try:
            actual = files.sha256(real)
        except OSError as exc:
            return EvidenceItem(status="rejected", reason=f"file unreadable ({exc.strerror})",
                                sha256=entry["sha256"], **common)
        if entry["sha256"] and entry["sha256"] != actual:
            return EvidenceItem(status="rejected", sha256=actual,
                                reason=f"hash mismatch (declared {entry['sha256'][:12]}..., "
                                f"file has {actual[:12]}...)", **common)
        return EvidenceItem(status="accepted", sha256=actual, **common)

    mtype = entry["metric_type"]
    common["specification"] = entry.get("specification")
    observations = entry["observations"]
    if observations is None:
        real, reason = resolve_inside(root, entry["path"], root_is_real=True)
        if real is None:
            return EvidenceItem(status="rejected", reason=f"observations {reason}",
                                metric_type=mtype, **common)
        shown = str(manifest.parent / entry["path"])
        try:
            observations = files.read_observations(real, shown)
        except ValueError as exc:
            problems.add(raw.line_of("path"), f"observations file: {exc}", entry["id"])
            return EvidenceItem(status="rejected", reason=str(exc), metric_type=mtype, **common)
        except OSError as exc:
            return EvidenceItem(status="rejected", metric_type=mtype,
                                reason=f"observations file unreadable ({exc.strerror})", **common)
    observations = tuple(sorted(observations))  # by date, then value
    # Counted by bisection on the sorted dates: a year of daily data per item.
    by_date = attrgetter("date")
    count = len(observations)
    after = (count - bisect.bisect_right(observations, cutoff, key=by_date)
             if cutoff is not None else 0)
    low = bisect.bisect_left(observations, start, key=by_date) if start is not None else 0
    high = bisect.bisect_right(observations, end, key=by_date) if end is not None else count
    window = max(0, high - low)
    if cutoff is not None:
        high = min(high, bisect.bisect_right(observations, cutoff, key=by_date))
    in_period = max(0, high - low)
    why: str | None
    if not observations:
        why = "no observations"
    elif start is not None and window == 0:
        why = f"no observation in period {start}..{end} ({len(observations)} outside it)"
    elif in_period == 0:
        why = f"no observation up to {cutoff} ({after} dated after it, ignored)"
    else:
        why = None
    return EvidenceItem(status="rejected" if why else "accepted", reason=why,
                        metric_type=mtype, observations=observations,
                        observations_in_period=in_period, observations_after_as_of=after,
                        **common)
