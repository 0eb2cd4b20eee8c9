"""One meaning of the rules: explanations and plans against durable_rules, on random rules.

- Random rule files (joins, comparisons of every operator, refs, values copied into
  `then`, chains of derived facts) and random facts: the firings durable_rules makes are
  exactly those matching.run says, so whatever explains or plans from the rules (what is
  missing, why an item does not count, the remediation plan) says what the engine does.
- Random rule files in the shape of the shipped ones (the maturity comparison changed,
  capability rules with other metric types or an extra role join, other cadence bars)
  and random bundles: `ism3 gap`'s plan, written into the bundle as its snippet says and
  evaluated again by the real engine, reaches the level it plans for.
- An engine/explanation disagreement is an internal error: exit 3.

Seeded; ISM3_SEMANTICS_CASES and ISM3_SEMANTICS_SEED run a longer or different campaign.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from conftest import ROOT
from ism3rules import matching
from ism3rules.api import evaluate_bundle
from ism3rules.assessment import compile_rulebook
from ism3rules.gap import plan
from ism3rules.rules import FACT_TYPES, INT, NAME, NUMBER, load_rulebook

CASES = int(os.environ.get("ISM3_SEMANTICS_CASES", "40"))
SEED = int(os.environ.get("ISM3_SEMANTICS_SEED", "20261010"))

# -- random rules against random facts --------------------------------------------------
INPUTS = ["metric_report", "observation", "item", "requirement", "exclusion"]
DERIVABLE = ["capability", "finding", "requirement_met", "exclusion_valid",
             "requirement_excluded"]
NAMES: dict[str, list[str]] = {
    "metric_type": ["activity", "scope", "load"], "kind": ["documentation", "role"],
    "role": ["owner", "auditor", "operator"], "capability": ["initial", "managed", "defined"],
    "bounds": ["threshold", "control"], "severity": ["low", "high"],
    "review": ["none", "pending", "rejected"],
}
OTHER_NAMES = ["a", "b", "B", "é", ""]
INTS = [-1, 0, 1, 2]
NUMBERS = [-1.5, 0, 0.5, 0.8, 1, 2.0]
OPS = ["eq", "ne", "gt", "gte", "lt", "lte"]


def _value(rng: random.Random, fact_type: str, attr: str) -> Any:
    kind = FACT_TYPES[fact_type].kind(attr)
    if kind == INT:
        return rng.choice(INTS)
    if kind == NUMBER:
        return rng.choice(NUMBERS)
    return rng.choice(NAMES.get(attr, OTHER_NAMES))


def _random_rule(rng: random.Random, number: int, derived_so_far: list[str]) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = []
    seen: list[tuple[str, str]] = []           # (alias, fact type) of earlier conditions
    for position in range(rng.randint(1, 3)):
        fact = rng.choice(INPUTS + derived_so_far + ["item", "metric_report"])
        alias = f"c{position}"
        cond: dict[str, Any] = {"fact": fact, "as": alias}
        ftype = FACT_TYPES[fact]
        attrs = [a for a in ftype.attrs if a != "process"]
        for attr in rng.sample(attrs, k=min(len(attrs), rng.randint(0, 2))):
            op = rng.choice(OPS)
            refs = [(a, r) for a, t in seen for r in FACT_TYPES[t].attrs
                    if r not in FACT_TYPES[t].optional
                    and FACT_TYPES[t].kind(r) == ftype.kind(attr)]
            if refs and rng.random() < 0.35:
                src_alias, src_attr = rng.choice(refs)
                value: Any = {"ref": f"{src_alias}.{src_attr}"}
            else:
                value = _value(rng, fact, attr)
            cond[attr] = value if op == "eq" and not isinstance(value, dict) else {op: value}
            if op == "eq" and isinstance(value, dict):
                cond[attr] = value
        conditions.append(cond)
        seen.append((alias, fact))
    targets = list(DERIVABLE)
    types = {t for _, t in seen}
    if "metric_report" in types:
        targets.append("metric")
    if "item" in types:
        targets += ["documentation", "role"]
    then_fact = rng.choice(targets)
    then: dict[str, Any] = {"fact": then_fact}
    for attr in FACT_TYPES[then_fact].attrs:
        if attr in ("process", "rank"):
            continue
        if attr == "message":
            alias, fact = rng.choice(seen)
            field = rng.choice(FACT_TYPES[fact].attrs)
            then[attr] = f"{{{alias}.{field}}} seen"
            continue
        refs = [(a, r) for a, t in seen for r in FACT_TYPES[t].attrs
                if r not in FACT_TYPES[t].optional and FACT_TYPES[t].kind(r) == NAME]
        if attr not in ("capability", "severity") and refs and rng.random() < 0.5:
            src_alias, src_attr = rng.choice(refs)
            then[attr] = {"ref": f"{src_alias}.{src_attr}"}
        else:
            then[attr] = rng.choice(NAMES.get(attr, ["x", "y"]))
    return {"id": f"R-{number}", "title": "random", "section": "test", "rationale": "test",
            "when": conditions, "then": then}


def _random_facts(rng: random.Random) -> list[dict[str, Any]]:
    facts = []
    for n in range(rng.randint(3, 18)):
        fact_type = rng.choice(INPUTS)
        fact: dict[str, Any] = {"id": f"f{n}", "t": fact_type, "process": rng.choice(["P1", "P2"])}
        for attr in FACT_TYPES[fact_type].attrs:
            if attr == "process" or (attr in FACT_TYPES[fact_type].optional
                                     and rng.random() < 0.3):
                continue
            value = _value(rng, fact_type, attr)
            fact[attr] = float(value) if FACT_TYPES[fact_type].kind(attr) == NUMBER else value
        facts.append(fact)
    return facts


def _write_rules(folder: Path, rules: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "random.yaml").write_text(yaml.safe_dump(
        {"schema": "ism3-rules/1", "id": "random", "title": "random", "rules": rules},
        allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


def _campaign(case: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Case `case`'s random rules (each may use what earlier ones derive) and facts."""
    rng = random.Random(SEED * 1000 + case)
    rules: list[dict[str, Any]] = []
    derived: list[str] = []
    for number in range(rng.randint(1, 5)):
        rule = _random_rule(rng, number, derived)
        rules.append(rule)
        derived.append(rule["then"]["fact"])
    return rules, _random_facts(rng)


