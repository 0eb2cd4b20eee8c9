"""The one wrapper around durable_rules: compile a Rulebook, run facts, collect firings.

Everything that knows the engine's quirks lives here (see the project's notes on
durable_rules 2.0.28):
- one Host per process, with its timer threads disabled, so every action runs in
  the calling thread, inside the assert call that triggered it;
- a ruleset is registered once per host and named by a digest of its definition;
  `set_rulesets` gets a deep copy because it deletes "run" from what it is given;
- one short-lived session (sid) per evaluation, deleted in a `finally`, and
  evaluations serialized by a lock: never two live sessions of ours at once;
- facts carry explicit ids; a fact the engine reports as already seen, or one that
  is not stored afterwards, is an id collision and stops the evaluation;
- deleting a session in which no action has ever run crashed the process
  (segmentation fault, measured here on 2.0.28: a session holding only facts that
  wait in a partial join); every session therefore starts with a sentinel fact
  whose rule runs a no-op action;
- exceptions inside actions land in the session state, so the state is checked
  after every assert; a derived fact no rule uses raises inside the action, so
  firings are recorded before the derived fact is asserted;
- the engine cannot read a number written with an exponent but no decimal point
  (`1e+20`, `1e-05`: error 204) nor an infinity (error 202): such floats are moved
  one unit in the last place (or to the largest float) before they are asserted;
- a join whose last test compares with another fact by an operator other than
  equality (`rank: {gte: {ref: ...}}`) makes the engine read past the end of its
  expression list when a test fails (valgrind: invalid read in
  reduceExpressionSequence; a segmentation fault in a long random campaign): the
  equality join on the process is always compiled last;
- facts of a type no rule has a condition on are not asserted at all (the engine
  would refuse them; refusing costs time and was part of the crash above).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import threading
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

from .errors import EngineError, RuleError
from .rules import OPERATORS, Condition, Ref, Rule, Rulebook, derived_fact

Fact = dict[str, Any]
SENTINEL_RULE = "ISM3-SESSION-OPEN"
SENTINEL_FACT: Fact = {"id": "ism3:session", "t": "ism3_session"}


@dataclass(frozen=True)
class Firing:
    """One rule firing: the rule, the process, the facts it matched, what it derived."""

    rule_id: str
    process: str
    matched: tuple[tuple[str, str], ...]   # (condition alias, fact id), in condition order
    derived: tuple[tuple[str, Any], ...]   # the derived fact, with its id

    @property
    def derived_fact(self) -> dict[str, Any]:
        """The derived fact as a dict."""
        return dict(self.derived)


class _Run:
    """What one evaluation's actions record; keyed by sid while it runs."""

    def __init__(self) -> None:
        self.firings: list[Firing] = []
        self.errors: list[str] = []
        self.derived: set[str] = set()   # ids of derived facts already asserted


_lock = threading.RLock()
_host: Any = None
_registered: set[str] = set()
_runs: dict[str, _Run] = {}
_sids = itertools.count(1)


def _get_host() -> Any:
    """The process-wide Host, created on first use (importing the engine is slow)."""
    global _host
    if _host is None:
        from durable import engine as durable_engine

        class _SyncHost(durable_engine.Host):  # type: ignore[misc]
            """A Host whose actions all run inside the asserting call."""

            def _run(self) -> None:  # no timer threads: nothing runs later elsewhere
                return None

        _host = _SyncHost()
    return _host


def _exceptions() -> tuple[type[Exception], type[Exception]]:
    from durable import engine as durable_engine

    return durable_engine.MessageNotHandledException, durable_engine.MessageObservedException


def _expr(cond: Condition, index: int, aliases: dict[str, str]) -> dict[str, Any]:
    """The engine expression of one condition; `aliases` maps rule aliases to engine ones."""
    terms: list[dict[str, Any]] = [{"t": cond.fact}]
    for test in cond.tests:
        value: Any = test.value
        if isinstance(value, Ref):
            value = {aliases[value.alias]: value.attr}
        elif isinstance(value, float):
            value = engine_number(value)
        op = OPERATORS[test.op]
        terms.append({test.attr: value} if op == "$eq" else {op: {test.attr: value}})
    if index > 0:  # every condition is about the rule's process: join on the first fact,
        # as the last test: a join sequence ending in a comparison (gt, lte, ...) with
        # another fact makes the engine read past its end (see the module docstring)
        terms.append({"process": {"a0": "process"}})
    return terms[0] if len(terms) == 1 else {"$and": terms}


