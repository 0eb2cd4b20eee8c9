"""`ism3 explain`: the chain behind one process's verdict, in plain words.

Which evidence counted (with each file's sha256), which rules fired and what each
gave, what the next capability needs, which items were rejected and why, and how
the process stands in each profile. Read off the report document and the rules'
own metadata (id, title, section, what they derive), so it follows the rule files.
"""

from __future__ import annotations

from typing import Any

from ..safe import neutral
from ._common import requirement_state, strip_controls, text
from .fit import fit_lines


def _item_words(item: dict[str, Any], sha: str | None) -> str:
    kind = text(item.get("kind"))
    if kind == "metric":
        words = (f"{text(item.get('metric_type'))} metric \"{text(item.get('title'))}\", "
                 f"{text(item.get('observations_in_period'))} of "
                 f"{text(item.get('observations'))} observations in the period")
        if item.get("path"):
            words += f", {text(item.get('path'))}"
    else:
        words = f"{kind} \"{text(item.get('title'))}\", {text(item.get('path'))}"
    if sha:
        words += f", sha256 {sha}"
    return words


def _derives(rule: dict[str, Any]) -> str:
    then = rule.get("then") or {}
    parts = []
    for key, value in then.items():
        if key == "fact":
            continue
        parts.append(f"{key} {text(value)}")
    return "; ".join(parts)


def _rule_words(rule_id: str, rules: dict[str, dict[str, Any]]) -> str:
    rule = rules.get(rule_id)
    if rule is None:
        return rule_id
    words = f"{rule_id} \"{text(rule.get('title'))}\""
    if rule.get("section"):
        words += f" (O-ISM3 {text(rule.get('section'))})"
    return words


def render_explanation(document: dict[str, Any], process: str,
                       rules: dict[str, dict[str, Any]], width: int | None = None) -> str:
    """Plain text explaining `process` (an id of `document["processes"]`).

    `rules` maps rule ids to their metadata: title, section and `then` (what the
    rule derives). Lines are wrapped at spaces to `width` columns (default:
    fit.STABLE_WIDTH). Raises KeyError when `process` is not in the document.
    """
    document, rules = neutral(document), neutral(rules)   # inputs, laid out below
    proc = document["processes"][process]
    items = {e.get("id"): e for e in document.get("evidence", [])}
    shas = proc.get("evidence_sha256") or {}
    org = document.get("organization", {})
    assessment = document.get("assessment") or {}
    out = [f"{process} {text(proc.get('name'))} ({text(proc.get('management_level'))} process"
           + (f", group {text(proc.get('group'))})" if proc.get("group") else ")"),
           f"Organization {text(org.get('name'))} ({text(org.get('id'))})"
           + (f", as of {text(assessment.get('as_of'))}" if assessment.get("as_of") else ""),
           ""]
    out.append(f"Capability: {text(proc.get('capability'))} (rank {text(proc.get('rank'))} of 5).")
    evidence = proc.get("evidence") or []
    if evidence:
        out.append("")
        out.append("Evidence that counted for it:")
        for eid in evidence:
            out.append(f"  - {text(eid)}: {_item_words(items.get(eid, {}), shas.get(eid))}")
    fired = proc.get("rules") or []
    if fired:
        out.append("")
        out.append("Rules that fired, lowest first:")
        for rid in fired:
            derives = _derives(rules.get(rid, {}))
            out.append(f"  - {_rule_words(rid, rules)}" + (f": gives {derives}" if derives else ""))
        practices = proc.get("practices") or []
        if practices:
            out.append(f"  Practices this enables: {', '.join(text(p) for p in practices)}.")
    else:
        out.append("No capability rule fired: nothing counted for this process.")
    other = proc.get("other_evidence") or []
    if other:
        out.append("")
        out.append("Accepted evidence not needed for this capability:")
        for eid in other:
            out.append(f"  - {text(eid)}: {_item_words(items.get(eid, {}), None)}")

    nxt = proc.get("next")
    out.append("")
    if nxt is None:
        out.append("Next capability: none, this is the top of the scale.")
    else:
        out.append(f"Next capability: {text(nxt.get('capability'))} "
                   f"(rank {text(nxt.get('rank'))}).")
        candidates = nxt.get("rules") or []
        if candidates:
            out.append("  Did not fire: " + "; ".join(_rule_words(r, rules) for r in candidates)
                       + ".")
        missing = nxt.get("missing") or []
        if missing:
            out.append(f"  It lacks: {', '.join(text(m) for m in missing)}.")
        for entry in nxt.get("not_counted") or []:
            out.append(f"  Rejected, would have counted: {text(entry.get('id'))}: "
                       f"{text(entry.get('reason'))}.")
    rejected = [r for r in proc.get("rejected_evidence") or []
                if r not in {e.get("id") for e in (nxt or {}).get("not_counted") or []}]
    if rejected:
        out.append("")
        out.append("Other rejected evidence of this process:")
        for eid in rejected:
            out.append(f"  - {text(eid)}: {text(items.get(eid, {}).get('reason'))}")

    lines = _profile_lines(document, process)
    if lines:
        out.append("")
        out.append("In the profiles:")
        out += lines
        if any(p.get("source") != "standard" for p in document.get("profiles", [])):
            out.append("  (derived or custom: a profile's levels are not the standard's own "
                       "table)")
    return strip_controls("\n".join(fit_lines(out, width))) + "\n"


def _profile_lines(document: dict[str, Any], process: str) -> list[str]:
    out = []
    for prof in document.get("profiles", []):
        shown: set[str] = set()
        for lvl in prof.get("levels", []):
            for req in lvl.get("requirements", []):
                if req.get("process") != process or req.get("required") in shown:
                    continue
                shown.add(req.get("required"))
                state = requirement_state(req)
                rule = f" (rule {text(req.get('rule'))})" if req.get("rule") else ""
                how = {"met": "met" + rule, "unmet": "NOT met"}.get(state, state + rule)
                if req.get("excluded_by"):
                    how += f", by exclusion {text(req.get('excluded_by'))}"
                out.append(f"  - {text(prof.get('id'))} ({text(prof.get('source'))}) level "
                           f"{text(lvl.get('level'))} ({text(lvl.get('name'))}) requires "
                           f"{text(req.get('required'))}: {how}.")
        if not shown:
            out.append(f"  - {text(prof.get('id'))} ({text(prof.get('source'))}): does not "
                       f"name {process}.")
    return out
