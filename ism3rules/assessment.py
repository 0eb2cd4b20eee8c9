"""Evaluate a bundle: evidence and profiles become facts, the rules decide, results come out.

This module decides nothing about capability or maturity itself: capabilities
come from rules deriving `capability` facts, requirements are met when a rule
derives `requirement_met` for them. What is missing is read off the conditions
of the rules that did not fire, so explanations follow the rule files too.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from . import __version__
from .catalogue import Catalogue, load_catalogue
from .digests import combined_digest
from .engine import CompiledRulebook, Firing
from .errors import EngineError, ProfileError
from .evidence import Bundle, EvidenceItem, check_facts
from .findings import collect_findings, unmet_reason
from .metrics import MetricStats, metric_facts, metric_stats, sla_fact, sla_window
from .profiles import Profile
from .results import (Assessment, Finding, Gap, LevelResult, MetricResult, NotCounted,
                      ProcessResult, ProfileResult, RequirementResult, ServiceLevelResult,
                      Shortfall)
from .review import Review, annotate_facts, document_fact, judge_items
from .rules import FACT_TYPES, Condition, Ref, Rulebook

Fact = dict[str, Any]
_compiled: dict[str, CompiledRulebook] = {}


def compile_rulebook(rulebook: Rulebook) -> CompiledRulebook:
    """The compiled form of `rulebook`, compiled once per process and reused."""
    key = rulebook.digest
    if key not in _compiled:
        _compiled[key] = CompiledRulebook(rulebook)
    return _compiled[key]


def item_fact(item: EvidenceItem, judged_at: date | None = None) -> Fact:
    """The fact an evidence item stands for (one per process and fact content).

    An exclusion is one fact per item; its expiry is given as days from `judged_at`
    (the assessment date) so that the rules can decide whether it still applies.
    """
    if item.kind == "exclusion":
        dated = item.expires is not None and judged_at is not None
        days_left = (item.expires - judged_at).days if dated else 0  # type: ignore[operator]
        return {"id": f"exclusion:{item.process}:{item.id}", "t": "exclusion",
                "process": item.process, "dated": int(dated), "days_left": days_left}
    if item.kind == "documentation":
        return {"id": f"documentation:{item.process}", "t": "documentation",
                "process": item.process}
    if item.kind == "role":
        return {"id": f"role:{item.id}", "t": "role", "process": item.process,
                "role": item.role, "person": item.person, "item": item.id}
    return {"id": f"metric:{item.process}:{item.metric_type}", "t": "metric",
            "process": item.process, "metric_type": item.metric_type}


def requirement_facts(profile: Profile) -> list[Fact]:
    """One fact per level and process, with the cumulative minimum rank."""
    return [{"id": f"requirement:{profile.id}:{lvl.level}:{req.process}", "t": "requirement",
             "process": req.process, "profile": profile.id, "level": lvl.level,
             "min_rank": req.rank, "mandatory": int(req.process in profile.mandatory)}
            for lvl in profile.levels for req in profile.effective(lvl.level)]


def assess(bundle: Bundle, profiles: Sequence[Profile], rulebook: Rulebook,
           catalogue: Catalogue | None = None, review: Review | None = None) -> Assessment:
    """Evaluate `bundle` against `profiles` with `rulebook` (and the auditor's `review`).

    Raises:
        ProfileError: two profiles share an id.
        RuleError: the rules cannot be compiled.
        EngineError: the engine failed (an internal error).
    """
    catalogue = catalogue or load_catalogue()
    ids = [p.id for p in profiles]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ProfileError(f"profile id '{dup[0]}' is loaded twice; profile ids must be unique")
    compiled = compile_rulebook(rulebook)

    evidence_of: dict[str, list[str]] = defaultdict(list)
    facts: dict[str, Fact] = {}
    # With a rule deriving `metric` (rules/evidence.yaml), metrics reach the engine as
    # reports and statistics; without one, version-1 meaning: one fact per metric type.
    via_reports = bool(rulebook.deriving("metric"))
    via_documents = bool(rulebook.deriving("documentation"))   # likewise (review.py)
    start, end, cutoff = bundle.period_start, bundle.period_end, bundle.judged_at
    stats = {i.id: metric_stats(i, start, end, cutoff) for i in bundle.items
             if i.kind == "metric" and i.accepted}
    # every observation outside its band becomes a fact: refuse before building them
    check_facts(bundle, sum(len(s.outliers) for s in stats.values()) if via_reports else 0)
    for item in bundle.items:
        if item.accepted:
            item_facts = (metric_facts(item, stats[item.id])
                          if item.kind == "metric" and via_reports
                          else [document_fact(item)]
                          if item.kind == "documentation" and via_documents
                          else [item_fact(item, bundle.judged_at)])
            for fact in item_facts:
                facts.setdefault(fact["id"], fact)
                evidence_of[fact["id"]].append(item.id)
        elif item.expired:
            fact = {"id": f"expired:{item.id}", "t": "expired", "process": item.process,
                    "item": item.id, "kind": item.kind, "expires": str(item.expires),
                    "as_of": str(cutoff)}
            facts[fact["id"]] = fact
            evidence_of[fact["id"]].append(item.id)
    # each service level looks only at the metric items it names (scanning every item for
    # every service level was quadratic in the bundle's size)
    metrics_of: dict[tuple[str, str | None], list[EvidenceItem]] = defaultdict(list)
    for item in bundle.items:
        if item.kind == "metric":
            metrics_of[(item.process, item.metric_type)].append(item)
            metrics_of[(item.process, "id:" + item.id)].append(item)
    named = [tuple(metrics_of.get((s.process, "id:" + s.metric if s.metric else s.metric_type),
                                  ())) for s in bundle.service_levels]
    windows = [sla_window(sla, chosen, start, end, cutoff)
               for sla, chosen in zip(bundle.service_levels, named, strict=True)]
    for window, chosen in zip(windows, named, strict=True):
        fact = sla_fact(window)
        facts[fact["id"]] = fact
        sla_items = sorted({i for i, _ in window.observations} or {i.id for i in chosen})
        evidence_of[fact["id"]].extend(sla_items)
    for profile in profiles:
        for fact in requirement_facts(profile):
            facts[fact["id"]] = fact
    annotate_facts(facts, evidence_of, review, FACT_TYPES)   # the auditor's decisions
    check_facts(bundle, len(facts))   # a bound on the engine's work (--max-facts)
    firings = compiled.run(list(facts.values()))
    items = _judge_exclusions(bundle, facts, firings)
    counted_by: dict[str, str] = {}
    if via_reports:
        for firing in firings:
            if firing.derived_fact["t"] == "metric":
                for _, fact_id in firing.matched:
                    counted_by.setdefault(fact_id, firing.rule_id)
        items = tuple(
            dataclasses.replace(i, status="rejected", reason=_uncounted(
                facts[f"metric_report:{i.id}"], stats[i.id], rulebook))
            if i.kind == "metric" and i.accepted and f"metric_report:{i.id}" not in counted_by
            else i for i in items)
    items = judge_items(items, bundle.items, review, evidence_of,
                        {fact_id for f in firings if f.derived_fact["t"] != "finding"
                         for _, fact_id in f.matched})
    world = _World(rulebook, catalogue, facts, firings, evidence_of, items)
    findings = collect_findings(firings, world.fact, world.evidence_behind)
    processes = tuple(world.process_result(p) for p in catalogue.process_ids)
    by_id = {p.id: p for p in processes}
    files = bundle.files   # digests of the bytes the loader read, never a second reading
    about_item = _findings_by_item(findings)
    about_sla = _findings_by_sla(findings)
    return Assessment(
        tool_version=__version__,
        organization_id=bundle.organization_id,
        organization_name=bundle.organization_name,
        period_start=bundle.period_start,
        period_end=bundle.period_end,
        as_of=bundle.as_of,
        bundle_manifest_sha256=bundle.manifest_sha256,
        rules_sha256=rulebook.digest,
        processes=processes,
        profiles=tuple(world.profile_result(p, by_id) for p in profiles),
        evidence=items,
        bundle_sha256=combined_digest(files),
        bundle_files=files,
        findings=findings,
        metrics=tuple(_metric_result(i, stats[i.id], counted_by.get(f"metric_report:{i.id}"),
                                     about_item.get(i.id, ())) for i in bundle.items
                      if i.id in stats),
        service_levels=tuple(_sla_result(w, about_sla.get(w.sla.id, ())) for w in windows),
    )


def _uncounted(report: Fact, stats: MetricStats, rulebook: Rulebook) -> str:
    """Why a metric report did not count, read off the rules that could have counted it."""
    why = unmet_reason(report, "metric", rulebook)
    if stats.has_frequency:
        return (f"reported in {stats.periods_reported} of {stats.periods_expected} "
                f"{stats.frequency} periods: {why}")
    return why


def _findings_by_item(findings: tuple[Finding, ...]) -> dict[str, tuple[Finding, ...]]:
    """The findings that matched a fact of each metric item (`item` attribute), in order.

    `_metric_result` looks only at these: scanning every finding for every item was
    quadratic (a third of evaluating a year of daily data with many anomalies).
    """
    index: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        items = {v for _, _, attrs in finding.facts for k, v in attrs
                 if k == "item" and isinstance(v, str)}
        for item in sorted(items):
            index[item].append(finding)
    return {item: tuple(found) for item, found in index.items()}


def _findings_by_sla(findings: tuple[Finding, ...]) -> dict[str, tuple[Finding, ...]]:
    """The findings that matched a `service_level` fact, by its `sla` attribute, in order
    (scanning every finding for every service level was quadratic: minutes for a bundle
    of a few thousand service levels)."""
    index: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        slas = {v for _, t, attrs in finding.facts if t == "service_level"
                for k, v in attrs if k == "sla" and isinstance(v, str)}
        for sla in sorted(slas):
            index[sla].append(finding)
    return {sla: tuple(found) for sla, found in index.items()}


def _metric_result(item: EvidenceItem, stats: MetricStats, rule: str | None,
                   findings: tuple[Finding, ...]) -> MetricResult:
    """Per-metric verdicts: what counted it, its band, anomalies and target attainment."""
    anomalies = sum(1 for f in findings if f.about("observation", "item", item.id))
    target_met = None
    if stats.shortfall is not None:
        target_met = not any(f.about("target", "item", item.id) for f in findings)
    latest = stats.latest
    return MetricResult(
        item=item.id, counted_by=rule, frequency=stats.frequency,
        periods_expected=stats.periods_expected, periods_reported=stats.periods_reported,
        coverage=stats.coverage, observations_in_window=len(stats.window), bounds=stats.bounds,
        lower=stats.lower, upper=stats.upper, mean=stats.mean, sigma=stats.sigma,
        anomalies=anomalies, target=stats.target, better=stats.better,
        latest_date=latest.date if latest else None,
        latest_value=latest.value if latest else None, target_met=target_met)


def _sla_result(window: Any, findings: tuple[Finding, ...]) -> ServiceLevelResult:
    """A service level is breached when a finding rests on its fact; else met."""
    sla = window.sla
    rules = tuple(sorted({f.rule for f in findings if f.about("service_level", "sla", sla.id)}))
    deciding = window.violations if rules else window.observations
    return ServiceLevelResult(
        id=sla.id, process=sla.process, provider=sla.provider,
        metric=sla.metric or str(sla.metric_type), target=sla.target_text,
        window=sla.window_text, status="breached" if rules else "met", rules=rules,
        deciding=tuple((item_id, o.date, o.value) for item_id, o in deciding))


def _judge_exclusions(bundle: Bundle, facts: dict[str, Fact],
                      firings: Sequence[Firing]) -> tuple[EvidenceItem, ...]:
    """Bundle items, with each exclusion the rules did not find valid marked rejected."""
    valid = {fact_id for f in firings if f.derived_fact["t"] == "exclusion_valid"
             for _, fact_id in f.matched}
    judged: list[EvidenceItem] = []
    for item in bundle.items:
        if item.kind == "exclusion" and item.accepted:
            fact = item_fact(item, bundle.judged_at)
            if fact["id"] not in valid:
                reason = "exclusion not valid under the rules in force"
                if item.expires is not None and fact["days_left"] < 0:
                    reason = (f"exclusion expired on {item.expires} "
                              f"(assessment date {bundle.judged_at})")
                item = dataclasses.replace(item, status="rejected", reason=reason)
        judged.append(item)
    return tuple(judged)


class _World:
    """The facts of one evaluation, asserted and derived, and what they explain."""

    def __init__(self, rulebook: Rulebook, catalogue: Catalogue, facts: dict[str, Fact],
                 firings: Iterable[Firing], evidence_of: dict[str, list[str]],
                 items: Sequence[EvidenceItem]) -> None:
        self.rulebook = rulebook
        self.catalogue = catalogue
        self.facts = facts
        self.firings = tuple(firings)
        self.derived_by: dict[str, Firing] = {}
        self.derivations: dict[str, list[Firing]] = defaultdict(list)
        self.evidence_of = evidence_of
        self.by_process: dict[str, list[Fact]] = defaultdict(list)
        for fact in facts.values():
            if fact["t"] != "requirement":
                self.by_process[fact["process"]].append(fact)
        for firing in self.firings:
            derived = firing.derived_fact
            self.derivations[derived["id"]].append(firing)
            if derived["id"] not in self.derived_by:
                self.derived_by[derived["id"]] = firing
                self.by_process[firing.process].append(derived)
        self.requirement_met: dict[str, str] = {}
        self.requirement_excluded: dict[str, tuple[str, str]] = {}
        for firing in self.firings:
            kind = firing.derived_fact["t"]
            if kind not in ("requirement_met", "requirement_excluded"):
                continue
            for _, fact_id in firing.matched:
                if facts.get(fact_id, {}).get("t") != "requirement":
                    continue
                if kind == "requirement_met":
                    self.requirement_met.setdefault(fact_id, firing.rule_id)
                else:
                    behind = sorted(self._evidence_behind(firing.derived_fact["id"]))
                    self.requirement_excluded.setdefault(
                        fact_id, (firing.rule_id, behind[0] if behind else ""))
        self.rejected: dict[str, list[EvidenceItem]] = defaultdict(list)
        self.items_of: dict[str, list[EvidenceItem]] = defaultdict(list)
        for item in items:
            self.items_of[item.process].append(item)
            if not item.accepted:
                self.rejected[item.process].append(item)

    # -- provenance -------------------------------------------------------------
    def fact(self, fact_id: str) -> Fact | None:
        """Any fact of the evaluation by id: asserted, or derived by a firing."""
        if fact_id in self.facts:
            return self.facts[fact_id]
        firing = self.derived_by.get(fact_id)
        return firing.derived_fact if firing else None

    def evidence_behind(self, fact_id: str) -> set[str]:
        """The bundle items a fact rests on, following the firings that derived it."""
        return self._evidence_behind(fact_id)

    def _evidence_behind(self, fact_id: str, seen: set[str] | None = None) -> set[str]:
        seen = seen if seen is not None else set()
        if fact_id in seen:
            return set()
        seen.add(fact_id)
        firings = self.derivations.get(fact_id)
        if not firings:
            return set(self.evidence_of.get(fact_id, ()))
        found: set[str] = set()
        for firing in firings:   # a keyed fact (one metric type) may be derived many times
            for _, matched in firing.matched:
                found |= self._evidence_behind(matched, seen)
        return found

    # -- capability -------------------------------------------------------------
    def _capabilities(self, process: str) -> list[Firing]:
        return sorted((f for f in self.firings if f.process == process
                       and f.derived_fact["t"] == "capability"),
                      key=lambda f: (f.derived_fact["rank"], f.rule_id))

    def process_result(self, process_id: str) -> ProcessResult:
        proc = self.catalogue.process(process_id)
        caps = self._capabilities(process_id)
        rank = max((f.derived_fact["rank"] for f in caps), default=0)
        capability = self.catalogue.capability_by_rank(rank).name
        practices: list[str] = []
        rules: list[str] = []
        evidence: set[str] = set()
        for firing in caps:
            if firing.rule_id not in rules:
                rules.append(firing.rule_id)
            for practice in firing.derived_fact.get("practices", ()):
                if practice not in practices:
                    practices.append(practice)
            evidence |= self._evidence_behind(firing.derived_fact["id"])
        accepted = [i.id for i in self.items_of[process_id] if i.accepted]
        top = max(c.rank for c in self.catalogue.capabilities)
        nxt = self.shortfall(process_id, rank + 1) if rank < top else None
        if nxt is not None and not nxt.missing and nxt.rules:
            raise EngineError(f"internal error: {process_id} meets the conditions of "
                              f"{nxt.rules[0]} but the engine did not fire it")
        return ProcessResult(
            id=proc.id, name=proc.name, level=proc.level, group=proc.group,
            capability=capability, rank=rank, practices=tuple(practices), rules=tuple(rules),
            evidence=tuple(sorted(evidence)),
            other_evidence=tuple(sorted(set(accepted) - evidence)),
            rejected_evidence=tuple(sorted(i.id for i in self.rejected[process_id])),
            next=nxt,
        )

    def shortfall(self, process: str, rank: int) -> Shortfall:
        """What `process` lacks to reach capability `rank`, per the deriving rules."""
        cap = self.catalogue.capability_by_rank(rank)
        conds, rules = self._missing(process, cap.name, set())
        labels: list[str] = []
        for cond in conds:
            label = _label(cond)
            if label not in labels:
                labels.append(label)
        not_counted = tuple(
            NotCounted(item.id, item.reason or "rejected")
            for item in self.rejected[process]
            if any(_satisfies(_as_fact(item), cond) for cond in conds))
        return Shortfall(cap.name, cap.rank, tuple(rules), tuple(labels), not_counted)

    def _missing(self, process: str, capability: str,
                 visiting: set[str]) -> tuple[list[Condition], list[str]]:
        """Unsatisfied base conditions on the cheapest path of rules deriving `capability`."""
        best: tuple[list[Condition], list[str]] | None = None
        for rule in self.rulebook.deriving("capability", capability=capability):
            if rule.id in visiting:
                continue
            missing: list[Condition] = []
            chain: list[str] = []
            for cond in rule.when:
                if any(_satisfies(f, cond) for f in self.by_process[process]):
                    continue
                target = _derived_capability(cond)
                if target is not None:
                    sub, sub_rules = self._missing(process, target, visiting | {rule.id})
                    missing.extend(sub)
                    chain.extend(sub_rules)
                else:
                    missing.append(cond)
            chain.append(rule.id)  # lower rules of the chain first
            if best is None or len(missing) < len(best[0]):
                best = (missing, chain)
        return best if best is not None else ([], [])

    # -- maturity ---------------------------------------------------------------
    def profile_result(self, profile: Profile, processes: dict[str, ProcessResult]) -> ProfileResult:
        levels: list[LevelResult] = []
        for lvl in profile.levels:
            reqs: list[RequirementResult] = []
            gaps: list[Gap] = []
            rationale = {r.process: r.rationale for lv in profile.levels[:lvl.level]
                         for r in lv.requires}
            for req in profile.effective(lvl.level):
                fact_id = f"requirement:{profile.id}:{lvl.level}:{req.process}"
                proc = processes[req.process]
                rule = self.requirement_met.get(fact_id)
                excluded = self.requirement_excluded.get(fact_id) if rule is None else None
                status = "met" if rule else "excluded" if excluded else "gap"
                reqs.append(RequirementResult(
                    req.process, req.capability, req.rank, proc.capability, rule is not None,
                    rule or (excluded[0] if excluded else None), status,
                    excluded[1] if excluded else None))
                if status == "gap":
                    short = self.shortfall(req.process, req.rank)
                    gaps.append(Gap(req.process, req.capability, req.rank, proc.capability,
                                    proc.rank, short.missing,
                                    short.not_counted + self._refused(req.process, profile),
                                    rationale.get(req.process)))
            levels.append(LevelResult(lvl.level, lvl.name, not gaps, tuple(reqs), tuple(gaps)))
        achieved = 0
        for level in levels:
            if not level.met:
                break
            achieved = level.level
        return ProfileResult(
            id=profile.id, name=profile.name, source=profile.source,
            description=profile.description, path=str(profile.path), sha256=profile.sha256,
            achieved_level=achieved, max_level=profile.max_level, levels=tuple(levels),
            mandatory=profile.mandatory)

    def _refused(self, process: str, profile: Profile) -> tuple[NotCounted, ...]:
        """Exclusions of `process` that do not satisfy `profile`'s requirement, and why."""
        refused: list[NotCounted] = []
        for item in self.items_of[process]:
            if item.kind != "exclusion":
                continue
            if not item.accepted:
                refused.append(NotCounted(item.id, item.reason or "rejected"))
            elif process in profile.mandatory:
                refused.append(NotCounted(item.id, f"exclusion not allowed: {process} is "
                                          f"mandatory in profile {profile.id}"))
            else:
                refused.append(NotCounted(item.id, "exclusion does not apply under the rules "
                                          "in force"))
        return tuple(refused)


def _derived_capability(cond: Condition) -> str | None:
    """The capability a condition asks for, when it asks for a derived capability."""
    if cond.fact != "capability":
        return None
    for test in cond.tests:
        if test.attr == "capability" and test.op == "eq" and not isinstance(test.value, Ref):
            return str(test.value)
    return None


def _label(cond: Condition) -> str:
    """How a missing fact is named to a user: its label attribute's value, or its type."""
    attr = FACT_TYPES[cond.fact].label
    for test in cond.tests:
        if test.attr == attr and test.op == "eq":
            return str(test.value)
    return cond.fact


_COMPARE = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
}


def _satisfies(fact: Fact, cond: Condition) -> bool:
    """Whether `fact` matches `cond` (tests against other facts are taken as met)."""
    if fact.get("t") != cond.fact:
        return False
    for test in cond.tests:
        if isinstance(test.value, Ref):
            continue
        if test.attr not in fact:
            return False
        try:
            if not _COMPARE[test.op](fact[test.attr], test.value):
                return False
        except TypeError:
            return False
    return True


def _as_fact(item: EvidenceItem) -> Fact:
    return item_fact(item)
