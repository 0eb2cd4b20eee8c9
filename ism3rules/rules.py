"""Declarative rule files (ism3-rules/1): loading and validating them.

A rule says, for one process, which facts must exist together (`when`) and which
fact it derives (`then`). Rules know nothing of Python; the engine compiles them.
Every rule carries the metadata that explains it: id, title, section, rationale.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalogue import Catalogue, load_catalogue
from .errors import RuleError, did_you_mean
from .inputfiles import MAX_CONFIG_BYTES, MAX_RULE_FILES, RULE_FILE, read_yaml
from .paths import shipped_dir
from .yamlio import Node

SCHEMA = "ism3-rules/1"
RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
FILE_KEYS = ("schema", "id", "title", "source", "description", "rules")
RULE_KEYS = ("id", "title", "section", "rationale", "when", "then")


# Kinds of attribute values. Every attribute of every fact type has one kind, rule
# literals must have it, and a ref compares or copies only attributes of the same kind:
# durable_rules compares a text with a number in ways no reader expects.
NAME = "name"        # text, compared as text (code point order)
INT = "int"          # a whole number
NUMBER = "number"    # any finite number
# Numbers in rules stay inside the range both the engine and Python compare exactly.
MAX_NUMBER = 2 ** 53


@dataclass(frozen=True)
class FactType:
    """A kind of fact the engine knows: its attributes, their kinds, how it is derived.

    `label` is the attribute whose value names a missing fact of this type in gap
    explanations (None: the type's own name). `kinds` gives each attribute's kind
    (NAME, INT or NUMBER); an attribute not listed is a NAME. `optional` attributes
    may be absent from an input fact (a missing attribute matches no test, and no
    rule may take a ref from one: the engine fails on it).
    """

    attrs: tuple[str, ...]
    derived: bool
    label: str | None = None
    lists: tuple[str, ...] = ()
    derived_from: tuple[str, ...] = ()   # an input fact a rule may derive from these only
    kinds: tuple[tuple[str, str], ...] = ()
    optional: tuple[str, ...] = ()
    # The attributes that say *which* thing a fact is about, stable from one bundle
    # to the next (an item id, a service level id, a role and person), never values
    # or dates that change run to run: a finding's id is formed from them.
    identity: tuple[str, ...] = ()

    def kind(self, attr: str) -> str:
        """The kind of `attr`'s values: NAME, INT or NUMBER."""
        return dict(self.kinds).get(attr, NAME)


def _ints(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, INT) for n in names)


def _numbers(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, NUMBER) for n in names)


