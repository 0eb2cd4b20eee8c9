"""What changed between two reports: the ism3-diff/1 document (pure: two reports in).

Compares capabilities per process, the level reached per profile, the gaps of each
profile, the findings and the evidence items. When the two reports were computed
with different rules or profiles, or are about different organizations, that is
said first (`notes`): a level that moved because the criteria moved is not progress.

Findings are matched by their stable `id` when every finding of both reports has
one, else by (rule, process, message), so reports with and without ids compare.
"""

from __future__ import annotations

from typing import Any

from . import __version__
from .report_check import CAPABILITIES, report_sha256

SCHEMA = "ism3-diff/1"


def finding_key(finding: dict[str, Any], by_id: bool) -> str:
    """The key a finding is matched by: its stable id, or rule|process|message."""
    if by_id:
        return str(finding["id"])
    return "|".join(str(finding.get(k) or "") for k in ("rule", "process", "message"))


def findings_have_ids(*finding_lists: list[dict[str, Any]]) -> bool:
    """Whether every finding of every list carries a stable `id` (a non-empty string)."""
    return all(isinstance(f.get("id"), str) and f["id"] for fl in finding_lists for f in fl)


def side(document: dict[str, Any], label: str, run: int | None = None) -> dict[str, Any]:
    """How a diff names one of its reports: where it came from, whom and when it is about."""
    assessment = document.get("assessment") or {}
    return {"report": label, "run": run, "report_sha256": report_sha256(document),
            "organization": {"id": document["organization"]["id"],
                             "name": document["organization"]["name"]},
            "as_of": assessment.get("as_of"), "period": assessment.get("period"),
            "tool_version": (document.get("tool") or {}).get("version")}


