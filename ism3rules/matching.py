"""The condition language's one meaning outside the engine: tests, matches, firings.

Explanations (what is missing, why a fact did not count, the remediation plan) read
the rules through this module, never through a copy of their logic. It matches
exactly as the rules compile for durable_rules (engine.py), measured on 2.0.28:
- a condition matches a fact of its type; every condition after the first is about
  the first one's process;
- one fact fills at most one condition of a firing; every ordered choice of distinct
  facts that passes all tests is a firing, once;
- a test on an attribute the fact lacks fails, whatever the operator (even `ne`);
- numbers compare as numbers (1 equals 1.0), text as text in code point order (the
  engine compares UTF-8 bytes, the same order); the rule loader lets neither compare
  with the other (FactType.kinds);
- floats are compared as the engine reads them (`engine.engine_safe`);
- a rule derives `rules.derived_fact` from its matched facts; a fact derived a second
  time (equal values) is the same fact.
`run` is the fixpoint the engine reaches. assessment.assess checks on every evaluation
that the engine's firings are exactly `run`'s, and tests/test_rule_semantics.py
checks it on random rule files, so an explanation cannot say something the engine did
not do.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from .engine import Firing, engine_number, engine_safe
from .rules import Condition, Ref, Rule, Rulebook, Test, derived_fact

Fact = dict[str, Any]
Index = Mapping[str, Sequence[Fact]]    # fact type -> facts of one process

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "ne": operator.ne, "gt": operator.gt,
    "gte": operator.ge, "lt": operator.lt, "lte": operator.le,
}


def operand(test: Test, bound: Mapping[str, Fact]) -> tuple[bool, Any]:
    """(known, value) a test compares with: its literal, or the ref'd attribute of a
    fact already bound (unknown when that fact lacks it or is not bound)."""
    value = test.value
    if isinstance(value, Ref):
        source = bound.get(value.alias)
        if source is None or value.attr not in source:
            return False, None
        return True, source[value.attr]
    if isinstance(value, float):
        return True, engine_number(value)
    return True, value


def passes(fact: Fact, test: Test, bound: Mapping[str, Fact]) -> bool:
    """Whether `fact` passes one test, refs read from the facts `bound` to earlier aliases."""
    if test.attr not in fact:
        return False
    known, value = operand(test, bound)
    if not known:
        return False
    try:
        return bool(_COMPARE[test.op](fact[test.attr], value))
    except TypeError:   # text against a number: the loader refuses such rules
        return False


_Check = tuple[str, Callable[[Any, Any], bool], bool, Any, str]
_COMPILED: dict[int, tuple[Condition, tuple[_Check, ...]]] = {}


def _checks(cond: Condition) -> tuple[_Check, ...]:
    """`cond`'s tests as (attribute, comparison, is a ref, literal or alias, ref'd
    attribute), made once per condition: matching is the hot loop of explanations."""
    entry = _COMPILED.get(id(cond))
    if entry is None or entry[0] is not cond:
        checks: list[_Check] = []
        for test in cond.tests:
            value = test.value
            if isinstance(value, Ref):
                checks.append((test.attr, _COMPARE[test.op], True, value.alias, value.attr))
            else:
                literal = engine_number(value) if isinstance(value, float) else value
                checks.append((test.attr, _COMPARE[test.op], False, literal, ""))
        entry = (cond, tuple(checks))
        if len(_COMPILED) > 10_000:   # rulebooks come and go in long-lived processes
            _COMPILED.clear()
        _COMPILED[id(cond)] = entry
    return entry[1]


_MISSING = object()


def satisfies(fact: Fact, cond: Condition, bound: Mapping[str, Fact]) -> bool:
    """Whether `fact` fills `cond` given the facts bound to the earlier conditions
    (each test as `passes` judges it)."""
    return fact.get("t") == cond.fact and _passes_all(fact, _checks(cond), bound)


def _passes_all(fact: Fact, checks: tuple[_Check, ...], bound: Mapping[str, Fact]) -> bool:
    for attr, compare, is_ref, value, ref_attr in checks:
        actual = fact.get(attr, _MISSING)
        if actual is _MISSING:
            return False
        if is_ref:
            source = bound.get(value)
            if source is None or ref_attr not in source:
                return False
            value = source[ref_attr]
        try:
            if not compare(actual, value):
                return False
        except TypeError:   # text against a number: the loader refuses such rules
            return False
    return True


Lookup = Callable[[str, str, Any], Sequence[Fact]]   # (type, attribute, value) -> facts
_Step = tuple[str, str, tuple[_Check, ...], tuple[str, Any] | None]
_STEPS: dict[int, tuple[Rule, list[_Step]]] = {}


def _steps(rule: Rule) -> list[_Step]:
    """Each condition of `rule` as (alias, fact type, checks, a literal equality to look
    facts up by, if any), made once per rule."""
    entry = _STEPS.get(id(rule))
    if entry is None or entry[0] is not rule:
        steps: list[_Step] = []
        for cond in rule.when:
            checks = _checks(cond)
            key = next(((attr, value) for attr, compare, is_ref, value, _ in checks
                        if compare is operator.eq and not is_ref), None)
            steps.append((cond.alias, cond.fact, checks, key))
        if len(_STEPS) > 10_000:
            _STEPS.clear()
        entry = (rule, steps)
        _STEPS[id(rule)] = entry
    return entry[1]



def matches(rule: Rule, index: Index, pinned: Mapping[str, Fact] | None = None,
            lookup: Lookup | None = None) -> Iterator[dict[str, Fact]]:
    """Every binding (alias -> fact) of `rule`'s conditions among one process's facts.

    `pinned` fixes some aliases to given facts (which must still pass their tests).
    `lookup`, when given, yields the facts of a type with an attribute equal to a value
    (a narrower pool for a condition with a literal equality; every test still runs).
    Bindings come in a deterministic order (the index's order).
    """
    pinned = pinned or {}
    steps = _steps(rule)
    last = len(steps) - 1

    def extend(position: int, bound: dict[str, Fact], used: set[str]) -> Iterator[dict[str, Fact]]:
        alias, fact_type, checks, key = steps[position]
        if alias in pinned:
            pool: Sequence[Fact] = (pinned[alias],) if pinned[alias].get("t") == fact_type else ()
        elif lookup is not None and key is not None:
            pool = lookup(fact_type, key[0], key[1])
        else:
            pool = index.get(fact_type, ())
        for fact in pool:
            ident = fact["id"]
            if ident in used or not _passes_all(fact, checks, bound):
                continue
            bound[alias] = fact
            if position == last:
                yield dict(bound)
            else:
                used.add(ident)
                yield from extend(position + 1, bound, used)
                used.discard(ident)
            del bound[alias]

    yield from extend(0, {}, set())


class Closure:
    """One process's facts, closed under the rules: every firing and derived fact.

    Built by forward chaining to the fixpoint (a rule fires once per binding), as the
    engine does within one session. `extended` adds facts to a copy and chains on
    from there (the rules are monotone: nothing derived before is taken back).
    """

    def __init__(self, rulebook: Rulebook, process: str, facts: Iterable[Fact]) -> None:
        self.rulebook = rulebook
        self.process = process
        self.index: dict[str, list[Fact]] = defaultdict(list)
        self.by_id: dict[str, Fact] = {}
        self.firings: list[Firing] = []
        self._fired: set[tuple[str, tuple[str, ...]]] = set()
        self._by_value: dict[tuple[str, str], dict[Any, list[Fact]]] = {}
        self._chain([engine_safe(f) for f in facts], everything=True)

    def lookup(self, fact_type: str, attr: str, value: Any) -> Sequence[Fact]:
        """The facts of `fact_type` whose `attr` equals `value` (in index order)."""
        table = self._by_value.get((fact_type, attr))
        if table is None:
            table = defaultdict(list)
            for fact in self.index.get(fact_type, ()):
                if attr in fact:
                    table[_key(fact[attr])].append(fact)
            self._by_value[fact_type, attr] = table
        return table.get(_key(value), ())

    def extended(self, facts: Iterable[Fact], only: frozenset[str] | None = None) -> Closure:
        """A new closure: these facts and this one's, closed under the rules (with `only`,
        under the rules deriving those fact types: enough to tell whether one of them
        follows, when `only` holds every type that can take part in deriving it)."""
        other = Closure.__new__(Closure)
        other.rulebook, other.process = self.rulebook, self.process
        other.index = defaultdict(list, {t: list(group) for t, group in self.index.items()})
        other.by_id = dict(self.by_id)
        other.firings = list(self.firings)
        other._fired = set(self._fired)
        other._by_value = {k: defaultdict(list, {v: list(g) for v, g in t.items()})
                           for k, t in self._by_value.items()}
        other._chain([engine_safe(f) for f in facts], only=only)
        return other

    def _chain(self, facts: list[Fact], everything: bool = False,
               only: frozenset[str] | None = None) -> None:
        """Add `facts` and fire to the fixpoint. Each round looks only at bindings that
        hold a fact new in the round before (semi-naive evaluation); with `everything`,
        the first round looks at every binding (all facts are new)."""
        consumed = self.rulebook.consumed
        new: dict[str, list[Fact]] = defaultdict(list)
        for fact in facts:
            if fact["id"] not in self.by_id:
                self._add(fact)
                new[fact["t"]].append(fact)
        while new:
            found: dict[str, list[Fact]] = defaultdict(list)
            rules = {r.id: r for t in new for r in self.rulebook.using(t)
                     if only is None or r.then_fact in only}
            for rule in sorted(rules.values(), key=lambda r: self.rulebook.position[r.id]):
                if everything:
                    for bound in list(matches(rule, self.index, lookup=self.lookup)):
                        self._fire(rule, bound, consumed, found)
                    continue
                for cond in rule.when:
                    for fact in new.get(cond.fact, ()):
                        for bound in list(matches(rule, self.index, {cond.alias: fact},
                                                  self.lookup)):
                            self._fire(rule, bound, consumed, found)
            new = found
            everything = False

    def _fire(self, rule: Rule, bound: dict[str, Fact], consumed: frozenset[str],
              found: dict[str, list[Fact]]) -> None:
        ids = tuple(bound[c.alias]["id"] for c in rule.when)
        if (rule.id, ids) in self._fired:
            return
        self._fired.add((rule.id, ids))
        derived = derived_fact(rule, self.process, bound)
        self.firings.append(Firing(rule.id, self.process, tuple(
            (c.alias, bound[c.alias]["id"]) for c in rule.when), tuple(derived.items())))
        if rule.then_fact in consumed and derived["id"] not in self.by_id:
            fact = engine_safe(derived)
            self._add(fact)
            found[fact["t"]].append(fact)

    def _add(self, fact: Fact) -> None:
        self.index[fact["t"]].append(fact)
        self.by_id[fact["id"]] = fact
        for (fact_type, attr), table in self._by_value.items():
            if fact_type == fact["t"] and attr in fact:
                table[_key(fact[attr])].append(fact)


def _key(value: Any) -> Any:
    """A value as a lookup key: equal where the equality test says equal (1 and 1.0)."""
    return value


def run(rulebook: Rulebook, facts: Iterable[Fact]) -> tuple[Firing, ...]:
    """Every firing the engine makes on `facts`, in the engine's order (rule, process,
    matched facts). Facts of different processes never meet in a firing, so each
    process is closed on its own."""
    by_process: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        by_process[fact["process"]].append(fact)
    firings: list[Firing] = []
    for process, group in by_process.items():
        firings.extend(Closure(rulebook, process, group).firings)
    return tuple(sorted(firings, key=lambda f: (f.rule_id, f.process, f.matched)))