@pytest.mark.parametrize("case", range(CASES * 3))
def test_durable_rules_fires_exactly_what_the_matcher_says(case: int, tmp_path: Path) -> None:
    rules, facts = _campaign(case)
    book = load_rulebook(_write_rules(tmp_path / "rules", rules))
    engine = compile_rulebook(book).run(facts)
    meant = matching.run(book, facts)
    assert engine == meant, (
        f"case {case}: engine fired {[(f.rule_id, f.matched) for f in engine]}, the rules "
        f"mean {[(f.rule_id, f.matched) for f in meant]}\n{yaml.safe_dump(rules)}\n{facts}")


def test_the_random_rules_do_fire(tmp_path: Path) -> None:
    """The generator is not vacuous: most campaigns fire rules, many through joins."""
    fired = joins = 0
    for case in range(CASES * 3):
        rules, facts = _campaign(case)
        book = load_rulebook(_write_rules(tmp_path / f"rules{case}", rules))
        meant = matching.run(book, facts)
        fired += bool(meant)
        joins += any(len(f.matched) > 1 for f in meant)
    assert fired >= CASES and joins >= CASES // 4, (fired, joins)


# -- plans applied reach their level ---------------------------------------------------------
PROCESSES = ["OSP-3", "OSP-4", "OSP-5", "OSP-10", "OSP-11", "OSP-12"]
TYPES = ["activity", "scope", "unavailability", "effectiveness", "load", "quality", "efficiency"]
CAPABILITIES = ["initial", "managed", "defined", "controlled", "optimized"]
START, END = date(2026, 1, 1), date(2026, 6, 30)


def _shipped_rules() -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "rules").glob("*.yaml"))}


