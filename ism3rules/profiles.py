"""Maturity profiles (ism3-profile/1): which processes each level needs, at which capability."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalogue import Catalogue, load_catalogue, suggest_process
from .errors import ProfileError, did_you_mean
from .inputfiles import MAX_CONFIG_BYTES, PROFILE, read_yaml
from .paths import shipped_dir
from .yamlio import Node

SCHEMA = "ism3-profile/1"
SOURCES = ("standard", "derived", "custom")
PROFILE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
TOP_KEYS = ("schema", "id", "name", "source", "description", "levels", "mandatory")
LEVEL_KEYS = ("level", "name", "description", "requires")
REQUIREMENT_KEYS = ("capability", "rationale")


@dataclass(frozen=True)
class Requirement:
    """A process needed at a level, at a minimum capability."""

    process: str
    capability: str
    rank: int
    rationale: str | None


@dataclass(frozen=True)
class Level:
    """One maturity level of a profile, with its own (not cumulative) requirements."""

    level: int
    name: str
    description: str | None
    requires: tuple[Requirement, ...]


@dataclass(frozen=True)
class Profile:
    """A validated maturity profile."""

    id: str
    name: str
    source: str
    description: str
    path: Path
    sha256: str
    levels: tuple[Level, ...]
    mandatory: tuple[str, ...] = ()     # processes a bundle may not exclude from scope

    @property
    def max_level(self) -> int:
        """The highest level number."""
        return len(self.levels)

    def effective(self, level: int) -> tuple[Requirement, ...]:
        """What level `level` needs, cumulatively: every process named at levels
        1..level, each at the highest minimum named up to that level; in process order
        of first mention."""
        best: dict[str, Requirement] = {}
        for lvl in self.levels[:level]:
            for req in lvl.requires:
                if req.process not in best or req.rank > best[req.process].rank:
                    best[req.process] = req
        return tuple(best.values())


def shipped_profiles_dir() -> Path:
    """The folder of the profiles that ship with the tool."""
    return shipped_dir("profiles")


def list_shipped(catalogue: Catalogue | None = None) -> tuple[Profile, ...]:
    """Every shipped profile, sorted by id.

    Raises:
        ProfileError: a shipped profile is invalid, or two share an id.
    """
    directory = shipped_profiles_dir()
    profiles = [load_profile_file(p, catalogue) for p in sorted(directory.glob("*.yaml"))]
    seen: dict[str, Path] = {}
    for prof in profiles:
        if prof.id in seen:
            raise ProfileError(f"{prof.path}: profile id '{prof.id}' already used by {seen[prof.id]}")
        seen[prof.id] = prof.path
    return tuple(sorted(profiles, key=lambda p: p.id))


def resolve_profile(ref: str, catalogue: Catalogue | None = None) -> Profile:
    """Load a profile by shipped id or by path to a profile file.

    A reference that names an existing file, or ends in .yaml/.yml, or contains a
    path separator is a path; anything else is a shipped id.

    Raises:
        ProfileError: no such profile, or it is invalid.
    """
    path = Path(ref)
    if path.exists() or ref.endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref:
        if not path.exists():
            raise ProfileError(f"{ref}: no such profile file")
        return load_profile_file(path, catalogue)   # a pipe, a device, a folder: refused there
    shipped = list_shipped(catalogue)
    for prof in shipped:
        if prof.id == ref:
            return prof
    ids = [p.id for p in shipped]
    raise ProfileError(f"unknown profile '{ref}'{did_you_mean(ref, ids)}; shipped profiles: "
                       f"{', '.join(ids)} (or give a path to a profile file)")


def load_profile_file(path: Path, catalogue: Catalogue | None = None) -> Profile:
    """Read and validate one profile file.

    Raises:
        ProfileError: with file, line and what is wrong, for the first problem found.
    """
    catalogue = catalogue or load_catalogue()
    # read once, within a fixed size: the digest is of the very bytes parsed
    data, digest = read_yaml(path, PROFILE, MAX_CONFIG_BYTES)

    def fail(node: Node | None, key: str | None, message: str) -> ProfileError:
        line = node.line_of(key) if node is not None and key else (node.line if node else 0)
        return ProfileError(f"{path}:{line}: {message}" if line else f"{path}: {message}")

    if not isinstance(data, Node):
        raise fail(None, None, f"a profile must be a mapping with 'schema: {SCHEMA}'")
    _no_unknown(data, TOP_KEYS, fail, "")
    if data.get("schema") != SCHEMA:
        raise fail(data, "schema", f"schema is {data.get('schema')!r}; this tool reads '{SCHEMA}'")
    for key in ("id", "name", "source", "levels"):
        if data.get(key) in (None, ""):
            raise fail(data, None, f"missing required field '{key}'")
    prof_id = str(data["id"])
    if not PROFILE_ID.match(prof_id):
        raise fail(data, "id", f"profile id '{prof_id}' may hold letters, digits, '.', '-', '_'")
    source = data["source"]
    if source not in SOURCES:
        raise fail(data, "source", f"source {source!r}{did_you_mean(str(source), SOURCES)} must be "
                   f"one of {', '.join(SOURCES)}")
    raw_levels = data["levels"]
    if not isinstance(raw_levels, list) or not raw_levels:
        raise fail(data, "levels", "'levels' must be a non-empty list")
    levels: list[Level] = []
    for index, raw in enumerate(raw_levels, start=1):
        if not isinstance(raw, Node):
            raise fail(data, "levels", f"level #{index} must be a mapping")
        _no_unknown(raw, LEVEL_KEYS, fail, f" in level #{index}")
        number = raw.get("level")
        if isinstance(number, bool) or number != index:
            raise fail(raw, "level", f"levels must be numbered 1..N in order with no gaps; "
                       f"expected level {index}, found {number!r}")
        if not isinstance(raw.get("name"), str) or not raw["name"].strip():
            raise fail(raw, None, f"level {index} needs a 'name'")
        requires = raw.get("requires")
        if requires is None:
            requires = Node()
            requires.line, requires.key_lines = raw.line, {}
        if not isinstance(requires, Node):
            raise fail(raw, "requires", f"level {index}: 'requires' must map process ids to "
                       "capabilities")
        reqs = [_requirement(proc, spec, requires, index, fail, catalogue)
                for proc, spec in requires.items()]
        levels.append(Level(index, raw["name"].strip(),
                            str(raw["description"]).strip() if raw.get("description") else None,
                            tuple(reqs)))
    return Profile(
        id=prof_id,
        name=str(data["name"]),
        source=source,
        description=" ".join(str(data.get("description") or "").split()),
        path=path,
        sha256=digest,
        levels=tuple(levels),
        mandatory=_mandatory(data, fail, catalogue),
    )


def _mandatory(data: Node, fail: Any, catalogue: Catalogue) -> tuple[str, ...]:
    """The optional `mandatory:` list: process ids that may not be excluded from scope."""
    raw = data.get("mandatory")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail(data, "mandatory", "'mandatory' must be a list of process ids")
    seen: list[str] = []
    for value in raw:
        process = str(value)
        if process not in catalogue.process_ids:
            raise fail(data, "mandatory", f"mandatory: unknown process '{process}'"
                       f"{suggest_process(process, catalogue.process_ids)}")
        if process in seen:
            raise fail(data, "mandatory", f"mandatory: '{process}' is listed twice")
        seen.append(process)
    return tuple(seen)


def _no_unknown(node: Node, allowed: tuple[str, ...], fail: Any, where: str) -> None:
    for key in node:
        if key not in allowed:
            raise fail(node, str(key), f"unknown key '{key}'{where}"
                       f"{did_you_mean(str(key), allowed)}; allowed: {', '.join(allowed)}")


def _requirement(process: Any, spec: Any, requires: Node, level: int, fail: Any,
                 catalogue: Catalogue) -> Requirement:
    process = str(process)
    if process not in catalogue.process_ids:
        raise fail(requires, process, f"level {level}: unknown process '{process}'"
                   f"{suggest_process(process, catalogue.process_ids)}")
    rationale = None
    if isinstance(spec, Node):
        _no_unknown(spec, REQUIREMENT_KEYS, fail, f" for {process} at level {level}")
        rationale = str(spec["rationale"]).strip() if spec.get("rationale") else None
        spec = spec.get("capability")
    if not isinstance(spec, str):
        raise fail(requires, process, f"level {level}: {process} needs a capability name, "
                   f"found {spec!r}")
    try:
        cap = catalogue.capability(spec)
    except KeyError:
        raise fail(requires, process, f"level {level}: {process}: unknown capability '{spec}'"
                   f"{did_you_mean(spec, catalogue.capability_choices())}") from None
    if cap.rank == 0:
        raise fail(requires, process, f"level {level}: {process}: a requirement of 'none' "
                   "asks for nothing; name at least 'initial'")
    return Requirement(process, cap.name, cap.rank, rationale)
