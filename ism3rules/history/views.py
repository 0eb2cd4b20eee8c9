"""Documents read from the history store: runs (ism3-runs/1), trend (ism3-trend/1), portfolio.

They are built from the queryable rows only (never by decoding stored reports), so
they stay fast with many thousands of runs. A point where the rules or a profile's
digest changed from the point before is marked: a level that moved because the
criteria moved is not progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from .. import __version__
from ..errors import HistoryError, did_you_mean
from ..report_check import CAPABILITIES
from .schema import run_findings, run_processes, run_profiles, runs
from .store import Run, Store

RUNS_SCHEMA = "ism3-runs/1"
TREND_SCHEMA = "ism3-trend/1"
PORTFOLIO_SCHEMA = "ism3-portfolio/1"
SEVERITIES = ("critical", "high", "medium", "low")
UNRATED = "unrated"
_TOOL = {"name": "ism3rules", "version": __version__}


def runs_document(found: Sequence[Run]) -> dict[str, Any]:
    """The runs of `history list` as an ism3-runs/1 document."""
    return {"schema": RUNS_SCHEMA, "tool": dict(_TOOL), "runs": [{
        "run": r.id, "organization": {"id": r.organization_id, "name": r.organization_name},
        "position": r.seq, "as_of": r.as_of,
        "period": ({"start": r.period_start, "end": r.period_end}
                   if r.period_start or r.period_end else None),
        "levels": {lv.profile_id: {"achieved": lv.achieved_level, "max": lv.max_level}
                   for lv in r.levels},
        "tool_version": r.tool_version, "rules_sha256": r.rules_sha256,
        "bundle_sha256": r.bundle_sha256, "report_sha256": r.report_sha256,
        "source": r.source, "recorded_at": r.recorded_at,
        "previous_hash": r.previous_hash, "chain_hash": r.chain_hash,
    } for r in found]}


def _chunks(ids: Sequence[int], size: int = 500) -> list[list[int]]:
    return [list(ids[i:i + size]) for i in range(0, len(ids), size)]


def _unknown_organization(store: Store, organization: str) -> HistoryError:
    known = store.organizations()
    listed = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "")
    return HistoryError(f"no runs of organization '{organization}' in {store.location.display}"
                        f"{did_you_mean(organization, known)}"
                        + (f"; recorded: {listed}" if known else "; the store has no runs"))


def _profile_levels(conn: sa.Connection, run_ids: Sequence[int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for chunk in _chunks(run_ids):
        for row in conn.execute(sa.select(run_profiles).where(run_profiles.c.run_id.in_(chunk))
                                .order_by(run_profiles.c.run_id, run_profiles.c.position)):
            out.setdefault(row.run_id, []).append(row)
    return out


def _check_profile(profile: str | None, known: list[str], where: str) -> None:
    if profile is not None and profile not in known:
        raise HistoryError(f"profile '{profile}' is not in {where}{did_you_mean(profile, known)}"
                           f"; recorded profiles: {', '.join(known) or 'none'}")


def trend(store: Store, organization: str, profile: str | None = None) -> dict[str, Any]:
    """The ism3-trend/1 document of `organization`: a point per run, by evaluation date.

    Raises:
        HistoryError: no runs of that organization, or `profile` is in none of them.
    """
    key = sa.func.coalesce(runs.c.as_of, "")
    with store._read() as conn:
        found = conn.execute(sa.select(runs.c.id, runs.c.organization_name, runs.c.as_of,
                                       runs.c.tool_version, runs.c.rules_sha256,
                                       runs.c.report_sha256)
                             .where(runs.c.organization_id == organization)
                             .order_by(key, runs.c.id)).all()
        if not found:
            raise _unknown_organization(store, organization)
        ids = [r.id for r in found]
        levels = _profile_levels(conn, ids)
        counts: dict[int, dict[str, int]] = {}
        for chunk in _chunks(ids):
            for run_id, capability, n in conn.execute(
                    sa.select(run_processes.c.run_id, run_processes.c.capability,
                              sa.func.count()).where(run_processes.c.run_id.in_(chunk))
                    .group_by(run_processes.c.run_id, run_processes.c.capability)):
                counts.setdefault(run_id, {})[capability] = n
    profiles: dict[str, dict[str, Any]] = {}
    for run in found:
        for row in levels.get(run.id, []):
            profiles[row.profile_id] = {"id": row.profile_id, "name": row.profile_name,
                                        "max_level": row.max_level}
    _check_profile(profile, list(profiles), f"the runs of {organization}")
    wanted = [profile] if profile else list(profiles)
    points: list[dict[str, Any]] = []
    before: Any = None
    before_levels: dict[str, Any] = {}
    for run in found:
        mine = {row.profile_id: row for row in levels.get(run.id, [])}
        changed = []
        if before is not None and before.rules_sha256 != run.rules_sha256:
            changed.append("rules")
        level_points: dict[str, Any] = {}
        for pid in wanted:
            row = mine.get(pid)
            if row is None:
                continue
            old = before_levels.get(pid)
            if old is not None and old.profile_sha256 != row.profile_sha256:
                changed.append(f"profile {pid}")
            change = ("new" if old is None else "up" if row.achieved_level > old.achieved_level
                      else "down" if row.achieved_level < old.achieved_level else "same")
            level_points[pid] = {"achieved": row.achieved_level, "max": row.max_level,
                                 "change": change, "sha256": row.profile_sha256}
        points.append({
            "run": run.id, "as_of": run.as_of, "tool_version": run.tool_version,
            "rules_sha256": run.rules_sha256, "report_sha256": run.report_sha256,
            "levels": level_points,
            "capabilities": {c: counts.get(run.id, {}).get(c, 0) for c in CAPABILITIES},
            "criteria_changed": changed,
        })
        before = run
        before_levels.update({pid: mine[pid] for pid in wanted if pid in mine})
    return {"schema": TREND_SCHEMA, "tool": dict(_TOOL),
            "organization": {"id": organization, "name": found[-1].organization_name},
            "profile": profile,
            "profiles": [profiles[p] for p in wanted],
            "points": points}


def _severity_order(name: str) -> tuple[int, str]:
    if name in SEVERITIES:
        return (SEVERITIES.index(name), name)
    return (len(SEVERITIES) + (1 if name == UNRATED else 0), name)


def portfolio(store: Store, profile: str | None = None) -> dict[str, Any]:
    """The ism3-portfolio/1 document: the latest run of every organization (by evaluation
    date), its levels with a trend against the run before, and its open findings.

    Raises:
        HistoryError: `profile` is in no run.
    """
    # the two latest runs of each organization, from the (organization, as_of, id) index
    rank = sa.func.row_number().over(
        partition_by=runs.c.organization_id,
        order_by=(sa.func.coalesce(runs.c.as_of, "").desc(), runs.c.id.desc())).label("rn")
    ranked = sa.select(runs.c.organization_id, rank, runs.c.id).subquery()
    latest: dict[str, int] = {}
    previous: dict[str, int] = {}
    with store._read() as conn:
        for org, rn, run_id in conn.execute(sa.select(ranked).where(ranked.c.rn <= 2)):
            (latest if rn == 1 else previous)[org] = run_id
        totals: dict[str, int] = {
            org: n for org, n in conn.execute(sa.select(runs.c.organization_id, sa.func.count())
                                              .group_by(runs.c.organization_id))}
        ids = [*latest.values(), *previous.values()]
        info: dict[int, tuple[str, str | None, str]] = {}
        levels: dict[int, list[tuple[str, str | None, str | None, int, int]]] = {}
        open_findings: dict[int, dict[str, int]] = {}
        status = run_findings.c.status
        for chunk in _chunks(ids):
            for run_id, name, as_of, rules in conn.execute(
                    sa.select(runs.c.id, runs.c.organization_name, runs.c.as_of,
                              runs.c.rules_sha256).where(runs.c.id.in_(chunk))):
                info[run_id] = (name, as_of, rules)
            for run_id, pid, pname, sha, achieved, maximum in conn.execute(
                    sa.select(run_profiles.c.run_id, run_profiles.c.profile_id,
                              run_profiles.c.profile_name, run_profiles.c.profile_sha256,
                              run_profiles.c.achieved_level, run_profiles.c.max_level)
                    .where(run_profiles.c.run_id.in_(chunk))
                    .order_by(run_profiles.c.run_id, run_profiles.c.position)):
                levels.setdefault(run_id, []).append((pid, pname, sha, achieved, maximum))
        for chunk in _chunks(list(latest.values())):
            for run_id, severity, n in conn.execute(
                    sa.select(run_findings.c.run_id, run_findings.c.severity, sa.func.count())
                    .where(run_findings.c.run_id.in_(chunk),
                           sa.or_(status.is_(None), sa.func.lower(status) == "open"))
                    .group_by(run_findings.c.run_id, run_findings.c.severity)):
                name = (severity or UNRATED).lower()
                counts = open_findings.setdefault(run_id, {})
                counts[name] = counts.get(name, 0) + n
    known = sorted({entry[0] for rows in levels.values() for entry in rows})
    _check_profile(profile, known, "the latest runs")
    profiles: dict[str, dict[str, Any]] = {}
    organizations = []
    for org in sorted(latest):
        run_id = latest[org]
        name, as_of, rules = info[run_id]
        before = previous.get(org)
        old = {entry[0]: entry for entry in levels.get(before, [])} if before else {}
        rules_changed = before is not None and info[before][2] != rules
        entry_levels: dict[str, Any] = {}
        for pid, pname, sha, achieved, maximum in levels.get(run_id, []):
            if profile is not None and pid != profile:
                continue
            profiles.setdefault(pid, {"id": pid, "name": pname, "max_level": maximum})
            prior = old.get(pid)
            trend_word = ("new" if prior is None else "up" if achieved > prior[3]
                          else "down" if achieved < prior[3] else "same")
            entry_levels[pid] = {
                "achieved": achieved, "max": maximum,
                "previous": prior[3] if prior is not None else None,
                "trend": trend_word,
                "criteria_changed": prior is not None and (prior[2] != sha or rules_changed),
            }
        by_severity = open_findings.get(run_id, {})
        organizations.append({
            "id": org, "name": name, "run": run_id, "as_of": as_of, "runs": totals[org],
            "previous_run": before, "levels": entry_levels,
            "findings": {"open": sum(by_severity.values()),
                         "by_severity": {k: by_severity[k]
                                         for k in sorted(by_severity, key=_severity_order)}},
        })
    return {"schema": PORTFOLIO_SCHEMA, "tool": dict(_TOOL), "profile": profile,
            "profiles": sorted(profiles.values(), key=lambda p: p["id"]),
            "organizations": organizations}


__all__ = ["PORTFOLIO_SCHEMA", "RUNS_SCHEMA", "TREND_SCHEMA", "portfolio", "runs_document",
           "trend"]