# Every fact is about one process. Input facts come from evidence and profiles;
# derived facts are asserted by rules. `documentation`, `role` and `metric` are both:
# rules derive them from the per-item input facts (`item`, `metric_report`; see
# rules/evidence.yaml) and only from those; a rules folder with no rule deriving one
# of them gets the version-1 meaning (one such fact per accepted item, as read).
# The per-item input facts (item, metric_report, exclusion) carry `review`, the
# auditor's decision on their item (accepted, rejected, pending; `none` without a
# review file): rules decide what a decision does (rules/evidence.yaml, rules/scope.yaml).
FACT_TYPES: dict[str, FactType] = {
    # Item admission: one per documentation or role item that passed the integrity
    # checks (file inside the bundle, hash). `has_date` 1 when the item gives the date
    # it comes into force, then `days_in_force` from that date to the assessment date
    # (negative: not yet in force; 0 when undated); `dated` 1 when it gives an expiry,
    # then `days_left` from the assessment date to it (negative: expired; 0 when
    # undated). `date`, `expires`, `as_of` are the dates as text ("none" when absent),
    # `role` and `person` those of a role item ("" for other kinds). `size` is the
    # document's bytes as the loader read them (0 for a role item); `placeholder` is 1
    # when its title (a role's title or person) still starts with "TODO:", the marker
    # `ism3 init` and `ism3 gap` write. Later attributes are added here and in
    # assessment.admission_fact.
    "item": FactType(attrs=("process", "item", "kind", "has_date", "days_in_force", "dated",
                            "days_left", "date", "expires", "as_of", "role", "person",
                            "review", "size", "placeholder"),
                     derived=False,
                     kinds=_ints("has_date", "days_in_force", "dated", "days_left", "size",
                                 "placeholder"),
                     identity=("item",)),
    "documentation": FactType(attrs=("process",), derived=False, derived_from=("item",)),
    "metric": FactType(attrs=("process", "metric_type"), derived=False, label="metric_type",
                       derived_from=("metric_report",), identity=("metric_type",)),
    "requirement": FactType(attrs=("process", "profile", "level", "min_rank", "mandatory"),
                            derived=False, kinds=_ints("level", "min_rank", "mandatory"),
                            identity=("profile", "level")),
    # An exclusion from scope (statement of applicability): `dated` 1 when it has an
    # expiry, and then `days_left` from the assessment date to it (0 when undated).
    "exclusion": FactType(attrs=("process", "dated", "days_left", "review"), derived=False,
                          kinds=_ints("dated", "days_left")),
    "capability": FactType(attrs=("process", "capability", "rank"), derived=True,
                           label="capability", lists=("practices",), kinds=_ints("rank"),
                           identity=("capability",)),
    "requirement_met": FactType(attrs=("process",), derived=True),
    "exclusion_valid": FactType(attrs=("process",), derived=True),
    "requirement_excluded": FactType(attrs=("process",), derived=True),
    # Metric evidence (issue 3): one per metric item that has an observation in the
    # period; `has_frequency` is 1 when the metric declares a frequency and the
    # assessment has a period, `coverage` then is the share of reporting periods
    # with an observation (else 1.0; docs/metrics.md says how periods are counted).
    "metric_report": FactType(attrs=("process", "metric_type", "item", "frequency",
                                     "has_frequency", "coverage", "periods_expected",
                                     "periods_reported", "outside_thresholds",
                                     "outside_control_limits", "review"), derived=False,
                              kinds=_ints("has_frequency", "periods_expected",
                                          "periods_reported", "outside_thresholds",
                                          "outside_control_limits") + _numbers("coverage"),
                              identity=("item",)),
    # One per in-period observation outside its metric's band: `bounds` is
    # "threshold" (declared) or "control" (XmR chart limits, `samples` points);
    # `above`/`below` say by how much it lies beyond the upper/lower bound.
    "observation": FactType(attrs=("process", "metric_type", "item", "date", "value",
                                   "bounds", "lower", "upper", "above", "below",
                                   "samples"), derived=False,
                            kinds=_ints("samples") + _numbers("value", "lower", "upper",
                                                              "above", "below"),
                            optional=("lower", "upper", "above", "below"),
                            identity=("item",)),
    # One per metric with a target: `shortfall` > 0 when the latest in-period value
    # is on the wrong side of the target (direction `better`: higher or lower).
    "target": FactType(attrs=("process", "metric_type", "item", "target", "better",
                              "latest", "date", "shortfall"), derived=False,
                       kinds=_numbers("target", "latest", "shortfall"),
                       identity=("item",)),
    # One per declared service level: observations in its window, how many violate it.
    "service_level": FactType(attrs=("process", "sla", "metric", "target", "window",
                                     "observations", "violations"), derived=False,
                              kinds=_ints("observations", "violations"),
                              identity=("sla",)),
    # One per accepted role item (SSP-4 division of duties), derived from its `item`.
    "role": FactType(attrs=("process", "role", "person", "item"), derived=False,
                     derived_from=("item",), identity=("role", "person")),
    # Findings: raised by rules, reported with the rule id and the evidence they rest on.
    # `message` is a template: {alias.attribute} is replaced by a matched fact's value;
    # `severity` (low|medium|high|critical) is the rule's default rating of it.
    "finding": FactType(attrs=("process", "finding", "message", "severity"), derived=True,
                        identity=("finding",)),
}

# How bad a finding is, least first; a finding rule names one (default: DEFAULT_SEVERITY).
SEVERITIES = ("low", "medium", "high", "critical")
DEFAULT_SEVERITY = "medium"
TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")

# Comparison operators a condition may use, mapped to the engine's own.
OPERATORS: dict[str, str] = {
    "eq": "$eq",
    "ne": "$neq",
    "gt": "$gt",
    "gte": "$gte",
    "lt": "$lt",
    "lte": "$lte",
}


@dataclass(frozen=True)
class Ref:
    """A value taken from another condition's fact: `alias.attr`."""

    alias: str
    attr: str


@dataclass(frozen=True)
class Test:
    """One attribute test of a condition: `attr op value` (value literal or Ref)."""

    attr: str
    op: str
    value: str | int | float | Ref


