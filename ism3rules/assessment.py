"""Evaluate a bundle: evidence and profiles become facts, the rules decide, results come out.

This module decides nothing about capability or maturity itself: capabilities
come from rules deriving `capability` facts, requirements are met when a rule
derives `requirement_met` for them, documents and roles count when a rule derives
`documentation` or `role` from their `item` fact. What is missing is a plan checked
against the rules (planning.py), and every evaluation checks that the engine fired
exactly what the rules mean (matching.py), so explanations cannot drift from verdicts.
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
from .evidence import ROLES, Bundle, EvidenceItem, check_facts
from .findings import collect_findings, unmet_reason
from .limits import DEFAULT_LIMITS
from .matching import Closure, matches
from .metrics import (MetricStats, metric_facts, metric_stats, planned_stats, sla_fact,
                      sla_window)
from .planning import Goal, Planner, Remedy
from .profiles import Profile
from .results import (Assessment, Finding, Gap, ItemToAdd, LevelResult, MetricResult,
                      NotCounted, ProcessResult, ProfileResult, RequirementResult,
                      ServiceLevelResult, Shortfall)
from .review import Review, decision_on, judge_items
from .rules import FACT_TYPES, Rulebook, Test
from .specs import FREQUENCIES, MetricSpec

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


# The size a plan assumes for a document it adds: a real one, with content (a rule may
# ask for a minimum size; the largest a document may be meets any such minimum).
PLANNED_DOCUMENT_BYTES = DEFAULT_LIMITS.max_document_bytes

# Item kinds admitted by rules, and the fact type the rules derive for an admitted item.
ADMITTED = {"documentation": "documentation", "role": "role"}


def admission_fact(item: EvidenceItem, judged_at: date | None) -> Fact:
    """The `item` fact of a documentation or role item that passed the integrity checks:
    what the rules need to admit it (rules.FACT_TYPES["item"] says each attribute).

    Dates are judged at `judged_at` (the assessment date); without one they are not
    judged (`has_date` and `dated` 0). `size` and `placeholder` are the loader's (the
    document's bytes; whether its title is still a `TODO:`). New admission criteria
    add their attributes here and in FACT_TYPES["item"].
    """
    has_date = item.effective is not None and judged_at is not None
    dated = item.expires is not None and judged_at is not None
    return {"id": f"item:{item.id}", "t": "item", "process": item.process, "item": item.id,
            "kind": item.kind, "has_date": int(has_date),
            "days_in_force": (judged_at - item.effective).days  # type: ignore[operator]
            if has_date else 0,
            "dated": int(dated),
            "days_left": (item.expires - judged_at).days if dated else 0,  # type: ignore[operator]
            "date": str(item.effective) if item.effective else "none",
            "expires": str(item.expires) if item.expires else "none",
            "as_of": str(judged_at) if judged_at else "none",
            "role": item.role or "", "person": item.person or "",
            "size": item.size or 0, "placeholder": int(item.placeholder)}


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
        EngineError: the engine failed, or fired other than the rules mean (an internal
            error).
    """
    catalogue = catalogue or load_catalogue()
    ids = [p.id for p in profiles]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ProfileError(f"profile id '{dup[0]}' is loaded twice; profile ids must be unique")
    compiled = compile_rulebook(rulebook)

    evidence_of: dict[str, list[str]] = defaultdict(list)
    facts: dict[str, Fact] = {}
    # With rules deriving `metric`, `documentation` or `role` (rules/evidence.yaml), items
    # reach the engine as reports and `item` facts the rules admit; without them, the
    # version-1 meaning: one such fact per accepted item. Every per-item fact carries the
    # auditor's decision on its item (`review`), for the rules to weigh.
    context = _Context(bundle, rulebook, review)
    stats = {i.id: metric_stats(i, context.start, context.end, context.cutoff)
             for i in bundle.items if i.kind == "metric" and i.accepted}
    # every observation outside its band becomes a fact: refuse before building them
    check_facts(bundle, sum(len(s.outliers) for s in stats.values())
                if context.via_reports else 0)
    for item in bundle.items:
        if item.accepted:
            for fact in context.facts_of(item, stats.get(item.id)):
                facts.setdefault(fact["id"], fact)
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
    windows = [sla_window(sla, chosen, context.start, context.end, context.cutoff)
               for sla, chosen in zip(bundle.service_levels, named, strict=True)]
    for window, chosen in zip(windows, named, strict=True):
        fact = sla_fact(window)
        facts[fact["id"]] = fact
        sla_items = sorted({i for i, _ in window.observations} or {i.id for i in chosen})
        evidence_of[fact["id"]].extend(sla_items)
    for profile in profiles:
        for fact in requirement_facts(profile):
            facts[fact["id"]] = fact
    check_facts(bundle, len(facts))   # a bound on the engine's work (--max-facts)
    firings = compiled.run(list(facts.values()))
    closures = _check_engine(rulebook, facts, firings)
    items = _judge_exclusions(bundle, facts, firings)
    items = _judge_admission(items, facts, firings, context, stats, closures)
    # an item the auditor rejected and no rule relied on shows the auditor's reason
    items = judge_items(items, bundle.items, review, evidence_of,
                        {fact_id for f in firings if f.derived_type != "finding"
                         for _, fact_id in f.matched})
    counted_by = {fact_id: f.rule_id for f in reversed(firings)
                  if f.derived_type == "metric" for _, fact_id in f.matched}
    admitted = {fact_id: f.rule_id for f in reversed(firings)
                if f.derived_type in ADMITTED.values() for _, fact_id in f.matched}
    by_process: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts.values():
        by_process[fact["process"]].append(fact)
    planner = Planner(rulebook, context.build, context.vocabulary(catalogue), by_process)
    planner._closures.update(closures)
    world = _World(rulebook, catalogue, facts, firings, evidence_of, items, planner)
    findings = collect_findings(firings, world.fact, world.evidence_behind)
    processes = tuple(world.process_result(p) for p in catalogue.process_ids)
    by_id = {p.id: p for p in processes}
    files = bundle.files   # digests of the bytes the loader read, never a second reading
    about_item = _findings_by_item(findings)
    about_sla = _findings_by_sla(findings)
    shown = _bands_shown(rulebook, bundle, stats, closures)
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
        bundle_archive=((bundle.archive.format, bundle.archive.sha256)
                        if bundle.archive is not None else None),
        findings=findings,
        metrics=tuple(_metric_result(i, stats[i.id], counted_by.get(f"metric_report:{i.id}"),
                                     about_item.get(i.id, ()), i.id in shown)
                      for i in bundle.items if i.id in stats),
        service_levels=tuple(_sla_result(w, about_sla.get(w.sla.id, ())) for w in windows),
        admitted_by=tuple((i.id, admitted[f"item:{i.id}"]) for i in items
                          if i.accepted and f"item:{i.id}" in admitted),
    )


