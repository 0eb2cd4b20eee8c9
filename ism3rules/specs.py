"""Metric specifications, evidence dates and service levels: the optional parts of a bundle.

O-ISM3 section 2.4.6 lists what a metric specification holds; chapter 5 asks for
service levels on outsourced processes. This module validates those parts of a
manifest and turns them into frozen data; every problem is reported through the
`add(line, message)` callback the bundle loader gives, so messages name the file,
line, item and field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .catalogue import suggest_process
from .errors import did_you_mean
from .identifiers import normalise
from .limits import MAX_MAGNITUDE
from .yamlio import Node

Add = Callable[[int, str], None]

FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "yearly")
DIRECTIONS = ("higher", "lower")
SPEC_KEYS = ("description", "measurement_procedure", "frequency", "thresholds_estimation",
             "thresholds", "target", "better", "units")
THRESHOLD_KEYS = ("lower", "upper")
SLA_KEYS = ("id", "process", "provider", "metric", "metric_type", "target", "window")
SLA_OPERATORS = ("<=", ">=", "==")
SLA_TARGET = re.compile(r"^\s*(<=|>=|==)\s*(\S+)\s*$")
SLA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class MetricSpec:
    """A metric's specification (O-ISM3 2.4.6). Every field is optional.

    `better` is the declared direction of the target, or the one implied (see
    `direction`).
    """

    description: str | None = None
    measurement_procedure: str | None = None
    frequency: str | None = None
    thresholds_estimation: str | None = None
    lower: float | None = None
    upper: float | None = None
    target: float | None = None
    better: str | None = None
    units: str | None = None

    @property
    def has_thresholds(self) -> bool:
        """Whether current thresholds are declared (either bound)."""
        return self.lower is not None or self.upper is not None

    @property
    def direction(self) -> str:
        """Which way is better for the target: declared, else implied by the thresholds.

        Only a lower threshold: higher is better; only an upper one: lower is better;
        both: the side of their midpoint the target lies on (higher at or above it);
        none: higher is better.
        """
        if self.better:
            return self.better
        if self.lower is not None and self.upper is None:
            return "higher"
        if self.upper is not None and self.lower is None:
            return "lower"
        if self.lower is not None and self.upper is not None and self.target is not None:
            return "higher" if self.target >= (self.lower + self.upper) / 2 else "lower"
        return "higher"

    def as_dict(self) -> dict[str, Any]:
        """The declared fields, in a fixed order, for the report."""
        out: dict[str, Any] = {}
        for key in ("description", "measurement_procedure", "frequency",
                    "thresholds_estimation"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.has_thresholds:
            out["thresholds"] = {k: v for k, v in (("lower", self.lower), ("upper", self.upper))
                                 if v is not None}
        if self.target is not None:
            out["target"] = self.target
            out["better"] = self.direction
        if self.units is not None:
            out["units"] = self.units
        return out


@dataclass(frozen=True)
class ServiceLevel:
    """A service level on a (usually outsourced) process's metric.

    The target holds for an observation when `value <op> target`; the window is
    the assessment period (`last` None) or the last `last` observations in it.
    """

    id: str
    process: str
    line: int
    metric: str | None          # a metric item id, or
    metric_type: str | None     # every metric item of this type of the process
    op: str
    target: float
    last: int | None
    provider: str | None = None

    @property
    def target_text(self) -> str:
        """The target as written, e.g. '>= 99.5'."""
        return f"{self.op} {self.target:g}"

    @property
    def window_text(self) -> str:
        """The window as a word: 'period' or 'last N'."""
        return "period" if self.last is None else f"last {self.last}"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    shown = repr(value)
    return f"{type(value).__name__} {shown if len(shown) <= 60 else shown[:57] + '...'}"


def _number(value: Any) -> float | None:
    """A finite number of at most MAX_MAGNITUDE in magnitude, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:   # an integer beyond any float
        return None
    return number if math.isfinite(number) and abs(number) <= MAX_MAGNITUDE else None