class CompiledRulebook:
    """A Rulebook compiled into one durable_rules ruleset, registered on the host."""

    def __init__(self, rulebook: Rulebook) -> None:
        """Compile and register.

        Raises:
            RuleError: the engine refused the ruleset; the message names the rule.
        """
        self.rulebook = rulebook
        # fact types some rule has a condition on; derived facts of other types are
        # recorded but never asserted (the engine would refuse them anyway)
        self._consumed = {c.fact for r in rulebook.rules for c in r.when}
        self._aliases: dict[str, dict[str, str]] = {}
        definition: dict[str, Any] = {}
        for rule in rulebook.rules:
            if rule.id == SENTINEL_RULE:
                raise RuleError(f"{rule.file}: rule id {SENTINEL_RULE} is reserved by the engine")
            aliases = {c.alias: f"a{i}" for i, c in enumerate(rule.when)}
            self._aliases[rule.id] = aliases
            definition[rule.id] = {
                "all": [{aliases[c.alias]: _expr(c, i, aliases)} for i, c in enumerate(rule.when)]
            }
        definition[SENTINEL_RULE] = {"all": [{"a0": {"t": SENTINEL_FACT["t"]}}]}
        # The name covers what the actions record and derive (aliases, `then`) as well as
        # the conditions: a ruleset is registered once per host, so two rulebooks that
        # differ only there must not share one (the second would run the first's actions).
        actions = {r.id: [r.then_fact, repr(r.then_attrs), [c.alias for c in r.when],
                          sorted(self._consumed)] for r in rulebook.rules}
        text = json.dumps([definition, actions], sort_keys=True)
        self.name = "ism3_" + hashlib.sha256(text.encode()).hexdigest()[:20]
        self.definition = definition
        with _lock:
            if self.name in _registered:
                return
            host = _get_host()
            try:
                host.set_rulesets({self.name: self._with_actions(copy.deepcopy(definition))})
            except Exception as exc:  # the engine says only "error code N"
                raise RuleError(self._locate_failure(exc)) from exc
            _registered.add(self.name)

    def _with_actions(self, definition: dict[str, Any]) -> dict[str, Any]:
        for rule in self.rulebook.rules:
            definition[rule.id]["run"] = _make_action(rule, self._aliases[rule.id],
                                                      rule.then_fact in self._consumed)
        definition[SENTINEL_RULE]["run"] = _noop
        return definition

    def _locate_failure(self, exc: Exception) -> str:
        """Find which rule the engine cannot compile, by compiling each alone."""
        host = _get_host()
        for rule in self.rulebook.rules:
            single = {rule.id: copy.deepcopy(self.definition[rule.id])}
            name = "ism3_probe_" + hashlib.sha256(
                json.dumps(single, sort_keys=True).encode()).hexdigest()[:20]
            if name in _registered:
                continue
            try:
                host.set_rulesets({name: {rule.id: {**single[rule.id], "run": _noop}}})
                _registered.add(name)
            except Exception as inner:
                return f"{rule.file}: rule {rule.id}: the rules engine cannot compile it ({inner})"
        return f"the rules engine cannot compile the rule set ({exc})"

    def run(self, facts: list[Fact]) -> tuple[Firing, ...]:
        """Assert `facts` in a fresh session and return every firing, in a stable order.

        Each fact needs a unique string `id`, a `t` (fact type) and its attributes.

        Raises:
            EngineError: an action failed, or fact ids collided inside the engine.
        """
        ids = [f["id"] for f in facts]
        if len(set(ids)) != len(ids) or SENTINEL_FACT["id"] in ids:
            raise EngineError("internal error: duplicate fact ids given to the engine")
        not_handled, observed = _exceptions()
        with _lock:
            host = _get_host()
            sid = f"s{next(_sids)}"
            run = _Run()
            _runs[sid] = run
            stored: list[str] = []
            try:
                host.assert_fact(self.name, {**SENTINEL_FACT, "sid": sid})
                for fact in facts:
                    if fact["t"] not in self._consumed:
                        continue  # no rule can use this fact: never handed to the engine
                    try:
                        host.assert_fact(self.name, {**engine_safe(fact), "sid": sid})
                        stored.append(fact["id"])
                    except not_handled:
                        continue  # no rule can use this fact: nothing to derive from it
                    except observed:
                        raise EngineError(
                            f"internal error: fact id {fact['id']!r} collided with another "
                            "fact inside the rules engine") from None
                    self._check_state(host, sid)
                present = {f.get("id") for f in host.get_facts(self.name, sid)}
                lost = [i for i in stored if i not in present]
                if lost:
                    raise EngineError(f"internal error: facts lost inside the rules engine: {lost[:5]}")
                if run.errors:
                    raise EngineError("internal error: " + "; ".join(run.errors[:5]))
            finally:
                _runs.pop(sid, None)
                try:
                    host.delete_state(self.name, sid)
                except Exception:  # noqa: BLE001 - cleanup must not hide the real error
                    pass
        return tuple(sorted(run.firings, key=lambda f: (f.rule_id, f.process, f.matched)))

    def _check_state(self, host: Any, sid: str) -> None:
        state = host.get_state(self.name, sid)
        if state.get("exception"):
            raise EngineError(f"internal error in a rule action: {state['exception'][:500]}")


