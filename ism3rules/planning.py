"""What evidence would make the rules derive a fact: plans found over the rules, then checked.

A plan answers "what must be added for this process to reach capability X" or "for
this requirement to be met". It is searched backwards over the rules (a condition is
filled by a fact that exists, by the facts a new evidence item would give, or by a
rule that derives it; a test on a derived fact becomes a test on the fact its value
is copied from), and every plan is then *checked* forwards: the process's facts plus
the new items' facts are closed under the rules (matching.Closure, the engine's
meaning) and the plan is kept only when that derives the goal. So a plan never
claims what the rules would not do; when no plan is found within the search's
bounds, the goal is reported unreachable with evidence this tool can describe.

New evidence is described as `NewItem`s (a document, a metric of a type and perhaps
a frequency, a role held by a person); the caller says which facts each would give
(`Builder`), so a plan's facts are made by the same code as the facts of real items.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .engine import engine_safe
from .matching import Closure, Fact, operand, passes, satisfies
from .results import ItemToAdd as NewItem
from .rules import FACT_TYPES, Condition, Ref, Rule, Rulebook, Test, derived_fact

BEAM = 3           # partial plans kept per condition, and options per need
MAX_DEPTH = 16     # rules chained below a goal
# Role holders a plan cannot name: a placeholder, or another one where a rule asks for
# a person different from the first.
PERSONS = ("TODO: a person", "TODO: another person", "TODO: a third person")


@dataclass(frozen=True)
class Goal:
    """A fact to derive: its type, literal tests on it, and an input fact (by id) the
    deriving firing must have matched (e.g. one requirement)."""

    fact: str
    tests: tuple[Test, ...] = ()
    pinned: str | None = None


@dataclass(frozen=True)
class Remedy:
    """A checked plan: the items to add and the rules that then fire, lower first."""

    items: tuple[NewItem, ...]
    rules: tuple[str, ...]
    reachable: bool = True


# (new item, process, fresh id) -> the input facts that item would give
Builder = Callable[[NewItem, str, str], list[Fact]]


@dataclass(frozen=True)
class _Option:
    cost: int
    new: tuple[tuple[NewItem, tuple[Fact, ...]], ...]
    fact: Fact
    rules: tuple[str, ...]


@dataclass
class _Partial:
    cost: int
    new: tuple[tuple[NewItem, tuple[Fact, ...]], ...]
    bound: dict[str, Fact] = field(default_factory=dict)
    rules: tuple[str, ...] = ()


class Planner:
    """Plans for one evaluation: its rules, its facts per process, its evidence vocabulary.

    `vocabulary` lists the items a plan may add (a role item's person is chosen by the
    plan: the one a rule asks for, or a placeholder). Plans are cached by what the rules
    can see of a process (its facts' attributes that some rule tests, joins or copies),
    so processes in the same situation share one search.
    """

    def __init__(self, rulebook: Rulebook, builder: Builder, vocabulary: Sequence[NewItem],
                 facts_by_process: Mapping[str, Sequence[Fact]]) -> None:
        self.rulebook = rulebook
        self.builder = builder
        self.vocabulary = tuple(vocabulary)
        self.facts = facts_by_process
        self.deriving: dict[str, list[Rule]] = defaultdict(list)
        for rule in rulebook.rules:
            self.deriving[rule.then_fact].append(rule)
        self.relevant = _relevant_attributes(rulebook)
        self._closures: dict[str, Closure] = {}
        self._cache: dict[Any, Remedy] = {}
        self._searches: dict[Any, _Search] = {}
        self._support: dict[str, frozenset[str]] = {}
        self._alone_cache: dict[tuple[str, str], bool] = {}
        self._without: dict[tuple[str, str, str], Closure] = {}
        self._offers: dict[str, list[NewItem]] | None = None
        self._built: dict[tuple[NewItem, str], tuple[Fact, ...]] = {}
        self._fitting: dict[Any, list[tuple[NewItem, int]]] = {}
        self._counter = itertools.count(1)
        self._taken = {str(f.get(k)) for group in facts_by_process.values() for f in group
                       for k in ("id", "item") if k in f}

    def built(self, item: NewItem, process: str) -> tuple[Fact, ...]:
        """The facts `item` would give `process` (as the engine reads them), under an item
        id no fact of the evaluation uses; made once per item, moved to each process."""
        if (item, "") not in self._built:
            ident = f"(new {next(self._counter)})"
            while ident in self._taken:
                ident = f"(new {next(self._counter)})"
            self._taken.add(ident)
            self._built[item, ""] = tuple(engine_safe(f) for f in self.builder(item, "", ident))
        if (item, process) not in self._built:
            self._built[item, process] = tuple({**f, "process": process}
                                               for f in self._built[item, ""])
        return self._built[item, process]

    def fitting(self, cond: Condition, extra: tuple[Test, ...], env: Mapping[str, Fact],
                refs: tuple[Any, ...]) -> list[tuple[NewItem, int]]:
        """The vocabulary's items one of whose facts fills `cond` (and which one), the same
        for every process (a plan's items do not depend on the process they are for)."""
        key = (cond, refs, extra)
        if key not in self._fitting:
            wanted: dict[str, Any] = {}
            for test in (*cond.tests, *extra):
                if test.op == "eq":
                    known, value = operand(test, env)
                    if known:
                        wanted[test.attr] = value
            found: list[tuple[NewItem, int]] = []
            for template in self.offers(cond.fact):
                if any(getattr(template, a, None) not in (None, wanted[a])
                       for a in ("kind", "metric_type", "role") if a in wanted):
                    continue
                items = [template]
                if template.kind == "role":
                    person = wanted.get("person")
                    items = [NewItem("role", role=template.role, person=p, date=template.date)
                             for p in ([person] if isinstance(person, str) else PERSONS)]
                for item in items:
                    facts = self.built(item, "")
                    at = next((n for n, f in enumerate(facts) if _fits(f, cond, extra, env)),
                              None)
                    if at is not None:
                        found.append((item, at))
                        break
            self._fitting[key] = found
        return self._fitting[key]

    def offers(self, fact_type: str) -> list[NewItem]:
        """The vocabulary's items that give a fact of `fact_type`."""
        if self._offers is None:
            self._offers = defaultdict(list)
            for item in self.vocabulary:
                for produced in {f["t"] for f in self.builder(item, "(process)", "(probe)")}:
                    self._offers[produced].append(item)
        return self._offers.get(fact_type, [])

    def closure(self, process: str) -> Closure:
        """The process's facts closed under the rules (what the engine derives)."""
        if process not in self._closures:
            self._closures[process] = Closure(self.rulebook, process, self.facts.get(process, ()))
        return self._closures[process]

    def reached(self, closure: Closure, goal: Goal) -> bool:
        """Whether some firing in `closure` derives a fact meeting `goal`."""
        for firing in closure.firings:
            fact = firing.derived_fact
            if fact["t"] != goal.fact or not all(passes(engine_safe(fact), t, {})
                                                 for t in goal.tests):
                continue
            if goal.pinned is None or any(i == goal.pinned for _, i in firing.matched):
                return True
        return False

    def remedy(self, process: str, goal: Goal) -> Remedy:
        """The cheapest checked plan for `process` to reach `goal` (fewest new items;
        no items when it is reached already), or an unreachable Remedy.

        Processes whose facts look the same to the rules (`_shape`) get the same plan:
        it is searched and checked on the first of them.
        """
        facts = self.facts.get(process, ())
        support = self.support(goal.fact)
        pinned = next((f for f in facts if f["id"] == goal.pinned), None) if goal.pinned else None
        alone = pinned is not None and self._alone(pinned["t"], goal.fact)
        seen = tuple(sorted(self._shape(f) for f in facts if f["t"] in support
                            and not (alone and pinned is not None and f["t"] == pinned["t"])))
        key = (goal.fact, goal.tests, self._shape(pinned) if pinned else None, seen)
        if key not in self._cache:
            if process not in self._searches:
                self._searches[process] = _Search(self, process, self.closure(process))
            self._cache[key] = self._search(self._searches[process], goal, pinned)
        return self._cache[key]

    def support(self, fact_type: str) -> frozenset[str]:
        """The fact types that can take part in deriving a `fact_type` fact: those of the
        conditions of the rules deriving it, and so on down. Facts of other types cannot
        change whether or how it is derived."""
        if fact_type not in self._support:
            found = {fact_type}
            frontier = [fact_type]
            while frontier:
                for rule in self.deriving.get(frontier.pop(), ()):
                    for cond in rule.when:
                        if cond.fact not in found:
                            found.add(cond.fact)
                            frontier.append(cond.fact)
            self._support[fact_type] = frozenset(found)
        return self._support[fact_type]

    def _alone(self, pinned_type: str, goal_type: str) -> bool:
        """Whether, for a goal pinned to one `pinned_type` fact, the other facts of that type
        are beside the point: the rules that could derive the goal use that type in one
        condition each, only the goal's own rules use it, and none uses the goal's type."""
        key = (pinned_type, goal_type)
        if key not in self._alone_cache:
            self._alone_cache[key] = self._is_alone(pinned_type, goal_type)
        return self._alone_cache[key]

    def _is_alone(self, pinned_type: str, goal_type: str) -> bool:
        rules = [r for r in self.rulebook.rules if r.then_fact in self.support(goal_type)]
        for rule in rules:
            on_type = sum(c.fact == pinned_type for c in rule.when)
            if on_type > 1 or (on_type and rule.then_fact != goal_type):
                return False
            if any(c.fact == goal_type for c in rule.when):
                return False
        return True

    def _base(self, search: _Search, goal: Goal,
              pinned: Fact | None) -> tuple[Closure, list[Fact]]:
        """The closure a plan for `goal` is checked on, and facts to add to it: the
        process's closure; or, when the other facts of the pinned fact's type are beside
        the point (`_alone`), the process's without them, and the pinned fact (the rules
        then fire for it alone)."""
        if pinned is None or not self._alone(pinned["t"], goal.fact):
            return search.closure, []
        key = (search.process, pinned["t"], goal.fact)
        if key not in self._without:
            support = self.support(goal.fact)
            self._without[key] = Closure(self.rulebook, search.process, [
                f for f in self.facts.get(search.process, ())
                if f["t"] in support and f["t"] != pinned["t"]])
        return self._without[key], [pinned]

    def _shape(self, fact: Fact) -> tuple[Any, ...]:
        """What the rules can see of a fact: its type and the attributes they use."""
        names = self.relevant.get(fact["t"], ())
        return (fact["t"], *((n, fact.get(n)) for n in names))

    def _search(self, search: _Search, goal: Goal, pinned: Fact | None) -> Remedy:
        if self.reached(search.closure, goal):
            return Remedy((), ())
        options: list[_Option] = []
        cond = Condition("goal", goal.fact, goal.tests)
        if pinned is None:
            options = search.options(cond, (), {}, frozenset(), frozenset())
        else:
            for rule in self.deriving.get(goal.fact, ()):
                pushed = search.push(rule, cond, (), {})
                if pushed is None:
                    continue
                for position, rule_cond in enumerate(rule.when):
                    if rule_cond.fact != pinned["t"]:
                        continue
                    for part in search.solve(rule, pushed, frozenset({rule.id}),
                                             {position: engine_safe(pinned)}):
                        options.append(_Option(part.cost, part.new, {}, part.rules + (rule.id,)))
            options.sort(key=lambda o: (o.cost, len(o.rules)))
        base: tuple[Closure, list[Fact]] | None = None
        for option in options:
            if not option.new:
                continue
            base = base or self._base(search, goal, pinned)
            items = _distinct(option.new)
            for chosen in (items, option.new):
                facts = [*base[1], *(f for _, group in chosen for f in group)]
                if self.reached(base[0].extended(facts, self.support(goal.fact)), goal):
                    return Remedy(tuple(item for item, _ in chosen), option.rules)
        return Remedy((), (), reachable=False)


class _Search:
    """One backward search over the rules for one process."""

    def __init__(self, planner: Planner, process: str, closure: Closure) -> None:
        self.planner = planner
        self.process = process
        self.closure = closure
        self.memo: dict[Any, list[_Option]] = {}
        self.solved: dict[Any, list[_Partial]] = {}

    def options(self, cond: Condition, extra: Sequence[Test], env: Mapping[str, Fact],
                used: frozenset[str], visiting: frozenset[str]) -> list[_Option]:
        """Ways to fill `cond` (plus the `extra` literal tests pushed onto it), cheapest
        first, at most BEAM: facts that exist, new items, rules that derive one.

        Remembered per condition, values its refs read and facts of its type already
        used; a need met while it is being worked out (a rule needing what it derives)
        has no option there.
        """
        refs = tuple(operand(t, env) for t in cond.tests if isinstance(t.value, Ref))
        mine = frozenset(u for u in used if u.startswith(cond.fact + ":"))
        key = (cond, refs, tuple(extra), mine)
        if key not in self.memo:
            self.memo[key] = []    # in progress: a cycle through this need finds nothing
            self.memo[key] = self._options(cond, extra, env, used, visiting)
        return self.memo[key]

    def _options(self, cond: Condition, extra: Sequence[Test], env: Mapping[str, Fact],
                 used: frozenset[str], visiting: frozenset[str]) -> list[_Option]:
        out: list[_Option] = []
        for fact in self.closure.index.get(cond.fact, ()):
            if fact["id"] not in used and _fits(fact, cond, extra, env):
                out.append(_Option(0, (), fact, ()))
                if len(out) == BEAM:
                    return out
        out.extend(self._new_items(cond, extra, env))
        if len(visiting) < MAX_DEPTH:
            for rule in self.planner.deriving.get(cond.fact, ()):
                if rule.id in visiting:
                    continue
                pushed = self.push(rule, cond, extra, env)
                if pushed is None:
                    continue
                for part in self.solve(rule, pushed, visiting | {rule.id}, {}):
                    derived = engine_safe(derived_fact(rule, self.process, part.bound))
                    if derived["id"] in used:
                        continue
                    out.append(_Option(part.cost, part.new, derived, part.rules + (rule.id,)))
        out.sort(key=lambda o: (o.cost, len(o.rules)))
        return out[:BEAM]

    def _new_items(self, cond: Condition, extra: Sequence[Test],
                   env: Mapping[str, Fact]) -> Iterable[_Option]:
        """New evidence items one of whose facts fills `cond`."""
        refs = tuple(operand(t, env) for t in cond.tests if isinstance(t.value, Ref))
        for item, at in self.planner.fitting(cond, tuple(extra), env, refs):
            facts = self.planner.built(item, self.process)
            yield _Option(1, ((item, facts),), facts[at], ())

    def push(self, rule: Rule, cond: Condition, extra: Sequence[Test],
             env: Mapping[str, Fact]) -> dict[str, list[Test]] | None:
        """The tests `cond` makes on the fact `rule` derives, turned into literal tests on
        the matched facts its values are copied from; None when `rule` cannot give a
        fact that passes them."""
        then = dict(rule.then_attrs)
        pushed: dict[str, list[Test]] = defaultdict(list)
        for test in (*cond.tests, *extra):
            known, value = operand(test, env)
            if not known or test.attr not in then:
                return None
            source = then[test.attr]
            literal = Test(test.attr, test.op, value)
            if isinstance(source, Ref):
                pushed[source.alias].append(Test(source.attr, test.op, value))
            elif not passes(engine_safe({test.attr: source}), literal, {}):
                return None
        return pushed

    def solve(self, rule: Rule, pushed: Mapping[str, Sequence[Test]],
              visiting: frozenset[str], pinned: Mapping[int, Fact]) -> list[_Partial]:
        """The cheapest ways (at most BEAM) to fill every condition of `rule` (remembered
        per rule and pushed tests when nothing is pinned)."""
        if pinned:
            return self._solve(rule, pushed, visiting, pinned)
        key = (rule.id, tuple(sorted((a, tuple(t)) for a, t in pushed.items())))
        if key not in self.solved:
            self.solved[key] = []     # in progress: a cycle through this rule finds nothing
            self.solved[key] = self._solve(rule, pushed, visiting, pinned)
        return self.solved[key]

    def _solve(self, rule: Rule, pushed: Mapping[str, Sequence[Test]],
               visiting: frozenset[str], pinned: Mapping[int, Fact]) -> list[_Partial]:
        partials = [_Partial(0, ())]
        for position, cond in enumerate(rule.when):
            extra = pushed.get(cond.alias, ())
            grown: list[_Partial] = []
            for part in partials:
                used = frozenset(f["id"] for f in part.bound.values())
                if position in pinned:
                    fact = pinned[position]
                    choices = ([_Option(0, (), fact, ())]
                               if fact["id"] not in used and _fits(fact, cond, extra, part.bound)
                               else [])
                else:
                    choices = self.options(cond, extra, part.bound, used, visiting)
                for choice in choices:
                    grown.append(_Partial(part.cost + choice.cost, part.new + choice.new,
                                          {**part.bound, cond.alias: choice.fact},
                                          part.rules + choice.rules))
            grown.sort(key=lambda p: (p.cost, len(p.rules)))
            partials = grown[:BEAM]
            if not partials:
                return []
        return partials


def _fits(fact: Fact, cond: Condition, extra: Sequence[Test], env: Mapping[str, Fact]) -> bool:
    return satisfies(fact, cond, env) and all(passes(fact, t, {}) for t in extra)


def _distinct(new: Sequence[tuple[NewItem, tuple[Fact, ...]]]
              ) -> tuple[tuple[NewItem, tuple[Fact, ...]], ...]:
    """The plan's items with repeats of one item (two branches asking the same) merged."""
    seen: dict[NewItem, tuple[Fact, ...]] = {}
    for item, facts in new:
        seen.setdefault(item, facts)
    return tuple(seen.items())


def _relevant_attributes(rulebook: Rulebook) -> dict[str, tuple[str, ...]]:
    """Per fact type, the attributes some rule tests, joins on or copies."""
    read = rulebook.attributes_read
    return {t: tuple(sorted(a for a in read.get(t, ()) if a in ftype.attrs))
            for t, ftype in FACT_TYPES.items()}