class _Context:
    """How the items of one bundle become facts, for the bundle's own items and for the
    items a remediation plan adds (the same code for both)."""

    def __init__(self, bundle: Bundle, rulebook: Rulebook, review: Review | None = None) -> None:
        self.start, self.end = bundle.period_start, bundle.period_end
        self.cutoff = bundle.judged_at
        self.via_reports = bool(rulebook.deriving("metric"))
        self.admitted = {kind: bool(rulebook.deriving(fact)) for kind, fact in ADMITTED.items()}
        self.review = review

    def facts_of(self, item: EvidenceItem, stats: MetricStats | None) -> list[Fact]:
        """The input facts of an accepted item, each per-item fact with the auditor's
        decision on it (`review`: `none` without a review, and for an item a plan adds)."""
        if item.kind == "metric" and self.via_reports and stats is not None:
            facts = metric_facts(item, stats)
        elif self.admitted.get(item.kind):
            facts = [admission_fact(item, self.cutoff)]
        else:
            facts = [item_fact(item, self.cutoff)]
        decision = decision_on(self.review, item.id)
        for fact in facts:
            if "review" in FACT_TYPES[fact["t"]].attrs:
                fact["review"] = decision
        return facts

    def vocabulary(self, catalogue: Catalogue) -> list[ItemToAdd]:
        """The items a plan may add: a document, a metric of each type (with each
        frequency when there is a period to count periods in), a role item of each role;
        documents and roles also dated from the assessment date, when there is one."""
        frequencies: tuple[str | None, ...] = (None,)
        if self.start is not None and self.cutoff is not None:
            frequencies += FREQUENCIES
        dates: tuple[str | None, ...] = (None,)
        if self.cutoff is not None:
            dates += (self.cutoff.isoformat(),)
        return ([ItemToAdd("documentation", date=d) for d in dates]
                + [ItemToAdd("metric", metric_type=m.name, frequency=f)
                   for m in catalogue.metric_types for f in frequencies]
                + [ItemToAdd("role", role=r, date=d) for r in ROLES for d in dates])

    def build(self, new: ItemToAdd, process: str, ident: str) -> list[Fact]:
        """The facts the item `new` would give once added as a plan says (documents in
        force and undated, with content and a real title: PLANNED_DOCUMENT_BYTES, no
        placeholder; metrics reported once in every period, or once)."""
        item = EvidenceItem(id=ident, process=process, kind=new.kind, line=0,
                            status="accepted", metric_type=new.metric_type, role=new.role,
                            person=new.person,
                            size=PLANNED_DOCUMENT_BYTES if new.kind == "documentation" else None,
                            effective=date.fromisoformat(new.date) if new.date else None,
                            specification=MetricSpec(frequency=new.frequency)
                            if new.frequency else None)
        stats = None
        if new.kind == "metric":
            stats = planned_stats(item, self.start, self.end, self.cutoff)
        return self.facts_of(item, stats)


