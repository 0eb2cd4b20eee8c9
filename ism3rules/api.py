"""The high-level entry points the CLI (and any program) uses: load, assess, report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from .assessment import assess
from .catalogue import load_catalogue
from .evidence import load_bundle
from .limits import DEFAULT_LIMITS, Limits
from .profiles import list_shipped, resolve_profile
from .report import to_document
from .results import Assessment
from .rules import load_rulebook


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
    catalogue = load_catalogue()
    rulebook = load_rulebook(rules_dir, catalogue)
    profiles = ([resolve_profile(ref, catalogue) for ref in profile_refs] if profile_refs
                else list(list_shipped(catalogue)))
    loaded = load_bundle(bundle, catalogue, limits or DEFAULT_LIMITS, as_of=as_of)
    return assess(loaded, profiles, rulebook, catalogue)


def evaluate_bundle(bundle: Path | str, profile_refs: Sequence[str] = (),
                    rules_dir: Path | None = None, as_of: date | None = None,
                    limits: Limits | None = None) -> dict[str, Any]:
    """`run_assessment`, as the ism3-report/1 document. Raises as `run_assessment`."""
    return to_document(run_assessment(bundle, profile_refs, rules_dir, as_of, limits))
