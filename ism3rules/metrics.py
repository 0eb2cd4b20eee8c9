"""Statistics on a metric's observations, computed once and handed to the rules as facts.

Nothing here decides whether a metric counts or whether a point is an anomaly:
it computes numbers (reporting coverage, bands, distances outside them, the
latest value against the target) and the rules in rules/*.yaml decide.

- Coverage (docs/metrics.md, "Reporting cadence"): reporting periods of the metric's
  frequency run back to back from the assessment period's start (days, 7-day weeks,
  or 1, 3 or 12 calendar months from the start's day of the month). A period is
  expected once it has ended (its last day on or before the earlier of the period's
  end and the evaluation date); the period still running at that date, or cut short
  by the period's end, counts only in the metric's favour: when it holds an
  observation it is both expected and reported. Coverage = reported / expected. All
  of it is closed-form arithmetic on dates: its cost does not grow with the period.
- Band: the declared thresholds; without them, the control limits of an XmR chart
  (individuals and moving ranges): mean +- 3 sigma-hat, sigma-hat the mean moving
  range of consecutive observations / 1.128 (d2 for ranges of two), never below zero
  for a metric whose values are all non-negative.
- Target: the latest observation in the window against the target, in the
  direction declared or implied by the specification.
"""

from __future__ import annotations

import calendar
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import compress, repeat
from operator import attrgetter, floordiv, gt, itemgetter, lt, or_, sub
from typing import Any

from .evidence import EvidenceItem, Observation
from .specs import ServiceLevel

CONTROL_SIGMAS = 3.0
D2 = 1.128          # E[range] / sigma for samples of two: the XmR chart's constant
DIGITS = 6          # numbers handed to the engine and the report are rounded to this
_STEP_DAYS = {"daily": 1, "weekly": 7}
_STEP_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
_DATE = attrgetter("date")
_VALUE = itemgetter(1)   # Observation(date, value)


