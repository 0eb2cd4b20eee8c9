"""Findings: the `finding` facts rules derive, turned into sorted, explained results.

A finding rule's `then` carries a kind (`finding`) and a message template whose
`{alias.attribute}` fields are filled from the facts the rule matched. Nothing
here decides what is a finding; it only reads firings. This module also says, in
words, which condition of which rule a fact failed (used to explain why a metric
report did not count).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import hashlib
import json

from .engine import Firing, engine_safe
from .matching import Index, matches, passes
from .results import Finding
from .rules import DEFAULT_SEVERITY, FACT_TYPES, TEMPLATE_FIELD, Condition, Ref, Rule, Rulebook

Fact = dict[str, Any]
_HIDDEN = ("id", "t", "sid", "process", "review")   # review: on the evidence entries
_OPERATOR = {"eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_NEGATED = {"eq": "!=", "ne": "==", "gt": "<=", "gte": "<", "lt": ">=", "lte": ">"}


def show(value: Any) -> str:
    """A value as a person reads it: numbers without trailing zeros."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render(template: str, matched: Mapping[str, Fact]) -> str:
    """Fill `{alias.attribute}` fields from the matched facts (unknown ones stay '?')."""
    def field(match: Any) -> str:
        alias, _, attr = match.group(1).partition(".")
        value = matched.get(alias, {}).get(attr)
        return "?" if value is None else show(value)

    return TEMPLATE_FIELD.sub(field, template)


def collect_findings(firings: Iterable[Firing], fact_of: Callable[[str], Fact | None],
                     evidence_behind: Callable[[str], set[str]]) -> tuple[Finding, ...]:
    """Every finding derived in an evaluation, deterministic and sorted.

    `fact_of(id)` gives any fact (asserted or derived) by id; `evidence_behind(id)`
    the bundle items a fact rests on.
    """
    found: dict[tuple[Any, ...], Finding] = {}
    for firing in firings:
        derived = firing.derived_fact
        if derived.get("t") != "finding":
            continue
        matched = {alias: fact_of(fact_id) or {} for alias, fact_id in firing.matched}
        finding = Finding(
            rule=firing.rule_id,
            finding=str(derived.get("finding", "")),
            process=firing.process,
            message=render(str(derived.get("message", "")), matched),
            # the items behind this firing's facts (several firings may derive equal facts)
            evidence=tuple(sorted(set().union(*(evidence_behind(i) for _, i in firing.matched)))),
            facts=tuple((alias, str(fact.get("t", "")),
                         tuple((k, v) for k, v in sorted(fact.items()) if k not in _HIDDEN))
                        for alias, fact in matched.items()),
            id=finding_id(firing.rule_id, firing.process, matched.values()),
            severity=str(derived.get("severity") or DEFAULT_SEVERITY),
        )
        found[(finding.process, finding.rule, finding.message, finding.evidence)] = finding
    return tuple(found[key] for key in sorted(found))


def finding_id(rule: str, process: str, matched: Iterable[Fact]) -> str:
    """The stable id of a finding: `RULE/PROCESS/<10 hex digits>`.

    The digits are the start of a sha256 over the rule id, the process and, for each
    fact the rule matched, its type and its *identity* attributes (`FactType.identity`:
    an item id, a service level id, a role and person), never values or dates. So the
    same finding in next year's bundle has the same id, and anomalies of one metric
    on several dates are one finding with several occurrences.
    """
    about = sorted(
        json.dumps([str(fact.get("t", "")),
                    [[attr, str(fact.get(attr, ""))]
                     for attr in (FACT_TYPES[fact["t"]].identity
                                  if fact.get("t") in FACT_TYPES else ())]])
        for fact in matched)
    basis = json.dumps([rule, process, about], ensure_ascii=True)
    return f"{rule}/{process}/{hashlib.sha256(basis.encode()).hexdigest()[:10]}"


def unmet_reason(fact: Fact, derives: str, rulebook: Rulebook,
                 index: Index | None = None) -> str:
    """Why no rule derived a `derives` fact from `fact`, read off the rules' conditions.

    Tests are judged as the engine judges them (matching.passes). An attribute the
    rules test for equality with different values (e.g. `has_frequency: 0` in one rule,
    `1` in another) sorts facts between the rules: only the rules whose such tests the
    fact passes are meant for it. The other tests it fails are named, e.g. "coverage
    0.19 <= 0.8 required by rule EVD-METRIC-CADENCE". When it passes them all, the
    rule's other conditions are looked for among `index` (the process's facts by type)
    and the first that no fact fills is named.
    """
    conditions = [(rule, cond) for rule in rulebook.deriving(derives)
                  for cond in rule.when if cond.fact == fact.get("t")]
    values: dict[str, set[Any]] = {}
    for _, cond in conditions:
        for test in cond.tests:
            if test.op == "eq" and not isinstance(test.value, Ref):
                values.setdefault(test.attr, set()).add(test.value)
    selectors = {attr for attr, seen in values.items() if len(seen) > 1}
    safe = engine_safe(fact)
    reasons: list[str] = []
    for rule, cond in conditions:
        literal = [t for t in cond.tests if not isinstance(t.value, Ref)]
        if not all(passes(safe, t, {}) for t in literal if t.op == "eq" and t.attr in selectors):
            continue   # this rule is for other facts of the type
        failed = [f"{t.attr} {show(fact.get(t.attr, 'missing'))} {_NEGATED[t.op]} "
                  f"{show(t.value)}" for t in literal
                  if not (t.op == "eq" and t.attr in selectors) and not passes(safe, t, {})]
        if failed:
            reasons.append(f"{' and '.join(failed)} required by rule {rule.id}")
        elif index is not None and not any(matches(rule, index, {cond.alias: safe})):
            reasons.append(f"{_unfilled(rule, cond, safe, index)} required by rule {rule.id}")
    if reasons:
        return "; ".join(reasons)
    names = ", ".join(r.id for r in rulebook.deriving(derives)) or "none"
    return f"no rule counts it (rules deriving {derives}: {names})"


def _unfilled(rule: Rule, own: Condition, fact: Fact, index: Index) -> str:
    """The first condition of `rule` that no fact fills once `fact` fills `own`."""
    for position, cond in enumerate(rule.when):
        prefix = Rule(rule.id, rule.title, rule.section, rule.rationale,
                      rule.when[:position + 1], rule.then_fact, (), rule.file)
        if own not in prefix.when or any(matches(prefix, index, {own.alias: fact})):
            continue
        if cond is own:
            joins = [f"{t.attr} {_OPERATOR[t.op]} {t.value.alias}.{t.value.attr}"
                     for t in cond.tests if isinstance(t.value, Ref)]
            return f"a fact to join on {', '.join(joins)}"
        return f"a {cond.fact} fact as '{cond.alias}'"
    return "its other conditions"
