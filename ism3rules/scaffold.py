"""`ism3 init`: the skeleton of an evidence bundle for an organization starting out.

What each process needs is not decided here: an empty bundle is evaluated against
the profile with the rules, and each gap of the target level becomes placeholder
items (see `gap.evidence_item_lines`). Editing a rule changes the skeleton.
"""

from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path

from .assessment import assess
from .catalogue import Catalogue, load_catalogue
from .errors import EvidenceError, ProfileError
from .evidence import ORG_ID, EvidenceItem, load_bundle
from .gap import additions, new_item_lines
from .profiles import Profile
from .report import to_document
from .rules import Rulebook

FOLDERS = ("docs", "metrics")
SCHEMA_FILE = "bundle.schema.json"   # beside bundle.yaml, for editors (yaml-language-server)
MODELINE = f"# yaml-language-server: $schema={SCHEMA_FILE}"


# What to do about a rejected item, by what its reason says (the loader's and the rules'
# wording), first match wins. The reasons an unfilled placeholder has are marked True.
_ADVICE: tuple[tuple[re.Pattern[str], str, bool], ...] = tuple(
    (re.compile(pattern), advice, placeholder) for pattern, advice, placeholder in (
        (r"^(observations )?file missing \(.*; did you mean ", "correct the path to the file "
         "suggested: a bundle's paths are exact, case included", False),
        (r"^observations file missing", "create the CSV file each names (header date,value), "
         "inside the bundle folder", True),
        (r"^file missing", "create the file each names, inside the bundle folder", True),
        (r"^no observations$", "add observations: inline {date, value} entries or a CSV file "
         "with the header date,value", True),
        # documents and roles admitted by rules (rules/evidence.yaml): empty, or still TODO
        (r"\bsize 0 <= 0\b.*\bplaceholder 1\b", "put the document in the file each names "
         "(it is empty) and replace the TODO title with the document's own", True),
        (r"\bplaceholder 1\b", "replace the TODO text (title, or a role's person) with the "
         "real one once the item is filled in: an item still marked TODO does not count", True),
        (r"\bsize 0 <= 0\b", "the file each names is empty: put the document in it (an empty "
         "document does not count)", False),
        (r"coverage", "report the metric in more of its periods (see its specification's "
         "frequency), or correct the frequency", False),
        (r"^no observation in period", "add observations dated inside the assessment period",
         False),
        (r"^no observation up to", "add observations dated on or before the assessment date",
         False),
        (r"^hash mismatch", "the file changed after its sha256 was recorded: check it; if "
         "the new content is right, delete the item's sha256 and run `ism3 seal`", False),
        (r"^expired on", "renew the item (a current version with its own date and expires), "
         "or remove it", False),
        (r"^not yet in force", "the item's date is after the assessment date: correct the date, "
         "or assess later (--as-of)", False),
        (r"outside the bundle", "put the file inside the bundle folder and name it by a "
         "relative path", False),
        (r"not a regular file", "name a file, not a folder or a device", False),
    ))


def rejection_advice(reason: str | None) -> str | None:
    """What to do about an item rejected for `reason`; None when there is no general advice."""
    for pattern, advice, _ in _ADVICE:
        if pattern.search(reason or ""):
            return advice
    return None


def is_placeholder(item: EvidenceItem) -> bool:
    """Whether an item is still an unfilled placeholder written by `ism3 init` or `ism3 gap`:
    rejected because its file or observations are still missing, with its `TODO:` title.

    (An item rejected for another reason, e.g. a metric reported too rarely, is not.)
    """
    return (not item.accepted and has_placeholder_text(item)
            and any(placeholder and pattern.search(item.reason or "")
                    for pattern, _, placeholder in _ADVICE))


def has_placeholder_text(item: EvidenceItem) -> bool:
    """Whether an item's title (metric name, role person) still starts with the `TODO:` of
    a skeleton (as the loader found: `EvidenceItem.placeholder`)."""
    return item.placeholder


def _org_id(directory: Path) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", directory.resolve().name).strip("-")
    return slug or "organization"


def skeleton(profile: Profile, level: int, rulebook: Rulebook, org_id: str, org_name: str,
             catalogue: Catalogue | None = None,
             period: tuple[date, date] | None = None) -> str:
    """The text of bundle.yaml: one placeholder item per piece of evidence that
    `profile` level `level` needs, starting from nothing, and the assessment period
    (`period`, or a TODO asking for one).

    Raises:
        ProfileError: the profile has no such level.
        EvidenceError: the organization id is not a valid id, or the period ends
            before it starts.
    """
    catalogue = catalogue or load_catalogue()
    if not ORG_ID.match(org_id):
        raise EvidenceError(f"organization id '{org_id}' may hold only letters, digits, '-' "
                            "and '_'")
    if period is not None and period[0] > period[1]:
        raise EvidenceError(f"the assessment period starts ({period[0]}) after it ends "
                            f"({period[1]})")
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
        MODELINE,
        f"# Evidence bundle skeleton written by `ism3 init` for profile {profile.id} "
        f"({profile.source}),",
        f"# level {level} ({target['name']}). Every item is a placeholder: create the file it "
        "names",
        "# (documents under docs/, metric CSVs with the header date,value under metrics/) and",
        "# replace the TODO texts: an empty document, or one still titled TODO, does not",
        "# count. `ism3 validate` lists the placeholders still to fill.",
        "# A process that is out of scope can be excluded instead: an item of kind exclusion",
        "# with process, justification, approver and optional expires (YYYY-MM-DD)"
        + (f"; not allowed for {', '.join(profile.mandatory)} in this profile."
           if profile.mandatory else "."),
        "schema: ism3-evidence/1",
        "organization:",
        f"  id: {org_id}",
        f'  name: "{name}"',
        *_assessment_lines(period),
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


def _assessment_lines(period: tuple[date, date] | None) -> list[str]:
    """The `assessment:` block: the period given, or a TODO asking for one (valid YAML:
    an assessment with nothing in it is no assessment period)."""
    if period is not None:
        return ["assessment:",
                "  # the evidence window: a metric counts only with observations inside it, and",
                "  # documents, roles and exclusions are judged at its end (or at as_of, if added)",
                f"  period: {{start: {period[0]}, end: {period[1]}}}",
                "  # as_of: YYYY-MM-DD   # optional: the assessment date (default: the period's end)"]
    return ["assessment:",
            "  # TODO: the evidence window this assessment covers, e.g. the last 12 months. Until",
            "  # it is set, a metric counts with a single observation from any date and no",
            "  # reporting cadence is checked (`ism3 validate` warns). Replace these comments with:",
            "  #   period: {start: YYYY-MM-DD, end: YYYY-MM-DD}",
            "  #   as_of: YYYY-MM-DD   # optional: the assessment date (default: the period's end)"]


def write_skeleton(directory: Path, text: str, schema: str | None = None) -> Path:
    """Create `directory` (if needed) with bundle.yaml, empty docs/ and metrics/, and
    `schema` (the bundle JSON Schema) as bundle.schema.json when given.

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
    if schema is not None:
        (directory / SCHEMA_FILE).write_text(schema, encoding="utf-8")
    return manifest


def default_org_id(directory: Path) -> str:
    """An organization id from the folder name (letters, digits, '-' and '_')."""
    return _org_id(directory)
