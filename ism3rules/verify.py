"""Does a report still match its inputs? Recompute the digests a report records.

A report (`ism3-report/1`) records the sha256 of the bundle manifest and of every
file it references, of the rule files and of each profile. Verifying recomputes
them from the bundle (and the rules and profiles) at hand and lists every
difference. Nothing is evaluated: a match means re-running gives the same inputs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .digests import FileDigest, combined_digest, file_digests
from .errors import EvidenceError, ReportError
from .evidence import MANIFEST, find_manifest, load_bundle
from .profiles import list_shipped, resolve_profile
from .report import SCHEMA
from .rules import load_rulebook


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
        """Whether every checked input is what the report was computed from."""
        return not self.differences


def load_report(path: Path) -> dict[str, Any]:
    """Read a JSON report written by `ism3 evaluate --format json`.

    Raises:
        ReportError: not readable, not JSON, not ism3-report/1, or without digests.
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the report ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path}: not UTF-8 text; give the JSON report "
                          "(`ism3 evaluate --format json`)") from exc
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}:{exc.lineno}: not JSON ({exc.msg}); give the JSON report "
                          "(`ism3 evaluate --format json`), not another format") from exc
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        found = document.get("schema") if isinstance(document, dict) else None
        raise ReportError(f"{path}: schema is {found!r}; expected a '{SCHEMA}' JSON report")
    inputs = document.get("inputs")
    if not isinstance(inputs, dict) or not isinstance(inputs.get("bundle_files"), list):
        raise ReportError(f"{path}: the report records no bundle digests (inputs.bundle_files); "
                          "it was written by an older ism3: evaluate the bundle again")
    return document


def _recorded(document: dict[str, Any], path: Path) -> list[FileDigest]:
    try:
        return [FileDigest(str(f["path"]), f.get("sha256"))
                for f in document["inputs"]["bundle_files"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ReportError(f"{path}: inputs.bundle_files is malformed ({exc})") from exc


def verify_report(document: dict[str, Any], bundle: Path, *, report_path: Path = Path("report"),
                  rules_dir: Path | None = None, profile_refs: Sequence[str] = ()) -> Verification:
    """Compare `document` (a loaded report) with `bundle`, the rules and the profiles.

    Raises:
        EvidenceError: the bundle folder or its manifest cannot be found, or the
            manifest is invalid although unchanged.
        ReportError: the report's digest section is malformed.
        RuleError, ProfileError: the rules or a given profile cannot be loaded.
    """
    recorded = _recorded(document, report_path)
    inputs = document["inputs"]
    differences: list[Difference] = []
    unchanged: list[str] = []
    not_checked: list[str] = []

    if inputs.get("bundle_sha256") and inputs["bundle_sha256"] != combined_digest(recorded):
        differences.append(Difference("report", "edited", "the report's bundle digest does not "
                                      "match its own list of file digests"))

    root, manifest = find_manifest(bundle)
    invalid: EvidenceError | None = None
    try:
        paths = [i.path for i in load_bundle(bundle).items if i.path]
    except EvidenceError as exc:
        # An edited manifest may no longer be valid; still say what changed.
        invalid = exc
        paths = [f.path for f in recorded if f.path != MANIFEST]
    current = file_digests(root, manifest, paths)

    before = {f.path: f.sha256 for f in recorded}
    now = {f.path: f.sha256 for f in current}
    for path in sorted(set(before) | set(now)):
        old, new = before.get(path), now.get(path)
        if path not in now:
            differences.append(Difference(path, "removed", "no longer referenced by the manifest"))
        elif path not in before:
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
        if not differences:
            raise invalid
        first = str(invalid).splitlines()[0]
        not_checked.append(f"{MANIFEST} is no longer a valid bundle: {first}")

    rules_sha = inputs.get("rules_sha256")
    if rules_sha:
        digest = load_rulebook(rules_dir).digest
        if digest == rules_sha:
            unchanged.append("rules")
        else:
            differences.append(Difference("rules", "changed", f"sha256 {rules_sha[:12]}... in "
                                          f"the report, now {digest[:12]}..."))
    given: dict[str, str] = {}
    for ref in profile_refs:
        prof = resolve_profile(ref)
        given[prof.id] = prof.sha256
    shipped = {p.id: p.sha256 for p in list_shipped()}
    for entry in document.get("profiles", []):
        pid, sha = entry.get("id"), entry.get("sha256")
        if not pid or not sha:
            continue
        known = given.get(pid) or shipped.get(pid)
        if known is None:
            not_checked.append(f"profile {pid}: not shipped; give it with --profile PATH")
        elif known == sha:
            unchanged.append(f"profile {pid}")
        else:
            differences.append(Difference(f"profile {pid}", "changed", f"sha256 {sha[:12]}... in "
                                          f"the report, now {known[:12]}..."))
    return Verification(len(current), tuple(differences), tuple(unchanged), tuple(not_checked))


__all__ = ["Difference", "Verification", "load_report", "verify_report"]
