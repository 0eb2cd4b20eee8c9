"""Reports given back to the tool (diff, history): read strictly, checked against themselves.

A report file is untrusted input. It is read by the one bounded reader of input files
(`inputfiles`: a regular file only, within a size limit, once), parsed as strict JSON
(no duplicate keys, no NaN or Infinity, nesting bounded), and must be an `ism3-report/1`
document with the shape `ism3 evaluate --format json` writes. Then every digest it
records that can be recomputed from the report alone is recomputed:

- `inputs.bundle_sha256` is the digest of the `inputs.bundle_files` list;
- `inputs.bundle_manifest_sha256` is the digest the list gives the manifest;
- `inputs.profiles` names the same profiles, with the same sha256, as `profiles`;
- each process's `evidence_sha256` is the digest the list gives the item's file;
- each process's `rank` is the rank of its `capability`, each profile's
  `achieved_level` is the number of leading levels met and `max_level` the number
  of levels, and every item a process counts is an accepted evidence entry.

A report edited by hand, or cut short, fails these checks; a forger who recomputes
every digest does not (only `ism3 verify` against the bundle, or a signature, can
tell). The identity of a report is the sha256 of its canonical JSON: exactly the
bytes `ism3 evaluate --format json` writes, so `sha256sum report.json` gives it.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from .errors import ReportError

SCHEMA = "ism3-report/1"      # report.SCHEMA, not imported: reading the history needs no loaders

MAX_REPORT_BYTES = 64 * 1024 * 1024   # limits.Limits.max_report_bytes, not imported (as SCHEMA)
MAX_REPORT_DEPTH = 32                 # limits.Limits.max_report_depth
CAPABILITIES = ("none", "initial", "managed", "defined", "controlled", "optimized")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_PROBLEMS = 10
_NAMES = {str: "a string", dict: "an object", list: "a list", int: "an integer",
          bool: "a boolean"}
_REMEDY = ("use the report as `ism3 evaluate --format json` wrote it, or evaluate the bundle "
           "again")


def canonical_json(document: dict[str, Any]) -> str:
    """The report as `ism3 evaluate --format json` writes it (indented, key order kept)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def report_sha256(document: dict[str, Any]) -> str:
    """The identity of a report: the sha256 of its canonical JSON (UTF-8)."""
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def parse_report(raw: bytes, source: str, max_depth: int = MAX_REPORT_DEPTH) -> dict[str, Any]:
    """Parse and check the bytes of a report file; `source` names it in messages.

    Raises:
        ReportError: not strict UTF-8 JSON (duplicate keys, NaN, infinities refused),
            nested deeper than `max_depth`, not an ism3-report/1 document of the
            expected shape, or a report whose digests do not match its own content.
    """
    from .inputfiles import JsonProblem, parse_json

    try:
        document = parse_json(raw, max_depth)
    except JsonProblem as exc:
        if "UTF-8" in str(exc):
            raise ReportError(f"{source}: not UTF-8 text; give the JSON report "
                              "(`ism3 evaluate --format json`)") from exc
        if exc.line:
            what = "cut short (truncated)" if exc.truncated else f"not JSON ({exc})"
            raise ReportError(f"{source}:{exc.line}: the report is {what}; give the whole JSON "
                              "report (`ism3 evaluate --format json`), not another "
                              "format") from exc
        if "nested" in str(exc):
            raise ReportError(f"{source}: JSON nested too deeply to be an ism3 report ({exc}; "
                              "--max-report-depth changes it)") from exc
        raise ReportError(f"{source}: not a report written by ism3: {exc}; {_REMEDY}") from exc
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        found = document.get("schema") if isinstance(document, dict) else None
        raise ReportError(f"{source}: schema is {str(repr(found))[:80]}; expected an '{SCHEMA}' "
                          "JSON report (`ism3 evaluate --format json`)")
    check_report(document, source)
    return document


def load_report_file(path: Path, max_bytes: int = MAX_REPORT_BYTES,
                     max_depth: int = MAX_REPORT_DEPTH) -> dict[str, Any]:
    """Read (once, through the bounded reader of input files), parse and check the report
    file at `path` (see `parse_report`).

    Raises:
        ReportError: the file is missing, not a regular file (a pipe or a device is never
            opened), larger than `max_bytes`, or fails `parse_report`.
    """
    from .inputfiles import REPORT, read_input

    raw = read_input(path, REPORT, max_bytes)
    return parse_report(raw, str(path), max_depth)


