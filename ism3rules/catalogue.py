"""The O-ISM3 catalogue: the 45 processes, the capability scale and the metric types."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from .errors import CatalogueError, did_you_mean
from .yamlio import load_yaml

CATALOGUE_PATH = Path(__file__).parent / "data" / "catalogue.yaml"


@dataclass(frozen=True)
class Process:
    """One O-ISM3 process."""

    id: str
    name: str
    level: str
    group: str | None
    purpose: str


@dataclass(frozen=True)
class Capability:
    """One level of the capability scale (Table 2.1)."""

    name: str
    rank: int
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class MetricType:
    """One of the seven metric types."""

    name: str
    measures: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    """The fixed vocabulary every loader validates against."""

    processes: tuple[Process, ...]
    capabilities: tuple[Capability, ...]
    metric_types: tuple[MetricType, ...]

    @functools.cached_property
    def process_ids(self) -> tuple[str, ...]:
        """Process ids in catalogue order (the order reports use)."""
        return tuple(p.id for p in self.processes)

    def process(self, process_id: str) -> Process:
        """The process with this id. Raises KeyError when there is none."""
        return {p.id: p for p in self.processes}[process_id]

    @functools.cached_property
    def _capability_names(self) -> dict[str, Capability]:
        names: dict[str, Capability] = {}
        for cap in self.capabilities:
            for name in (cap.name, *cap.aliases):
                names[name] = cap
        return names

    @functools.cached_property
    def _metric_names(self) -> dict[str, MetricType]:
        names: dict[str, MetricType] = {}
        for mtype in self.metric_types:
            for name in (mtype.name, *mtype.aliases):
                names[name] = mtype
        return names

    def capability(self, name: str) -> Capability:
        """The capability named `name` or one of its aliases. Raises KeyError."""
        return self._capability_names[str(name).lower()]

    def capability_by_rank(self, rank: int) -> Capability:
        """The capability of rank `rank`. Raises KeyError."""
        return {c.rank: c for c in self.capabilities}[rank]

    def capability_choices(self) -> list[str]:
        """Every accepted capability spelling."""
        return list(self._capability_names)

    def metric_type(self, name: str) -> MetricType:
        """The metric type named `name` or one of its aliases. Raises KeyError."""
        return self._metric_names[str(name).lower()]

    def metric_type_choices(self) -> list[str]:
        """Every accepted metric type spelling."""
        return list(self._metric_names)


def suggest_process(word: str, ids: Collection[str]) -> str:
    """' (did you mean 'OSP-17'?)' for a near miss of a process id, else ''.

    Ids are written exactly (`OSP-17`); a near miss in case, spacing or punctuation
    (`osp-17`, `OSP17`, `OSP 17`, `osp_17`) gets the id it stands for, anything else
    the closest id by spelling.
    """
    wanted = re.sub(r"[\s_.\-]+", "", str(word)).upper()
    for pid in ids:
        if pid.replace("-", "") == wanted:
            return f" (did you mean '{pid}'?)"
    return did_you_mean(str(word).strip().upper(), ids)


@functools.lru_cache(maxsize=1)
def load_catalogue(path: Path = CATALOGUE_PATH) -> Catalogue:
    """Read the shipped catalogue.

    Raises:
        CatalogueError: the file is missing or malformed (a broken installation).
    """
    try:
        data = load_yaml(path)
        processes = tuple(
            Process(
                id=p["id"],
                name=p["name"],
                level=p["level"],
                group=p.get("group"),
                purpose=p["purpose"],
            )
            for p in data["processes"]
        )
        capabilities = tuple(
            Capability(c["name"], int(c["rank"]), tuple(c.get("aliases", ())))
            for c in data["capabilities"]
        )
        metric_types = tuple(
            MetricType(m["name"], m["measures"], tuple(m.get("aliases", ())))
            for m in data["metric_types"]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CatalogueError(f"{path}: broken catalogue: {exc}") from exc
    if len({p.id for p in processes}) != len(processes):
        raise CatalogueError(f"{path}: duplicate process ids")
    return Catalogue(processes, capabilities, metric_types)
