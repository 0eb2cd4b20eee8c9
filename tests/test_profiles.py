"""Profiles (ism3-profile/1): loading by id or path, validation, cumulative levels."""

from __future__ import annotations

from pathlib import Path

import pytest

from ism3rules.errors import ProfileError
from ism3rules.profiles import list_shipped, load_profile_file, resolve_profile

GOOD = """schema: ism3-profile/1
id: mine
name: Mine
source: custom
levels:
  - level: 1
    name: One
    requires: {OSP-3: managed, OSP-4: basic}
  - level: 2
    name: Two
    requires:
      OSP-3: {capability: defined, rationale: raise it}
      OSP-5: initial
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def test_cumulative_requirements_take_the_highest_minimum(tmp_path: Path) -> None:
    prof = load_profile_file(_write(tmp_path, GOOD))
    assert [(r.process, r.capability) for r in prof.effective(1)] == [
        ("OSP-3", "managed"), ("OSP-4", "initial")]
    assert [(r.process, r.capability) for r in prof.effective(2)] == [
        ("OSP-3", "defined"), ("OSP-4", "initial"), ("OSP-5", "initial")]
    assert prof.levels[1].requires[0].rationale == "raise it"


@pytest.mark.parametrize("old, new, match", [
    ("source: custom", "source: official", r"p.yaml:4: source 'official'"),
    ("  - level: 2\n", "  - level: 3\n", r"p.yaml:\d+: levels must be numbered 1..N"),
    ("OSP-5: initial", "OSP-13: initial", r"level 2: unknown process 'OSP-13'"),
    ("OSP-5: initial", "OSP-5: manged", r"unknown capability 'manged' \(did you mean 'managed'\?\)"),
    ("OSP-5: initial", "OSP-5: none", r"a requirement of 'none' asks for nothing"),
    ("name: Mine\n", "name: Mine\nlevles: []\n", r"unknown key 'levles' \(did you mean 'levels'\?\)"),
    ("schema: ism3-profile/1", "schema: ism3-profile/2", r"p.yaml:1: schema is 'ism3-profile/2'"),
    ("rationale: raise it", "rationale: raise it, why: x", r"unknown key 'why'"),
])
def test_invalid_profiles_say_where_and_what(tmp_path: Path, old: str, new: str, match: str) -> None:
    assert old in GOOD
    with pytest.raises(ProfileError, match=match):
        load_profile_file(_write(tmp_path, GOOD.replace(old, new)))


def test_shipped_profiles_are_valid_and_labelled() -> None:
    shipped = {p.id: p for p in list_shipped()}
    assert {"ism3-derived", "small-business", "cloud-saas"} <= set(shipped)
    derived = shipped["ism3-derived"]
    assert derived.max_level == 5
    for prof in shipped.values():
        assert prof.source == "derived"
        for level in prof.levels:
            for req in level.requires:
                assert req.rationale, f"{prof.id} level {level.level} {req.process} lacks a rationale"
    # capability rises with the level: no effective requirement ever drops
    for prof in shipped.values():
        for n in range(1, prof.max_level):
            lower = {r.process: r.rank for r in prof.effective(n)}
            higher = {r.process: r.rank for r in prof.effective(n + 1)}
            assert all(higher[p] >= rank for p, rank in lower.items())


def test_resolve_by_id_and_by_path(tmp_path: Path) -> None:
    assert resolve_profile("small-business").id == "small-business"
    assert resolve_profile(str(_write(tmp_path, GOOD))).id == "mine"


def test_unknown_profile_id_suggests() -> None:
    with pytest.raises(ProfileError, match=r"unknown profile 'small-busines' \(did you mean "
                                           r"'small-business'\?\)"):
        resolve_profile("small-busines")


def test_missing_profile_file() -> None:
    with pytest.raises(ProfileError, match="no such profile file"):
        resolve_profile("nowhere/p.yaml")
