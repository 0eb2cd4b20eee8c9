"""Evidence bundles (ism3-evidence/1): reading, validating and accounting for every item.

A bundle is untrusted input. Nothing in it is executed, no file outside its folder
is opened (every file is read relative to the folder's descriptor: `bundlefs`), and
every item comes out either accepted or rejected with a reason.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import functools
import hashlib
import io
import itertools
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from . import identifiers, safe
from .archive import ArchiveInfo, archive_format, unpacked
from .bundlefs import MANIFEST as MANIFEST  # re-exported: callers import it from here
from .bundlefs import CHUNK, BundleFolder, OpenFile, Refused, TooLarge, manifest_problem
from .catalogue import Catalogue, load_catalogue, suggest_process
from .digests import FileDigest, normalise
from .errors import EvidenceError, did_you_mean
from .gcpause import cyclic_gc_paused
from .limits import FLAGS, MAX_MAGNITUDE
from .specs import MetricSpec, ServiceLevel, parse_service_levels, parse_spec
from .yamlio import DEFAULT_LIMITS, Limits, Node, parse_yaml

SCHEMA = "ism3-evidence/1"
# What `ism3 init` and `ism3 gap` start every text to fill with; an item whose title
# (name, person) still starts with it is a placeholder (the rules decide what that means).
PLACEHOLDER = "TODO:"
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
# line) are read by a few C-level passes over the whole file (`_read_plain_csv`); anything
# else takes the csv module's path, which says exactly what is wrong and where. Both give
# the same observations.
FAST_CSV_MAX_BYTES = 8 * 1024 * 1024
_FAST_CSV_HEADER = re.compile(r"date,value\r?\n")
_FAST_CSV_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_PART = itemgetter(slice(0, 10))
_VALUE_PART = itemgetter(slice(11, None))


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
    # documentation: bytes of the file, as the loader read it (None: not read)
    size: int | None = None
    # the title (metric: name; role: title or person) still starts with PLACEHOLDER
    placeholder: bool = False

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
    # digests of the manifest and of every path an item names (None: not a file of
    # the bundle), of the very bytes the loader read, sorted by path
    files: tuple[FileDigest, ...] = ()
    manifest_sha256: str = ""
    limits: Limits = DEFAULT_LIMITS       # read under these; the evaluation keeps to them
    archive: ArchiveInfo | None = None    # the archive the bundle came in, if it did

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
        if self.csv_more:
            self.lines.append(printable(f"{self.manifest}: and {self.csv_more} more bad line(s) "
                                        "in observation files, not shown"))
            self.csv_more = 0
        if self.lines:
            raise EvidenceError("\n".join(self.lines))

    csv_said = 0
    csv_more = 0

    def add_csv(self, line: int, problem: ValueError, item: str) -> None:
        """The problems of an observations file: each bad line said (up to
        CSV_PROBLEMS_PER_BUNDLE for the bundle), the rest counted."""
        lines = problem.lines if isinstance(problem, CsvProblems) else [str(problem)]
        for said in lines:
            if self.csv_said < CSV_PROBLEMS_PER_BUNDLE:
                self.csv_said += 1
                self.add(line, f"observations file: {said}", item)
            else:
                self.csv_more += 1
        if isinstance(problem, CsvProblems) and problem.more:
            if self.csv_said < CSV_PROBLEMS_PER_BUNDLE:
                self.csv_said += 1
                self.add(line, f"observations file: and {problem.more} more bad line(s) in "
                         "this file, not shown", item)
            else:
                self.csv_more += problem.more


def is_placeholder_text(text: str | None) -> bool:
    """Whether `text` still starts with PLACEHOLDER (in any case, after spaces)."""
    return bool(text) and str(text).lstrip().upper().startswith(PLACEHOLDER)


def printable(text: str) -> str:
    """`text` as one line for a terminal: control, format and bidi characters
    (newlines, escape sequences, overrides) shown escaped (`safe.terminal`)."""
    return safe.terminal(text)


def find_manifest(path: Path) -> tuple[Path, Path]:
    """Return (bundle folder, manifest file) for a bundle folder or its bundle.yaml.

    Only names are checked here; the manifest is opened relative to the folder's
    descriptor by `load_bundle` (a manifest that is a symlink leading outside the
    folder is refused there).

    Raises:
        EvidenceError: the path does not exist or holds no bundle.yaml.
    """
    if path.is_dir():
        root, manifest = path, path / MANIFEST
        if not manifest.exists() and not manifest.is_symlink():
            raise EvidenceError(f"{printable(str(path))}: no {MANIFEST} in this folder; "
                                + _what_the_folder_holds(path))
    elif path.exists() or path.is_symlink():
        root, manifest = path.parent, path
    else:
        raise EvidenceError(f"{printable(str(path))}: no such bundle folder or file")
    return root, manifest


MANIFEST_LOOKALIKES = re.compile(r"^bundle\.ya?ml$", re.IGNORECASE)
_MAX_LISTED = 2000   # entries of a folder looked at for a suggestion (a huge folder: no more)


def _what_the_folder_holds(folder: Path) -> str:
    """What to say about a folder without bundle.yaml: a manifest under another name
    (`bundle.yml`, `Bundle.yaml`), or bundles in its subfolders, or neither. Only names
    are looked at (no file is opened), and at most _MAX_LISTED of them."""
    names: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in itertools.islice(entries, _MAX_LISTED):
                names.append(entry.name)
    except OSError:
        return "is it an evidence bundle?"
    lookalikes = sorted(n for n in names if MANIFEST_LOOKALIKES.match(n))
    if lookalikes:
        return (f"found '{printable(lookalikes[0])}' instead: rename it to {MANIFEST} "
                "(the manifest's name is exact)")
    bundles = sorted(n for n in names if not n.startswith(".")
                     and os.path.isfile(os.path.join(folder, n, MANIFEST)))
    if bundles:
        shown = ", ".join(printable(n) for n in bundles[:5])
        more = f" and {len(bundles) - 5} more" if len(bundles) > 5 else ""
        return (f"it holds bundles in its subfolders ({shown}{more}): give one of them, e.g. "
                f"{printable(str(folder / bundles[0]))}, or evaluate them all with "
                f"`ism3 batch {printable(str(folder))}`")
    return "is it an evidence bundle?"


def _read_manifest(folder: BundleFolder, manifest: Path, limits: Limits) -> bytes:
    """The manifest's bytes, read from the bundle folder's descriptor within the limit.

    Raises:
        EvidenceError: not a regular file of the folder, too large or unreadable.
    """
    shown = printable(str(manifest))
    try:
        with folder.open(manifest.name) as handle:
            if handle.size > limits.max_bytes:
                raise EvidenceError(f"{shown}: {handle.size} bytes is larger than the limit of "
                                    f"{limits.max_bytes} bytes ({FLAGS['max_bytes']} changes it)")
            return handle.read(limits.max_bytes)
    except Refused as exc:
        raise EvidenceError(printable(manifest_problem(str(manifest), exc))) from None
    except TooLarge:
        raise EvidenceError(f"{shown}: larger than the limit of {limits.max_bytes} bytes "
                            f"({FLAGS['max_bytes']} changes it)") from None
    except OSError as exc:
        raise EvidenceError(f"{shown}: cannot read: {exc.strerror or exc}") from None


def load_bundle(
    path: Path | str,
    catalogue: Catalogue | None = None,
    limits: Limits = DEFAULT_LIMITS,
    as_of: date | None = None,
) -> Bundle:
    """Read and validate the bundle at `path` (a folder, its bundle.yaml, or an archive:
    .zip, .tar.gz, .tgz, unpacked within `limits` and read as its folder; see `archive`).

    `as_of` replaces the bundle's own `assessment.as_of`: the bundle is judged as it
    stood at that date (observations dated after it are ignored; whether evidence is in
    force or expired at that date is for the rules, rules/evidence.yaml).

    Raises:
        EvidenceError: the bundle cannot be read or is not valid ism3-evidence/1;
            the message has one line per problem, each naming file, line and item.
    """
    catalogue = catalogue or load_catalogue()
    if archive_format(path) is not None:
        with unpacked(path, limits) as done:
            with BundleFolder(done.folder) as folder:
                loaded = _load(folder, done.shown, done.shown / MANIFEST, catalogue, limits,
                               as_of)
            return dataclasses.replace(loaded, archive=done.info)
    root, manifest = find_manifest(Path(path))
    try:
        folder = BundleFolder(root)
    except OSError as exc:
        raise EvidenceError(f"{printable(str(root))}: cannot open the bundle folder "
                            f"({exc.strerror or exc})") from None
    with folder:
        return _load(folder, root, manifest, catalogue, limits, as_of)


def _load(folder: BundleFolder, root: Path, manifest: Path, catalogue: Catalogue,
          limits: Limits, as_of: date | None) -> Bundle:
    raw_manifest = _read_manifest(folder, manifest, limits)
    manifest_sha = hashlib.sha256(raw_manifest).hexdigest()
    try:
        data = parse_yaml(raw_manifest, manifest, limits)
    except ValueError as exc:
        raise EvidenceError(printable(str(exc))) from exc
    problems = _Problems(manifest)
    if data is None:
        raise EvidenceError(f"{printable(str(manifest))}: empty file; expected a mapping with "
                            f"'schema: {SCHEMA}'")
    if not isinstance(data, Node):
        raise EvidenceError(
            f"{printable(str(manifest))}:1: expected a mapping at the top level, found "
            f"{_kind(data)}")
    _unknown_keys(data, TOP_KEYS, problems, "")
    schema = data.get("schema")
    if schema != SCHEMA:
        problems.add(
            data.line_of("schema"),
            f"schema is {_short(repr(schema), 60)}; this tool reads '{SCHEMA}'"
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
    raw_levels = data.get("service_levels")
    count = len(raw_items) + (len(raw_levels) if isinstance(raw_levels, list) else 0)
    if count > limits.max_items:
        problems.add(data.line_of("evidence"), f"{count} evidence items and service levels "
                     f"are more than the limit of {limits.max_items} "
                     f"({FLAGS['max_items']} changes it)")
        problems.raise_if_any()
    seen: dict[str, int] = {}
    looks: dict[str, tuple[str, int]] = {}
    parsed: list[tuple[Node, dict[str, Any]]] = []
    for index, raw in enumerate(raw_items):
        entry = _item_fields(raw, index, data.line_of("evidence"), catalogue, problems)
        if entry is None:
            continue
        item_id = entry["id"]
        if item_id in seen:
            problems.add(raw.line, f"duplicate id (first used at line {seen[item_id]})", item_id)
            continue
        shape = identifiers.skeleton(item_id)
        if shape in looks:
            other, line = looks[shape]
            problems.add(raw.line_of("id"), f"id looks the same as id '{other}' (line {line}) "
                         "but is written with other characters; give the items ids that "
                         "differ visibly", item_id)
            continue
        seen[item_id] = raw.line
        looks[shape] = (item_id, raw.line)
        parsed.append((raw, entry))
    _same_looking_persons(parsed, problems)
    service_levels = parse_service_levels(
        raw_levels, data.line_of("service_levels"),
        lambda line, message, label: problems.add(line, f"{label}: {message}" if label
                                                  else message),
        catalogue.process_ids, lambda name: catalogue.metric_type(name).name,
        {e["id"]: e["process"] for _, e in parsed if e["kind"] == "metric"})
    _exclusion_dates(parsed, as_of or end, problems)
    cutoff = as_of or end
    files = _Files(folder, limits)
    before = len(problems.lines)
    files.check_csv_sizes(parsed, manifest, problems)   # from fstat, before reading any
    if len(problems.lines) > before:
        problems.raise_if_any()
    if problems.lines:
        # The manifest has problems: its usable metric items' observation files are read
        # all the same, so that one run reports them all (nothing else is judged).
        for raw, entry in parsed:
            if entry["kind"] == "metric" and entry.get("observations") is None:
                _judge(raw, entry, root, manifest, start, end, problems, cutoff, files)
        problems.raise_if_any()
    with cyclic_gc_paused():
        # Dates in force and expiries are criteria: the rules judge them (rules/evidence.yaml).
        items = tuple(_judge(raw, entry, root, manifest, start, end, problems, cutoff, files)
                      for raw, entry in parsed)
    problems.raise_if_any()
    _check_observations(items, service_levels, data.line_of("evidence"), limits, problems)
    problems.raise_if_any()
    digests = dict(files.digests)
    digests[manifest.name] = manifest_sha
    return Bundle(root, manifest, org_id, org_name, start, end, as_of, items, service_levels,
                  tuple(FileDigest(p, digests[p]) for p in sorted(digests)), manifest_sha,
                  limits)


def check_facts(bundle: Bundle, count: int) -> None:
    """Refuse an evaluation that would hand the rules engine more than `max_facts` facts.

    Raises:
        EvidenceError: naming the limit and its flag (most facts of a large count are
            observations outside their metric's band, one each).
    """
    limit = bundle.limits.max_facts
    if count > limit:
        raise EvidenceError(
            f"{printable(str(bundle.manifest))}: evaluating the bundle takes {count} facts, "
            f"more than the limit of {limit} ({FLAGS['max_facts']} changes it); each "
            "observation outside its metric's band is one")


def _same_looking_persons(parsed: list[tuple[Node, dict[str, Any]]],
                          problems: _Problems) -> None:
    """Two persons of role items that print alike must be written alike: the rules
    compare persons (division of duties), and a look-alike letter would evade them."""
    seen: dict[str, tuple[str, int]] = {}
    for raw, entry in parsed:
        person = entry.get("person")
        if entry["kind"] != "role" or not person:
            continue
        shape = identifiers.skeleton(person)
        other = seen.setdefault(shape, (person, raw.line))
        if other[0] != person:
            problems.add(raw.line_of("person"), f"person '{person}' looks the same as "
                         f"'{other[0]}' (line {other[1]}) but is written with other "
                         "characters; write one person's name the same way everywhere",
                         entry["id"])


def _check_observations(items: tuple[EvidenceItem, ...], levels: tuple[ServiceLevel, ...],
                        line: int, limits: Limits, problems: _Problems) -> None:
    """Bound the analysis work: observations are counted once per metric item that holds
    them (each item's statistics are computed on its own, even when items share a
    CSV) and once per service level whose window may cover them, plus one per item a
    service level covers (an item without observations is still listed behind it)."""
    by_item: dict[str, int] = {}
    by_type: dict[tuple[str, str | None], int] = {}
    total = 0
    for item in items:
        if item.kind != "metric":
            continue
        count = len(item.observations) + 1
        by_item[item.id] = count
        by_type[(item.process, item.metric_type)] = by_type.get(
            (item.process, item.metric_type), 0) + count
        total += count - 1
    for sla in levels:
        total += (by_item.get(sla.metric, 0) if sla.metric
                  else by_type.get((sla.process, sla.metric_type), 0))
    if total > limits.max_observations:
        problems.add(line, f"the metric items and service levels analyse {total} observations, "
                     f"more than the limit of {limits.max_observations} (each item and each "
                     f"service level counts what it covers; {FLAGS['max_observations']} "
                     "changes it)")


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {_short(repr(value), 60)}"


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
    """A text field. A plain scalar YAML reads as something else (`0x1F` as 31, `yes`
    as true, `1e3` as 1000.0) is refused with a hint to quote it, unless it reads back
    as exactly the text written (`2026`): a field is never silently renamed."""
    value = node.get(key)
    if value is None:
        if required:
            problems.add(node.line, f"missing required field '{key}'", item)
        return None
    if not isinstance(value, str):
        written = node.written_as(key)
        if isinstance(value, (bool, int, float)) and written is not None:
            if isinstance(value, bool) or str(value) != written.strip():
                what = "a boolean" if isinstance(value, bool) else "a number"
                problems.add(node.line_of(key), f"'{key}' must be text, but YAML reads "
                             f"{_short(written.strip())} as {what} ({_short(str(value))}); "
                             f"quote it: {key}: {safe.yaml_string(_short(written.strip(), 200))}",
                             item)
                return None
        else:
            problems.add(node.line_of(key), f"'{key}' must be text, found {_kind(value)}", item)
            return None
    text = str(value).strip()
    if required and not text:
        problems.add(node.line_of(key), f"'{key}' must not be empty", item)
        return None
    return text


def _identifier(node: Node, key: str, problems: _Problems, item: str | None) -> str | None:
    """A required id-like field, in NFC, without invisible characters (`identifiers`)."""
    value = _text(node, key, problems, item, required=True)
    if value is None:
        return None
    value = identifiers.normalise(value)
    problem = identifiers.id_problem(value)
    if problem is not None:
        problems.add(node.line_of(key), f"'{key}' {problem}", item)
        return None
    return value


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
    written = raw.get("id")
    item_id = _identifier(raw, "id", problems,
                          written.strip() if isinstance(written, str) else f"#{index + 1}")
    label = item_id or (written.strip() if isinstance(written, str) and written.strip()
                        else f"#{index + 1}")
    before = len(problems.lines)
    process = _text(raw, "process", problems, label, required=True)
    if process is not None and process not in catalogue.process_ids:
        problems.add(raw.line_of("process"),
                     f"unknown process '{process}'{suggest_process(process, catalogue.process_ids)}; "
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
        person = _text(raw, "person", problems, label, required=True)
        if person is not None:
            person = identifiers.normalise(person)
            problem = identifiers.name_problem(person)
            if problem is not None:
                problems.add(raw.line_of("person"), f"'person' {problem}", label)
        entry["person"] = person
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


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def parse_value(value: Any) -> float:
    """A finite number from YAML or CSV, at most MAX_MAGNITUDE in magnitude.

    Raises ValueError with a readable reason.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("value is empty")
    if isinstance(value, bool):
        raise ValueError(f"value {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"value {_short(str(value).strip())!r} is not a number") from None
    except OverflowError:  # an integer beyond any float
        number = math.inf
    if -MAX_MAGNITUDE <= number <= MAX_MAGNITUDE:   # False for NaN and infinities
        return number
    shown = _short(str(value).strip())
    if not math.isfinite(number):
        raise ValueError(f"value {shown!r} is not a finite number")
    raise ValueError(f"value {shown!r} is larger in magnitude than {MAX_MAGNITUDE:g}, "
                     "the largest an observation may hold")


def resolve_inside(root: Path, relative: str,
                   root_is_real: bool = False) -> tuple[Path | None, str | None]:
    """Whether `relative` names a regular file inside bundle folder `root`.

    Returns (path, None) for a regular file inside the bundle, or (None, reason)
    naming why it does not count. The check is made as the loader reads (from a
    descriptor of `root`, see `bundlefs`); the path returned is for display only:
    never open it by name. `root_is_real` is ignored (kept for callers).
    """
    try:
        with BundleFolder(root) as folder:
            folder.open(relative).close()
    except Refused as exc:
        return None, str(exc)
    except OSError as exc:
        return None, f"path cannot be used ('{relative}': {exc.strerror or exc})"
    return root / relative, None


_new_observation = functools.partial(tuple.__new__, Observation)
# A year of data repeats a few hundred dates across all of a bundle's files (and a batch
# worker's bundles): each is checked and parsed once. Entries are only ever added (so a
# lookup never misses under threads), up to a bound; past it, dates are parsed per file.
_DATES: dict[str, date] = {}
_DATES_LIMIT = 20_000


def _read_plain_csv(raw: bytes) -> list[Observation] | None:
    """Observations of CSV bytes in the plain form, or None when they are not (or are
    invalid): None sends the caller to the csv module's reader, which says what is wrong.

    The plain form: the header `date,value`, then lines `YYYY-MM-DD,value` ending in LF
    or CRLF (the last may lack it). Checked and converted by C-level calls on the whole
    file (split, slices, `float`, sets of dates): no Python code runs per line.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    header = _FAST_CSV_HEADER.match(text)
    if header is None:
        return None
    body = text[header.end():]
    if "\r" in body:   # only as part of a CRLF line end
        if body.count("\r") != body.count("\r\n"):
            return None
        body = body.replace("\r\n", "\n")
    lines = body.split("\n")
    if lines[-1] == "":
        lines.pop()   # the final line end (the last line may lack it)
    if not lines:
        return []
    # As many commas as lines: a line without one would need another with two, and a
    # comma anywhere but right after the date leaves a date or a value that is not one.
    if body.count(",") != len(lines):
        return None
    try:   # as parse_value reads a value: float() and the bound on magnitudes
        values = list(map(float, map(_VALUE_PART, lines)))
    except ValueError:   # not a number ("", "1e", "1,2", ...)
        return None
    # 1e999 parses, as infinity; 1e308 is too large (no NaN can be spelt with these
    # characters, so the extremes decide)
    if not (-MAX_MAGNITUDE <= min(values) and max(values) <= MAX_MAGNITUDE):
        return None
    dates = list(map(_DATE_PART, lines))
    known = _DATES
    new = set(dates).difference(known)
    if new:
        parsed: dict[str, date] = {}
        for day in new:
            if _FAST_CSV_DATE.fullmatch(day) is None:
                return None
            try:
                parsed[day] = date.fromisoformat(day)
            except ValueError:   # an impossible date such as 2026-02-30
                return None
        if len(known) + len(parsed) <= _DATES_LIMIT:
            known.update(parsed)
        else:
            known = {day: known.get(day) or parsed[day] for day in set(dates)}
    return list(map(_new_observation, zip(map(known.__getitem__, dates), values, strict=True)))


class CsvProblems(ValueError):
    """The bad lines of an observations file: the first `CSV_PROBLEMS_PER_FILE`, each
    `shown:LINE: what is wrong`, and how many more there are (`more`)."""

    def __init__(self, lines: list[str], more: int = 0) -> None:
        self.lines = lines
        self.more = more
        said = "; ".join(lines)
        super().__init__(said + (f"; and {more} more bad line(s) in this file" if more else ""))


# Bad lines shown per observations file (the rest are counted), and per bundle.
CSV_PROBLEMS_PER_FILE = 10
CSV_PROBLEMS_PER_BUNDLE = 50


class _BadLines:
    """The bad lines of one file, as they are found: the first few said, the rest counted."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.lines: list[str] = []
        self.more = 0

    def add(self, line: str) -> None:
        if len(self.lines) < self.cap:
            self.lines.append(line)
        else:
            self.more += 1

    def raise_if_any(self) -> None:
        if self.lines:
            raise CsvProblems(self.lines, self.more)


def _text_lines(handle: BinaryIO, shown: str, max_bytes: int,
                bad: _BadLines | None = None) -> Iterator[str]:
    """The lines of a binary file as text, counting bytes: UTF-8 errors get their line
    (recorded in `bad`, the line read as empty, when given; else raised)."""
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
            said = (f"{shown}:{number}: not UTF-8 text (byte {exc.start + 1} of the line); "
                    "save the file as UTF-8")
            if bad is None:
                raise ValueError(said) from None
            bad.add(said)
            yield "\n"   # the line stays counted; the reader sees it empty
            continue
        yield text.removeprefix("\ufeff") if number == 1 else text


def read_csv_observations(handle: BinaryIO, shown: str,
                          max_bytes: int = MAX_CSV_BYTES,
                          cap: int = CSV_PROBLEMS_PER_FILE) -> Iterator[Observation]:
    """Stream observations from CSV bytes (header `date,value`), one row at a time.

    `handle` is a binary file object (already open: never a path to open again). At
    most `max_bytes` are read, whatever the file claims to hold. A bad row does not stop
    the reading: every bad line is found (the first `cap` said, the rest counted) and
    raised together at the end; a bad header, a line over MAX_CSV_LINE bytes or more
    than `max_bytes` stop it at once.

    Raises:
        CsvProblems: (a ValueError) naming `shown` and each bad line: a bad row, value,
            date or encoding, or a line the csv module cannot read.
        ValueError: naming `shown` and the line, for a bad header, a line too long, or
            more than `max_bytes`.
        OSError: the file cannot be read.
    """
    bad = _BadLines(cap)
    reader = csv.reader(_text_lines(handle, shown, max_bytes, bad), strict=True)
    header = None
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ValueError(f"{shown}:1: malformed CSV: {exc}") from None
    if header is None:
        bad.raise_if_any()
        raise ValueError(f"{shown}:1: empty file; expected the header 'date,value'")
    if [h.strip().lower() for h in header] != ["date", "value"]:
        if bad.lines:   # a header that is not UTF-8
            bad.raise_if_any()
        raise ValueError(f"{shown}:1: header must be 'date,value', found "
                         f"'{_short(','.join(header), 200)}'")
    while True:
        before = reader.line_num
        try:
            row = next(reader, None)
        except CsvProblems:
            raise
        except ValueError as exc:   # too long a line, too many bytes: the reading stops
            if not bad.lines:
                raise
            raise CsvProblems([*bad.lines, str(exc)], bad.more) from None
        except csv.Error as exc:
            bad.add(f"{shown}:{reader.line_num}: malformed CSV: {exc}")
            if reader.line_num == before:   # nothing consumed: it would fail again
                break
            continue
        if row is None:
            break
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            bad.add(f"{shown}:{line}: expected 2 columns (date,value), found {len(row)}")
            continue
        try:
            observation = Observation(parse_date(row[0]), parse_value(row[1]))
        except ValueError as exc:
            bad.add(f"{shown}:{line}: {exc}")
            continue
        if not bad.lines:
            yield observation
    bad.raise_if_any()


class _HashingReader(io.RawIOBase):
    """The bytes of an open bundle file, hashed as they are read (at most `limit` + 1)."""

    def __init__(self, handle: OpenFile, limit: int) -> None:
        super().__init__()
        self._chunks = handle.chunks(limit + 1)   # one byte more: the reader sees "too large"
        self._pending = b""
        self.digest = hashlib.sha256()
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            try:
                self._pending = next(self._chunks)
            except (StopIteration, TooLarge):
                return 0
            self.digest.update(self._pending)
            self.read_bytes += len(self._pending)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


@dataclass
class _Read:
    """What was read of one file (by identity): its digest and, for a CSV, its rows."""

    sha256: str | None = None
    observations: tuple[Observation, ...] | ValueError | None = None
    size: int = 0


class _Files:
    """Reads the files of one bundle, relative to its open folder: each file once,
    documents and observation files within their budgets.

    Items naming the same file (by any path: same device and inode) share one
    reading, so a bundle cannot multiply work by naming one big file many times.
    Every path named is recorded with the digest of the bytes read (None: not a
    file of the bundle), for the report (`digests`).
    """

    def __init__(self, folder: BundleFolder, limits: Limits) -> None:
        self.folder = folder
        self.limits = limits
        self.csv_used = 0
        self.documents_used = 0
        self.read: dict[tuple[int, int], _Read] = {}
        self.digests: dict[str, str | None] = {}

    def check_csv_sizes(self, parsed: list[tuple[Node, dict[str, Any]]], manifest: Path,
                        problems: _Problems) -> None:
        """Refuse, from the sizes alone, CSV references beyond the budget: a bundle naming
        a big file many times is refused before any of it is read. (Reading checks the
        budget again: this is only the early answer.)"""
        total = 0
        for raw, entry in parsed:
            if entry["kind"] != "metric" or entry.get("observations") is not None:
                continue
            try:
                size = self.folder.size(entry["path"])   # not opened: only its size
            except (Refused, OSError):
                continue   # the item is judged (and rejected with its reason) later
            total += size
            if total > self.limits.max_csv_bytes:
                problems.add(raw.line_of("path"), "observations file: "
                             f"{manifest.parent / entry['path']}: its {size} bytes take the "
                             "bundle's observation files past the limit of "
                             f"{self.limits.max_csv_bytes} bytes in total "
                             f"({FLAGS['max_csv_bytes']} changes it; each item naming a file "
                             "counts its bytes)", entry["id"])

    def _open(self, relative: str) -> OpenFile:
        try:
            return self.folder.open(relative)
        except Refused:
            self.digests.setdefault(normalise(relative), None)
            raise

    def document(self, relative: str, shown: str) -> tuple[str, int]:
        """(sha256, bytes) of a documentation file of the bundle.

        Raises:
            Refused: not a regular file inside the bundle (the reason says why).
            ValueError: larger than a document may be, or than the bundle's
                documents together may be.
            OSError: the file cannot be read.
        """
        with self._open(relative) as handle:
            entry = self.read.setdefault(handle.identity, _Read())
            if entry.sha256 is None:
                limits = self.limits
                if handle.size > limits.max_document_bytes:
                    raise ValueError(
                        f"{shown}: {handle.size} bytes is larger than the limit of "
                        f"{limits.max_document_bytes} bytes for one document "
                        f"({FLAGS['max_document_bytes']} changes it)")
                room = limits.max_documents_bytes - self.documents_used
                if handle.size > room:
                    raise ValueError(
                        f"{shown}: its {handle.size} bytes take the bundle's documents past "
                        f"the limit of {limits.max_documents_bytes} bytes in total "
                        f"({FLAGS['max_documents_bytes']} changes it)")
                try:
                    entry.sha256, entry.size = handle.sha256(min(limits.max_document_bytes,
                                                                 room))
                except TooLarge:
                    raise ValueError(f"{shown}: grew past the limits on documents while it "
                                     "was read") from None
                self.documents_used += entry.size
        self.digests[normalise(relative)] = entry.sha256
        return entry.sha256, entry.size

    def observations(self, relative: str, shown: str) -> tuple[Observation, ...]:
        """The observations of a CSV of the bundle, sorted by date, then value.

        Every item naming a file counts its size against the budget (each item's
        observations are analysed on their own), checked from `fstat` before anything
        is read; the file itself is read and parsed once.

        Raises:
            Refused: not a regular file inside the bundle (the reason says why).
            ValueError: malformed file, or the bundle's observation files together
                exceed the limit on their size.
            OSError: the file cannot be read.
        """
        with self._open(relative) as handle:
            limit = self.limits.max_csv_bytes
            if self.csv_used + handle.size > limit:
                raise ValueError(
                    f"{shown}: its {handle.size} bytes take the bundle's observation files "
                    f"past the limit of {limit} bytes in total ({FLAGS['max_csv_bytes']} "
                    "changes it; each item naming a file counts its bytes)")
            self.csv_used += handle.size
            entry = self.read.setdefault(handle.identity, _Read())
            if entry.observations is None:
                try:
                    entry.observations = self._parse(handle, shown, entry)
                except ValueError as exc:
                    entry.observations = exc
        result = entry.observations
        if isinstance(result, ValueError):
            raise result
        self.digests[normalise(relative)] = entry.sha256
        return result

    def _parse(self, handle: OpenFile, shown: str, entry: _Read) -> tuple[Observation, ...]:
        size = handle.size
        room = self.limits.max_csv_bytes - self.csv_used + size   # it may grow after fstat
        if size <= FAST_CSV_MAX_BYTES:
            try:
                raw = handle.read(min(room, FAST_CSV_MAX_BYTES))
            except TooLarge:
                raw = None
            if raw is not None:
                digest = hashlib.sha256(raw).hexdigest()
                plain = _read_plain_csv(raw)
                rows = (plain if plain is not None
                        else list(read_csv_observations(io.BytesIO(raw), shown, room)))
                return self._keep(entry, digest, rows, shown)
        reader = _HashingReader(handle, room)
        rows = list(read_csv_observations(io.BufferedReader(reader, CHUNK), shown, room))
        return self._keep(entry, reader.digest.hexdigest(), rows, shown)

    @staticmethod
    def _keep(entry: _Read, digest: str, rows: list[Observation],
              shown: str) -> tuple[Observation, ...]:
        if entry.sha256 is not None and entry.sha256 != digest:
            raise ValueError(f"{shown}: the file changed while the bundle was read")
        entry.sha256 = digest
        rows.sort()   # by date, then value: once per file, whatever names it
        return tuple(rows)


def _judge(raw: Node, entry: dict[str, Any], root: Path, manifest: Path,
           start: date | None, end: date | None, problems: _Problems,
           cutoff: date | None = None, files: _Files | None = None) -> EvidenceItem:
    """Decide whether one structurally valid item counts, and why not.

    Files are read through `files` (relative to the bundle's open folder); `root` is
    only named in messages.
    """
    if files is None:
        raise ValueError("_judge needs the bundle's files")
    if entry["kind"] == "exclusion":
        # Whether an exclusion applies (expiry, mandatory processes) is for the rules.
        return EvidenceItem(id=entry["id"], process=entry["process"], kind="exclusion",
                            line=raw.line, status="accepted",
                            justification=entry["justification"], approver=entry["approver"],
                            expires=entry["expires"])
    common = dict(id=entry["id"], process=entry["process"], kind=entry["kind"], line=raw.line,
                  title=entry.get("title"), path=entry.get("path"),
                  effective=entry.get("effective"), expires=entry.get("expires"),
                  placeholder=any(is_placeholder_text(entry.get(key))
                                  for key in ("title", "person")))
    if entry["kind"] == "role":
        return EvidenceItem(status="accepted", role=entry["role"], person=entry["person"],
                            **common)
    if entry["kind"] == "documentation":
        try:
            actual, size = files.document(entry["path"], str(manifest.parent / entry["path"]))
        except Refused as exc:
            return EvidenceItem(status="rejected", reason=str(exc), sha256=entry["sha256"],
                                **common)
        except ValueError as exc:
            problems.add(raw.line_of("path"), f"document: {exc}", entry["id"])
            return EvidenceItem(status="rejected", reason=str(exc), sha256=entry["sha256"],
                                **common)
        except OSError as exc:
            return EvidenceItem(status="rejected", reason=f"file unreadable ({exc.strerror})",
                                sha256=entry["sha256"], **common)
        if entry["sha256"] and entry["sha256"] != actual:
            return EvidenceItem(status="rejected", sha256=actual, size=size,
                                reason=f"hash mismatch (declared {entry['sha256']}, "
                                f"file has {actual})", **common)
        return EvidenceItem(status="accepted", sha256=actual, size=size, **common)

    mtype = entry["metric_type"]
    common["specification"] = entry.get("specification")
    observations = entry["observations"]
    if observations is None:
        shown = str(manifest.parent / entry["path"])
        try:  # sorted by date, then value, once per file
            observations = files.observations(entry["path"], shown)
        except Refused as exc:
            return EvidenceItem(status="rejected", reason=f"observations {exc}",
                                metric_type=mtype, **common)
        except ValueError as exc:
            problems.add_csv(raw.line_of("path"), exc, entry["id"])
            return EvidenceItem(status="rejected", reason=str(exc), metric_type=mtype, **common)
        except OSError as exc:
            return EvidenceItem(status="rejected", metric_type=mtype,
                                reason=f"observations file unreadable ({exc.strerror})", **common)
    else:
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
