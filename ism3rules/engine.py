"""The one wrapper around durable_rules: compile a Rulebook, run facts, collect firings.

Everything that knows the engine's quirks lives here (see the project's notes on
durable_rules 2.0.28):
- the engine's C core (`durable_rules_engine`) is driven directly, as durable's own
  Python layer drives it (`Ruleset.assert_facts`, `start_action_for_state`,
  `complete_and_start_action`) without that layer's per-firing machinery (a closure
  object, a JSON round trip of the session state, lease timers, a Host with timer
  threads): every action runs in the calling thread, inside the call that asserted
  the facts, and an exception in an action reaches the caller;
- a ruleset is registered once per process and named by a digest of its definition;
- one short-lived session (sid) per evaluation, deleted in a `finally`, and
  evaluations serialized by a lock: never two live sessions of ours at once;
- facts carry explicit ids; a fact the engine reports as already seen, or one that
  is not stored afterwards, is an id collision and stops the evaluation;
- deleting a session in which no action has ever run crashed the process
  (segmentation fault, measured here on 2.0.28: a session holding only facts that
  wait in a partial join); every session therefore starts with a sentinel fact
  whose rule runs a no-op action;
- after the sentinel, the facts are asserted one by one (the engine answers each:
  stored, used by no rule, or seen before) and the actions they make pending run
  once all are in (a batched `assert_facts` answers for the batch only; it measured
  no faster once the actions no longer ran per fact);
- the engine is given only the attributes of a fact that some rule reads (tests,
  compares or copies), with its id, type and process; an action reads the matched
  facts whole, by id, as they went into the engine;
- a derived fact no rule uses is not stored either, so firings are recorded before
  the derived fact is asserted;
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

import hashlib
import itertools
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import EngineError, RuleError
from .rules import OPERATORS, Condition, Ref, Rule, Rulebook, derived_fact

Fact = dict[str, Any]
SENTINEL_RULE = "ISM3-SESSION-OPEN"
SENTINEL_FACT: Fact = {"id": "ism3:session", "t": "ism3_session"}
# What the engine's assert calls return first (durable_rules 2.0.28, rules.h)
_STORED, _NOT_HANDLED, _OBSERVED = 0, 1, 2


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

    @property
    def derived_id(self) -> str:
        """The derived fact's id (`rules.derived_fact` puts it first)."""
        return str(self.derived[0][1])

    @property
    def derived_type(self) -> str:
        """The derived fact's type (`t`, second in `rules.derived_fact`)."""
        return str(self.derived[1][1])


class _Run:
    """What one evaluation's actions record."""

    def __init__(self, sid: str, handle: int) -> None:
        self.sid = sid
        self.handle = handle
        self.firings: list[Firing] = []
        self.errors: list[str] = []
        self.derived: set[str] = set()   # ids of derived facts already asserted
        # id -> the whole fact as the engine reads it (engine_safe): the engine holds only
        # the attributes some rule reads, and an action reads the rest from here
        self.known: dict[str, Fact] = {}


Action = Callable[[Any, dict[str, Any], _Run], None]

_lock = threading.RLock()
_handles: dict[str, int] = {}    # ruleset name -> the engine's handle, once per process
_runs: dict[str, _Run] = {}      # sid -> the evaluation running in it
_sids = itertools.count(1)


def _core() -> Any:
    """The engine's C core, imported on first use."""
    import durable_rules_engine

    return durable_rules_engine