def _check_engine(rulebook: Rulebook, facts: dict[str, Fact],
                  firings: tuple[Firing, ...]) -> dict[str, Closure]:
    """The facts of each process closed under the rules (matching.py); the engine must
    have fired exactly the same rules on the same facts.

    Raises:
        EngineError: it did not: explanations would contradict the verdicts.
    """
    by_process: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts.values():
        by_process[fact["process"]].append(fact)
    closures = {p: Closure(rulebook, p, group) for p, group in by_process.items()}
    expected = sorted((f for c in closures.values() for f in c.firings),
                      key=lambda f: (f.rule_id, f.process, f.matched))
    if list(firings) != expected:
        engine, rules = set(firings), set(expected)

        def said(found: set[Firing]) -> list[str]:
            return sorted(f"{f.rule_id} on {f.process} matching "
                          f"{', '.join(i for _, i in f.matched)} giving {f.derived_fact['id']}"
                          for f in found)

        only_engine, only_rules = said(engine - rules), said(rules - engine)
        raise EngineError(
            "internal error: the rules engine and the rules' meaning disagree (fired only by "
            f"the engine: {'; '.join(only_engine[:3]) or 'none'}; meant but not fired: "
            f"{'; '.join(only_rules[:3]) or 'none'})")
    return closures


def _judge_admission(items: tuple[EvidenceItem, ...], facts: dict[str, Fact],
                     firings: Sequence[Firing], context: _Context,
                     stats: dict[str, MetricStats],
                     closures: dict[str, Closure]) -> tuple[EvidenceItem, ...]:
    """Items whose facts no rule turned into the fact it counts as, marked rejected with
    the reason read off the rules (metric reports; documentation and role items)."""
    used = {fact_id for f in firings if f.derived_type in ("metric", *ADMITTED.values())
            for _, fact_id in f.matched}
    judged: list[EvidenceItem] = []
    for item in items:
        if item.accepted and item.kind == "metric" and context.via_reports:
            report = facts[f"metric_report:{item.id}"]
            if report["id"] not in used:
                item = dataclasses.replace(item, status="rejected", reason=_uncounted(
                    report, stats[item.id], closures[item.process]))
        elif item.accepted and context.admitted.get(item.kind):
            fact = facts[f"item:{item.id}"]
            if fact["id"] not in used:
                item = dataclasses.replace(item, status="rejected", reason=_unadmitted(
                    item, fact, closures[item.process]))
        judged.append(item)
    return tuple(judged)


def _uncounted(report: Fact, stats: MetricStats, closure: Closure) -> str:
    """Why a metric report did not count, read off the rules that could have counted it."""
    why = unmet_reason(report, "metric", closure.rulebook, closure.index)
    if stats.has_frequency:
        return (f"reported in {stats.periods_reported} of {stats.periods_expected} "
                f"{stats.frequency} periods: {why}")
    return why