def engine_number(value: float) -> float:
    """`value`, or the nearest float the engine can read back.

    The engine reads facts as JSON and refuses a number written with an exponent but
    no decimal point (Python writes 1e20 as `1e+20`, 0.00001 as `1e-05`: error 204)
    and refuses infinities (error 202). Such a value moves one unit in the last
    place away from zero (then written `1.0000000000000001e-05`); an infinity becomes
    the largest float. Comparisons with any other number are unchanged.
    """
    if math.isinf(value):
        return math.copysign(1.7976931348623157e308, value)
    away = math.copysign(math.inf, value)
    while "e" in (text := repr(value)) and "." not in text:  # a few steps for subnormals
        value = math.nextafter(value, away)
    return value


def engine_safe(fact: Fact) -> Fact:
    """`fact` itself when it holds no float, else a copy with every float readable by the
    engine (see `engine_number`)."""
    if float not in map(type, fact.values()):
        return fact
    return {k: engine_number(v) if isinstance(v, float) else v for k, v in fact.items()}


def _noop(c: Any) -> None:
    return None


def _make_action(rule: Rule, aliases: dict[str, str],
                 consumed: bool = True) -> Callable[[Any], None]:
    """The action of one rule: record the firing, then assert the derived fact.

    What a firing derives is `rules.derived_fact`, the definition every explanation
    uses too. `consumed` False: no rule has a condition on this fact type, so asserting
    it could only raise inside the engine; the firing is recorded and that is all.
    """
    names = [(c.alias, aliases[c.alias]) for c in rule.when]
    not_handled, observed = _exceptions()

    def action(c: Any) -> None:
        matched = c._m
        first = matched["a0"]
        sid = first["sid"]
        run = _runs.get(sid)
        if run is None:
            return
        process = first["process"]
        facts = {alias: matched[engine_alias] for alias, engine_alias in names}
        pairs = tuple((alias, facts[alias]["id"]) for alias, _ in names)
        derived = derived_fact(rule, process, facts)
        fact_id = derived["id"]
        run.firings.append(Firing(rule.id, process, pairs, tuple(derived.items())))
        if fact_id in run.derived:
            return  # derived already: the firing is recorded, the fact is the same
        run.derived.add(fact_id)
        if not consumed:
            return
        try:
            c.assert_fact(engine_safe({k: list(v) if isinstance(v, tuple) else v
                                       for k, v in derived.items()}))
        except not_handled:
            pass  # no rule uses this derived fact; the firing is recorded all the same
        except observed:
            run.errors.append(f"derived fact id {fact_id!r} collided inside the rules engine")

    return action
