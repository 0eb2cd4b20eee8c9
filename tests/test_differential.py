"""The engine against an independent reading of the rules and of the documented semantics.

Random bundles (periods, frequencies, many observations, metric type and capability
aliases, duplicate items, dates in force, expiries, exclusions, roles) and random
profiles are evaluated by the product and by the oracle below, which shares nothing with
the product's path but the catalogue file:
- it reads every shipped rule file with yaml.safe_load, as plain data, and runs the
  conditions itself (joins on the process, distinct facts, a missing attribute fails
  every test, derived facts identified by their values), maturity included
  (rules/maturity.yaml decides when a requirement is met);
- it computes what docs/metrics.md and docs/rules.md say the facts hold: reporting
  periods from the period's start with running periods in the metric's favour, XmR
  control limits, thresholds, targets, days in force and days left.
Compared: every process's capability, every item's status, every requirement's status,
the level reached in each profile, and which rules raised findings on which process.

ISM3_ORACLE_CASES and ISM3_ORACLE_SEED run a longer or different campaign.
"""

from __future__ import annotations

import calendar
import hashlib
import os
import random
import statistics
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT
from ism3rules.api import evaluate_bundle

# Without a review file every per-item fact says so (the contract of ism3-review/1): the
# auditor's decision is an input the rules weigh, and none was given here.
NO_REVIEW = "none"

CASES = int(os.environ.get("ISM3_ORACLE_CASES", "90"))
SEED = int(os.environ.get("ISM3_ORACLE_SEED", "20261011"))
CATALOGUE = yaml.safe_load((ROOT / "ism3rules" / "data" / "catalogue.yaml").read_text())
RANKS: dict[str, int] = {}
CAPABILITY_OF_RANK: dict[int, str] = {}
for _cap in CATALOGUE["capabilities"]:
    CAPABILITY_OF_RANK[_cap["rank"]] = _cap["name"]
    for _name in [_cap["name"], *_cap.get("aliases", [])]:
        RANKS[_name] = _cap["rank"]
METRIC_NAMES: dict[str, str] = {}
for _mtype in CATALOGUE["metric_types"]:
    for _name in [_mtype["name"], *_mtype.get("aliases", [])]:
        METRIC_NAMES[_name] = _mtype["name"]
RULES = [rule for path in sorted((ROOT / "rules").glob("*.yaml"))
         for rule in yaml.safe_load(path.read_text())["rules"]]
PROCESSES = ["OSP-3", "OSP-4", "OSP-5", "OSP-10", "OSP-11", "OSP-12", "OSP-17", "OSP-24"]
FREQUENCIES = ["daily", "weekly", "monthly", "quarterly", "yearly"]


# -- the oracle: rules as data ----------------------------------------------------------
def _holds(actual: Any, op: str, expected: Any) -> bool:
    return {"eq": actual == expected, "ne": actual != expected, "gt": actual > expected,
            "gte": actual >= expected, "lt": actual < expected,
            "lte": actual <= expected}[op]