def _unadmitted(item: EvidenceItem, fact: Fact, closure: Closure) -> str:
    """Why a document or role item was not admitted: its dates, then the rules' reason."""
    dates = [f"in force from {fact['date']}" if fact["has_date"] else "",
             f"expires {fact['expires']}" if fact["dated"] else ""]
    why = unmet_reason(fact, ADMITTED[item.kind], closure.rulebook, closure.index)
    said = ", ".join(d for d in dates if d)
    return f"{said} (assessed at {fact['as_of']}): {why}" if said else why


def _bands_shown(rulebook: Rulebook, bundle: Bundle, stats: dict[str, MetricStats],
                 closures: dict[str, Closure]) -> set[str]:
    """Metric items whose band is worth showing: declared thresholds, or control limits
    on as many observations as some rule needs to flag a point far outside them (a
    rule on `observation` would match such a point, asked of the rules themselves)."""
    shown: set[str] = set()
    conditions = [(r, c) for r in rulebook.rules for c in r.when if c.fact == "observation"]
    items = {i.id: i for i in bundle.items}
    asked: dict[tuple[str, int], bool] = {}
    for item_id, st in stats.items():
        if st.bounds == "threshold":
            shown.add(item_id)
        if st.bounds != "control" or st.lower is None or st.upper is None:
            continue
        process = items[item_id].process
        key = (process, len(st.window))
        if key not in asked:
            asked[key] = any(_would_flag(rule, cond, closures.get(process), items[item_id],
                                         st, side)
                             for rule, cond in conditions for side in ("above", "below"))
        if asked[key]:
            shown.add(item_id)
    return shown