def _mutated_rules(rng: random.Random, folder: Path) -> list[str]:
    """The shipped rules with random changes a rule author could make; what changed."""
    files = _shipped_rules()
    changes = []
    maturity = files["maturity.yaml"]["rules"][0]
    op = rng.choice(["gte", "gt", "eq", "gte"])
    maturity["when"][1]["rank"] = {op: {"ref": "requirement.min_rank"}}
    changes.append(f"MAT {op}")
    caps = files["capability.yaml"]["rules"]
    for rule in caps[1:]:
        if rng.random() < 0.3:
            kept = [c for c in rule["when"] if c["fact"] != "metric"]
            types = rng.sample(TYPES, k=rng.randint(1, 3))
            rule["when"] = kept + [{"fact": "metric", "as": f"m{n}", "metric_type": t}
                                   for n, t in enumerate(types)]
            changes.append(f"{rule['id']} needs {types}")
    if rng.random() < 0.5:   # the example: controlled also needs an independent auditor
        rule = rng.choice(caps)
        rule["when"] += [{"fact": "role", "as": "operator", "role": "operator"},
                         {"fact": "role", "as": "auditor", "role": "auditor",
                          "person": {rng.choice(["ne", "eq"]): {"ref": "operator.person"}}}]
        changes.append(f"{rule['id']} needs a role join")
    evidence = {r["id"]: r for r in files["evidence.yaml"]["rules"]}
    bar = rng.choice([{"gt": 0.8}, {"gte": 0.5}, {"gte": 1.0}, {"gt": 0.8}])
    evidence["EVD-METRIC-CADENCE"]["when"][0]["coverage"] = bar
    changes.append(f"cadence {bar}")
    if rng.random() < 0.2:
        files["evidence.yaml"]["rules"] = [r for r in files["evidence.yaml"]["rules"]
                                           if r["id"] != "EVD-METRIC-REPORTED"]
        changes.append("no metric without a frequency")
    if rng.random() < 0.2:
        evidence["EVD-DOCUMENT-IN-FORCE"]["when"][0]["has_date"] = 1
        changes.append("documents must be dated")
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return changes


def _day(rng: random.Random, start: date = START, end: date = END) -> date:
    return start + timedelta(days=rng.randint(0, (end - start).days))


def _random_bundle(rng: random.Random, root: Path) -> dict[str, Any]:
    (root / "docs").mkdir(parents=True)
    items: list[dict[str, Any]] = []
    for process in rng.sample(PROCESSES, k=rng.randint(1, len(PROCESSES))):
        tag = process.replace("-", "")
        if rng.random() < 0.8:
            doc: dict[str, Any] = {"id": f"DOC-{tag}", "process": process,
                                   "kind": "documentation", "path": f"docs/{tag}.md"}
            (root / "docs" / f"{tag}.md").write_text(f"# {process}\n")
            if rng.random() < 0.3:
                doc["date"] = str(_day(rng, date(2025, 1, 1)))
            if rng.random() < 0.2:
                doc["expires"] = str(_day(rng))
                doc["date"] = min(doc.get("date", "2025-01-01"), doc["expires"])
            items.append(doc)
        for mtype in rng.sample(TYPES, k=rng.randint(0, 5)):
            metric: dict[str, Any] = {"id": f"MET-{tag}-{mtype}", "process": process,
                                      "kind": "metric", "metric_type": mtype}
            if rng.random() < 0.5:
                metric["specification"] = {"frequency": rng.choice(["weekly", "monthly"])}
            days = sorted({_day(rng) for _ in range(rng.choice([1, 3, 8, 26]))})
            metric["observations"] = [{"date": str(d), "value": rng.choice([1, 2, 5])}
                                      for d in days]
            items.append(metric)
        for role in ("operator", "auditor"):
            if rng.random() < 0.3:
                items.append({"id": f"ROLE-{tag}-{role}", "process": process, "kind": "role",
                              "role": role, "person": rng.choice(["Ann", "Bo"])})
    bundle = {"schema": "ism3-evidence/1", "organization": {"id": "random", "name": "Random"},
              "assessment": {"period": {"start": str(START), "end": str(END)}},
              "evidence": items}
    (root / "bundle.yaml").write_text(yaml.safe_dump(bundle, sort_keys=False))
    return bundle


