"""The one exception tree of ism3rules; the CLI turns it into exit codes in one place."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class Ism3Error(Exception):
    """Base of every error ism3rules raises on purpose.

    The message starts with where the problem is (file, line, item) and says what
    to do; it is meant to be shown to a user as it is.
    """


class EvidenceError(Ism3Error):
    """An evidence bundle cannot be read or is not a valid ism3-evidence/1 bundle."""


class RuleError(Ism3Error):
    """A rule file is invalid or cannot be compiled for the rules engine."""


class ProfileError(Ism3Error):
    """A maturity profile cannot be found, read or validated."""


class CatalogueError(Ism3Error):
    """The shipped O-ISM3 catalogue is broken (an installation problem)."""


class EngineError(Ism3Error):
    """The rules engine failed while evaluating (an internal problem, not bad input)."""


class ReportError(Ism3Error):
    """A report file given back to the tool (e.g. to `verify`) cannot be used."""


class ReviewError(Ism3Error):
    """An auditor's review file cannot be read, or does not fit the bundle it reviews."""


class AttestationError(Ism3Error):
    """A key, a signature or an attestation cannot be used (unreadable, wrong type, ...)."""


class BatchError(Ism3Error):
    """A batch cannot run as asked: shards that do not fit together, an executor missing."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or '' when none is close."""
    ordered = sorted(choices)
    same = [c for c in ordered if c.lower() == str(word).lower()]   # only the case differs
    close = same or difflib.get_close_matches(str(word), ordered, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class HistoryError(Ism3Error):
    """The history store cannot be opened, read or written (URL, server, schema, run id)."""