def _not_a_number(value: Any) -> str:
    """What is wrong with a value `_number` refused, for a message."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (f"a number of at most {MAX_MAGNITUDE:g} in magnitude, found "
                f"{_kind(value)}")
    return f"a number, found {_kind(value)}"


def _text(node: Node, key: str, add: Add, where: str) -> str | None:
    value = node.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        add(node.line_of(key), f"{where}'{key}' must be text, found {_kind(value)}")
        return None
    written = node.written_as(key)
    if not isinstance(value, str) and (written is None or str(value) != written.strip()):
        add(node.line_of(key), f"{where}'{key}' must be text, but YAML reads "
            f"{(written or '').strip()[:40]!r} as a number ({str(value)[:40]}); quote it")
        return None
    return " ".join(str(value).split()) or None


def unknown_keys(node: Node, allowed: tuple[str, ...], add: Add, where: str) -> None:
    """Report every key of `node` not in `allowed`, with a suggestion."""
    for key in node:
        if key not in allowed:
            add(node.line_of(str(key)), f"{where}unknown key '{key}'"
                f"{did_you_mean(str(key), allowed)}; allowed: {', '.join(allowed)}")


def parse_spec(raw: Any, line: int, add: Add) -> MetricSpec | None:
    """Validate a metric item's `specification:` mapping; None when it is invalid."""
    where = "specification: "
    if not isinstance(raw, Node):
        add(line, f"'specification' must be a mapping of {', '.join(SPEC_KEYS)}; "
            f"found {_kind(raw)}")
        return None
    problems: list[str] = []

    def note(at: int, message: str) -> None:
        problems.append(message)
        add(at, message)

    unknown_keys(raw, SPEC_KEYS, note, where)
    texts = {key: _text(raw, key, note, where) for key in
             ("description", "measurement_procedure", "thresholds_estimation", "units")}
    frequency = _text(raw, "frequency", note, where)
    if frequency is not None and frequency not in FREQUENCIES:
        note(raw.line_of("frequency"), f"{where}'frequency' is '{frequency}'"
             f"{did_you_mean(frequency, FREQUENCIES)}; allowed: {', '.join(FREQUENCIES)}")
    lower = upper = None
    thresholds = raw.get("thresholds")
    if thresholds is not None:
        if not isinstance(thresholds, Node) or not thresholds:
            note(raw.line_of("thresholds"), f"{where}'thresholds' must be a mapping with "
                 f"'lower' and/or 'upper' numbers, found {_kind(thresholds)}")
        else:
            unknown_keys(thresholds, THRESHOLD_KEYS, note, where + "thresholds: ")
            bounds: dict[str, float | None] = {}
            for key in THRESHOLD_KEYS:
                if thresholds.get(key) is None:
                    bounds[key] = None
                    continue
                bounds[key] = _number(thresholds[key])
                if bounds[key] is None:
                    note(thresholds.line_of(key), f"{where}thresholds: '{key}' must be "
                         f"{_not_a_number(thresholds[key])}")
            lower, upper = bounds.get("lower"), bounds.get("upper")
            if lower is not None and upper is not None and lower > upper:
                note(thresholds.line, f"{where}thresholds: lower ({lower:g}) is above "
                     f"upper ({upper:g})")
    target = None
    if raw.get("target") is not None:
        target = _number(raw["target"])
        if target is None:
            note(raw.line_of("target"), f"{where}'target' must be "
                 f"{_not_a_number(raw['target'])}")
    better = _text(raw, "better", note, where)
    if better is not None:
        if better not in DIRECTIONS:
            note(raw.line_of("better"), f"{where}'better' is '{better}'"
                 f"{did_you_mean(better, DIRECTIONS)}; allowed: higher, lower")
        elif raw.get("target") is None:
            note(raw.line_of("better"), f"{where}'better' says which way the target is "
                 "better; give a 'target' too")
    if problems:
        return None
    return MetricSpec(frequency=frequency, lower=lower, upper=upper, target=target,
                      better=better, **texts)


