"""`ism3 init`: the skeleton of an evidence bundle for an organization starting out.

What each process needs is not decided here: an empty bundle is evaluated against
the profile with the rules, and each gap of the target level becomes placeholder
items (see `gap.evidence_item_lines`). Editing a rule changes the skeleton.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from .assessment import assess
from .catalogue import Catalogue, load_catalogue
from .errors import EvidenceError, ProfileError
from .evidence import ORG_ID, EvidenceItem, load_bundle
from .gap import PLACEHOLDER, additions, new_item_lines
from .profiles import Profile
from .report import to_document
from .rules import Rulebook

FOLDERS = ("docs", "metrics")


def is_placeholder(item: EvidenceItem) -> bool:
    """Whether an item is still an unfilled placeholder written by `ism3 init` or `ism3 gap`."""
    return not item.accepted and (item.title or "").startswith(PLACEHOLDER)


def _org_id(directory: Path) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", directory.resolve().name).strip("-")
    return slug or "organization"


def skeleton(profile: Profile, level: int, rulebook: Rulebook, org_id: str, org_name: str,
             catalogue: Catalogue | None = None) -> str:
    """The text of bundle.yaml: one placeholder item per piece of evidence that
    `profile` level `level` needs, starting from nothing.

    Raises:
        ProfileError: the profile has no such level.
    """
    catalogue = catalogue or load_catalogue()
    if not ORG_ID.match(org_id):
        raise EvidenceError(f"organization id '{org_id}' may hold only letters, digits, '-' "
                            "and '_'")
    if not 1 <= level <= profile.max_level:
        raise ProfileError(f"profile '{profile.id}' has levels 1..{profile.max_level}; "
                           f"there is no level {level}")
    with tempfile.TemporaryDirectory(prefix="ism3-init-") as tmp:
        empty = Path(tmp) / "bundle.yaml"
        empty.write_text(f"schema: ism3-evidence/1\norganization: {{id: {org_id}, name: x}}\n"
                         "evidence: []\n", encoding="utf-8")
        document = to_document(assess(load_bundle(Path(tmp), catalogue), [profile], rulebook,
                                      catalogue))
    target = document["profiles"][0]["levels"][level - 1]
    raised_at: dict[tuple[str, str], int] = {}   # (process, capability) -> level naming it
    for lvl in profile.levels[:level]:
        for req in lvl.requires:
            raised_at.setdefault((req.process, req.capability), lvl.level)
    name = org_name.replace('"', "'")
    lines = [
        f"# Evidence bundle skeleton written by `ism3 init` for profile {profile.id} "
        f"({profile.source}),",
        f"# level {level} ({target['name']}). Every item is a placeholder: create the file it "
        "names",
        "# (documents under docs/, metric CSVs with the header date,value under metrics/) and",
        "# replace the TODO texts; `ism3 validate` lists the placeholders still to fill.",
        "# A process that is out of scope can be excluded instead: an item of kind exclusion",
        "# with process, justification, approver and optional expires (YYYY-MM-DD)"
        + (f"; not allowed for {', '.join(profile.mandatory)} in this profile."
           if profile.mandatory else "."),
        "schema: ism3-evidence/1",
        "organization:",
        f"  id: {org_id}",
        f'  name: "{name}"',
        "# assessment:        # recommended: the evidence window and the assessment date",
        "#   period: {start: 2026-01-01, end: 2026-06-30}",
        "#   as_of: 2026-07-15",
        "evidence:",
    ]
    ids: set[str] = set()
    paths: set[str] = set()
    for gap in target["gaps"]:
        process = catalogue.process(gap["process"])
        lines.append("")
        since = raised_at.get((process.id, gap["required"]), level)
        lines.append(f"  # {process.id} {process.name}: {gap['required']} from level {since}; "
                     f"evidence: {', '.join(gap['missing'])}")
        if gap.get("rationale"):
            lines.append(f"  # why: {gap['rationale']}")
        for item in additions(gap):
            lines.extend(new_item_lines(process.id, process.name, item, ids, paths, catalogue))
    if not target["gaps"]:
        lines.append("  []")
    return "\n".join(lines) + "\n"


def write_skeleton(directory: Path, text: str) -> Path:
    """Create `directory` (if needed) with bundle.yaml and empty docs/ and metrics/.

    Raises:
        EvidenceError: `directory` is a file, or a folder that is not empty.
    """
    if directory.exists():
        if not directory.is_dir():
            raise EvidenceError(f"{directory}: is a file; give a new or empty folder")
        if any(directory.iterdir()):
            raise EvidenceError(f"{directory}: folder is not empty; refusing to overwrite it "
                                "(give a new or empty folder)")
    directory.mkdir(parents=True, exist_ok=True)
    for name in FOLDERS:
        (directory / name).mkdir()
    manifest = directory / "bundle.yaml"
    manifest.write_text(text, encoding="utf-8")
    return manifest


def default_org_id(directory: Path) -> str:
    """An organization id from the folder name (letters, digits, '-' and '_')."""
    return _org_id(directory)