def _would_flag(rule: Any, cond: Any, closure: Closure | None, item: EvidenceItem,
                st: MetricStats, side: str) -> bool:
    """Whether `rule` would fire on a point of `item` far `side` its control limits."""
    far = 1e15
    lower, upper = float(st.lower or 0.0), float(st.upper or 0.0)
    point = {"id": "observation:(asked)", "t": "observation", "process": item.process,
             "metric_type": item.metric_type, "item": item.id, "date": "", "bounds": "control",
             "samples": len(st.window), "lower": lower, "upper": upper,
             "value": upper + far if side == "above" else lower - far, side: far}
    index: dict[str, Any] = dict(closure.index) if closure is not None else {}
    index["observation"] = [*index.get("observation", ()), point]
    return any(matches(rule, index, {cond.alias: point}))


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
                   findings: tuple[Finding, ...], shown: bool) -> MetricResult:
    """Per-metric verdicts: what counted it, its band (when `shown`), anomalies and
    target attainment."""
    anomalies = sum(1 for f in findings if f.about("observation", "item", item.id))
    target_met = None
    if stats.shortfall is not None:
        target_met = not any(f.about("target", "item", item.id) for f in findings)
    latest = stats.latest
    return MetricResult(
        item=item.id, counted_by=rule, frequency=stats.frequency,
        periods_expected=stats.periods_expected, periods_reported=stats.periods_reported,
        coverage=stats.coverage, observations_in_window=len(stats.window),
        bounds=stats.bounds if shown else None, lower=stats.lower if shown else None,
        upper=stats.upper if shown else None, mean=stats.mean if shown else None,
        sigma=stats.sigma if shown else None,
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
    valid = {fact_id for f in firings if f.derived_type == "exclusion_valid"
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
                 items: Sequence[EvidenceItem], planner: Planner) -> None:
        self.rulebook = rulebook
        self.catalogue = catalogue
        self.facts = facts
        self.firings = tuple(firings)
        self.planner = planner
        self.derived_by: dict[str, Firing] = {}
        self.derivations: dict[str, list[Firing]] = defaultdict(list)
        self.evidence_of = evidence_of
        # capability firings by process (looking through every firing for every process
        # was quadratic in the bundle's size)
        self.capabilities: dict[str, list[Firing]] = defaultdict(list)
        for firing in self.firings:
            derived_id = firing.derived_id
            self.derivations[derived_id].append(firing)
            self.derived_by.setdefault(derived_id, firing)
            if firing.derived_type == "capability":
                self.capabilities[firing.process].append(firing)
        self.requirement_met: dict[str, str] = {}
        self.requirement_excluded: dict[str, tuple[str, str]] = {}
        for firing in self.firings:
            kind = firing.derived_type
            if kind not in ("requirement_met", "requirement_excluded"):
                continue
            for _, fact_id in firing.matched:
                if facts.get(fact_id, {}).get("t") != "requirement":
                    continue
                if kind == "requirement_met":
                    self.requirement_met.setdefault(fact_id, firing.rule_id)
                else:
                    behind = sorted(set().union(*(self._evidence_behind(i)
                                                  for _, i in firing.matched)))
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
        for firing in firings:   # a fact (one metric type) may be derived many times
            for _, matched in firing.matched:
                found |= self._evidence_behind(matched, seen)
        return found

    # -- capability -------------------------------------------------------------
    def _capabilities(self, process: str) -> list[Firing]:
        return sorted(self.capabilities.get(process, ()),
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
        return ProcessResult(
            id=proc.id, name=proc.name, level=proc.level, group=proc.group,
            capability=capability, rank=rank, practices=tuple(practices), rules=tuple(rules),
            evidence=tuple(sorted(evidence)),
            other_evidence=tuple(sorted(set(accepted) - evidence)),
            rejected_evidence=tuple(sorted(i.id for i in self.rejected[process_id])),
            next=nxt,
        )

    def _remedy(self, process: str, goal: Goal, what: str) -> Remedy:
        """The checked plan for `goal`. Raises EngineError when the plan says the goal is
        reached already: the engine did not derive it, so the two disagree."""
        remedy = self.planner.remedy(process, goal)
        if remedy.reachable and not remedy.items:
            raise EngineError(f"internal error: {process} meets the conditions of {what} "
                              "but the engine did not derive it")
        return remedy

    def shortfall(self, process: str, rank: int) -> Shortfall:
        """What `process` lacks to reach capability `rank`: a plan checked against the rules."""
        cap = self.catalogue.capability_by_rank(rank)
        remedy = self._remedy(process, Goal("capability", (Test("capability", "eq", cap.name),)),
                              f"capability {cap.name}")
        rules = tuple(r for r in remedy.rules if self.rulebook.rule(r).then_fact == "capability")
        return Shortfall(cap.name, cap.rank, rules, _labels(remedy.items),
                         self._not_counted(process, remedy.items), remedy.items,
                         remedy.reachable)

    def _not_counted(self, process: str, items: Sequence[ItemToAdd]) -> tuple[NotCounted, ...]:
        """Rejected items of `process` of a kind the plan adds (fixing one would do too)."""
        wanted = {_kind_key(i) for i in items}
        return tuple(NotCounted(item.id, item.reason or "rejected")
                     for item in self.rejected[process]
                     if (item.kind, item.metric_type if item.kind == "metric" else
                         item.role if item.kind == "role" else None) in wanted)

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
                    remedy = self._remedy(req.process, Goal("requirement_met", pinned=fact_id),
                                          f"requirement {fact_id}")
                    gaps.append(Gap(req.process, req.capability, req.rank, proc.capability,
                                    proc.rank, _labels(remedy.items),
                                    self._not_counted(req.process, remedy.items)
                                    + self._refused(req.process, profile),
                                    rationale.get(req.process), remedy.items, remedy.reachable))
            levels.append(LevelResult(lvl.level, lvl.name, not gaps, tuple(reqs), tuple(gaps)))
        # Levels are cumulative (ism3-profile/1): the level reached is the last one before
        # the first level with a gap. The rule language cannot say "every requirement of
        # a level" (docs/design.md says why), so this one step is done here.
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


def _labels(items: Sequence[ItemToAdd]) -> tuple[str, ...]:
    """The plan's items as `missing` names them, each once, in plan order."""
    labels: list[str] = []
    for item in items:
        if item.label not in labels:
            labels.append(item.label)
    return tuple(labels)


def _kind_key(item: ItemToAdd) -> tuple[str, str | None]:
    return (item.kind, item.metric_type if item.kind == "metric" else
            item.role if item.kind == "role" else None)
