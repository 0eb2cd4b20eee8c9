"""Gap analysis read off a report: remediation plans and multi-profile comparisons.

Nothing here decides capability or maturity: every gap comes from the report
document (ism3-report/1) that the rules produced, with the items to add that a plan
checked against the rules found (`add`; planning.py). This module only orders the
gaps, groups them across profiles and writes those items as bundle entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .catalogue import Catalogue, load_catalogue
from .errors import ProfileError
from .safe import yaml_comment, yaml_string

PLAN_SCHEMA = "ism3-plan/1"
COMPARISON_SCHEMA = "ism3-comparison/1"
DOCUMENTATION = "documentation"
PLACEHOLDER = "TODO: "   # title prefix of the placeholder items this module writes


def _profile(document: dict[str, Any], profile_id: str) -> dict[str, Any]:
    profiles: list[dict[str, Any]] = document["profiles"]
    for prof in profiles:
        if prof["id"] == profile_id:
            return prof
    raise ProfileError(f"profile '{profile_id}' is not in this report")


def _order(document: dict[str, Any]) -> dict[str, int]:
    """Catalogue position of each process: the deterministic tie-breaker."""
    return {pid: index for index, pid in enumerate(document["processes"])}


def additions(gap: dict[str, Any]) -> list[dict[str, Any]]:
    """The items a gap's plan adds; a report without them (older) gives its labels."""
    if "add" in gap:
        return [dict(item) for item in gap["add"]]
    return [{"kind": DOCUMENTATION} if label == DOCUMENTATION
            else {"kind": "metric", "metric_type": label} for label in gap["missing"]]


def _step(document: dict[str, Any], prof: dict[str, Any], gap: dict[str, Any]) -> dict[str, Any]:
    add = additions(gap)
    return {
        "process": gap["process"],
        "name": document["processes"][gap["process"]]["name"],
        "from": gap["actual"],
        "to": gap["required"],
        "missing": list(gap["missing"]),
        "not_counted": list(gap["not_counted"]),
        "cost": len(add),
        "excludable": gap["process"] not in prof.get("mandatory", []),
        "rationale": gap.get("rationale"),
        "add": add,
        "reachable": gap.get("reachable", True),
    }


def plan(document: dict[str, Any], profile_id: str, level: int | None = None,
         catalogue: Catalogue | None = None) -> dict[str, Any]:
    """The remediation plan to reach `level` of a profile (default: the next level).

    Steps are the unmet requirements of that level (levels are cumulative, so this
    includes every lower level's), cheapest first: fewest missing evidence items,
    then catalogue order.

    Raises:
        ProfileError: the profile is not in the report, or has no such level.
    """
    catalogue = catalogue or load_catalogue()
    prof = _profile(document, profile_id)
    if level is None:
        level = min(prof["achieved_level"] + 1, prof["max_level"])
    if not 1 <= level <= prof["max_level"]:
        raise ProfileError(f"profile '{profile_id}' has levels 1..{prof['max_level']}; "
                           f"there is no level {level}")
    target = prof["levels"][level - 1]
    order = _order(document)
    steps = sorted((_step(document, prof, g) for g in target["gaps"]),
                   key=lambda s: (s["cost"], order[s["process"]]))
    org = document["organization"]
    return {
        "schema": PLAN_SCHEMA,
        "organization": {"id": org["id"], "name": org["name"]},
        "profile": {"id": prof["id"], "name": prof["name"], "source": prof["source"],
                    "achieved_level": prof["achieved_level"], "max_level": prof["max_level"]},
        "target": {"level": level, "name": target["name"], "met": target["met"]},
        "steps": steps,
        "evidence_to_add": sum(s["cost"] for s in steps),
        # False: for some step no evidence this tool can write reaches the level (the
        # rules ask for something else; see `ism3 rules`)
        "reachable": all(s["reachable"] for s in steps),
        "snippet": evidence_snippet(document, prof, level, target["name"], steps, catalogue),
    }


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _slug(process: str) -> str:
    return process.lower()


def _id_part(process: str) -> str:
    """OSP-10 -> OSP10, as the shipped samples name their items."""
    return process.replace("-", "")


def _quote(text: str) -> str:
    """A double-quoted YAML scalar that reads back as `text`, whatever it holds."""
    return yaml_string(text)


