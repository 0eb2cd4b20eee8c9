"""Statistics on a metric's observations, computed once and handed to the rules as facts.

Nothing here decides whether a metric counts or whether a point is an anomaly:
it computes numbers (reporting coverage, bands, distances outside them, the
latest value against the target) and the rules in rules/*.yaml decide.

- Coverage: the assessment window (period start to the earlier of period end and
  the evaluation date) is cut into calendar buckets of the metric's frequency
  (day, ISO week, month, quarter, year); every bucket that overlaps the window is
  expected, and coverage = buckets holding at least one observation / expected.
- Band: the declared thresholds; without them, control limits mean +- 3 sigma of
  the window's observations, sigma being the *sample* standard deviation (n - 1).
  A point can lie beyond 3 sample sigmas only when n >= 11 ((n - 1) / sqrt(n) > 3),
  so control limits flag nothing on fewer observations whatever the rules say.
- Target: the latest observation in the window against the target, in the
  direction declared or implied by the specification.
"""

from __future__ import annotations

import itertools
import math
import operator
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .evidence import EvidenceItem, Observation
from .specs import ServiceLevel

CONTROL_SIGMAS = 3.0
DIGITS = 6          # numbers handed to the engine and the report are rounded to this


_BUCKETS: dict[str, Callable[[date], tuple[int, ...]]] = {
    "daily": lambda d: (d.year, d.month, d.day),
    "weekly": lambda d: (d.isocalendar().year, d.isocalendar().week),
    "monthly": lambda d: (d.year, d.month),
    "quarterly": lambda d: (d.year, (d.month - 1) // 3 + 1),
    "yearly": lambda d: (d.year,),
}


def bucket(frequency: str, day: date) -> tuple[int, ...]:
    """The reporting period `day` falls in, as a sortable key.

    Raises KeyError for an unknown frequency (the loader validates it first).
    """
    return _BUCKETS[frequency](day)


def expected_buckets(frequency: str, start: date, end: date) -> list[tuple[int, ...]]:
    """Every reporting period of `frequency` that overlaps [start, end], in order."""
    seen: list[tuple[int, ...]] = []
    day = start
    step = timedelta(days=1)
    while day <= end:
        key = bucket(frequency, day)
        if not seen or seen[-1] != key:
            seen.append(key)
        day += step
    return seen


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


def stdev(values: list[float]) -> float:
    """`statistics.stdev(values)`, bit for bit, computed with integers.

    The standard library sums one `Fraction` per value; on a year of daily data that was
    a fifth of an evaluation. A float is an integer over a power of two, so the same exact
    sums fit plain integers, and the same correctly rounded square root finishes it.
    Falls back to `statistics.stdev` for anything but two or more floats.
    """
    sqrt_of_frac = getattr(statistics, "_float_sqrt_of_frac", None)
    if sqrt_of_frac is None or len(values) < 2 or set(map(type, values)) != {float}:
        return statistics.stdev(values)
    tops, bottoms = zip(*map(float.as_integer_ratio, values), strict=True)
    scale = max(bottoms)                       # every denominator is a power of two
    nums = list(map(operator.mul, tops, map(operator.floordiv, itertools.repeat(scale), bottoms)))
    count, total = len(nums), sum(nums)
    numerator = count * sum(map(operator.mul, nums, nums)) - total * total
    denominator = count * (count - 1) * scale * scale
    common = math.gcd(numerator, denominator)
    return float(sqrt_of_frac(numerator // common, denominator // common))


def _round(value: float) -> float:
    return round(value, DIGITS) + 0.0   # + 0.0 turns -0.0 into 0.0


def window_of(item: EvidenceItem, start: date | None, end: date | None,
              cutoff: date | None) -> tuple[Observation, ...]:
    """The item's observations inside the period and not after the evaluation date."""
    last = min(d for d in (end, cutoff) if d is not None) if (end or cutoff) else None
    return tuple(o for o in item.observations
                 if (start is None or o.date >= start) and (last is None or o.date <= last))


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
        buckets = expected_buckets(frequency, start, last)
        expected = len(buckets)
        reported = len({bucket(frequency, o.date) for o in window})
        coverage = _round(reported / expected)
    values = [o.value for o in window]
    bounds = None
    lower = upper = mean = sigma = None
    if spec is not None and spec.has_thresholds:
        bounds, lower, upper = "threshold", spec.lower, spec.upper
    elif len(values) >= 2:
        mean = statistics.fmean(values)
        sigma = stdev(values)
        if sigma > 0:
            bounds = "control"
            lower = _round(mean - CONTROL_SIGMAS * sigma)
            upper = _round(mean + CONTROL_SIGMAS * sigma)
        mean, sigma = _round(mean), _round(sigma)
    outliers: list[Outlier] = []
    if bounds is not None:
        for obs in window:
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