def _tests(cond: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(attribute, operator, value or ('ref', alias, attribute)) of a condition."""
    out = []
    for attr, spec in cond.items():
        if attr in ("fact", "as"):
            continue
        op, value = "eq", spec
        if isinstance(spec, dict) and "ref" not in spec:
            op, value = next(iter(spec.items()))
        if isinstance(value, dict):
            alias, _, ref_attr = value["ref"].partition(".")
            value = ("ref", alias, ref_attr)
        elif attr == "metric_type":
            value = METRIC_NAMES[value.lower()]
        elif attr == "capability":
            value = CAPABILITY_OF_RANK[RANKS[value.lower()]]
        out.append((attr, op, value))
    return out


def _fits(fact: dict[str, Any], cond: dict[str, Any], bound: dict[str, dict[str, Any]]) -> bool:
    if fact["t"] != cond["fact"]:
        return False
    for attr, op, value in _tests(cond):
        if attr not in fact:
            return False
        if isinstance(value, tuple):
            if value[2] not in bound[value[1]]:
                return False
            value = bound[value[1]][value[2]]
        if not _holds(fact[attr], op, value):
            return False
    return True


def _bindings(rule: dict[str, Any], facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    conds = rule["when"]
    found: list[dict[str, Any]] = []

    def walk(n: int, bound: dict[str, dict[str, Any]], used: list[int]) -> None:
        if n == len(conds):
            found.append(dict(bound))
            return
        alias = conds[n].get("as", conds[n]["fact"])
        for fact in facts:
            if id(fact) in used or not _fits(fact, conds[n], bound):
                continue
            bound[alias] = fact
            walk(n + 1, bound, used + [id(fact)])
            del bound[alias]

    walk(0, {}, [])
    return found


def _derive(rule: dict[str, Any], bound: dict[str, dict[str, Any]], process: str) -> dict[str, Any]:
    fact: dict[str, Any] = {"t": rule["then"]["fact"], "process": process}
    for key, value in rule["then"].items():
        if key in ("fact", "practices"):
            continue
        if isinstance(value, dict):
            alias, _, attr = value["ref"].partition(".")
            value = bound[alias][attr]
        elif key == "metric_type":
            value = METRIC_NAMES[value.lower()]
        fact[key] = value
    if fact["t"] == "capability":
        fact["rank"] = RANKS[fact["capability"].lower()]
    return fact


def _close(facts: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Forward chaining per process to the fixpoint: (rule id, binding, derived fact)."""
    firings: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    by_process: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in facts:
        by_process[fact["process"]].append(fact)
    for process, pool in by_process.items():
        seen_firings: set[tuple[str, tuple[int, ...]]] = set()
        values = {repr(sorted(f.items())) for f in pool}
        changed = True
        while changed:
            changed = False
            for rule in RULES:
                for bound in _bindings(rule, pool):
                    key = (rule["id"], tuple(id(bound[c.get("as", c["fact"])])
                                             for c in rule["when"]))
                    if key in seen_firings:
                        continue
                    seen_firings.add(key)
                    derived = _derive(rule, bound, process)
                    firings.append((rule["id"], bound, derived))
                    if repr(sorted(derived.items())) not in values:
                        values.add(repr(sorted(derived.items())))
                        pool.append(derived)
                        changed = True
    return firings


# -- the oracle: facts from the documented semantics ------------------------------------
def _add_months(day: date, months: int, anchor: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    return date(year, month + 1, min(anchor, calendar.monthrange(year, month + 1)[1]))


def _periods(frequency: str, start: date, last: date) -> list[tuple[date, date]]:
    """Reporting periods from `start` up to the one holding `last` (walked, not computed)."""
    out: list[tuple[date, date]] = []
    n = 0
    while True:
        if frequency in ("daily", "weekly"):
            step = 1 if frequency == "daily" else 7
            first, after = start + timedelta(days=step * n), start + timedelta(days=step * (n + 1))
        else:
            months = {"monthly": 1, "quarterly": 3, "yearly": 12}[frequency]
            first = _add_months(start, months * n, start.day)
            after = _add_months(start, months * (n + 1), start.day)
        if first > last:
            return out
        out.append((first, after - timedelta(days=1)))
        n += 1


def _round(value: float) -> float:
    return round(value, 6) + 0.0


def _metric_facts(item: dict[str, Any], obs: list[tuple[date, float]], start: date | None,
                  end: date | None, cutoff: date | None) -> list[dict[str, Any]]:
    spec = item.get("specification", {})
    last = min(d for d in (end, cutoff) if d) if (end or cutoff) else None
    window = sorted((d, v) for d, v in obs if (start is None or d >= start)
                    and (last is None or d <= last))
    frequency = spec.get("frequency")
    mtype = METRIC_NAMES[item["metric_type"].lower()]
    base = {"process": item["process"], "metric_type": mtype, "item": item["id"]}
    report = {"id": f"r:{item['id']}", "t": "metric_report", **base,
              "frequency": frequency or "none", "has_frequency": 0, "coverage": 1.0,
              "periods_expected": 0, "periods_reported": 0, "review": NO_REVIEW}
    if frequency and start and last and start <= last:
        periods = _periods(frequency, start, last)
        hit = [any(a <= d <= b for d, _ in window) for a, b in periods]
        complete = [b <= last for _, b in periods]
        expected = sum(complete) + sum(h for h, c in zip(hit, complete, strict=True) if not c)
        reported = sum(hit)
        report.update(has_frequency=1, periods_expected=expected, periods_reported=reported,
                      coverage=_round(reported / expected) if expected else 0.0)
    values = [v for _, v in window]
    lower = upper = None
    bounds = None
    if "thresholds" in spec:
        bounds, lower, upper = "threshold", spec["thresholds"].get("lower"), \
            spec["thresholds"].get("upper")
    elif len(values) >= 2:
        moving = statistics.fmean(abs(b - a) for a, b in zip(values[:-1], values[1:], strict=True))
        if moving > 0:
            mean, sigma = statistics.fmean(values), moving / 1.128
            lower, upper = mean - 3 * sigma, mean + 3 * sigma
            if min(values) >= 0 and lower < 0:
                lower = 0.0
            bounds, lower, upper = "control", _round(lower), _round(upper)
    facts = [report]
    outside = 0
    for n, (day, value) in enumerate(window):
        point: dict[str, Any] = {"id": f"o:{item['id']}:{n}", "t": "observation", **base,
                                 "date": str(day), "value": float(value), "bounds": bounds,
                                 "samples": len(window)}
        if bounds is None:
            continue
        if upper is not None:
            point["upper"] = float(upper)
            if value > upper:
                point["above"] = _round(value - upper)
        if lower is not None:
            point["lower"] = float(lower)
            if value < lower:
                point["below"] = _round(lower - value)
        if "above" in point or "below" in point:
            outside += 1
            facts.append(point)
    report["outside_thresholds"] = outside if bounds == "threshold" else 0
    report["outside_control_limits"] = outside if bounds == "control" else 0
    if "target" in spec and window:
        better = spec.get("better") or "higher"
        latest = window[-1][1]
        gap = spec["target"] - latest if better == "higher" else latest - spec["target"]
        facts.append({"id": f"g:{item['id']}", "t": "target", **base,
                      "target": float(spec["target"]), "better": better,
                      "latest": float(latest), "date": str(window[-1][0]),
                      "shortfall": _round(gap)})
    return facts


def oracle(bundle: dict[str, Any], files: dict[str, str], profile: dict[str, Any]
           ) -> dict[str, Any]:
    """Capabilities, item statuses, requirement statuses, levels and findings."""
    period = bundle.get("assessment", {}).get("period")
    start = date.fromisoformat(period["start"]) if period else None
    end = date.fromisoformat(period["end"]) if period else None
    as_of = bundle.get("assessment", {}).get("as_of")
    cutoff = date.fromisoformat(as_of) if as_of else end
    facts: list[dict[str, Any]] = []
    status: dict[str, str] = {}
    fact_of: dict[str, str] = {}
    for item in bundle["evidence"]:
        kind = item["kind"]
        status[item["id"]] = "accepted"
        if kind == "documentation":
            text = files.get(item["path"])
            if text is None or ("sha256" in item and
                                hashlib.sha256(text.encode()).hexdigest() != item["sha256"]):
                status[item["id"]] = "rejected"
                continue
        if kind in ("documentation", "role"):
            # the loader's size of the document (0 for a role) and the TODO marker
            size = len(files[item["path"]].encode()) if kind == "documentation" else 0
            marked = any(str(item.get(key, "")).lstrip().upper().startswith("TODO:")
                         for key in ("title", "person"))
            begins = date.fromisoformat(item["date"]) if "date" in item and cutoff else None
            ends = date.fromisoformat(item["expires"]) if "expires" in item and cutoff else None
            facts.append({"id": f"i:{item['id']}", "t": "item", "process": item["process"],
                          "item": item["id"], "kind": kind, "has_date": int(bool(begins)),
                          "days_in_force": (cutoff - begins).days if begins else 0,
                          "dated": int(bool(ends)),
                          "days_left": (ends - cutoff).days if ends else 0,
                          "date": item.get("date", "none"), "expires": item.get("expires", "none"),
                          "as_of": str(cutoff) if cutoff else "none",
                          "role": item.get("role", ""), "person": item.get("person", ""),
                          "review": NO_REVIEW, "size": size, "placeholder": int(marked)})
            fact_of[f"i:{item['id']}"] = item["id"]
        elif kind == "exclusion":
            ends = date.fromisoformat(item["expires"]) if "expires" in item else None
            facts.append({"id": f"x:{item['id']}", "t": "exclusion", "process": item["process"],
                          "dated": int(bool(ends)),
                          "days_left": (ends - cutoff).days if ends else 0,
                          "review": NO_REVIEW})
            fact_of[f"x:{item['id']}"] = item["id"]
        else:
            obs = [(date.fromisoformat(o["date"]), float(o["value"]))
                   for o in item["observations"]]
            last = min(d for d in (end, cutoff) if d) if (end or cutoff) else None
            if not any((start is None or d >= start) and (last is None or d <= last)
                       for d, _ in obs):
                status[item["id"]] = "rejected"
                continue
            facts.extend(_metric_facts(item, obs, start, end, cutoff))
            fact_of[f"r:{item['id']}"] = item["id"]
    mandatory = set(profile.get("mandatory", []))
    required: dict[tuple[int, str], int] = {}
    best: dict[str, int] = {}
    for level in profile["levels"]:
        for process, spec in level["requires"].items():
            name = spec["capability"] if isinstance(spec, dict) else spec
            best[process] = max(best.get(process, 0), RANKS[name.lower()])
        for process, rank in best.items():
            required[level["level"], process] = rank
            facts.append({"id": f"q:{level['level']}:{process}", "t": "requirement",
                          "process": process, "profile": profile["id"],
                          "level": level["level"], "min_rank": rank,
                          "mandatory": int(process in mandatory)})
    firings = _close(facts)
    used_by: dict[str, set[int]] = defaultdict(set)
    for _, bound, derived in firings:
        used_by[derived["t"]] |= {id(f) for f in bound.values()}
    for fact in facts:
        item_id = fact_of.get(fact["id"])
        if item_id is None:
            continue
        counts_as = {"metric_report": "metric", "exclusion": "exclusion_valid",
                     "item": "documentation" if fact.get("kind") == "documentation" else "role"}
        if id(fact) not in used_by[counts_as[fact["t"]]]:
            status[item_id] = "rejected"
    capability = {p: 0 for p in PROCESSES}
    for _, _, derived in firings:
        if derived["t"] == "capability":
            capability[derived["process"]] = max(capability.get(derived["process"], 0),
                                                 derived["rank"])
    met = {f["id"] for f in facts if f["t"] == "requirement"
           and id(f) in used_by["requirement_met"]}
    excluded = {f["id"] for f in facts if f["t"] == "requirement"
                and id(f) in used_by["requirement_excluded"]}
    statuses = {key: "met" if f"q:{key[0]}:{key[1]}" in met
                else "excluded" if f"q:{key[0]}:{key[1]}" in excluded else "gap"
                for key in required}
    achieved = 0
    for level in profile["levels"]:
        if any(s == "gap" for (n, _), s in statuses.items() if n == level["level"]):
            break
        achieved = level["level"]
    findings = {(rule, derived["process"]) for rule, _, derived in firings
                if derived["t"] == "finding"}
    return {"capability": {p: CAPABILITY_OF_RANK[r] for p, r in capability.items()},
            "status": status, "requirements": statuses, "level": achieved,
            "findings": findings}


# -- random bundles and profiles ---------------------------------------------------------
def _random_case(rng: random.Random) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    start = date(2025, 1, 1) + timedelta(days=rng.randint(0, 400))
    end = start + timedelta(days=rng.choice([27, 90, 180, 364, 500]))
    assessment: dict[str, Any] = {}
    if rng.random() < 0.85:
        assessment["period"] = {"start": str(start), "end": str(end)}
    if rng.random() < 0.4:
        assessment["as_of"] = str(start + timedelta(days=rng.randint(0, (end - start).days + 60)))
    files: dict[str, str] = {}
    items: list[dict[str, Any]] = []
    chosen = rng.sample(PROCESSES, k=rng.randint(2, 5))
    for process in chosen:
        tag = process.replace("-", "")
        for n in range(rng.choice([0, 1, 1, 1, 1, 2])):   # duplicates: two documents
            doc: dict[str, Any] = {"id": f"DOC-{tag}-{n}", "process": process,
                                   "kind": "documentation", "path": f"docs/{tag}-{n}.md"}
            files[doc["path"]] = "" if rng.random() < 0.1 else f"# {process} {n}\n"
            if rng.random() < 0.1:
                doc["title"] = rng.choice(["TODO: procedure", " todo: x", "Plan (TODO: x)"])
            if rng.random() < 0.1:
                doc["sha256"] = "0" * 64                 # a hash the file does not have
            if rng.random() < 0.25:
                doc["date"] = str(start + timedelta(days=rng.randint(-200, 300)))
            if rng.random() < 0.25:
                doc["expires"] = str(max(date.fromisoformat(doc.get("date", "2024-01-01")),
                                         start + timedelta(days=rng.randint(-100, 500))))
            items.append(doc)
        for mtype in rng.sample(list(METRIC_NAMES), k=rng.randint(0, 6)):
            for copy in range(rng.choice([1, 1, 2])):     # duplicates: two items of a type
                spelled = rng.choice([mtype, mtype.upper(), mtype.capitalize()])
                metric: dict[str, Any] = {"id": f"MET-{tag}-{mtype}-{copy}",
                                          "process": process, "kind": "metric",
                                          "metric_type": spelled}
                spec: dict[str, Any] = {}
                frequency = rng.choice(FREQUENCIES + [None, None])
                if frequency:
                    spec["frequency"] = frequency
                if rng.random() < 0.2:
                    spec["thresholds"] = {"upper": 12}
                if rng.random() < 0.2:
                    spec["target"] = 9
                    spec["better"] = rng.choice(["higher", "lower"])
                if spec:
                    metric["specification"] = spec
                step = {"daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91,
                        "yearly": 365, None: rng.choice([5, 40])}[frequency]
                skip = rng.choice([0.0, 0.1, 0.3, 0.6])
                days = [start - timedelta(days=20) + timedelta(days=step * k)
                        for k in range((end - start).days // step + 3)]
                observations = [{"date": str(d), "value": rng.choice([8, 9, 10, 10, 11])}
                                for d in days if rng.random() >= skip][:400]
                if observations and rng.random() < 0.3:
                    observations[rng.randrange(len(observations))]["value"] = 60   # outlier
                metric["observations"] = observations or [{"date": str(start), "value": 1}]
                items.append(metric)
        for role in ("owner", "operator", "auditor"):
            if rng.random() < 0.25:
                role_item: dict[str, Any] = {"id": f"ROLE-{tag}-{role}", "process": process,
                                             "kind": "role", "role": role,
                                             "person": rng.choice(["Ann", "Bo", "Ann", "Bo",
                                                                   "TODO: a person"])}
                if rng.random() < 0.3:
                    role_item["expires"] = str(start + timedelta(days=rng.randint(-50, 300)))
                items.append(role_item)
        if rng.random() < 0.12:
            exclusion: dict[str, Any] = {"id": f"EXC-{tag}", "process": process,
                                         "kind": "exclusion", "justification": "not run here",
                                         "approver": "Board"}
            if rng.random() < 0.5:
                exclusion["expires"] = str(start + timedelta(days=rng.randint(-100, 600)))
            items.append(exclusion)
    if any("expires" in i and i["kind"] == "exclusion" for i in items) and not assessment:
        assessment["as_of"] = str(end)
    bundle = {"schema": "ism3-evidence/1", "organization": {"id": "oracle", "name": "Oracle"},
              **({"assessment": assessment} if assessment else {}), "evidence": items}
    levels = []
    for number in range(1, rng.randint(2, 4)):
        requires: dict[str, Any] = {}
        count = 1 if number == 1 and rng.random() < 0.7 else rng.randint(1, 2)
        for process in rng.sample(chosen, k=min(len(chosen), count)):
            name = rng.choice(["initial", "initial", "basic", "BASIC", "Managed", "managed",
                               "defined", "controlled", "optimized"][:4 + 2 * number])
            requires[process] = name if rng.random() < 0.5 else {"capability": name,
                                                                 "rationale": "random"}
        levels.append({"level": number, "name": f"L{number}", "requires": requires})
    profile = {"schema": "ism3-profile/1", "id": "random", "name": "Random", "source": "custom",
               "levels": levels}
    if rng.random() < 0.3:
        profile["mandatory"] = rng.sample(chosen, k=1)
    return bundle, files, profile


def _write(root: Path, bundle: dict[str, Any], files: dict[str, str],
           profile: dict[str, Any]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "bundle.yaml").write_text(yaml.safe_dump(bundle, sort_keys=False))
    (root / "profile.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return root


def _product(root: Path) -> dict[str, Any]:
    doc = evaluate_bundle(root, [str(root / "profile.yaml")])
    prof = doc["profiles"][0]
    return {"capability": {p: doc["processes"][p]["capability"] for p in PROCESSES},
            "status": {e["id"]: e["status"] for e in doc["evidence"]},
            "requirements": {(lvl["level"], r["process"]): r["status"]
                             for lvl in prof["levels"] for r in lvl["requirements"]},
            "level": prof["achieved_level"],
            "findings": {(f["rule"], f["process"]) for f in doc["findings"]}}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, Any, Any]]:
    results = []
    for case in range(CASES):
        rng = random.Random(SEED + case)
        bundle, files, profile = _random_case(rng)
        root = _write(tmp_path_factory.mktemp(f"oracle{case}"), bundle, files, profile)
        results.append((case, _product(root), oracle(bundle, files, profile)))
    return results


def test_the_product_agrees_with_the_oracle(outcomes: list[tuple[int, Any, Any]]) -> None:
    for case, product, expected in outcomes:
        for key in ("status", "capability", "requirements", "level", "findings"):
            assert product[key] == expected[key], (
                f"case {case} (seed {SEED}): {key} differs\nproduct: {product[key]}\n"
                f"oracle:  {expected[key]}")


def test_the_cases_are_not_trivial(outcomes: list[tuple[int, Any, Any]]) -> None:
    """At least a third reach level 1; the cases hit cadence, bands, dates, findings."""
    reached = sum(expected["level"] >= 1 for _, _, expected in outcomes)
    assert reached * 3 >= len(outcomes), f"{reached} of {len(outcomes)} reach level 1"
    findings = set().union(*(expected["findings"] for _, _, expected in outcomes))
    assert {rule for rule, _ in findings} >= {"EVD-EXPIRED", "MON-ABOVE-THRESHOLD",
                                              "MON-ABOVE-CONTROL", "MON-TARGET-MISSED"}
    rejected = sum(s == "rejected" for _, _, e in outcomes for s in e["status"].values())
    assert rejected >= len(outcomes)
