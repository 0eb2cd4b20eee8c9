"""The auditor's review file (ism3-review/1): reading it, checking it, applying it.

A review is kept by the auditor beside the bundle, never inside it. It holds the
engagement, a decision on each evidence item (accepted, rejected, pending), notes
and methods per process, the management of each finding (severity, owner, due date,
response, status) and the sign-off. It is untrusted input read as carefully as a
bundle: safe YAML within limits, every problem reported with file and line.

What a decision *does* to the verdicts is not decided here: the decision becomes the
`review` attribute of each item's input fact, and the rules test it (see
`rules/evidence.yaml`, `rules/scope.yaml`, `rules/duties.yaml`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from .catalogue import Catalogue
from .errors import ReviewError, did_you_mean
from .evidence import Bundle, EvidenceItem, parse_date, printable
from .inputfiles import REVIEW, read_yaml
from .limits import DEFAULT_LIMITS, FLAGS, Limits
from .rules import SEVERITIES
from .yamlio import Node

SCHEMA = "ism3-review/1"
DECISIONS = ("accepted", "rejected", "pending")
METHODS = ("inspection", "interview", "observation")
STATUSES = ("open", "risk-accepted", "closed")
AUDIT_TYPES = ("initial", "surveillance", "recertification")
# The `review` attribute of an item's input fact when no review is used at all.
NO_REVIEW = "none"

TOP_KEYS = ("schema", "engagement", "evidence", "processes", "findings", "signoff")
ENGAGEMENT_KEYS = ("client", "auditor", "firm", "audit_type", "start", "end", "scope")
ITEM_KEYS = ("decision", "reason", "reviewer", "date")
PROCESS_KEYS = ("methods", "notes")
FINDING_KEYS = ("severity", "owner", "due", "response", "status")
SIGNOFF_KEYS = ("name", "date", "statement")


@dataclass(frozen=True)
class Engagement:
    """Who audits whom, how and when, and the scope statement."""

    client: str
    auditor: str | None = None
    firm: str | None = None
    audit_type: str | None = None
    start: date | None = None
    end: date | None = None
    scope: str | None = None


@dataclass(frozen=True)
class ItemReview:
    """The auditor's decision on one evidence item."""

    item: str
    decision: str
    line: int
    reason: str | None = None
    reviewer: str | None = None
    date: date | None = None


@dataclass(frozen=True)
class ProcessReview:
    """How the auditor examined one process, and what they noted."""

    process: str
    line: int
    methods: tuple[str, ...] = ()
    notes: str | None = None


@dataclass(frozen=True)
class FindingReview:
    """How a finding is managed: its rating, who fixes it by when, what management said."""

    id: str
    line: int
    severity: str | None = None
    owner: str | None = None
    due: date | None = None
    response: str | None = None
    status: str = "open"


@dataclass(frozen=True)
class SignOff:
    """The auditor's sign-off of the report."""

    name: str
    date: date
    statement: str | None = None


@dataclass(frozen=True)
class Review:
    """A loaded, structurally valid review (its ids are checked against a bundle later)."""

    path: Path
    sha256: str
    engagement: Engagement
    engagement_line: int
    client_line: int
    items: dict[str, ItemReview] = field(default_factory=dict)
    processes: dict[str, ProcessReview] = field(default_factory=dict)
    findings: dict[str, FindingReview] = field(default_factory=dict)
    signoff: SignOff | None = None

    def decision(self, item: str) -> str:
        """The decision on `item`: what the review says, else `pending`."""
        found = self.items.get(item)
        return found.decision if found else "pending"