def _register(name: str, definition: dict[str, Any]) -> int:
    """Create the ruleset `name` in the engine; its handle. Raises what the engine raises."""
    return int(_core().create_ruleset(name, json.dumps(definition, ensure_ascii=False)))


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
    """A Rulebook compiled into one durable_rules ruleset, registered in the engine."""

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
        # the conditions: a ruleset is registered once per process, so two rulebooks that
        # differ only there must not share one (the second would run the first's actions).
        actions = {r.id: [r.then_fact, repr(r.then_attrs), [c.alias for c in r.when],
                          sorted(self._consumed)] for r in rulebook.rules}
        text = json.dumps([definition, actions], sort_keys=True)
        self.name = "ism3_" + hashlib.sha256(text.encode()).hexdigest()[:20]
        self.definition = definition
        self._kept = _read_attributes(rulebook)
        self._actions: dict[str, Action] = {
            rule.id: _make_action(rule, self._aliases[rule.id], rule.then_fact in self._consumed,
                                  self._kept.get(rule.then_fact, ()))
            for rule in rulebook.rules}
        self._actions[SENTINEL_RULE] = _noop
        with _lock:
            if self.name in _handles:
                return
            try:
                _handles[self.name] = _register(self.name, definition)
            except Exception as exc:  # the engine says only "error code N"
                raise RuleError(self._locate_failure(exc)) from exc

    def _locate_failure(self, exc: Exception) -> str:
        """Find which rule the engine cannot compile, by compiling each alone."""
        core = _core()
        for rule in self.rulebook.rules:
            single = {rule.id: self.definition[rule.id]}
            name = "ism3_probe_" + hashlib.sha256(
                json.dumps(single, sort_keys=True).encode()).hexdigest()[:20]
            try:
                core.delete_ruleset(_register(name, single))
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
        core = _core()
        with _lock:
            handle = _handles[self.name]
            sid = f"s{next(_sids)}"
            run = _Run(sid, handle)
            _runs[sid] = run
            try:
                # the sentinel first, and its action run, before anything else is stored
                # in the session (see the docstring)
                code, state = _assert_fact(core, handle, {**SENTINEL_FACT, "sid": sid})
                self._act(core, handle, state, run)
                # then every fact, one by one, each answered by the engine (stored, used by
                # no rule, or seen before: a collision), and the actions they make pending
                known, kept, consumed = run.known, self._kept, self._consumed
                for fact in facts:
                    if fact["t"] not in consumed:
                        continue   # no rule can use this fact: never handed to the engine
                    safe = known[fact["id"]] = engine_safe(fact)
                    code, state = _assert_fact(core, handle, _held(safe, kept[fact["t"]], sid))
                    if code == _OBSERVED:
                        raise EngineError(
                            f"internal error: fact id {fact['id']!r} collided with another "
                            "fact inside the rules engine")
                self._act(core, handle, state, run)
                if run.errors:
                    raise EngineError("internal error: " + "; ".join(run.errors[:5]))
            finally:
                _runs.pop(sid, None)
                try:
                    core.delete_state(handle, sid)
                except Exception:  # noqa: BLE001 - cleanup must not hide the real error
                    pass
        return tuple(sorted(run.firings, key=lambda f: (f.rule_id, f.process, f.matched)))

    def _act(self, core: Any, handle: int, state: int, run: _Run) -> None:
        """Run every action the engine has pending in the session, each in turn (an action
        may assert a derived fact, which may make more actions pending).

        Raises:
            EngineError: an action failed (the session is then left to be deleted).
        """
        result = core.start_action_for_state(handle, state)
        if not result:
            return
        pending = result[1]
        while pending:
            message = json.loads(pending)
            try:
                [(rule_id, matched)] = message.items()
                self._actions[rule_id](core, matched, run)
            except Exception as exc:
                core.abandon_action(handle, state)
                raise EngineError(f"internal error in a rule action: {exc}"[:600]) from exc
            pending = core.complete_and_start_action(handle, state)


def _assert_fact(core: Any, handle: int, fact: Fact) -> tuple[int, int]:
    """Assert one fact in the engine: (what became of it, the session's state).

    Raises:
        EngineError: the engine failed (other than a fact no rule uses or one seen before).
    """
    try:
        code, state = core.assert_fact(handle, json.dumps(fact, ensure_ascii=False))
    except Exception as exc:  # the engine says only "error code N"
        raise EngineError(f"internal error in the rules engine: {exc}") from exc
    return int(code), int(state)


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


def _noop(core: Any, matched: dict[str, Any], run: _Run) -> None:
    return None


def _read_attributes(rulebook: Rulebook) -> dict[str, tuple[str, ...]]:
    """Per fact type, what the engine is given of a fact: its id, type and process, and
    the attributes some rule tests, compares with another fact, or copies. The engine's
    matching depends on these only; leaving the rest out (dates, texts for messages,
    figures no rule reads) spares it reading and returning them."""
    return {t: tuple(sorted({"id", "t", "process"} | attrs))
            for t, attrs in rulebook.attributes_read.items()}


def _held(fact: Fact, kept: tuple[str, ...], sid: str) -> Fact:
    """What the engine is given of `fact` (see `_read_attributes`), in session `sid`."""
    held = {k: fact[k] for k in kept if k in fact}
    held["sid"] = sid
    return held


def _make_action(rule: Rule, aliases: dict[str, str], consumed: bool = True,
                 kept: tuple[str, ...] = ()) -> Action:
    """The action of one rule: record the firing, then assert the derived fact.

    What a firing derives is `rules.derived_fact`, the definition every explanation
    uses too, applied to the matched facts as the engine reads them (`_Run.known`:
    every value as it went into the engine and would come back out of it). `consumed`
    False: no rule has a condition on this fact type, so asserting it could only be
    refused by the engine; the firing is recorded and that is all. `kept`: the
    attributes of the derived fact the engine is given (`_read_attributes`).
    """
    names = [(c.alias, aliases[c.alias]) for c in rule.when]

    def action(core: Any, matched: dict[str, Any], run: _Run) -> None:
        known = run.known
        facts = {alias: known[matched[engine_alias]["id"]] for alias, engine_alias in names}
        pairs = tuple((alias, facts[alias]["id"]) for alias, _ in names)
        process = facts[names[0][0]]["process"]
        derived = derived_fact(rule, process, facts)
        fact_id = derived["id"]
        run.firings.append(Firing(rule.id, process, pairs, tuple(derived.items())))
        if fact_id in run.derived:
            return  # derived already: the firing is recorded, the fact is the same
        run.derived.add(fact_id)
        if not consumed:
            return
        # as the engine gives it back: lists for tuples, floats it can read
        fact = known[fact_id] = engine_safe({k: list(v) if isinstance(v, tuple) else v
                                             for k, v in derived.items()})
        code, _ = _assert_fact(core, run.handle, _held(fact, kept, run.sid))
        if code == _OBSERVED:
            run.errors.append(f"derived fact id {fact_id!r} collided inside the rules engine")

    return action