def _random_profile(rng: random.Random, path: Path) -> str:
    levels = []
    for number in range(1, rng.randint(2, 4)):
        levels.append({"level": number, "name": f"L{number}", "requires": {
            p: rng.choice(CAPABILITIES[:number + 2])
            for p in rng.sample(PROCESSES, k=rng.randint(1, 3))}})
    path.write_text(yaml.safe_dump({"schema": "ism3-profile/1", "id": "random", "name": "R",
                                    "source": "custom", "levels": levels}))
    return str(path)


def _apply(snippet: str, bundle: dict[str, Any], root: Path) -> None:
    """Add the snippet's items to the bundle as a user would: put the files where the
    paths say (metrics: an observation every day of the period, so every reporting
    period has one), name the people a TODO asks for, replace the TODO titles."""
    added = yaml.safe_load(snippet) or []
    people: dict[str, str] = {}
    for item in added:
        if item.get("person", "").startswith("TODO:"):
            item["person"] = people.setdefault(item["person"], f"Person {len(people) + 1}")
        for key in ("title", "name"):
            if str(item.get(key, "")).startswith("TODO: "):
                item[key] = item[key][len("TODO: "):]
        if item["kind"] == "documentation":
            target = root / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"# {item['process']}\n")
        elif item["kind"] == "metric":
            target = root / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            days = [START + timedelta(days=n) for n in range((END - START).days + 1)]
            target.write_text("date,value\n" + "".join(f"{d},1\n" for d in days))
    bundle["evidence"] = bundle["evidence"] + added
    (root / "bundle.yaml").write_text(yaml.safe_dump(bundle, sort_keys=False))


def _saturate(bundle: dict[str, Any], root: Path) -> None:
    """Every kind of evidence for every process: documents dated and not, every metric
    type with and without a frequency (an observation every day), the roles twice."""
    days = [START + timedelta(days=n) for n in range((END - START).days + 1)]
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics" / "daily.csv").write_text(
        "date,value\n" + "".join(f"{d},1\n" for d in days))
    (root / "docs" / "all.md").write_text("# all\n")
    added: list[dict[str, Any]] = []
    for process in PROCESSES:
        tag = process.replace("-", "")
        added.append({"id": f"S-{tag}-doc", "process": process, "kind": "documentation",
                      "path": "docs/all.md"})
        added.append({"id": f"S-{tag}-doc-dated", "process": process, "kind": "documentation",
                      "path": "docs/all.md", "date": str(START)})
        for mtype in TYPES:
            added.append({"id": f"S-{tag}-{mtype}", "process": process, "kind": "metric",
                          "metric_type": mtype, "path": "metrics/daily.csv"})
            added.append({"id": f"S-{tag}-{mtype}-weekly", "process": process,
                          "kind": "metric", "metric_type": mtype, "path": "metrics/daily.csv",
                          "specification": {"frequency": "weekly"}})
        for role in ("operator", "auditor", "owner"):
            for person in ("Sam", "Kim"):
                added.append({"id": f"S-{tag}-{role}-{person}", "process": process,
                              "kind": "role", "role": role, "person": person})
    bundle["evidence"] = bundle["evidence"] + added
    (root / "bundle.yaml").write_text(yaml.safe_dump(bundle, sort_keys=False))


@pytest.mark.parametrize("case", range(CASES))
def test_a_plan_applied_reaches_its_level(case: int, tmp_path: Path) -> None:
    rng = random.Random(SEED + case)
    rules = tmp_path / "rules"
    changes = _mutated_rules(rng, rules)
    root = tmp_path / "bundle"
    bundle = _random_bundle(rng, root)
    profile = _random_profile(rng, tmp_path / "profile.yaml")
    document = evaluate_bundle(root, [profile], rules)   # checks engine == rules' meaning
    prof = document["profiles"][0]
    for level in range(prof["achieved_level"] + 1, prof["max_level"] + 1):
        planned = plan(document, "random", level)
        if not planned["reachable"]:   # then not even every kind of evidence reaches it
            copy = tmp_path / f"saturated-{level}"
            shutil.copytree(root, copy)
            _saturate(json.loads(json.dumps(bundle)), copy)
            after = evaluate_bundle(copy, [profile], rules)["profiles"][0]
            assert after["achieved_level"] < level, (
                f"case {case} ({changes}): level {level} said unreachable, yet reached")
            continue
        copy = tmp_path / f"applied-{level}"
        shutil.copytree(root, copy)
        _apply(planned["snippet"], json.loads(json.dumps(bundle)), copy)
        after = evaluate_bundle(copy, [profile], rules)["profiles"][0]
        assert after["achieved_level"] >= level, (
            f"case {case} ({changes}): the plan for level {level} reaches "
            f"{after['achieved_level']}\n{planned['snippet']}")