class _Problems:
    """Every problem of a review file, so the auditor can fix them in one pass."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []

    def add(self, line: int, message: str) -> None:
        where = f"{self.path}:{line}" if line else str(self.path)
        self.lines.append(printable(f"{where}: {message}"))

    def raise_if_any(self) -> None:
        if self.lines:
            raise ReviewError("\n".join(self.lines))


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


def _unknown(node: Node, allowed: Sequence[str], problems: _Problems, where: str) -> None:
    for key in node:
        if key not in allowed:
            problems.add(node.line_of(str(key)), f"{where}unknown key '{key}'"
                         f"{did_you_mean(str(key), allowed)}; allowed: {', '.join(allowed)}")


def _text(node: Node, key: str, problems: _Problems, where: str) -> str | None:
    value = node.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.add(node.line_of(key), f"{where}'{key}' must be text, found {_kind(value)}")
        return None
    return str(value).strip() or None


def _date(node: Node, key: str, problems: _Problems, where: str) -> date | None:
    if node.get(key) is None:
        return None
    try:
        return parse_date(node[key])
    except ValueError as exc:
        problems.add(node.line_of(key), f"{where}'{key}': {exc}")
        return None


def _choice(node: Node, key: str, choices: Sequence[str], problems: _Problems, where: str,
            default: str | None = None) -> str | None:
    value = _text(node, key, problems, where)
    if value is None:
        return default
    if value not in choices:
        problems.add(node.line_of(key), f"{where}{key} '{value}' must be one of "
                     f"{', '.join(choices)}{did_you_mean(value, choices)}")
        return default
    return value


def _section(data: Node, key: str, problems: _Problems) -> Node | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, Node):
        problems.add(data.line_of(key), f"'{key}' must be a mapping, found {_kind(value)}")
        return None
    return value


def _entries(section: Node | None, problems: _Problems, what: str
             ) -> Iterable[tuple[str, Node, int]]:
    """(key, mapping, line) of each entry of a section keyed by id; null entries are empty."""
    if section is None:
        return []
    out = []
    for key, value in section.items():
        line = section.line_of(str(key))
        if value is None:
            value = Node()
            value.line, value.key_lines = line, {}
        if not isinstance(value, Node):
            problems.add(line, f"{what} {key}: must be a mapping, found {_kind(value)}")
            continue
        out.append((str(key), value, line))
    return out


def load_review(path: Path, limits: Limits = DEFAULT_LIMITS) -> Review:
    """Read and validate a review file (structure, choices, dates).

    Raises:
        ReviewError: one line per problem, each starting with the file and line.
    """
    # read once, within --max-review-bytes: the digest is of the very bytes parsed
    data, sha256 = read_yaml(path, REVIEW, limits.max_review_bytes, limits, FLAGS)
    problems = _Problems(path)
    if not isinstance(data, Node):
        raise ReviewError(f"{path}:1: a review must be a mapping with 'schema: {SCHEMA}' "
                          f"(`ism3 review init BUNDLE -o {path.name}` writes one)")
    _unknown(data, TOP_KEYS, problems, "")
    if data.get("schema") != SCHEMA:
        problems.add(data.line_of("schema"), f"schema is {data.get('schema')!r}; this tool "
                     f"reads '{SCHEMA}'" if "schema" in data else f"missing 'schema: {SCHEMA}'")
        problems.raise_if_any()

    eng = _section(data, "engagement", problems)
    client = None
    if eng is None:
        problems.add(data.line, "missing 'engagement' with at least 'client' (the bundle's "
                     "organization id)")
        eng = Node()
        eng.line, eng.key_lines = data.line, {}
    else:
        _unknown(eng, ENGAGEMENT_KEYS, problems, "engagement: ")
        client = _text(eng, "client", problems, "engagement: ")
        if client is None:
            problems.add(eng.line, "engagement: missing 'client' (the bundle's organization id)")
    start = _date(eng, "start", problems, "engagement: ")
    end = _date(eng, "end", problems, "engagement: ")
    if start and end and start > end:
        problems.add(eng.line_of("start"), f"engagement: starts ({start}) after it ends ({end})")
    engagement = Engagement(
        client=client or "", auditor=_text(eng, "auditor", problems, "engagement: "),
        firm=_text(eng, "firm", problems, "engagement: "),
        audit_type=_choice(eng, "audit_type", AUDIT_TYPES, problems, "engagement: "),
        start=start, end=end, scope=_text(eng, "scope", problems, "engagement: "))

    items: dict[str, ItemReview] = {}
    for item, node, line in _entries(_section(data, "evidence", problems), problems, "item"):
        where = f"item {item}: "
        _unknown(node, ITEM_KEYS, problems, where)
        decision = _choice(node, "decision", DECISIONS, problems, where, "pending") or "pending"
        reason = _text(node, "reason", problems, where)
        if decision == "rejected" and not reason:
            problems.add(node.line_of("decision"), f"{where}a rejected item needs a 'reason' "
                         "(the report shows it to the client)")
        items[item] = ItemReview(item, decision, line, reason,
                                 _text(node, "reviewer", problems, where),
                                 _date(node, "date", problems, where))

    processes: dict[str, ProcessReview] = {}
    for proc, node, line in _entries(_section(data, "processes", problems), problems, "process"):
        where = f"process {proc}: "
        _unknown(node, PROCESS_KEYS, problems, where)
        raw = node.get("methods")
        methods: list[str] = []
        for method in ([] if raw is None else raw if isinstance(raw, list) else [raw]):
            if not isinstance(method, str) or method.strip() not in METHODS:
                problems.add(node.line_of("methods"), f"{where}method {method!r} must be one of "
                             f"{', '.join(METHODS)}{did_you_mean(str(method), METHODS)}")
            elif method.strip() not in methods:
                methods.append(method.strip())
        processes[proc] = ProcessReview(proc, line, tuple(methods),
                                        _text(node, "notes", problems, where))

    findings: dict[str, FindingReview] = {}
    for fid, node, line in _entries(_section(data, "findings", problems), problems, "finding"):
        where = f"finding {fid}: "
        _unknown(node, FINDING_KEYS, problems, where)
        findings[fid] = FindingReview(
            fid, line, _choice(node, "severity", SEVERITIES, problems, where),
            _text(node, "owner", problems, where), _date(node, "due", problems, where),
            _text(node, "response", problems, where),
            _choice(node, "status", STATUSES, problems, where, "open") or "open")

    signoff = None
    sign = _section(data, "signoff", problems)
    if sign is not None:
        _unknown(sign, SIGNOFF_KEYS, problems, "signoff: ")
        name = _text(sign, "name", problems, "signoff: ")
        day = _date(sign, "date", problems, "signoff: ")
        statement = _text(sign, "statement", problems, "signoff: ")
        if name or day or statement:
            if not name or not day:
                problems.add(sign.line, "signoff: a sign-off needs 'name' and 'date' (leave all "
                             "three empty until the report is signed off)")
            else:
                signoff = SignOff(name, day, statement)
    problems.raise_if_any()
    return Review(path, sha256, engagement, eng.line,
                  eng.line_of("client"), items, processes, findings, signoff)


def check_against_bundle(review: Review, bundle: Bundle, catalogue: Catalogue) -> None:
    """The review must be about this bundle: its client, its items, real processes.

    Raises:
        ReviewError: naming the file, line and a suggestion for each problem.
    """
    problems = _Problems(review.path)
    if review.engagement.client != bundle.organization_id:
        problems.add(review.client_line,
                     f"engagement: client '{review.engagement.client}' is not the bundle's "
                     f"organization '{bundle.organization_id}' ({bundle.manifest}); is this the "
                     "review of another client?")
    ids = [i.id for i in bundle.items]
    for item in review.items.values():
        if item.item not in ids:
            problems.add(item.line, f"item {item.item}: not an evidence item of "
                         f"{bundle.manifest}{did_you_mean(item.item, ids)}")
    for proc in review.processes.values():
        if proc.process not in catalogue.process_ids:
            problems.add(proc.line, f"process {proc.process}: unknown process"
                         f"{did_you_mean(proc.process, catalogue.process_ids)}; "
                         "`ism3 processes` lists them")
    problems.raise_if_any()


def check_findings(review: Review, known: Iterable[str]) -> list[str]:
    """The finding ids of `review` that are not in `known` (in file order)."""
    known_ids = set(known)
    return [fid for fid in review.findings if fid not in known_ids]


def unknown_findings_error(review: Review, unknown: Sequence[str], known: Iterable[str]
                           ) -> ReviewError:
    """The error for finding ids no evaluation raises, with suggestions."""
    choices = sorted(set(known))
    return ReviewError("\n".join(printable(
        f"{review.path}:{review.findings[fid].line}: finding {fid}: not a finding of this "
        f"evaluation{did_you_mean(fid, choices)}; `ism3 review init` lists the finding ids")
        for fid in unknown))


# -- what the engine sees -------------------------------------------------------------
def decision_on(review: Review | None, item: str) -> str:
    """The auditor's decision on `item` as the rules see it (the `review` attribute of the
    item's facts): accepted, rejected or pending; `none` without a review file."""
    return NO_REVIEW if review is None else review.decision(item)