def _add_months(anchor: date, months: int) -> date | None:
    """`anchor` moved by `months` calendar months, its day kept or clamped to the month's
    last day (the 31st in February is the 28th or 29th); None past year 9999."""
    total = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(total, 12)
    if year > date.max.year:
        return None
    return date(year, month + 1, min(anchor.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class Periods:
    """The reporting periods of a frequency, numbered from 0, anchored at `start`."""

    frequency: str
    start: date

    def first_day(self, number: int) -> date | None:
        """The first day of period `number`; None when it would lie past 9999-12-31."""
        if self.frequency in _STEP_DAYS:
            try:
                return self.start + timedelta(days=_STEP_DAYS[self.frequency] * number)
            except OverflowError:
                return None
        return _add_months(self.start, _STEP_MONTHS[self.frequency] * number)

    def last_day(self, number: int) -> date:
        """The last day of period `number` (9999-12-31 at the end of the calendar)."""
        following = self.first_day(number + 1)
        return date.max if following is None else following - timedelta(days=1)

    def number(self, day: date) -> int:
        """The period `day` (on or after `start`) falls in. Raises KeyError for an
        unknown frequency (the loader validates it first)."""
        if self.frequency in _STEP_DAYS:
            return (day - self.start).days // _STEP_DAYS[self.frequency]
        months = (day.year - self.start.year) * 12 + day.month - self.start.month
        number = months // _STEP_MONTHS[self.frequency]
        first = self.first_day(number)
        return number - 1 if first is None or first > day else number


@dataclass(frozen=True)
class Cadence:
    """How a metric was reported against its frequency, up to a last day."""

    expected: int
    reported: int

    @property
    def coverage(self) -> float:
        """reported / expected (0 when nothing is expected)."""
        return _round(self.reported / self.expected) if self.expected else 0.0


def cadence(frequency: str, start: date, last: date, days: Iterable[date]) -> Cadence:
    """Periods expected and reported from `start` to `last` (see the module docstring);
    `days` are the observation dates in that window."""
    periods = Periods(frequency, start)
    final = periods.number(last)
    complete = final + 1 if periods.last_day(final) <= last else final
    step = _STEP_DAYS.get(frequency)
    if step is not None:   # days since the start, floor-divided by the step: C-level maps
        since = map(sub, map(date.toordinal, days), repeat(start.toordinal()))
        reported = set(map(floordiv, since, repeat(step)))
    else:   # calendar months: each distinct day once (a year of data has few months)
        reported = set(map(periods.number, set(days)))
    running = complete == final and final in reported   # the last period is unfinished
    return Cadence(complete + (1 if running else 0), len(reported))


def control_limits(values: list[float]) -> tuple[float, float, float, float] | None:
    """(mean, sigma-hat, lower, upper) of an XmR chart on `values` in time order, or None
    when fewer than two values or no variation between consecutive ones.

    sigma-hat = mean moving range / d2 (1.128), limits = mean +- 3 sigma-hat (Wheeler,
    Understanding Statistical Process Control; Montgomery, Introduction to Statistical
    Quality Control, the control chart for individual measurements). The lower limit is
    0 for values that are all non-negative (a count cannot go below zero).
    """
    if len(values) < 2:
        return None
    moving = _mean(list(map(abs, map(sub, values[1:], values[:-1]))))   # |later - earlier|
    if moving == 0:
        return None
    mean = _mean(values)
    sigma = moving / D2
    lower = mean - CONTROL_SIGMAS * sigma
    upper = mean + CONTROL_SIGMAS * sigma
    if not all(map(math.isfinite, (mean, sigma, lower, upper))):
        return None   # values near the largest float: no band can be drawn
    if lower < 0 <= min(values):
        lower = 0.0
    return mean, sigma, lower, upper


def _mean(values: list[float]) -> float:
    """The mean; for values so large that their sum overflows, the sum of their shares."""
    try:   # what statistics.fmean computes, without importing statistics (and fractions,
        return math.fsum(values) / len(values)   # decimal) into every evaluation
    except OverflowError:
        return math.fsum(v / len(values) for v in values)


@dataclass(frozen=True)
class Outlier:
    """An observation beyond its metric's band."""

    observation: Observation
    above: float | None     # by how much it exceeds the upper bound
    below: float | None     # by how much it falls short of the lower bound


@dataclass(frozen=True)
class MetricStats:
    """What the observations of one metric item show in the assessment window."""

    item: str
    window: tuple[Observation, ...]
    frequency: str | None
    periods_expected: int | None
    periods_reported: int | None
    coverage: float | None
    bounds: str | None              # "threshold", "control" or None (no band)
    lower: float | None
    upper: float | None
    mean: float | None
    sigma: float | None
    outliers: tuple[Outlier, ...]
    target: float | None
    better: str | None
    latest: Observation | None
    shortfall: float | None         # > 0: the latest value misses the target by this much

    @property
    def has_frequency(self) -> bool:
        """Whether coverage was computed (a frequency and a period)."""
        return self.coverage is not None


def _round(value: float) -> float:
    return round(value, DIGITS) + 0.0   # + 0.0 turns -0.0 into 0.0


def window_of(item: EvidenceItem, start: date | None, end: date | None,
              cutoff: date | None) -> tuple[Observation, ...]:
    """The item's observations inside the period and not after the evaluation date (a
    slice found by bisection: the loader gives them sorted by date, then value)."""
    last = min(d for d in (end, cutoff) if d is not None) if (end or cutoff) else None
    observations = item.observations
    low = bisect_left(observations, start, key=_DATE) if start is not None else 0
    high = (bisect_right(observations, last, key=_DATE) if last is not None
            else len(observations))
    return observations[low:high]


def metric_stats(item: EvidenceItem, start: date | None, end: date | None,
                 cutoff: date | None) -> MetricStats:
    """Coverage, band, outliers and target attainment of one metric item."""
    spec = item.specification
    window = window_of(item, start, end, cutoff)
    frequency = spec.frequency if spec else None
    expected = reported = None
    coverage = None
    last = min(d for d in (end, cutoff) if d is not None) if (end or cutoff) else None
    if frequency and start is not None and last is not None and start <= last:
        counted = cadence(frequency, start, last, map(_DATE, window))
        expected, reported, coverage = counted.expected, counted.reported, counted.coverage
    values = list(map(_VALUE, window))
    bounds = None
    lower = upper = mean = sigma = None
    if spec is not None and spec.has_thresholds:
        bounds, lower, upper = "threshold", spec.lower, spec.upper
    else:
        chart = control_limits(values)
        if chart is not None:
            bounds = "control"
            mean, sigma, lower, upper = (_round(v) for v in chart)
    outliers: list[Outlier] = []
    if bounds is not None:
        for obs in _beyond(window, values, lower, upper):
            above = _round(obs.value - upper) if upper is not None and obs.value > upper else None
            below = _round(lower - obs.value) if lower is not None and obs.value < lower else None
            if above is not None or below is not None:
                outliers.append(Outlier(obs, above, below))
    target = spec.target if spec else None
    better = spec.direction if spec and target is not None else None
    latest = window[-1] if window else None
    shortfall = None
    if target is not None and latest is not None:
        gap = target - latest.value if better == "higher" else latest.value - target
        shortfall = _round(gap)
    return MetricStats(item.id, window, frequency, expected, reported, coverage, bounds, lower,
                       upper, mean, sigma, tuple(outliers), target, better, latest, shortfall)


def _beyond(window: tuple[Observation, ...], values: list[float], lower: float | None,
            upper: float | None) -> Iterator[Observation]:
    """The observations of `window` (whose values are `values`) above `upper` or below
    `lower`, in order: picked by C-level comparisons, as a year of daily data has a few."""
    flags: Iterator[bool] | None = None
    if values and upper is not None and max(values) > upper:
        flags = map(lt, repeat(upper), values)            # upper < value
    if values and lower is not None and min(values) < lower:
        below = map(gt, repeat(lower), values)            # lower > value
        flags = below if flags is None else map(or_, flags, below)
    return compress(window, flags) if flags is not None else iter(())


def planned_stats(item: EvidenceItem, start: date | None, end: date | None,
                  cutoff: date | None) -> MetricStats:
    """The statistics of a new metric reported as a remediation plan asks: once in every
    reporting period of its frequency up to the last day judged (the one still running
    included), or without a frequency once in the window; no band, no target."""
    spec = item.specification
    frequency = spec.frequency if spec else None
    last = min(d for d in (end, cutoff) if d is not None) if (end or cutoff) else None
    expected = reported = None
    coverage = None
    if frequency and start is not None and last is not None and start <= last:
        expected = reported = Periods(frequency, start).number(last) + 1
        coverage = 1.0
    return MetricStats(item.id, (), frequency, expected, reported, coverage, None, None, None,
                       None, None, (), None, None, None, None)


def metric_facts(item: EvidenceItem, stats: MetricStats) -> list[dict[str, Any]]:
    """The input facts one accepted metric item stands for (see FACT_TYPES)."""
    base = {"process": item.process, "metric_type": item.metric_type, "item": item.id}
    outside_thresholds = len(stats.outliers) if stats.bounds == "threshold" else 0
    outside_control = len(stats.outliers) if stats.bounds == "control" else 0
    facts: list[dict[str, Any]] = [{
        "id": f"metric_report:{item.id}", "t": "metric_report", **base,
        "frequency": stats.frequency or "none",
        "has_frequency": 1 if stats.has_frequency else 0,
        "coverage": float(stats.coverage) if stats.coverage is not None else 1.0,
        "periods_expected": stats.periods_expected or 0,
        "periods_reported": stats.periods_reported or 0,
        "outside_thresholds": outside_thresholds,
        "outside_control_limits": outside_control,
    }]
    for number, out in enumerate(stats.outliers, start=1):
        fact: dict[str, Any] = {
            "id": f"observation:{item.id}:{number}", "t": "observation", **base,
            "date": out.observation.date.isoformat(), "value": float(out.observation.value),
            "bounds": stats.bounds, "samples": len(stats.window)}
        for key, value in (("lower", stats.lower), ("upper", stats.upper),
                           ("above", out.above), ("below", out.below)):
            if value is not None:   # a missing attribute matches no comparison
                fact[key] = float(value)
        facts.append(fact)
    if stats.shortfall is not None and stats.latest is not None:
        facts.append({"id": f"target:{item.id}", "t": "target", **base,
                      "target": float(stats.target or 0.0), "better": stats.better,
                      "latest": float(stats.latest.value),
                      "date": stats.latest.date.isoformat(),
                      "shortfall": float(stats.shortfall)})
    return facts


@dataclass(frozen=True)
class SlaWindow:
    """The observations a service level is judged on, and which of them violate it."""

    sla: ServiceLevel
    observations: tuple[tuple[str, Observation], ...]    # (item id, observation)
    violations: tuple[tuple[str, Observation], ...]


_HOLDS = {"<=": lambda v, t: v <= t, ">=": lambda v, t: v >= t, "==": lambda v, t: v == t}


def sla_window(sla: ServiceLevel, items: tuple[EvidenceItem, ...], start: date | None,
               end: date | None, cutoff: date | None) -> SlaWindow:
    """The observations in `sla`'s window (its metric item, or every item of its type)."""
    chosen = [i for i in items if i.kind == "metric" and i.process == sla.process
              and (i.id == sla.metric if sla.metric else i.metric_type == sla.metric_type)]
    pool = sorted(((o.date, i.id, o) for i in chosen for o in window_of(i, start, end, cutoff)),
                  key=lambda t: (t[0], t[1], t[2].value))
    picked = [(item_id, obs) for _, item_id, obs in pool]
    if sla.last is not None:
        picked = picked[-sla.last:]
    violations = tuple(p for p in picked if not _HOLDS[sla.op](p[1].value, sla.target))
    return SlaWindow(sla, tuple(picked), violations)


def sla_fact(window: SlaWindow) -> dict[str, Any]:
    """The `service_level` input fact of one service level."""
    sla = window.sla
    return {"id": f"service_level:{sla.id}", "t": "service_level", "process": sla.process,
            "sla": sla.id, "metric": sla.metric or sla.metric_type, "target": sla.target_text,
            "window": sla.window_text, "observations": len(window.observations),
            "violations": len(window.violations)}
