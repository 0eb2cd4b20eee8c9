"""Helpers shared by the report formats: escaping for each target, and common views.

Every string that comes from a bundle or a profile (organization name, evidence id,
title, path, reason, ...) is untrusted: it reaches a browser, a spreadsheet, an XML
parser or a Markdown renderer only through the escaping function of that format.
"""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

# Markdown: every ASCII punctuation character may be backslash-escaped (CommonMark);
# these are the ones with meaning inside a line (`|` ends a table cell). `<`, `>` and
# `&` become entities so no renderer sees raw HTML. A value starting like a heading,
# list item or quote is escaped at its start too.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MD_LEADING_MARK = re.compile(r"^([#+\-=>])")
_MD_LEADING_NUMBER = re.compile(r"^(\d+)([.)])")
# XML 1.0 forbids most control characters even when escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Terminal/other control characters: never useful in a report, sometimes harmful.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# A spreadsheet treats a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text(value: Any) -> str:
    """Any value as one line of text: None -> '', lists joined, control characters dropped."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(text(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    out = " ".join(str(value).replace("\r\n", "\n").splitlines())
    return _CONTROL.sub("", out)


def strip_controls(value: str) -> str:
    """`value` without control characters other than newline (for terminals)."""
    return _CONTROL.sub("", value)


def md(value: Any) -> str:
    """`value` as inert inline Markdown: no HTML, no emphasis, links or table breaks."""
    escaped = _MD_SPECIAL.sub(r"\\\1", html.escape(text(value), quote=False))
    escaped = _MD_LEADING_MARK.sub(r"\\\1", escaped)
    return _MD_LEADING_NUMBER.sub(r"\1\\\2", escaped)


def md_code(value: Any) -> str:
    """`value` as a Markdown code span (ids, digests); backticks and pipes kept inert."""
    raw = text(value)
    if not raw:
        return ""
    if "`" in raw or "|" in raw or "<" in raw:
        return md(raw)
    return f"`{raw}`"


def md_row(cells: list[str]) -> str:
    """One Markdown table row from already-escaped cells."""
    return "| " + " | ".join(c if c else " " for c in cells) + " |"


def md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown (GFM) table from escaped cells, as lines."""
    return [md_row(headers), md_row(["---"] * len(headers)), *(md_row(r) for r in rows)]


def h(value: Any) -> str:
    """`value` escaped for HTML text and attribute values."""
    return html.escape(text(value), quote=True)


def xml_text(value: Any) -> str:
    """`value` with characters XML 1.0 cannot carry replaced (the serializer escapes the rest)."""
    return _XML_INVALID.sub("\ufffd", text(value))


def csv_cell(value: Any) -> str:
    """`value` for a CSV cell, neutralised against formula injection (a leading `'`)."""
    out = text(value)
    if out.startswith(_FORMULA_START):
        return "'" + out
    return out


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