def judge_items(items: Sequence[EvidenceItem], loaded: Sequence[EvidenceItem],
                review: Review | None, evidence_of: dict[str, list[str]],
                used: set[str]) -> tuple[EvidenceItem, ...]:
    """`items` (as the rules judged them), with each item the bundle check accepted, the
    auditor rejected and no rule firing used marked rejected with the auditor's reason.

    `loaded`: the items as the bundle check left them; `used`: ids of the facts a
    firing matched to derive anything but a finding (a finding about an item is not
    the item counting). An item the bundle check rejected (file missing, ...) keeps its
    reason; the auditor's decision is reported beside it.
    """
    if review is None:
        return tuple(items)
    checked = {i.id: i.accepted for i in loaded}
    facts_of: dict[str, list[str]] = {}
    for fact_id, behind in evidence_of.items():
        for item_id in behind:
            facts_of.setdefault(item_id, []).append(fact_id)
    out: list[EvidenceItem] = []
    for item in items:
        judged = review.items.get(item.id)
        if (judged is not None and judged.decision == "rejected" and checked.get(item.id)
                and not any(f in used for f in facts_of.get(item.id, ()))):
            item = replace(item, status="rejected", reason=rejected_reason(judged))
        out.append(item)
    return tuple(out)


def rejected_reason(judged: ItemReview) -> str:
    """The reason shown for an item the auditor rejected."""
    who = ", ".join(x for x in (judged.reviewer, judged.date.isoformat() if judged.date else None)
                    if x)
    return f"rejected by the auditor{f' ({who})' if who else ''}: {judged.reason or 'no reason'}"