def evidence_snippet(document: dict[str, Any], prof: dict[str, Any], level: int,
                     level_name: str, steps: Iterable[dict[str, Any]],
                     catalogue: Catalogue) -> str:
    """Evidence items (ism3-evidence/1 syntax) that would close `steps`, ready to fill.

    Item ids and paths never collide with those already in the bundle. Paths are
    placeholders: the items count once the files exist (and metrics have observations).
    Text from the bundle, the profile or the rules reaches the snippet only inside a
    comment (`safe.yaml_comment`: one line, nothing can end it) or a quoted string
    (`safe.yaml_string`), so what a user pastes holds exactly the items shown.
    """
    ids = {e["id"] for e in document["evidence"]}
    paths = {e["path"] for e in document["evidence"] if e.get("path")}
    lines = [f"# Evidence to add under `evidence:` in bundle.yaml to reach "
             f"{yaml_comment(prof['id'])} level {level} ({yaml_comment(level_name)}).",
             "# Every path is a placeholder: put the file there (metrics: a CSV with the "
             "header date,value)."]
    steps = list(steps)
    if not steps:
        lines.append("# Nothing to add: this level is already met.")
    for step in steps:
        lines.append("")
        lines.append(f"  # {yaml_comment(step['process'])} {yaml_comment(step['name'])}: "
                     f"{yaml_comment(step['from'])} -> {yaml_comment(step['to'])}")
        if step["rationale"]:
            lines.append(f"  # why: {yaml_comment(step['rationale'])}")
        for item in step["not_counted"]:
            lines.append(f"  # {yaml_comment(item['id'])} does not count yet "
                         f"({yaml_comment(item['reason'])}): fix it, or add the item below")
        if step["excludable"]:
            lines.append(f"  # (if {yaml_comment(step['process'])} is out of scope, an item "
                         "of kind exclusion with justification and approver replaces all "
                         "of these)")
        if not step["reachable"]:
            lines.append(f"  # no evidence item this tool can write gives "
                         f"{yaml_comment(step['process'])} {yaml_comment(step['to'])} under the "
                         "rules in force; see `ism3 rules`")
        for item in step["add"]:
            lines.extend(new_item_lines(step["process"], step["name"], item, ids, paths,
                                        catalogue))
    return "\n".join(lines) + "\n"


def evidence_item_lines(process: str, name: str, label: str, ids: set[str], paths: set[str],
                        catalogue: Catalogue) -> list[str]:
    """One placeholder evidence item (YAML lines, indented for `evidence:`) that provides
    `label` (documentation or a metric type) for `process`; a comment for other labels.

    `ids` and `paths` are those already taken; the new ones are added to them.
    """
    item = ({"kind": DOCUMENTATION} if label == DOCUMENTATION
            else {"kind": "metric", "metric_type": label})
    return new_item_lines(process, name, item, ids, paths, catalogue)


def new_item_lines(process: str, name: str, item: dict[str, Any], ids: set[str],
                   paths: set[str], catalogue: Catalogue) -> list[str]:
    """One placeholder evidence item (YAML lines, indented for `evidence:`) as a plan
    describes it (`kind` and, as the plan says, `metric_type`, `frequency`, `role`,
    `person`, `date`); a comment for an item this module cannot write.

    `ids` and `paths` are those already taken; the new ones are added to them.
    """
    kind = item.get("kind")
    dated = [f"    date: {item['date']}    # in force from this date"] if item.get("date") else []
    if kind == DOCUMENTATION:
        path = _unique(f"docs/{_slug(process)}-procedure.md", paths)
        return [
            "  # the documented process: purpose, inputs, outputs, responsibilities, metrics",
            f"  - id: {_unique(f'DOC-{_id_part(process)}', ids)}",
            f"    process: {process}",
            "    kind: documentation",
            f"    title: {_quote(PLACEHOLDER + name + ' procedure')}",
            f"    path: {path}    # TODO: put the document here",
            *dated,
        ]
    if kind == "role" and item.get("role"):
        role = str(item["role"])
        person = str(item.get("person") or PLACEHOLDER + "a person")
        note = ("    # TODO: name the person (a rule needs someone other than the holder "
                "of the other role)" if person.startswith(PLACEHOLDER) else None)
        return [
            f"  # who holds the {role} role for {process}",
            f"  - id: {_unique(f'ROLE-{_id_part(process)}-{role.upper()}', ids)}",
            f"    process: {process}",
            "    kind: role",
            f"    role: {role}",
            f"    person: {_quote(person)}",
            *([note] if note else []),
            *dated,
        ]
    label = str(item.get("metric_type") or kind)
    try:
        mtype = catalogue.metric_type(label)
    except KeyError:
        return [f"  # {yaml_comment(process)} also needs '{yaml_comment(label)}', which no "
                "evidence item template covers; see the rule files"]
    path = _unique(f"metrics/{_slug(process)}-{mtype.name}.csv", paths)
    frequency = item.get("frequency")
    lines = [
        f"  # metric of type {mtype.name}: {yaml_comment(mtype.measures)}",
        f"  - id: {_unique(f'MET-{_id_part(process)}-{mtype.name.upper()}', ids)}",
        f"    process: {process}",
        "    kind: metric",
        f"    metric_type: {mtype.name}",
        f"    name: {_quote(PLACEHOLDER + name + ', ' + mtype.name)}",
    ]
    if frequency:
        lines += [f"    specification: {{frequency: {frequency}}}",
                  f"    path: {path}    # TODO: CSV date,value; an observation in every "
                  f"{frequency} period of the assessment period"]
    else:
        lines.append(f"    path: {path}    # TODO: CSV date,value; observations inside the "
                     "period")
    return lines