def _criteria(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    old_rules, new_rules = old["inputs"]["rules_sha256"], new["inputs"]["rules_sha256"]
    old_prof = {p["id"]: p.get("sha256") for p in old["profiles"]}
    new_prof = {p["id"]: p.get("sha256") for p in new["profiles"]}
    profiles = []
    for pid in [*new_prof, *(p for p in old_prof if p not in new_prof)]:
        status = ("added" if pid not in old_prof else "removed" if pid not in new_prof
                  else "same" if old_prof[pid] == new_prof[pid] else "changed")
        profiles.append({"id": pid, "old_sha256": old_prof.get(pid),
                         "new_sha256": new_prof.get(pid), "status": status})
    return {
        "same_organization": old["organization"]["id"] == new["organization"]["id"],
        "rules_changed": old_rules != new_rules,
        "rules": {"old_sha256": old_rules, "new_sha256": new_rules},
        "profiles": profiles,
        "tool_changed": (old.get("tool") or {}).get("version")
        != (new.get("tool") or {}).get("version"),
    }


def _notes(criteria: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    notes = []
    if not criteria["same_organization"]:
        notes.append(f"the reports are about different organizations: "
                     f"{old['organization']['id']} and {new['organization']['id']}")
    if criteria["rules_changed"]:
        notes.append(f"the rules differ (sha256 {criteria['rules']['old_sha256'][:12]}... and "
                     f"{criteria['rules']['new_sha256'][:12]}...): a capability or level that "
                     "moved may have moved because the criteria changed")
    for prof in criteria["profiles"]:
        if prof["status"] == "changed":
            notes.append(f"profile {prof['id']} differs (sha256 {str(prof['old_sha256'])[:12]}"
                         f"... and {str(prof['new_sha256'])[:12]}...): its level is compared "
                         "against changed requirements")
        elif prof["status"] in ("added", "removed"):
            notes.append(f"profile {prof['id']} is only in the "
                         f"{'new' if prof['status'] == 'added' else 'old'} report")
    return notes


def _processes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    old_p, new_p = old["processes"], new["processes"]
    for pid in [*new_p, *(p for p in old_p if p not in new_p)]:
        before = (old_p.get(pid) or {}).get("capability", "none")
        after = (new_p.get(pid) or {}).get("capability", "none")
        if before == after:
            continue
        old_rank, new_rank = CAPABILITIES.index(before), CAPABILITIES.index(after)
        name = (new_p.get(pid) or old_p.get(pid) or {}).get("name")
        out.append({"process": pid, "name": name, "old": before, "new": after,
                    "old_rank": old_rank, "new_rank": new_rank,
                    "change": "up" if new_rank > old_rank else "down"})
    return out


def _gaps(profile: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Each gap of a profile once, at the first level that asks for it."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for level in profile.get("levels", []):
        for gap in level.get("gaps", []) or []:
            key = (str(gap.get("process")), str(gap.get("required")))
            if key not in out:
                out[key] = {"level": level["level"], "process": gap.get("process"),
                            "required": gap.get("required"), "actual": gap.get("actual"),
                            "missing": list(gap.get("missing") or [])}
    return out


def _profiles(old: dict[str, Any], new: dict[str, Any],
              criteria: dict[str, Any]) -> list[dict[str, Any]]:
    old_p = {p["id"]: p for p in old["profiles"]}
    new_p = {p["id"]: p for p in new["profiles"]}
    status = {p["id"]: p["status"] for p in criteria["profiles"]}
    out = []
    for pid in [*new_p, *(p for p in old_p if p not in new_p)]:
        before, after = old_p.get(pid), new_p.get(pid)
        old_level = before["achieved_level"] if before else None
        new_level = after["achieved_level"] if after else None
        if before is None:
            change = "added"
        elif after is None:
            change = "removed"
        else:
            a, b = before["achieved_level"], after["achieved_level"]
            change = "up" if b > a else "down" if b < a else "same"
        old_gaps = _gaps(before) if before else {}
        new_gaps = _gaps(after) if after else {}
        out.append({
            "id": pid, "name": (after or before or {}).get("name"),
            "old_level": old_level, "new_level": new_level,
            "old_max_level": before["max_level"] if before else None,
            "new_max_level": after["max_level"] if after else None,
            "change": change,
            "criteria_changed": status[pid] != "same" or criteria["rules_changed"],
            "gaps_closed": [g for k, g in old_gaps.items() if k not in new_gaps]
            if before and after else [],
            "gaps_opened": [g for k, g in new_gaps.items() if k not in old_gaps]
            if before and after else [],
        })
    return out


def _finding_entry(finding: dict[str, Any], key: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": key}
    for name in ("id", "rule", "finding", "process", "severity", "message"):
        if finding.get(name) is not None:
            entry[name] = finding[name]
    return entry


def _findings(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    old_f, new_f = old.get("findings") or [], new.get("findings") or []
    by_id = findings_have_ids(old_f, new_f)
    old_keys = {finding_key(f, by_id): f for f in old_f}
    new_keys = {finding_key(f, by_id): f for f in new_f}
    return {
        "matched_by": "id" if by_id else "rule, process and message",
        "new": [_finding_entry(f, k) for k, f in new_keys.items() if k not in old_keys],
        "resolved": [_finding_entry(f, k) for k, f in old_keys.items() if k not in new_keys],
        "open": [_finding_entry(f, k) for k, f in new_keys.items() if k in old_keys],
    }


def _item(entry: dict[str, Any]) -> dict[str, Any]:
    out = {"id": entry["id"], "process": entry.get("process"), "kind": entry.get("kind"),
           "status": entry["status"]}
    if entry.get("reason"):
        out["reason"] = entry["reason"]
    return out


def _evidence(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    old_e = {e["id"]: e for e in old["evidence"]}
    new_e = {e["id"]: e for e in new["evidence"]}
    old_files = {f["path"]: f.get("sha256") for f in old["inputs"]["bundle_files"]}
    new_files = {f["path"]: f.get("sha256") for f in new["inputs"]["bundle_files"]}
    changed = []
    for iid, entry in new_e.items():
        before = old_e.get(iid)
        path = entry.get("path")
        if before is None or not path or before.get("path") != path:
            continue
        if old_files.get(path) != new_files.get(path):
            changed.append({"id": iid, "process": entry.get("process"), "path": path,
                            "old_sha256": old_files.get(path),
                            "new_sha256": new_files.get(path)})
    return {
        "added": [_item(e) for i, e in new_e.items() if i not in old_e],
        "removed": [_item(e) for i, e in old_e.items() if i not in new_e],
        "newly_rejected": [_item(e) for i, e in new_e.items() if i in old_e
                           and e["status"] != "accepted" and old_e[i]["status"] == "accepted"],
        "newly_accepted": [_item(e) for i, e in new_e.items() if i in old_e
                           and e["status"] == "accepted" and old_e[i]["status"] != "accepted"],
        "changed": changed,
    }


def _regressions(processes: list[dict[str, Any]], profiles: list[dict[str, Any]],
                 findings: dict[str, Any]) -> list[str]:
    out = [f"{p['process']} capability {p['old']} -> {p['new']}"
           for p in processes if p["change"] == "down"]
    out += [f"{p['id']} level {p['old_level']} -> {p['new_level']}"
            for p in profiles if p["change"] == "down"]
    out += [f"new finding {f.get('id') or f.get('rule')} on {f.get('process')}: "
            f"{f.get('message')}" for f in findings["new"]]
    return out


def diff_reports(old: dict[str, Any], new: dict[str, Any], old_side: dict[str, Any],
                 new_side: dict[str, Any]) -> dict[str, Any]:
    """The ism3-diff/1 document comparing two checked ism3-report/1 documents.

    `old_side` and `new_side` (from `side`) say where each report came from. Keys
    are in a fixed order and lists in report order, so the same reports give the
    same document.
    """
    criteria = _criteria(old, new)
    processes = _processes(old, new)
    profiles = _profiles(old, new, criteria)
    findings = _findings(old, new)
    evidence = _evidence(old, new)
    regressions = _regressions(processes, profiles, findings)
    return {
        "schema": SCHEMA,
        "tool": {"name": "ism3rules", "version": __version__},
        "old": old_side,
        "new": new_side,
        "notes": _notes(criteria, old, new),
        "criteria": criteria,
        "summary": {
            "capabilities_up": sum(1 for p in processes if p["change"] == "up"),
            "capabilities_down": sum(1 for p in processes if p["change"] == "down"),
            "levels_up": sum(1 for p in profiles if p["change"] == "up"),
            "levels_down": sum(1 for p in profiles if p["change"] == "down"),
            "gaps_closed": sum(len(p["gaps_closed"]) for p in profiles),
            "gaps_opened": sum(len(p["gaps_opened"]) for p in profiles),
            "findings_new": len(findings["new"]),
            "findings_resolved": len(findings["resolved"]),
            "findings_open": len(findings["open"]),
            **{f"evidence_{k}": len(v) for k, v in evidence.items()},
            "regression": bool(regressions),
        },
        "regressions": regressions,
        "processes": processes,
        "profiles": profiles,
        "findings": findings,
        "evidence": evidence,
    }


__all__ = ["SCHEMA", "diff_reports", "finding_key", "findings_have_ids", "side"]