@dataclass(frozen=True)
class Condition:
    """A fact that must exist for the rule's process."""

    alias: str
    fact: str
    tests: tuple[Test, ...]


@dataclass(frozen=True)
class Rule:
    """One declarative rule with its explanation."""

    id: str
    title: str
    section: str
    rationale: str
    when: tuple[Condition, ...]
    then_fact: str
    then_attrs: tuple[tuple[str, Any], ...]
    file: str

    @property
    def then(self) -> dict[str, Any]:
        """The derived fact's attributes (without `process`)."""
        return dict(self.then_attrs)


@dataclass(frozen=True)
class RuleFile:
    """One file of rules."""

    id: str
    title: str
    source: str
    description: str
    path: Path
    sha256: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Rulebook:
    """Every loaded rule file, in file-name order."""

    files: tuple[RuleFile, ...]

    @functools.cached_property
    def rules(self) -> tuple[Rule, ...]:
        """All rules, file by file, in file order."""
        return tuple(rule for f in self.files for rule in f.rules)

    @functools.cached_property
    def _by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id. Raises KeyError."""
        return self._by_id[rule_id]

    @functools.cached_property
    def _using(self) -> dict[str, tuple[Rule, ...]]:
        return {t: tuple(r for r in self.rules if any(c.fact == t for c in r.when))
                for t in FACT_TYPES}

    def using(self, fact: str) -> tuple[Rule, ...]:
        """Rules with a condition on `fact`, in rule order."""
        return self._using.get(fact, ())

    @functools.cached_property
    def consumed(self) -> frozenset[str]:
        """Fact types some rule has a condition on (the engine asserts only these)."""
        return frozenset(c.fact for r in self.rules for c in r.when)

    @functools.cached_property
    def attributes_read(self) -> dict[str, frozenset[str]]:
        """Per fact type some rule has a condition on, the attributes a rule tests, joins
        on (either side of a `ref`) or copies into what it derives."""
        used: dict[str, set[str]] = {t: set() for t in self.consumed}
        for rule in self.rules:
            alias_type = {c.alias: c.fact for c in rule.when}
            for cond in rule.when:
                for test in cond.tests:
                    used[cond.fact].add(test.attr)
                    if isinstance(test.value, Ref):
                        used[alias_type[test.value.alias]].add(test.value.attr)
            for _, value in rule.then_attrs:
                if isinstance(value, Ref):
                    used[alias_type[value.alias]].add(value.attr)
        return {t: frozenset(attrs) for t, attrs in used.items()}

    @functools.cached_property
    def position(self) -> dict[str, int]:
        """Each rule's position in the rulebook, by id."""
        return {r.id: n for n, r in enumerate(self.rules)}

    def deriving(self, fact: str, **attrs: Any) -> tuple[Rule, ...]:
        """Rules whose `then` derives `fact` with these attribute values."""
        return tuple(r for r in self.rules if r.then_fact == fact
                     and all(r.then.get(k) == v for k, v in attrs.items()))

    @property
    def digest(self) -> str:
        """sha256 over the rule files' digests, in order."""
        joined = "".join(f"{f.path.name}:{f.sha256}\n" for f in self.files)
        return hashlib.sha256(joined.encode()).hexdigest()


def load_rulebook(directory: Path | None = None, catalogue: Catalogue | None = None) -> Rulebook:
    """Load every `*.yaml` rule file in `directory` (default: the shipped rules/), sorted.

    Raises:
        RuleError: the folder has no rule file, or a file or rule is invalid;
            the message names the file, line and rule id.
    """
    catalogue = catalogue or load_catalogue()
    directory = directory or shipped_dir("rules")
    if not directory.is_dir():
        raise RuleError(f"{directory}: rules folder not found")
    paths = sorted(itertools.islice(directory.glob("*.yaml"), MAX_RULE_FILES + 1))
    if not paths:
        raise RuleError(f"{directory}: no rule files (*.yaml) in this folder")
    if len(paths) > MAX_RULE_FILES:
        raise RuleError(f"{directory}: more than {MAX_RULE_FILES} rule files (*.yaml) in this "
                        "folder (a fixed limit)")
    files = tuple(load_rule_file(p, catalogue) for p in paths)
    seen: dict[str, str] = {}
    for f in files:
        for rule in f.rules:
            if rule.id in seen:
                raise RuleError(f"{f.path}: rule {rule.id}: id already used in {seen[rule.id]}")
            seen[rule.id] = str(f.path)
    return Rulebook(files)