class _Checker:
    """Collects the problems of one report so they can be reported together."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.shape: list[str] = []
        self.digests: list[str] = []

    def need(self, container: Any, key: str, kind: type, where: str,
             nullable: bool = False) -> Any:
        """`container[key]` when it is a `kind` (or None when `nullable`), else None noted."""
        value = container.get(key) if isinstance(container, dict) else None
        if value is None and nullable and isinstance(container, dict) and key in container:
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            self.shape.append(f"{where + '.' if where else ''}{key}: missing or not "
                              f"{_NAMES[kind]}")
            return None
        return value

    def sha(self, value: Any, where: str, nullable: bool = False) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, str) or not _HEX64.fullmatch(value):
            self.shape.append(f"{where}: not a sha256 (64 lowercase hex digits)")

    def day(self, value: Any, where: str) -> None:
        if value is None:
            return
        try:
            if not isinstance(value, str) or not _DATE.fullmatch(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            self.shape.append(f"{where}: not a date (YYYY-MM-DD)")

    def raise_if_any(self) -> None:
        if self.shape:
            lines = self.shape[:_MAX_PROBLEMS]
            more = len(self.shape) - len(lines)
            raise ReportError("\n".join(
                [f"{self.source}: not a complete ism3-report/1 document ({_REMEDY}):"]
                + [f"{self.source}: {line}" for line in lines]
                + ([f"{self.source}: ... and {more} more"] if more else [])))
        if self.digests:
            lines = self.digests[:_MAX_PROBLEMS]
            more = len(self.digests) - len(lines)
            raise ReportError("\n".join(
                [f"{self.source}: the report does not match its own digests: it was changed "
                 f"after ism3 wrote it ({_REMEDY}):"]
                + [f"{self.source}: {line}" for line in lines]
                + ([f"{self.source}: ... and {more} more"] if more else [])))


def check_report(document: dict[str, Any], source: str) -> None:
    """Check the shape of an ism3-report/1 document and the digests it can recompute.

    Raises:
        ReportError: every problem found (up to ten), one per line, each naming
            the field, and what to do.
    """
    c = _Checker(source)
    tool = c.need(document, "tool", dict, "")
    if tool is not None:
        c.need(tool, "name", str, "tool")
        c.need(tool, "version", str, "tool")
    org = c.need(document, "organization", dict, "")
    if org is not None:
        if not c.need(org, "id", str, "organization"):
            c.shape.append("organization.id: empty")
        c.need(org, "name", str, "organization")
    assessment = c.need(document, "assessment", dict, "")
    if assessment is not None:
        period = c.need(assessment, "period", dict, "assessment", nullable=True)
        if period is not None:
            c.day(period.get("start"), "assessment.period.start")
            c.day(period.get("end"), "assessment.period.end")
        c.day(assessment.get("as_of"), "assessment.as_of")
    inputs = c.need(document, "inputs", dict, "")
    files: dict[str, str | None] = {}
    if inputs is not None:
        c.sha(inputs.get("rules_sha256"), "inputs.rules_sha256")
        c.sha(inputs.get("bundle_sha256"), "inputs.bundle_sha256")
        c.sha(inputs.get("bundle_manifest_sha256"), "inputs.bundle_manifest_sha256",
              nullable=True)
        for i, entry in enumerate(c.need(inputs, "bundle_files", list, "inputs") or []):
            where = f"inputs.bundle_files[{i}]"
            path = c.need(entry, "path", str, where)
            if isinstance(entry, dict):
                c.sha(entry.get("sha256"), f"{where}.sha256", nullable=True)
            if path is not None:
                files[path] = entry.get("sha256")
        for i, entry in enumerate(c.need(inputs, "profiles", list, "inputs") or []):
            c.need(entry, "id", str, f"inputs.profiles[{i}]")
            if isinstance(entry, dict):
                c.sha(entry.get("sha256"), f"inputs.profiles[{i}].sha256")
    processes = c.need(document, "processes", dict, "") or {}
    if isinstance(document.get("processes"), dict) and not processes:
        c.shape.append("processes: empty")
    for pid, proc in processes.items():
        where = f"processes.{pid}"
        capability = c.need(proc, "capability", str, where)
        if capability is not None and capability not in CAPABILITIES:
            c.shape.append(f"{where}.capability: unknown capability {capability!r}")
        c.need(proc, "rank", int, where)
        c.need(proc, "evidence", list, where)
    profiles = c.need(document, "profiles", list, "") or []
    for i, prof in enumerate(profiles):
        where = f"profiles[{i}]"
        c.need(prof, "id", str, where)
        c.need(prof, "achieved_level", int, where)
        c.need(prof, "max_level", int, where)
        for j, level in enumerate(c.need(prof, "levels", list, where) or []):
            c.need(level, "level", int, f"{where}.levels[{j}]")
            c.need(level, "met", bool, f"{where}.levels[{j}]")
        if isinstance(prof, dict):
            c.sha(prof.get("sha256"), f"{where}.sha256", nullable=True)
    evidence = c.need(document, "evidence", list, "") or []
    for i, item in enumerate(evidence):
        c.need(item, "id", str, f"evidence[{i}]")
        c.need(item, "status", str, f"evidence[{i}]")
    if "findings" in document:
        for i, finding in enumerate(c.need(document, "findings", list, "") or []):
            if not isinstance(finding, dict):
                c.shape.append(f"findings[{i}]: not an object")
    c.raise_if_any()
    _check_digests(c, document, files)
    c.raise_if_any()


def _check_digests(c: _Checker, document: dict[str, Any], files: dict[str, str | None]) -> None:
    """Recompute what the report says about itself (its shape is already checked)."""
    from .digests import FileDigest, combined_digest, normalise

    inputs = document["inputs"]
    combined = combined_digest(FileDigest(p, s) for p, s in files.items())
    if inputs["bundle_sha256"] != combined:
        c.digests.append("inputs.bundle_sha256 is not the digest of inputs.bundle_files")
    manifest = inputs.get("bundle_manifest_sha256")
    if manifest is not None and files.get("bundle.yaml", manifest) != manifest:
        c.digests.append("inputs.bundle_manifest_sha256 differs from the sha256 of bundle.yaml "
                         "in inputs.bundle_files")
    declared = [(p["id"], p["sha256"]) for p in inputs["profiles"]]
    used = [(p["id"], p.get("sha256")) for p in document["profiles"]]
    if declared != used:
        c.digests.append("inputs.profiles does not list the profiles of the report with their "
                         "sha256")
    entries: dict[str, dict[str, Any]] = {}
    for item in document["evidence"]:
        if item["id"] in entries:
            c.digests.append(f"evidence: item {item['id']!r} listed twice")
        entries[item["id"]] = item
    for pid, proc in document["processes"].items():
        if proc["rank"] != CAPABILITIES.index(proc["capability"]):
            c.digests.append(f"processes.{pid}: rank {proc['rank']} is not the rank of "
                             f"capability {proc['capability']!r}")
        for item_id in proc["evidence"]:
            item = entries.get(item_id) if isinstance(item_id, str) else None
            if item is None or item.get("status") != "accepted":
                c.digests.append(f"processes.{pid}: counts {item_id!r}, which is not an "
                                 "accepted evidence item of the report")
        shas = proc.get("evidence_sha256") or {}
        if not isinstance(shas, dict):
            c.digests.append(f"processes.{pid}.evidence_sha256: not an object")
            continue
        for item_id, sha in shas.items():
            path = (entries.get(item_id) or {}).get("path")
            if not isinstance(path, str) or files.get(normalise(path), "?") != sha:
                c.digests.append(f"processes.{pid}.evidence_sha256.{item_id}: not the sha256 "
                                 "inputs.bundle_files gives its file")
    for prof in document["profiles"]:
        levels = prof["levels"]
        leading = 0
        for level in levels:
            if not level["met"]:
                break
            leading = level["level"]
        if prof["max_level"] != len(levels):
            c.digests.append(f"profile {prof['id']}: max_level {prof['max_level']} but "
                             f"{len(levels)} levels")
        if prof["achieved_level"] != leading:
            c.digests.append(f"profile {prof['id']}: achieved_level {prof['achieved_level']} "
                             f"but the levels met say {leading}")


__all__ = ["MAX_REPORT_BYTES", "MAX_REPORT_DEPTH", "canonical_json", "check_report", "load_report_file",
           "parse_report", "report_sha256"]
