"""The high-level entry points the CLI (and any program) uses: load, assess, report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .assessment import assess
from .catalogue import Catalogue, load_catalogue
from .evidence import load_bundle
from .limits import DEFAULT_LIMITS, Limits
from .profiles import Profile, list_shipped, resolve_profile
from .report import to_document
from .results import Assessment
from .rules import Rulebook, load_rulebook


@dataclass(frozen=True)
class Inputs:
    """Everything an evaluation needs besides the bundle; load once, evaluate many."""

    catalogue: Catalogue
    rulebook: Rulebook
    profiles: tuple[Profile, ...]


def load_inputs(profile_refs: Sequence[str] = (), rules_dir: Path | None = None) -> Inputs:
    """The catalogue, the rulebook and the profiles (default: every shipped one).

    Raises:
        ProfileError, RuleError: bad input, with where and what.
    """
    catalogue = load_catalogue()
    rulebook = load_rulebook(rules_dir, catalogue)
    profiles = ([resolve_profile(ref, catalogue) for ref in profile_refs] if profile_refs
                else list(list_shipped(catalogue)))
    return Inputs(catalogue, rulebook, tuple(profiles))


def assess_bundle(bundle: Path | str, inputs: Inputs, as_of: date | None = None,
                  limits: Limits | None = None) -> Assessment:
    """Evaluate one bundle with inputs loaded by `load_inputs`.

    `as_of` judges the bundle as it stood at that date (see `load_bundle`).

    Raises:
        EvidenceError, ProfileError, RuleError: bad input, with where and what.
        EngineError: an internal failure of the rules engine.
    """
    loaded = load_bundle(bundle, inputs.catalogue, limits or DEFAULT_LIMITS, as_of=as_of)
    return assess(loaded, list(inputs.profiles), inputs.rulebook, inputs.catalogue)


def report_document(bundle: Path | str, inputs: Inputs, as_of: date | None = None,
                    limits: Limits | None = None) -> dict[str, Any]:
    """`assess_bundle`, as the ism3-report/1 document. Raises as `assess_bundle`."""
    return to_document(assess_bundle(bundle, inputs, as_of, limits))


def run_assessment(bundle: Path | str, profile_refs: Sequence[str] = (),
                   rules_dir: Path | None = None, as_of: date | None = None,
                   limits: Limits | None = None) -> Assessment:
    """Evaluate a bundle against profiles (default: every shipped one), reading the
    bundle within `limits` (default: DEFAULT_LIMITS).

    `as_of` judges the bundle as it stood at that date (see `load_bundle`).

    Raises:
        EvidenceError, ProfileError, RuleError: bad input, with where and what.
        EngineError: an internal failure of the rules engine.
    """
    return assess_bundle(bundle, load_inputs(profile_refs, rules_dir), as_of, limits)


def evaluate_bundle(bundle: Path | str, profile_refs: Sequence[str] = (),
                    rules_dir: Path | None = None, as_of: date | None = None,
                    limits: Limits | None = None,
                    review: Path | None = None) -> dict[str, Any]:
    """`run_assessment`, as the ism3-report/1 document; with the auditor's `review`
    file (ism3-review/1) applied when one is given.

    Raises:
        ReviewError: the review cannot be read or does not fit the bundle.
        Otherwise as `run_assessment`.
    """
    inputs = load_inputs(profile_refs, rules_dir)
    if review is None:
        return report_document(bundle, inputs, as_of, limits)
    from .review import load_review, reviewed_document

    loaded = load_bundle(bundle, inputs.catalogue, limits or DEFAULT_LIMITS, as_of=as_of)
    judged = load_review(Path(review), limits or DEFAULT_LIMITS)
    return reviewed_document(loaded, judged, inputs.profiles, inputs.rulebook, inputs.catalogue)