def load_rule_file(path: Path, catalogue: Catalogue) -> RuleFile:
    """Load and validate one rule file.

    Raises:
        RuleError: naming the file, line and rule for the first problem found.
    """
    # read once, within a fixed size: the digest is of the very bytes parsed
    data, digest = read_yaml(path, RULE_FILE, MAX_CONFIG_BYTES)
    if not isinstance(data, Node):
        raise RuleError(f"{path}:1: a rule file must be a mapping with 'schema: {SCHEMA}'")
    _no_unknown(data, FILE_KEYS, path, None)
    if data.get("schema") != SCHEMA:
        raise RuleError(f"{path}:{data.line_of('schema')}: schema must be '{SCHEMA}'")
    for key in ("id", "title", "rules"):
        if key not in data:
            raise RuleError(f"{path}:{data.line}: missing '{key}'")
    raw_rules = data["rules"]
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RuleError(f"{path}:{data.line_of('rules')}: 'rules' must be a non-empty list")
    rules = tuple(_rule(raw, path, catalogue) for raw in raw_rules)
    return RuleFile(
        id=str(data["id"]),
        title=str(data["title"]),
        source=str(data.get("source", "")),
        description=str(data.get("description", "")).strip(),
        path=path,
        sha256=digest,
        rules=rules,
    )


def _no_unknown(node: Node, allowed: tuple[str, ...], path: Path, rule: str | None) -> None:
    for key in node:
        if key not in allowed:
            where = f"{path}:{node.line_of(str(key))}: " + (f"rule {rule}: " if rule else "")
            raise RuleError(f"{where}unknown key '{key}'{did_you_mean(str(key), allowed)}")


