"""Results of an assessment: frozen data, no behaviour beyond simple views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from .digests import FileDigest
from .evidence import EvidenceItem


@dataclass(frozen=True)
class NotCounted:
    """An evidence item that would have closed a gap but was rejected."""

    evidence: str
    reason: str


@dataclass(frozen=True)
class ItemToAdd:
    """An evidence item a checked plan adds: its kind and what it must say."""

    kind: str                       # documentation | metric | role
    metric_type: str | None = None
    frequency: str | None = None    # a metric's frequency to declare (None: none)
    role: str | None = None
    person: str | None = None
    date: str | None = None         # a document's or role's date in force (None: undated)

    @property
    def label(self) -> str:
        """How `missing` names it: documentation, a metric type, or `role <role>`."""
        if self.kind == "metric":
            return str(self.metric_type)
        if self.kind == "role":
            return f"role {self.role}"
        return self.kind

    def as_dict(self) -> dict[str, str]:
        """The fields that are set, for the report."""
        return {k: v for k, v in (("kind", self.kind), ("metric_type", self.metric_type),
                                  ("frequency", self.frequency), ("role", self.role),
                                  ("person", self.person), ("date", self.date))
                if v is not None}


@dataclass(frozen=True)
class Shortfall:
    """What a process lacks to reach a capability: a plan checked against the rules."""

    capability: str
    rank: int
    rules: tuple[str, ...]          # the rules that would derive it, lower first
    missing: tuple[str, ...]        # e.g. "documentation", "load"
    not_counted: tuple[NotCounted, ...]
    add: tuple[ItemToAdd, ...] = ()     # the items of the plan (labels: `missing`)
    reachable: bool = True              # False: no plan found with items this tool writes


@dataclass(frozen=True)
class ProcessResult:
    """The capability one process demonstrably operates at, and why."""

    id: str
    name: str
    level: str
    group: str | None
    capability: str
    rank: int
    practices: tuple[str, ...]
    rules: tuple[str, ...]              # capability rules that fired, lowest first
    evidence: tuple[str, ...]           # accepted evidence behind the capability
    other_evidence: tuple[str, ...]     # accepted evidence not (yet) used by a fired rule
    rejected_evidence: tuple[str, ...]
    next: Shortfall | None              # None at the top of the scale


@dataclass(frozen=True)
class Gap:
    """An unmet requirement of a maturity level."""

    process: str
    required: str
    required_rank: int
    actual: str
    actual_rank: int
    missing: tuple[str, ...]
    not_counted: tuple[NotCounted, ...]
    rationale: str | None
    add: tuple[ItemToAdd, ...] = ()
    reachable: bool = True


@dataclass(frozen=True)
class RequirementResult:
    """One (cumulative) requirement of a level and whether it is met."""

    process: str
    required: str
    required_rank: int
    actual: str
    met: bool
    rule: str | None                    # the rule that found it met (or excluded)
    status: str = "met"                 # met | excluded | gap
    excluded_by: str | None = None      # the exclusion item that satisfied it


@dataclass(frozen=True)
class LevelResult:
    """One maturity level: met or not, and what stands in the way."""

    level: int
    name: str
    met: bool
    requirements: tuple[RequirementResult, ...]
    gaps: tuple[Gap, ...]


@dataclass(frozen=True)
class ProfileResult:
    """The maturity level reached against one profile."""

    id: str
    name: str
    source: str
    description: str
    path: str
    sha256: str
    achieved_level: int
    max_level: int
    levels: tuple[LevelResult, ...]
    mandatory: tuple[str, ...] = ()     # processes the profile does not let a bundle exclude


@dataclass(frozen=True)
class Finding:
    """Something a rule found worth attention (an anomaly, a breach, a conflict, a lapse).

    `facts` holds, per condition of the rule, (alias, fact type, attributes) of the
    fact it matched; `evidence` the bundle items those facts rest on.
    """

    rule: str
    finding: str
    process: str
    message: str
    evidence: tuple[str, ...]
    facts: tuple[tuple[str, str, tuple[tuple[str, Any], ...]], ...]
    # Stable across bundles and years (findings.finding_id); several firings about the
    # same thing (anomalies of one metric on several dates) share it.
    id: str = ""
    severity: str = "medium"            # the rule's default rating (rules.SEVERITIES)

    def about(self, fact_type: str, attr: str, value: Any) -> bool:
        """Whether a matched fact of `fact_type` has `attr` equal to `value`."""
        return any(t == fact_type and dict(attrs).get(attr) == value
                   for _, t, attrs in self.facts)


@dataclass(frozen=True)
class MetricResult:
    """How one metric item was judged: cadence, band, target (all from rule firings)."""

    item: str
    counted_by: str | None                  # the rule that made it count
    frequency: str | None
    periods_expected: int | None
    periods_reported: int | None
    coverage: float | None
    observations_in_window: int
    bounds: str | None                      # "threshold", "control" or None
    lower: float | None
    upper: float | None
    mean: float | None
    sigma: float | None
    anomalies: int                          # findings raised on its observations
    target: float | None
    better: str | None
    latest_date: date | None
    latest_value: float | None
    target_met: bool | None                 # None: no target or no observation


@dataclass(frozen=True)
class ServiceLevelResult:
    """A service level, met or breached, with the observations that decided it."""

    id: str
    process: str
    provider: str | None
    metric: str
    target: str
    window: str
    status: str                             # "met" or "breached"
    rules: tuple[str, ...]                  # the rules whose findings breached it
    deciding: tuple[tuple[str, date, float], ...]   # (item, date, value)


@dataclass(frozen=True)
class Assessment:
    """Everything one evaluation found, ready for any formatter."""

    tool_version: str
    organization_id: str
    organization_name: str
    period_start: date | None
    period_end: date | None
    as_of: date | None
    bundle_manifest_sha256: str
    rules_sha256: str
    processes: tuple[ProcessResult, ...]
    profiles: tuple[ProfileResult, ...]
    evidence: tuple[EvidenceItem, ...]
    bundle_sha256: str = ""                  # manifest and referenced files (digests.py)
    bundle_files: tuple[FileDigest, ...] = ()
    findings: tuple[Finding, ...] = ()
    metrics: tuple[MetricResult, ...] = ()
    service_levels: tuple[ServiceLevelResult, ...] = ()
    # the rule that admitted each documentation and role item that counts (item, rule)
    admitted_by: tuple[tuple[str, str], ...] = ()
    # the archive the bundle came in ((format, sha256)), when it came in one
    bundle_archive: tuple[str, str] | None = None
