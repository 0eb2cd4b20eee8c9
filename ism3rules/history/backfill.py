"""`history backfill`: one bundle evaluated as it stood at each period end of its evidence period."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ..api import Inputs, report_document
from ..errors import EvidenceError
from ..evidence import load_bundle
from ..limits import DEFAULT_LIMITS, Limits

EVERY = ("week", "month", "quarter")
MAX_POINTS = 1000


def _next_end(day: date, every: str) -> date:
    """The end (inclusive) of the calendar week, month or quarter holding `day`."""
    if every == "week":
        return day + timedelta(days=6 - day.weekday())       # Sunday, as ISO weeks end
    month = day.month if every == "month" else ((day.month - 1) // 3 + 1) * 3
    return date(day.year, month, calendar.monthrange(day.year, month)[1])


def period_ends(start: date, end: date, every: str) -> list[date]:
    """Every end of a calendar `every` (week, month, quarter) from `start` to `end`, and
    `end` itself when it is not one: the dates a backfill evaluates at.

    Raises:
        ValueError: `every` is not week, month or quarter, or `end` is before `start`.
    """
    if every not in EVERY:
        raise ValueError(f"every must be one of {', '.join(EVERY)}")
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    out: list[date] = []
    day = start
    while day <= end:
        stop = _next_end(day, every)
        out.append(min(stop, end))
        day = stop + timedelta(days=1)
    return out


def backfill_dates(bundle: Path | str, every: str, start: date | None = None,
                   end: date | None = None, limits: Limits | None = None) -> list[date]:
    """The as-of dates of a backfill: period ends across `start`..`end`, by default the
    bundle's evidence period.

    Raises:
        EvidenceError: the bundle cannot be read, has no period and none was given, or
            the period has more than MAX_POINTS period ends.
    """
    loaded = load_bundle(bundle, limits=limits or DEFAULT_LIMITS)
    first = start or loaded.period_start
    last = end or loaded.period_end
    if first is None or last is None:
        raise EvidenceError(f"{loaded.manifest}: no evidence period to backfill across: add "
                            "'assessment: {period: {start: YYYY-MM-DD, end: YYYY-MM-DD}}' or "
                            "give --from and --to")
    try:
        dates = period_ends(first, last, every)
    except ValueError as exc:
        raise EvidenceError(f"{loaded.manifest}: cannot backfill: {exc}") from exc
    if len(dates) > MAX_POINTS:
        raise EvidenceError(f"{loaded.manifest}: {len(dates)} {every}s from {first} to {last}; at "
                            f"most {MAX_POINTS} evaluations per backfill: use a longer period "
                            "(--every) or a shorter range (--from, --to)")
    return dates


def backfill(bundle: Path | str, dates: list[date], inputs: Inputs,
             limits: Limits | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """The report documents of `bundle` evaluated as of each of `dates`, in order.

    Raises:
        EvidenceError, ProfileError, RuleError, EngineError: as `api.report_document`.
    """
    documents = []
    for done, day in enumerate(dates, start=1):
        documents.append(report_document(bundle, inputs, day, limits))
        if progress is not None:
            progress(done, len(dates))
    return documents


__all__ = ["EVERY", "MAX_POINTS", "backfill", "backfill_dates", "period_ends"]