def _rule(raw: Any, path: Path, catalogue: Catalogue) -> Rule:
    if not isinstance(raw, Node):
        raise RuleError(f"{path}: each rule must be a mapping")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        raise RuleError(f"{path}:{raw.line}: rule id {rule_id!r} must look like CAP-MANAGED "
                        "(capitals, digits and dashes)")
    _no_unknown(raw, RULE_KEYS, path, rule_id)

    def fail(key: str, message: str) -> RuleError:
        return RuleError(f"{path}:{raw.line_of(key)}: rule {rule_id}: {message}")

    for key in ("title", "section", "rationale"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise fail(key, f"'{key}' is required: every rule explains itself")
    when = raw.get("when")
    if not isinstance(when, list) or not when:
        raise fail("when", "'when' must be a non-empty list of conditions")
    conditions: list[Condition] = []
    for cond in when:
        conditions.append(_condition(cond, conditions, fail, catalogue))
    then = raw.get("then")
    if not isinstance(then, Node) or "fact" not in then:
        raise fail("then", "'then' must be a mapping with 'fact' and its attributes")
    then_fact = then["fact"]
    if then_fact not in FACT_TYPES or not (
            FACT_TYPES[then_fact].derived
            or any(c.fact in FACT_TYPES[then_fact].derived_from for c in conditions)):
        derived = [k for k, v in FACT_TYPES.items() if v.derived]
        also = [f"{k} (from {', '.join(v.derived_from)})" for k, v in FACT_TYPES.items()
                if v.derived_from]
        raise fail("then", f"'then' may derive only {', '.join(derived + also)}; "
                   f"not {then_fact!r}")
    ftype = FACT_TYPES[then_fact]
    attrs: dict[str, Any] = {}
    for key, value in then.items():
        if key == "fact":
            continue
        if key in ftype.lists:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise fail("then", f"'{key}' must be a list of names")
            attrs[key] = tuple(value)
        elif key in ftype.attrs and key not in ("process", "rank"):
            if isinstance(value, Node) and set(value) == {"ref"}:
                ref = _ref(value["ref"], conditions, fail)
                _same_kind(then_fact, key, ref, conditions, fail)
                attrs[key] = ref
            else:
                attrs[key] = _literal(then_fact, key, value, lambda m: fail("then", m), catalogue)
            if key == "message":
                _check_template(str(attrs[key]), conditions, fail)
        else:
            allowed = [a for a in ftype.attrs + ftype.lists if a not in ("process", "rank")]
            raise fail("then", f"unknown attribute '{key}' for a {then_fact} fact"
                       f"{did_you_mean(key, allowed)}")
    if then_fact == "finding" and not {"finding", "message"} <= set(attrs):
        raise fail("then", "a finding needs 'finding' (its kind) and 'message' (a template)")
    if then_fact == "finding" and isinstance(attrs.get("severity"), Ref):
        raise fail("then", f"severity is a rating the rule gives ({', '.join(SEVERITIES)}), "
                   "not a value taken from a fact")
    if then_fact == "finding" and "severity" in attrs and attrs["severity"] not in SEVERITIES:
        raise fail("then", f"severity {attrs['severity']!r} must be one of "
                   f"{', '.join(SEVERITIES)}{did_you_mean(str(attrs['severity']), SEVERITIES)}")
    if then_fact == "finding":   # a rule file written before severities rates them medium
        attrs.setdefault("severity", DEFAULT_SEVERITY)
    if then_fact == "capability":
        if "capability" not in attrs:
            raise fail("then", "a derived capability needs 'capability'")
        if isinstance(attrs["capability"], Ref):
            raise fail("then", "a derived capability names its capability (not a ref)")
        attrs["rank"] = catalogue.capability(attrs["capability"]).rank
    # A derived fact has every attribute of its type: a missing one would match no test,
    # and a ref taken from it makes the engine fail.
    unset = [a for a in ftype.attrs if a not in ("process", "rank") and a not in attrs]
    if unset:
        raise fail("then", f"a derived {then_fact} fact needs {', '.join(repr(a) for a in unset)}")
    return Rule(
        id=rule_id,
        title=raw["title"].strip(),
        section=raw["section"].strip(),
        rationale=" ".join(raw["rationale"].split()),
        when=tuple(conditions),
        then_fact=then_fact,
        then_attrs=tuple(attrs.items()),
        file=path.name,
    )


def _literal(fact: str, attr: str, value: Any, fail: Any,
             catalogue: Catalogue) -> str | int | float:
    """Validate and normalize a literal attribute value (names to canonical spelling).

    The value must have the attribute's kind (FactType.kinds): text for a name, a whole
    number for an int, a number for a number (kept as a float, as facts carry it);
    numbers within +-2**53.
    """
    kind = FACT_TYPES[fact].kind(attr)
    if kind == NAME:
        if not isinstance(value, str):
            hint = f" (write it in quotes: '{value}')" if isinstance(value, (int, float)) else ""
            raise fail(f"'{attr}' must be a name (text), not {value!r}{hint}")
        try:
            if attr == "capability":
                return catalogue.capability(value).name
            if attr == "metric_type":
                return catalogue.metric_type(value).name
            if attr == "process":
                catalogue.process(value)
        except KeyError:
            choices = (catalogue.capability_choices() if attr == "capability"
                       else catalogue.metric_type_choices() if attr == "metric_type"
                       else list(catalogue.process_ids))
            raise fail(f"unknown {attr} {value!r}{did_you_mean(value, choices)}") from None
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(f"'{attr}' must be a {'whole ' if kind == INT else ''}number, not {value!r}")
    if kind == INT and not isinstance(value, int):
        raise fail(f"'{attr}' must be a whole number, not {value!r}")
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise fail(f"'{attr}': {value!r} is outside the numbers rules may use (+-2**53)")
    return float(value) if kind == NUMBER else value   # facts carry numbers as floats


def _condition(raw: Any, earlier: list[Condition], fail: Any, catalogue: Catalogue) -> Condition:
    if not isinstance(raw, Node) or "fact" not in raw:
        raise fail("when", "each condition must be a mapping with 'fact'")
    fact = raw["fact"]
    if fact not in FACT_TYPES:
        raise fail("when", f"unknown fact {fact!r}{did_you_mean(str(fact), FACT_TYPES)}; "
                   f"known: {', '.join(FACT_TYPES)}")
    alias = raw.get("as", fact)
    if not isinstance(alias, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", alias):
        raise fail("when", f"alias {alias!r} must be a lower-case name")
    if any(c.alias == alias for c in earlier):
        raise fail("when", f"two conditions are named '{alias}'; give one an 'as: name'")
    ftype = FACT_TYPES[fact]
    tests: list[Test] = []
    for attr, spec in raw.items():
        if attr in ("fact", "as"):
            continue
        if attr not in ftype.attrs:
            raise fail("when", f"a {fact} fact has no attribute '{attr}'"
                       f"{did_you_mean(str(attr), ftype.attrs)}; it has {', '.join(ftype.attrs)}")
        if attr == "process":
            raise fail("when", "conditions are always about the rule's process; "
                       "do not test 'process'")
        if isinstance(spec, Node) and set(spec) == {"ref"}:  # `attr: {ref: a.b}`: a join
            ref = _ref(spec["ref"], earlier, fail)
            _same_kind(fact, attr, ref, earlier, fail)
            tests.append(Test(attr, "eq", ref))
        elif isinstance(spec, Node):
            if len(spec) != 1:
                raise fail("when", f"'{attr}' takes one comparison, e.g. {{gte: 3}}")
            op, operand = next(iter(spec.items()))
            if op not in OPERATORS:
                raise fail("when", f"unknown operator '{op}'{did_you_mean(str(op), OPERATORS)}; "
                           f"known: {', '.join(OPERATORS)}")
            if isinstance(operand, Node) and set(operand) == {"ref"}:
                ref = _ref(operand["ref"], earlier, fail)
                _same_kind(fact, attr, ref, earlier, fail)
                value: str | int | float | Ref = ref
            else:
                value = _literal(fact, attr, operand, lambda m: fail("when", m), catalogue)
            tests.append(Test(attr, op, value))
        else:
            tests.append(Test(attr, "eq", _literal(fact, attr, spec, lambda m: fail("when", m),
                                                   catalogue)))
    return Condition(alias, fact, tuple(tests))


def _ref(text: Any, earlier: list[Condition], fail: Any, template: bool = False) -> Ref:
    """`alias.attribute` of an earlier condition. Outside message templates the attribute
    must be one every fact of that type has (the engine fails on a ref to a missing one)."""
    if not isinstance(text, str) or text.count(".") != 1:
        raise fail("when", f"ref {text!r} must be 'alias.attribute' of an earlier condition")
    alias, attr = text.split(".")
    match = [c for c in earlier if c.alias == alias]
    if not match:
        raise fail("when", f"ref {text!r} names no earlier condition")
    ftype = FACT_TYPES[match[0].fact]
    if attr not in ftype.attrs:
        raise fail("when", f"ref {text!r}: a {match[0].fact} fact has no '{attr}'")
    if attr in ftype.optional and not template:
        raise fail("when", f"ref {text!r}: '{attr}' may be absent from a {match[0].fact} fact, "
                   "so it cannot be compared or copied; test it with a literal instead")
    return Ref(alias, attr)


def _same_kind(fact: str, attr: str, ref: Ref, earlier: list[Condition], fail: Any) -> None:
    """A ref joins or copies values of one kind only: text with text, whole numbers with
    whole numbers, numbers with numbers."""
    source = next(c.fact for c in earlier if c.alias == ref.alias)
    mine, theirs = FACT_TYPES[fact].kind(attr), FACT_TYPES[source].kind(ref.attr)
    if mine != theirs:
        # the engine joins a whole number with a number (1 with 1.0) as different values
        raise fail("when", f"'{attr}' ({mine}) cannot take ref '{ref.alias}.{ref.attr}' "
                   f"({theirs}): a ref joins or copies values of the same kind only")


def _check_template(text: str, conditions: list[Condition], fail: Any) -> None:
    """Every `{alias.attribute}` of a message template must name a condition's attribute."""
    for field_text in TEMPLATE_FIELD.findall(text):
        _ref(field_text, conditions, lambda _key, message: fail("then", f"message: {message}"),
             template=True)


def derived_fact(rule: Rule, process: str, matched: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The fact `rule` derives for `process` from the facts it matched (alias -> fact).

    The one definition of what a firing derives, for the engine and for every
    explanation: `then` literals as written, refs copied from the matched facts,
    lists as tuples. A derived fact is its values: its `id` is the type, the process
    and every attribute value, so firings that derive equal facts derive one fact
    (and a rule deriving what it matches cannot chain without end: every value comes
    from a fact or a rule, so there are finitely many derived facts).
    """
    derived: dict[str, Any] = {"t": rule.then_fact, "process": process}
    for key, value in rule.then_attrs:
        if isinstance(value, Ref):
            value = matched[value.alias].get(value.attr)
        derived[key] = value
    ftype = FACT_TYPES[rule.then_fact]
    fact_id = ":".join([rule.then_fact, process,
                        *(str(derived.get(a)) for a in ftype.attrs if a != "process")])
    return {"id": fact_id, **derived}
