"""Helpers shared by the report formats: escaping for each target, and common views.

Every string that comes from a bundle or a profile (organization name, evidence id,
title, path, reason, ...) is untrusted: it reaches a browser, a spreadsheet, an XML
parser or a Markdown renderer only through the escaping function of that format,
which is the output-neutralising layer's (`ism3rules.safe`).
"""

from __future__ import annotations

import uuid
from typing import Any

from .. import safe

# Every escaping function of the formats is the output-neutralising layer's
# (ism3rules/safe.py), under the names the formats have always used.
text = safe.line            # one line of display text; invisible characters shown escaped
h = safe.html               # HTML text and attribute values
md = safe.md                # inert inline Markdown
md_code = safe.md_code      # a Markdown code span
xml_text = safe.xml         # XML 1.0 text
csv_cell = safe.csv_cell    # a CSV cell, formula injection neutralised


def strip_controls(value: str) -> str:
    """Rendered lines for a terminal: newlines kept, every other invisible character
    (escape sequences, bidi overrides, zero-width characters) shown as its escape."""
    return safe.terminal_block(value)


def md_row(cells: list[str]) -> str:
    """One Markdown table row from already-escaped cells."""
    return "| " + " | ".join(c if c else " " for c in cells) + " |"


def md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown (GFM) table from escaped cells, as lines."""
    return [md_row(headers), md_row(["---"] * len(headers)), *(md_row(r) for r in rows)]


NAMESPACE = uuid.UUID("6f1c3d2e-8a4b-5c7d-9e0f-1a2b3c4d5e6f")


def stable_uuid(*parts: str) -> str:
    """A UUID (version 5) that depends only on `parts`: same inputs, same UUID."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


def timestamp(document: dict[str, Any]) -> str:
    """The report's point in time as an ISO 8601 date-time with a zone.

    `generated_at` when the report was stamped (`--timestamp`), else the assessment's
    `as_of` date, else the end of its period, else the Unix epoch: never the clock.
    """
    stamped = document.get("generated_at")
    if stamped:
        return str(stamped)
    assessment = document.get("assessment") or {}
    day = assessment.get("as_of") or (assessment.get("period") or {}).get("end")
    return f"{day or '1970-01-01'}T00:00:00+00:00"


def next_unmet(profile: dict[str, Any]) -> dict[str, Any] | None:
    """The first level of a profile that is not met (None: every level met)."""
    return next((lv for lv in profile.get("levels", []) if not lv.get("met")), None)


def requirement_state(req: dict[str, Any]) -> str:
    """`met`, `unmet`, or another state of the report (e.g. `excluded`).

    Read from the requirement's `status` (`met`, `gap`, `excluded`, ...) when the
    report has it, else from `met`.
    """
    status = req.get("status") or req.get("state")
    if status:
        return "unmet" if status == "gap" else str(status)
    return "met" if req.get("met") else "unmet"


def highest_requirements(profile: dict[str, Any]) -> dict[str, tuple[str, int, str]]:
    """Per process: (capability the top level requires, first level requiring it, state).

    The state is `requirement_state` of the top level's requirement.
    """
    out: dict[str, tuple[str, int, str]] = {}
    levels = profile.get("levels", [])
    for lvl in levels:
        for req in lvl.get("requirements", []):
            before = out.get(req["process"])
            first = before[1] if before and before[0] == req["required"] else lvl["level"]
            out[req["process"]] = (req["required"], first, requirement_state(req))
    return out


def item_detail(item: dict[str, Any]) -> str:
    """What an evidence item holds beyond id, title and path, as plain text."""
    kind = item.get("kind")
    if kind == "metric":
        return (f"{text(item.get('metric_type'))}, {text(item.get('observations_in_period'))} "
                f"of {text(item.get('observations'))} observations in period")
    parts = []
    for key, label in (("justification", "justification"), ("approver", "approved by"),
                       ("expires", "expires")):
        if item.get(key):
            parts.append(f"{label}: {text(item.get(key))}")
    return "; ".join(parts)


def new_gaps(profile: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(level, gap) for each gap at the first level that asks for it.

    Levels are cumulative, so an unmet requirement of level 1 is a gap of every
    level above; listing it once, where it starts, keeps a report readable.
    """
    seen: set[tuple[str, str]] = set()
    out: list[tuple[int, dict[str, Any]]] = []
    for lvl in profile.get("levels", []):
        for gap in lvl.get("gaps", []):
            key = (str(gap.get("process")), str(gap.get("required")))
            if key not in seen:
                seen.add(key)
                out.append((int(lvl.get("level", 0)), gap))
    return out


CAPABILITIES = ("none", "initial", "managed", "defined", "controlled", "optimized")


def rank_of(capability: Any) -> int:
    """The rank of a capability name of the contract (unknown names: 0)."""
    return CAPABILITIES.index(capability) if capability in CAPABILITIES else 0


def evidence_by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The report's evidence entries by id."""
    return {e["id"]: e for e in document.get("evidence", [])}


FINDING_KEYS = ("id", "kind", "type", "severity", "process", "rule", "title", "message",
                "description", "evidence")


def finding_cells(finding: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) pairs of a finding, known keys first, other scalar keys after."""
    cells = [(k, finding[k]) for k in FINDING_KEYS if finding.get(k) not in (None, "", [])]
    cells += [(k, v) for k, v in finding.items()
              if k not in FINDING_KEYS and isinstance(v, (str, int, float, list))
              and v not in ("", [])]
    return cells
