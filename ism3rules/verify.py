"""Does a report still match its inputs? Recompute the digests a report records.

A report (`ism3-report/1`) records the sha256 of the bundle manifest and of every
file it references, of the rule files and of each profile. Verifying recomputes
them from the bundle (and the rules and profiles) at hand and lists every
difference. Nothing is evaluated: a match means re-running gives the same inputs.
A report that lacks a digest it should have cannot be verified: what could not be
checked is listed, and there is no match. Digests prove which inputs a report was
made from, not who made it, nor that its verdicts were not edited.

A report is untrusted input too: it is read within a size and a nesting limit, and
a named pipe or a device given as the report or as the manifest is refused at once.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .archive import archive_format, unpacked
from .digests import FileDigest, combined_digest, file_digests, normalise
from .errors import EvidenceError, ReportError
from .evidence import MANIFEST, find_manifest, load_bundle, printable
from .inputfiles import REPORT, JsonProblem, parse_json, read_input
from .limits import DEFAULT_LIMITS, FLAGS, Limits
from .profiles import list_shipped, resolve_profile
from .report import SCHEMA
from .rules import load_rulebook

SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Difference:
    """One input that is not what the report was computed from."""

    subject: str        # a bundle path, "rules", "profile <id>", "report"
    change: str         # changed | added | removed | appeared | missing | edited
    detail: str


@dataclass(frozen=True)
class Verification:
    """The outcome of comparing a report with the inputs at hand."""

    files_checked: int
    differences: tuple[Difference, ...]
    unchanged: tuple[str, ...]          # what was checked and found equal
    not_checked: tuple[str, ...]        # what could not be checked, and why

    @property
    def matches(self) -> bool:
        """Whether every input was checked and is what the report was computed from."""
        return not self.differences and not self.not_checked


def load_report(path: Path, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Read a JSON report written by `ism3 evaluate --format json`, within `limits`
    (once, through the bounded reader of input files).

    Raises:
        ReportError: not a regular file, larger than `limits.max_report_bytes`, nested
            deeper than `limits.max_report_depth`, not strict JSON, not ism3-report/1,
            or without digests.
    """
    shown = printable(str(path))
    raw = read_input(path, REPORT, limits.max_report_bytes)
    try:
        document = parse_json(raw, limits.max_report_depth)
    except JsonProblem as exc:
        if "UTF-8" in str(exc):
            raise ReportError(f"{shown}: not UTF-8 text; give the JSON report "
                              "(`ism3 evaluate --format json`)") from exc
        if exc.line:
            raise ReportError(f"{shown}:{exc.line}: not JSON ({exc}); give the JSON report "
                              "(`ism3 evaluate --format json`), not another format") from exc
        if "nested" in str(exc):
            raise ReportError(f"{shown}: {exc} ({FLAGS['max_report_depth']} "
                              "changes it)") from None
        raise ReportError(f"{shown}: not strict JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        found = document.get("schema") if isinstance(document, dict) else None
        raise ReportError(f"{shown}: schema is {printable(repr(found))[:80]}; expected a "
                          f"'{SCHEMA}' JSON report")
    inputs = document.get("inputs")
    if not isinstance(inputs, dict) or not isinstance(inputs.get("bundle_files"), list):
        raise ReportError(f"{shown}: the report records no bundle digests (inputs.bundle_files); "
                          "it was written by an older ism3: evaluate the bundle again")
    return document


def _digest(value: Any) -> str | None:
    return value if isinstance(value, str) and SHA256.match(value) else None


def _recorded(document: dict[str, Any], path: Path,
              not_checked: list[str]) -> list[FileDigest]:
    """The bundle file digests of the report; an entry without its digest is noted."""
    recorded: list[FileDigest] = []
    for number, entry in enumerate(document["inputs"]["bundle_files"], start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ReportError(f"{printable(str(path))}: inputs.bundle_files entry #{number} is "
                              "malformed (expected {path, sha256})")
        sha = entry.get("sha256", "")
        if sha is not None and _digest(sha) is None:
            not_checked.append(f"{entry['path']}: the report records no valid sha256 for it")
            continue
        recorded.append(FileDigest(normalise(entry["path"]), sha))
    return recorded


def verify_report(document: dict[str, Any], bundle: Path, *, report_path: Path = Path("report"),
                  rules_dir: Path | None = None, profile_refs: Sequence[str] = (),
                  limits: Limits = DEFAULT_LIMITS) -> Verification:
    """Compare `document` (a loaded report) with `bundle`, the rules and the profiles.

    Raises:
        EvidenceError: the bundle folder or its manifest cannot be found or read, or
            the manifest is invalid although unchanged.
        ReportError: the report's digest section is malformed.
        RuleError, ProfileError: the rules or a given profile cannot be loaded.
    """
    if archive_format(bundle) is not None:   # checked as the folder it unpacks to
        with unpacked(bundle, limits) as done:
            result = verify_report(document, done.folder, report_path=report_path,
                                   rules_dir=rules_dir, profile_refs=profile_refs, limits=limits)
        return _with_archive(result, document, done.info.sha256)
    differences: list[Difference] = []
    unchanged: list[str] = []
    not_checked: list[str] = []
    recorded = _recorded(document, report_path, not_checked)
    inputs = document["inputs"]

    bundle_sha = _digest(inputs.get("bundle_sha256"))
    if bundle_sha is None:
        not_checked.append("the bundle digest: the report records none (inputs.bundle_sha256)")
    elif not not_checked and bundle_sha != combined_digest(recorded):
        differences.append(Difference("report", "edited", "the report's bundle digest does not "
                                      "match its own list of file digests"))

    root, manifest = find_manifest(bundle)
    invalid: EvidenceError | None = None
    try:
        current = load_bundle(bundle, limits=limits).files
    except EvidenceError as exc:
        # An edited manifest may no longer be valid; still say what changed.
        invalid = exc
        current = file_digests(root, manifest,
                               [f.path for f in recorded if f.path != manifest.name], limits)

    manifest_sha = _digest(inputs.get("bundle_manifest_sha256"))
    listed = {f.path: f.sha256 for f in recorded}
    if manifest_sha is None:
        not_checked.append(f"{manifest.name}: the report records no manifest digest "
                           "(inputs.bundle_manifest_sha256)")
    elif manifest.name not in listed:
        not_checked.append(f"{manifest.name}: the report does not list the manifest among "
                           "its bundle files")
    elif listed[manifest.name] != manifest_sha:
        differences.append(Difference("report", "edited", "the report's manifest digest does "
                                      "not match its own list of file digests"))

    before = listed
    now = {f.path: f.sha256 for f in current}
    for path in sorted(set(before) | set(now)):
        old, new = before.get(path), now.get(path)
        if path not in now:
            differences.append(Difference(path, "removed", "no longer referenced by the manifest"))
        elif path not in before:
            if any(note.startswith(f"{path}: ") for note in not_checked):
                continue
            differences.append(Difference(path, "added", "now referenced by the manifest"
                                          + (f" (sha256 {new[:12]}...)" if new else "")))
        elif old == new:
            unchanged.append(path)
        elif new is None and old is not None:
            differences.append(Difference(path, "missing", f"sha256 {old[:12]}... in the "
                                          "report; the file is now missing or unreadable"))
        elif old is None and new is not None:
            differences.append(Difference(path, "appeared", "missing when the report was made; "
                                          f"now present (sha256 {new[:12]}...)"))
        else:
            differences.append(Difference(path, "changed", f"sha256 {str(old)[:12]}... in the "
                                          f"report, now {str(new)[:12]}..."))
    if invalid is not None:
        if not differences and not not_checked:
            raise invalid
        first = str(invalid).splitlines()[0]
        not_checked.append(f"{MANIFEST} is no longer a valid bundle: {first}")

    rules_sha = _digest(inputs.get("rules_sha256"))
    if rules_sha is None:
        not_checked.append("rules: the report records no rules digest (inputs.rules_sha256)")
    else:
        digest = load_rulebook(rules_dir).digest
        if digest == rules_sha:
            unchanged.append("rules")
        else:
            differences.append(Difference("rules", "changed", f"sha256 {rules_sha[:12]}... in "
                                          f"the report, now {digest[:12]}..."))
    _verify_profiles(document, profile_refs, differences, unchanged, not_checked)
    if isinstance(inputs.get("bundle_archive"), dict):
        not_checked.append("the bundle archive: the report was made from an archive (sha256 "
                           f"{str(inputs['bundle_archive'].get('sha256'))[:64]}); give that "
                           "archive to check it")
    return Verification(len(current), tuple(differences), tuple(unchanged), tuple(not_checked))


def _with_archive(result: Verification, document: dict[str, Any],
                  sha256: str) -> Verification:
    """`result` (of the unpacked folder) with the archive itself checked, when the report
    records one (a report made from a folder says nothing about archives)."""
    recorded = document["inputs"].get("bundle_archive")
    not_checked = tuple(n for n in result.not_checked if not n.startswith("the bundle archive"))
    if recorded is None:
        return dataclasses.replace(result, not_checked=not_checked)
    sha = _digest(recorded.get("sha256")) if isinstance(recorded, dict) else None
    if sha is None:
        return dataclasses.replace(result, not_checked=(*not_checked, "the bundle archive: the "
                                   "report records no valid sha256 for it (inputs.bundle_archive)"))
    if sha == sha256:
        return dataclasses.replace(result, not_checked=not_checked,
                                   unchanged=(*result.unchanged, "bundle archive"))
    return dataclasses.replace(result, not_checked=not_checked, differences=(
        *result.differences, Difference("bundle archive", "changed", f"sha256 {sha} in the "
                                        f"report, now {sha256} (the files inside are checked "
                                        "one by one above)")))


def _verify_profiles(document: dict[str, Any], profile_refs: Sequence[str],
                     differences: list[Difference], unchanged: list[str],
                     not_checked: list[str]) -> None:
    """Each profile the report was evaluated against, by its recorded digest."""
    given: dict[str, str] = {}
    for ref in profile_refs:
        prof = resolve_profile(ref)
        given[prof.id] = prof.sha256
    shipped = {p.id: p.sha256 for p in list_shipped()}
    profiles = document.get("profiles")
    if not isinstance(profiles, list):
        not_checked.append("profiles: the report lists none (profiles)")
        return
    listed = document["inputs"].get("profiles")
    inputs = ({e.get("id"): e.get("sha256") for e in listed if isinstance(e, dict)}
              if isinstance(listed, list) else None)
    if inputs is None:
        not_checked.append("profiles: the report records no profile digests (inputs.profiles)")
    for number, entry in enumerate(profiles, start=1):
        pid = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(pid, str) or not pid:
            not_checked.append(f"profile #{number}: the report gives it no id")
            continue
        sha = _digest(entry.get("sha256"))
        if sha is None:
            not_checked.append(f"profile {pid}: the report records no digest for it (sha256)")
            continue
        if inputs is not None and inputs.get(pid) != sha:
            differences.append(Difference(f"profile {pid}", "edited", "the profile's digest "
                                          "differs from the report's own inputs.profiles"))
            continue
        known = given.get(pid) or shipped.get(pid)
        if known is None:
            not_checked.append(f"profile {pid}: not shipped; give it with --profile PATH")
        elif known == sha:
            unchanged.append(f"profile {pid}")
        else:
            differences.append(Difference(f"profile {pid}", "changed", f"sha256 {sha[:12]}... in "
                                          f"the report, now {known[:12]}..."))
    if inputs is not None:
        for pid in sorted(set(inputs) - {e.get("id") for e in profiles if isinstance(e, dict)},
                          key=str):
            differences.append(Difference(f"profile {pid}", "edited", "listed in the report's "
                                          "inputs.profiles but not among its profiles"))


__all__ = ["Difference", "Verification", "load_report", "verify_report"]