def _next_level(prof: dict[str, Any]) -> dict[str, Any] | None:
    return next((lvl for lvl in prof["levels"] if not lvl["met"]), None)


def compare(document: dict[str, Any], catalogue: Catalogue | None = None) -> dict[str, Any]:
    """Side by side: each profile's level, each process against each profile's next
    level, and the fixes that close gaps in the most profiles at once."""
    catalogue = catalogue or load_catalogue()
    order = _order(document)
    profiles: list[dict[str, Any]] = []
    required: dict[str, dict[str, dict[str, Any]]] = {}   # process -> profile -> requirement
    gaps: dict[str, dict[str, dict[str, Any]]] = {}       # process -> profile -> gap
    gap_count: dict[str, int] = {}
    for prof in document["profiles"]:
        nxt = _next_level(prof)
        profiles.append({"id": prof["id"], "source": prof["source"],
                         "achieved_level": prof["achieved_level"],
                         "max_level": prof["max_level"],
                         "next_level": nxt["level"] if nxt else None,
                         "next_level_name": nxt["name"] if nxt else None,
                         "gaps": len(nxt["gaps"]) if nxt else 0})
        if nxt is None:
            continue
        gap_count[prof["id"]] = len(nxt["gaps"])
        for req in nxt["requirements"]:
            required.setdefault(req["process"], {})[prof["id"]] = req
        for gap in nxt["gaps"]:
            gaps.setdefault(gap["process"], {})[prof["id"]] = gap
    ids = [p["id"] for p in document["profiles"]]
    rows = []
    for process in sorted(required, key=order.__getitem__):
        proc = document["processes"][process]
        rows.append({
            "process": process,
            "name": proc["name"],
            "capability": proc["capability"],
            "required": {pid: required[process][pid]["required"]
                         if pid in required[process] else None for pid in ids},
            "status": {pid: required[process][pid]["status"]
                       if pid in required[process] else None for pid in ids},
        })
    org = document["organization"]
    return {
        "schema": COMPARISON_SCHEMA,
        "organization": {"id": org["id"], "name": org["name"]},
        "profiles": profiles,
        "processes": rows,
        "shared_fixes": _shared_fixes(document, gaps, gap_count, order,
                                      {c.name: c.rank for c in catalogue.capabilities}),
    }


def _shared_fixes(document: dict[str, Any], gaps: dict[str, dict[str, dict[str, Any]]],
                  gap_count: dict[str, int], order: dict[str, int],
                  ranks: dict[str, int]) -> list[dict[str, Any]]:
    """One fix per process and required capability: which profiles' next-level gaps it
    closes, and which profiles it alone would advance (their only gap)."""
    fixes: list[dict[str, Any]] = []
    for process, by_profile in gaps.items():
        targets: dict[str, dict[str, Any]] = {}
        for gap in by_profile.values():
            targets.setdefault(gap["required"], gap)
        for capability, gap in targets.items():
            closes = [pid for pid, g in by_profile.items()
                      if ranks.get(g["required"], 0) <= ranks.get(capability, 0)]
            fixes.append({
                "process": process,
                "name": document["processes"][process]["name"],
                "from": gap["actual"],
                "to": capability,
                "missing": list(gap["missing"]),
                "cost": len(gap["missing"]),
                "closes": closes,
                "advances": [pid for pid in closes if gap_count[pid] == 1],
            })
    fixes.sort(key=lambda f: (-len(f["closes"]), -len(f["advances"]), f["cost"],
                              order[f["process"]], ranks.get(f["to"], 0)))
    return fixes