# -- what the report says -------------------------------------------------------------
def _d(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _drop_none(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v is not None}


def apply_to_document(document: dict[str, Any], review: Review) -> dict[str, Any]:
    """`document` (ism3-report/1) with the review: per item, process and finding, and a
    top-level `review` section (additive). Returns the same dict, changed."""
    for entry in document.get("evidence", []):
        judged = review.items.get(entry["id"])
        entry["review"] = _drop_none({
            "decision": judged.decision if judged else "pending",
            "reason": judged.reason if judged else None,
            "reviewer": judged.reviewer if judged else None,
            "date": _d(judged.date) if judged else None})
    for pid, proc in document.get("processes", {}).items():
        noted = review.processes.get(pid)
        if noted is not None:
            proc["review"] = _drop_none({"methods": list(noted.methods), "notes": noted.notes})
    for finding in document.get("findings", []):
        managed = review.findings.get(finding["id"])
        finding["rule_severity"] = finding["severity"]
        if managed is not None and managed.severity:
            finding["severity"] = managed.severity
        finding["status"] = managed.status if managed else "open"
        if managed is not None:
            finding.update(_drop_none({"owner": managed.owner, "due": _d(managed.due),
                                       "response": managed.response}))
    evidence = document.get("evidence", [])
    decisions = {d: sum(1 for e in evidence if e["review"]["decision"] == d) for d in DECISIONS}
    severities = {s: sum(1 for f in document.get("findings", []) if f["severity"] == s)
                  for s in reversed(SEVERITIES)}
    statuses = {s: sum(1 for f in document.get("findings", []) if f["status"] == s)
                for s in STATUSES}
    eng = review.engagement
    document["review"] = {
        "schema": SCHEMA,
        "sha256": review.sha256,
        "engagement": {"client": eng.client, "auditor": eng.auditor, "firm": eng.firm,
                       "audit_type": eng.audit_type,
                       "dates": {"start": _d(eng.start), "end": _d(eng.end)},
                       "scope": eng.scope},
        "evidence": {"items": len(evidence), **decisions,
                     "unreviewed": [e["id"] for e in evidence
                                    if e["review"]["decision"] == "pending"]},
        "processes": {p.process: _drop_none({"methods": list(p.methods), "notes": p.notes})
                      for p in review.processes.values()},
        "findings": {"by_severity": severities, "by_status": statuses},
        "signoff": (None if review.signoff is None else
                    _drop_none({"name": review.signoff.name, "date": _d(review.signoff.date),
                                "statement": review.signoff.statement})),
    }
    return document


# -- the skeleton -----------------------------------------------------------------------
def _scalar(value: Any) -> str:
    """A YAML scalar that reads back as `value` (JSON strings are YAML)."""
    return json.dumps(value, ensure_ascii=True)


def _comment(value: Any) -> str:
    """Text safe inside a YAML comment: one line, no control characters."""
    from .formats._common import text

    return text(value).replace("\u2028", " ").replace("\u2029", " ")


def skeleton(document: dict[str, Any]) -> str:
    """A review file listing every item and finding of `document`, decisions pending."""
    org = document["organization"]
    out = [f"# Review of the evidence of {_comment(org.get('name'))} ({_comment(org.get('id'))}),",
           "# written by `ism3 review init`. Keep it beside the bundle, never inside it.",
           "# Decisions: accepted | rejected (with a reason) | pending (counts, shown unreviewed).",
           f"schema: {SCHEMA}",
           "engagement:",
           f"  client: {_scalar(org['id'])}   # the bundle's organization id",
           "  auditor:                # name of the lead auditor",
           "  firm:                   # audit firm",
           "  audit_type: initial     # initial | surveillance | recertification",
           "  start:                  # fieldwork dates, YYYY-MM-DD",
           "  end:",
           "  scope:                  # the scope statement",
           "evidence:"]
    for entry in document.get("evidence", []):
        what = entry.get("title") or entry.get("path") or " ".join(
            str(entry.get(k)) for k in ("role", "person", "justification") if entry.get(k))
        about = " ".join(x for x in (_comment(entry.get("process")), _comment(entry.get("kind")),
                                     _comment(what)) if x)
        state = _comment(entry.get("status"))
        if entry.get("reason"):
            state += f": {_comment(entry.get('reason'))}"
        out += [f"  # {about} ({state})",
                f"  {_scalar(entry['id'])}: {{decision: pending, reason: null, reviewer: null, "
                "date: null}"]
    out += ["processes:      # methods: inspection | interview | observation",
            "  # OSP-3: {methods: [inspection, interview], notes: \"...\"}",
            "findings:       # severity: low | medium | high | critical; status: open | "
            "risk-accepted | closed"]
    for finding in document.get("findings", []):
        out += [f"  # {_comment(finding.get('process'))} {_comment(finding.get('message'))}",
                f"  {_scalar(finding['id'])}:",
                f"    severity: {finding.get('severity')}   # the rule's rating; change to "
                "override",
                "    owner:", "    due:", "    response:", "    status: open"]
    out += ["signoff:        # fill in when the report is final",
            "  name:", "  date:", "  statement:"]
    return "\n".join(out) + "\n"



# -- evaluating with a review -----------------------------------------------------------
def reviewed_document(bundle: Bundle, review: Review, profiles: Sequence[Any], rulebook: Any,
                      catalogue: Catalogue) -> dict[str, Any]:
    """Evaluate `bundle` with the auditor's `review` and return the report document.

    Raises:
        ReviewError: the review is not about this bundle, or names a finding that
            neither this evaluation nor the one without the auditor's decisions raises.
        EvidenceError, ProfileError, RuleError, EngineError: as `assess`.
    """
    from .assessment import assess
    from .report import to_document

    check_against_bundle(review, bundle, catalogue)
    assessment = assess(bundle, profiles, rulebook, catalogue, review=review)
    known = [f.id for f in assessment.findings]
    unknown = check_findings(review, known)
    if unknown:  # a rejection can make a finding go away: it is still the review's to manage
        known += [f.id for f in assess(bundle, [], rulebook, catalogue).findings]
        unknown = check_findings(review, known)
        if unknown:
            raise unknown_findings_error(review, unknown, known)
    return apply_to_document(to_document(assessment), review)