def parse_service_levels(raw: Any, line: int, add_item: Callable[[int, str, str | None], None],
                         process_ids: tuple[str, ...], metric_types: Callable[[str], str],
                         metric_items: dict[str, str]) -> tuple[ServiceLevel, ...]:
    """Validate the top-level `service_levels:` list.

    `metric_types(name)` returns the canonical metric type or raises KeyError;
    `metric_items` maps every metric item id to its process.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list):
        add_item(line, f"'service_levels' must be a list, found {_kind(raw)}", None)
        return ()
    result: list[ServiceLevel] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw, start=1):
        if not isinstance(entry, Node):
            add_item(line, f"service level #{index} must be a mapping, found {_kind(entry)}", None)
            continue
        sla_id = entry.get("id")
        label = f"service level {sla_id}" if isinstance(sla_id, str) else f"service level #{index}"
        errors: list[str] = []

        def add(at: int, message: str, label: str = label, errors: list[str] = errors) -> None:
            errors.append(message)
            add_item(at, message, label)

        unknown_keys(entry, SLA_KEYS, add, "")
        if not isinstance(sla_id, str) or not SLA_ID.match(sla_id):
            add(entry.line_of("id"), "needs an 'id' (letters, digits, '-', '_', '.')")
        elif sla_id in seen:
            add(entry.line_of("id"), f"duplicate id (first used at line {seen[sla_id]})")
        else:
            seen[sla_id] = entry.line
        process = entry.get("process")
        if not isinstance(process, str) or process not in process_ids:
            add(entry.line_of("process"), f"unknown process {process!r}"
                f"{suggest_process(str(process), process_ids)}")
        metric, mtype = entry.get("metric"), entry.get("metric_type")
        if isinstance(metric, str):
            metric = normalise(metric)   # item ids are NFC
        if (metric is None) == (mtype is None):
            add(entry.line, "name either 'metric' (a metric item id) or 'metric_type'")
        elif metric is not None:
            if not isinstance(metric, str) or metric not in metric_items:
                add(entry.line_of("metric"), f"'metric' {metric!r} is not a metric item of "
                    f"this bundle{did_you_mean(str(metric), metric_items)}")
            elif metric_items[metric] != process:
                add(entry.line_of("metric"), f"metric item {metric} belongs to "
                    f"{metric_items[metric]}, not {process}")
        else:
            try:
                mtype = metric_types(str(mtype))
            except KeyError:
                add(entry.line_of("metric_type"), f"unknown metric_type {mtype!r}")
        op, target = "", 0.0
        match = SLA_TARGET.match(str(entry.get("target", "")))
        number = None
        if match:
            try:
                number = float(match.group(2))
            except ValueError:
                number = None
        if (not match or number is None or not math.isfinite(number)
                or abs(number) > MAX_MAGNITUDE):
            add(entry.line_of("target"), f"'target' must be an operator ({', '.join(SLA_OPERATORS)}) "
                f"and a number of at most {MAX_MAGNITUDE:g} in magnitude, e.g. '>= 99.5'; "
                f"found {repr(entry.get('target'))[:60]}")
        else:
            op, target = match.group(1), number
        window = entry.get("window", "period")
        last = None
        if isinstance(window, Node):
            unknown_keys(window, ("last",), add, "window: ")
            last_value = window.get("last")
            if isinstance(last_value, bool) or not isinstance(last_value, int) or last_value < 1:
                add(entry.line_of("window"), "window: 'last' must be a whole number >= 1")
            else:
                last = last_value
        elif window != "period":
            add(entry.line_of("window"), f"'window' must be 'period' or {{last: N}}, "
                f"found {window!r}")
        provider = entry.get("provider")
        if provider is not None and not isinstance(provider, str):
            add(entry.line_of("provider"), "'provider' must be text")
        if errors:
            continue
        result.append(ServiceLevel(id=str(sla_id), process=str(process), line=entry.line,
                                   metric=metric, metric_type=mtype if metric is None else None,
                                   op=op, target=target, last=last, provider=provider))
    return tuple(result)