# -- the two reproductions -----------------------------------------------------------
HARBOR = ROOT / "evidence" / "harbor-clinic"


def _edit_rules(tmp_path: Path, name: str, old: str, new: str) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    path = rules / name
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    return rules


def test_a_role_join_on_controlled_is_explained_not_an_internal_error(tmp_path: Path) -> None:
    """Controlled also needs an auditor other than the operator (the issue's example)."""
    rules = _edit_rules(tmp_path, "capability.yaml",
                        "      - {fact: metric, as: quality, metric_type: quality}\n",
                        "      - {fact: metric, as: quality, metric_type: quality}\n"
                        "      - {fact: role, as: operator, role: operator}\n"
                        "      - {fact: role, as: auditor, role: auditor,"
                        " person: {ne: {ref: operator.person}}}\n")
    north = ROOT / "evidence" / "northwind"
    result = CliRunner().invoke(main, ["evaluate", str(north), "-f", "json", "--rules-dir",
                                       str(rules)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["processes"]["OSP-10"]["capability"] == "optimized"   # its auditor is not
    osp3 = doc["processes"]["OSP-3"]                                  # its operator
    assert osp3["capability"] == "defined"          # no roles: controlled is out of reach
    assert osp3["next"]["missing"] == ["role operator", "role auditor"]
    assert [a["role"] for a in osp3["next"]["add"]] == ["operator", "auditor"]
    people = [a["person"] for a in osp3["next"]["add"]]
    assert len(set(people)) == 2          # the plan's auditor is someone else


def test_a_strict_maturity_comparison_plans_the_next_capability(tmp_path: Path) -> None:
    """MAT-REQUIREMENT-MET with `gt`: initial is met only by managed, and the plan says so."""
    rules = _edit_rules(tmp_path, "maturity.yaml", "rank: {gte: {ref: requirement.min_rank}}",
                        "rank: {gt: {ref: requirement.min_rank}}")
    out = CliRunner().invoke(main, ["gap", str(HARBOR), "-p", "small-business", "-l", "1",
                                    "-f", "json", "--rules-dir", str(rules)])
    assert out.exit_code == 0, out.output
    planned = json.loads(out.output)
    steps = {s["process"]: s for s in planned["steps"]}
    # OSP-3 is initial: `initial` is required, so managed's four metric types are missing
    assert steps["OSP-3"]["from"] == "initial"
    assert steps["OSP-3"]["missing"] == ["activity", "scope", "unavailability", "effectiveness"]
    assert all(s["cost"] > 0 for s in planned["steps"])
    explained = CliRunner().invoke(main, ["explain", str(HARBOR), "OSP-3", "-p", "small-business",
                                          "--rules-dir", str(rules)])
    assert "small-business (derived) level 1 (Essentials) requires initial: NOT met." in \
        explained.output


def test_an_engine_and_rules_disagreement_is_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    from ism3rules import engine

    real = engine.CompiledRulebook.run

    def losing_one(self: Any, facts: list[dict[str, Any]]) -> Any:
        return real(self, facts)[1:]        # the engine "forgets" a firing

    monkeypatch.setattr(engine.CompiledRulebook, "run", losing_one)
    result = CliRunner().invoke(main, ["evaluate", str(HARBOR), "-f", "json"])
    assert result.exit_code == 3, result.output
    assert "internal error: the rules engine and the rules' meaning disagree" in result.output
    assert "Traceback" not in result.output
