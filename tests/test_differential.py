"""The engine against an independent, plain-Python reading of the same rule files.

Random bundles and random profiles are evaluated both ways; any disagreement
points at an engine quirk (fact collisions, lost actions, comparison oddities)
or at a compiler bug. The reference here reads rules/*.yaml with yaml.safe_load
and knows nothing of ism3rules' compiler.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, write_evidence
from ism3rules.assessment import assess
from ism3rules.catalogue import load_catalogue
from ism3rules.evidence import load_bundle
from ism3rules.profiles import load_profile_file
from ism3rules.rules import load_rulebook

CAT = load_catalogue()
RANK = {c.name: c.rank for c in CAT.capabilities}
TYPES = [m.name for m in CAT.metric_types]
PROCESSES = list(CAT.process_ids)


def _reference_capabilities(evidence: dict[str, tuple[bool, set[str]]]) -> dict[str, int]:
    """Fixpoint over rules/capability.yaml read as plain data."""
    rules = yaml.safe_load((ROOT / "rules" / "capability.yaml").read_text())["rules"]
    result: dict[str, int] = {}
    for process in PROCESSES:
        documented, types = evidence.get(process, (False, set()))
        facts: set[tuple[str, str]] = {("metric", t) for t in types}
        if documented:
            facts.add(("documentation", ""))
        changed = True
        while changed:
            changed = False
            for rule in rules:
                needs = set()
                for cond in rule["when"]:
                    value = cond.get("metric_type", cond.get("capability", ""))
                    needs.add((cond["fact"], value))
                derived = ("capability", rule["then"]["capability"])
                if needs <= facts and derived not in facts:
                    facts.add(derived)
                    changed = True
        result[process] = max((RANK[v] for k, v in facts if k == "capability"), default=0)
    return result


def _reference_level(profile: dict[str, Any], ranks: dict[str, int]) -> int:
    achieved = 0
    for level in profile["levels"]:
        if all(ranks[p] >= RANK[c] for lvl in profile["levels"][: level["level"]]
               for p, c in lvl["requires"].items()):
            achieved = level["level"]
        else:
            break
    return achieved


evidence_strategy = st.dictionaries(
    st.sampled_from(PROCESSES),
    st.tuples(st.booleans(), st.sets(st.sampled_from(TYPES))),
    max_size=12,
)
profile_strategy = st.lists(
    st.dictionaries(st.sampled_from(PROCESSES),
                    st.sampled_from(["initial", "managed", "defined", "controlled", "optimized"]),
                    min_size=1, max_size=5),
    min_size=1, max_size=4,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(evidence=evidence_strategy, levels=profile_strategy)
def test_engine_agrees_with_plain_reading(tmp_path_factory: Any, evidence: Any, levels: Any) -> None:
    root = write_evidence(tmp_path_factory.mktemp("b"), evidence, "diff")
    profile = {"schema": "ism3-profile/1", "id": "random", "name": "Random", "source": "custom",
               "levels": [{"level": i + 1, "name": f"L{i + 1}", "requires": req}
                          for i, req in enumerate(levels)]}
    ppath = root / "profile.yaml"
    ppath.write_text(yaml.safe_dump(profile))
    result = assess(load_bundle(root), [load_profile_file(ppath)], load_rulebook())
    expected = _reference_capabilities(evidence)
    assert {p.id: p.rank for p in result.processes} == expected
    assert result.profiles[0].achieved_level == _reference_level(profile, expected)
