"""OSCAL output: the report as assessment results, and the O-ISM3 catalogue as a catalog.

Assessment results (`--format oscal`): one result per profile; an observation per
evidence item (the bundle files are back-matter resources with their SHA-256);
a finding per gap, at the first level that needs it, and one per entry of the
document's `findings` list when it has one. Controls are the 45 processes, with
ids in lower case (`osp-3`), as in `ism3 export oscal-catalog`.

Deterministic: UUIDs are version 5 from stable names, and date-times come from
the report (`generated_at`, else `as_of`, else the period end), never the clock.
Markup fields (titles, descriptions, remarks) are Markdown in OSCAL: bundle text
goes through `md`. The output is validated against compliance-trestle's models in
the tests.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..catalogue import Catalogue
from ..safe import json_dumps
from ._common import highest_requirements, md, new_gaps, stable_uuid, text, timestamp
from .markdown import gap_missing, gap_rejected

OSCAL_VERSION = "1.2.1"
NS = "urn:ism3rules:oscal"            # namespace of this tool's own property names
# The catalogue is fixed per tool release; its date-time says when it last changed.
CATALOG_LAST_MODIFIED = "2026-01-01T00:00:00+00:00"


def control_id(process: Any) -> str:
    """The OSCAL control id of a process: `OSP-3` -> `osp-3`."""
    return text(process).lower()


def _prop(name: str, value: Any) -> dict[str, Any] | None:
    value = text(value).strip()
    return {"name": name, "ns": NS, "value": value} if value else None


def _props(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [p for p in (_prop(n, v) for n, v in pairs) if p is not None]


def _dump(obj: dict[str, Any]) -> str:
    return json_dumps(obj)


def render_oscal(document: dict[str, Any]) -> str:
    """An OSCAL `assessment-results` document as JSON, with a final newline."""
    org = document.get("organization", {})
    inputs = document.get("inputs") or {}
    tool = document.get("tool") or {}
    when = timestamp(document)
    review = document.get("review") if isinstance(document.get("review"), dict) else None
    seed = (text(org.get("id")), text(inputs.get("bundle_sha256")),
            text(inputs.get("rules_sha256")),
            ",".join(f"{text(p.get('id'))}:{text(p.get('sha256'))}"
                     for p in document.get("profiles", [])))
    resources, resource_of = _resources(document, seed)
    manifest_uuid = resource_of.get("bundle.yaml") or stable_uuid(*seed, "bundle")
    results = [_result(document, prof, seed, when, resource_of)
               for prof in document.get("profiles", [])]
    if not results:  # OSCAL needs at least one result: the capabilities alone
        results = [_result(document, None, seed, when, resource_of)]
    body: dict[str, Any] = {
        "uuid": stable_uuid(*seed, "assessment-results"),
        "metadata": {
            "title": md(f"O-ISM3 assessment of {text(org.get('name'))}"),
            "last-modified": when,
            "version": text((document.get("assessment") or {}).get("as_of")) or "1",
            "oscal-version": OSCAL_VERSION,
            "props": _props(("tool", f"{text(tool.get('name'))} {text(tool.get('version'))}"),
                            ("organization-id", org.get("id")),
                            ("bundle-sha256", inputs.get("bundle_sha256")),
                            ("rules-sha256", inputs.get("rules_sha256"))),
        },
        "import-ap": {"href": f"#{manifest_uuid}",
                      "remarks": "No separate assessment plan: the evidence bundle manifest "
                                 "(back-matter) and the maturity profiles define the "
                                 "assessment."},
        "results": results,
    }
    if review is not None:
        body["metadata"].update(_review_metadata(review, seed))
    if resources:
        body["back-matter"] = {"resources": resources}
    return _dump({"assessment-results": body})


def _party_uuids(review: dict[str, Any], seed: tuple[str, ...]) -> tuple[str, str | None]:
    """The UUIDs of the auditor (a person) and the firm (an organization), if named."""
    eng = review.get("engagement") or {}
    auditor = stable_uuid(*seed, "party", "auditor", text(eng.get("auditor")))
    firm = stable_uuid(*seed, "party", "firm", text(eng.get("firm"))) if eng.get("firm") else None
    return auditor, firm


def _review_metadata(review: dict[str, Any], seed: tuple[str, ...]) -> dict[str, Any]:
    """OSCAL roles, parties and responsible parties for the auditor and the firm."""
    eng = review.get("engagement") or {}
    auditor, firm = _party_uuids(review, seed)
    person: dict[str, Any] = {"uuid": auditor, "type": "person",
                              "name": text(eng.get("auditor")) or "auditor (not named)"}
    parties = [person]
    if firm is not None:
        parties.append({"uuid": firm, "type": "organization", "name": text(eng.get("firm"))})
        person["member-of-organizations"] = [firm]
    return {"roles": [{"id": "assessor", "title": "Assessor"}], "parties": parties,
            "responsible-parties": [{"role-id": "assessor", "party-uuids": [auditor]}]}


def _resources(document: dict[str, Any], seed: tuple[str, ...]
               ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """A back-matter resource per bundle file, with its hash; and their UUIDs by path."""
    resources: list[dict[str, Any]] = []
    uuid_of: dict[str, str] = {}
    for entry in (document.get("inputs") or {}).get("bundle_files", []):
        path = text(entry.get("path"))
        uid = stable_uuid(*seed, "file", path)
        uuid_of[path] = uid
        rlink: dict[str, Any] = {"href": quote(path, safe="/")}  # a URI reference
        if entry.get("sha256"):
            rlink["hashes"] = [{"algorithm": "SHA-256", "value": text(entry["sha256"])}]
        resource = {"uuid": uid, "title": md(path), "rlinks": [rlink]}
        if not entry.get("sha256"):
            resource["remarks"] = "Referenced by the bundle but missing or unreadable."
        resources.append(resource)
    return resources, uuid_of


# How an auditor examined a process (ism3-review/1) in OSCAL's method tokens.
METHODS = {"inspection": "EXAMINE", "observation": "EXAMINE", "interview": "INTERVIEW"}
# A managed finding's status (ism3-review/1) as the status of its OSCAL risk.
RISK_STATUS = {"open": "open", "risk-accepted": "deviation-approved", "closed": "closed"}


def _observation(item: dict[str, Any], prefix: tuple[str, ...], when: str,
                 resource_of: dict[str, str], methods: list[str] | None = None
                 ) -> dict[str, Any]:
    accepted = item.get("status") == "accepted"
    decision = (item.get("review") or {}).get("decision") if isinstance(
        item.get("review"), dict) else None
    what = text(item.get("title")) or text(item.get("id"))
    desc = (f"{text(item.get('kind'))} evidence for {text(item.get('process'))}: {what}. "
            + ("Accepted." if accepted else f"Rejected: {text(item.get('reason'))}."))
    obs: dict[str, Any] = {
        "uuid": stable_uuid(*prefix, "observation", text(item.get("id"))),
        "title": md(f"Evidence {text(item.get('id'))}"),
        "description": md(desc),
        "props": _props(("evidence-id", item.get("id")), ("process", item.get("process")),
                        ("kind", item.get("kind")), ("status", item.get("status")),
                        ("metric-type", item.get("metric_type")),
                        ("sha256", item.get("sha256")),
                        ("review-decision", "unreviewed" if decision == "pending" else decision)),
        "methods": methods or ["EXAMINE"],
        "types": ["control-objective"],
        "collected": when,
    }
    path = text(item.get("path"))
    if path:
        obs["relevant-evidence"] = [{"href": f"#{resource_of[path]}" if path in resource_of
                                     else quote(path, safe="/"), "description": md(what)}]
    if not accepted and item.get("reason"):
        obs["remarks"] = md(item.get("reason"))
    return obs


def _result(document: dict[str, Any], prof: dict[str, Any] | None, seed: tuple[str, ...],
            when: str, resource_of: dict[str, str]) -> dict[str, Any]:
    processes = document.get("processes", {})
    review = document.get("review") if isinstance(document.get("review"), dict) else None
    prefix = (*seed, "result", text(prof.get("id")) if prof else "")
    observations = [_observation(item, prefix, when, resource_of,
                                 _methods(processes.get(item.get("process"))))
                    for item in document.get("evidence", [])]
    obs_of: dict[str, list[str]] = {}
    for item, obs in zip(document.get("evidence", []), observations, strict=True):
        obs_of.setdefault(text(item.get("process")), []).append(obs["uuid"])
    if prof is None:
        controls = list(processes)
        title, desc = "O-ISM3 process capabilities", "Capabilities of the 45 processes."
        props = []
    else:
        controls = [p for p in highest_requirements(prof)]
        title = f"Maturity against profile {text(prof.get('id'))}"
        desc = (f"Profile {text(prof.get('name'))} ({text(prof.get('source'))}): level "
                f"{text(prof.get('achieved_level'))} of {text(prof.get('max_level'))} reached.")
        props = _props(("profile-id", prof.get("id")), ("profile-sha256", prof.get("sha256")),
                       ("profile-source", prof.get("source")),
                       ("achieved-level", prof.get("achieved_level")),
                       ("max-level", prof.get("max_level")))
    result: dict[str, Any] = {
        "uuid": stable_uuid(*prefix),
        "title": md(title),
        "description": md(desc),
        "start": when,
        "end": when,
    }
    if props:
        result["props"] = props
    result["reviewed-controls"] = {"control-selections": [
        {"include-controls": [{"control-id": control_id(c)} for c in controls]}
        if controls else {"include-all": {}}]}
    if observations:
        result["observations"] = observations
    findings = []
    if prof is not None:
        for level, gap in new_gaps(prof):
            pid = text(gap.get("process"))
            parts = [f"Level {level} of {text(prof.get('id'))} requires {pid} at "
                     f"{text(gap.get('required'))}; it is {text(gap.get('actual'))}."]
            if gap_missing(gap):
                parts.append(f"Missing: {gap_missing(gap)}.")
            if gap_rejected(gap):
                parts.append(f"Rejected evidence that would count: {gap_rejected(gap)}.")
            if gap.get("rationale"):
                parts.append(f"Why: {text(gap.get('rationale'))}")
            finding: dict[str, Any] = {
                "uuid": stable_uuid(*prefix, "gap", pid, text(gap.get("required"))),
                "title": md(f"{pid} below {text(gap.get('required'))} (level {level})"),
                "description": md(" ".join(parts)),
                "props": _props(("level", level), ("required", gap.get("required")),
                                ("actual", gap.get("actual"))),
                "target": {"type": "objective-id", "target-id": control_id(pid),
                           "status": {"state": "not-satisfied"}},
            }
            if obs_of.get(pid):
                finding["related-observations"] = [{"observation-uuid": u} for u in obs_of[pid]]
            findings.append(finding)
    risks = []
    for number, extra in enumerate(document.get("findings") or [], start=1):
        if not isinstance(extra, dict):
            continue
        pid = text(extra.get("process"))
        kind = extra.get("finding") or extra.get("kind")
        label = text(extra.get("title") or extra.get("message") or kind
                     or extra.get("rule") or f"finding {number}")
        finding = {
            "uuid": stable_uuid(*prefix, "finding", str(number), text(extra.get("id"))),
            "title": md(label),
            "description": md(" ".join(f"{k}: {text(v)}." for k, v in extra.items()
                                       if isinstance(v, (str, int, float, list)) and v != "")
                              or label),
            "props": _props(("rule", extra.get("rule")), ("kind", kind),
                            ("finding-id", extra.get("id")), ("severity", extra.get("severity")),
                            ("status", extra.get("status"))),
            "target": {"type": "objective-id", "target-id": control_id(pid) if pid else "isms",
                       "status": {"state": "not-satisfied"}},
        }
        if not finding["props"]:
            del finding["props"]
        if extra.get("severity"):
            risk = _risk(extra, label, prefix, number, obs_of.get(pid, []), review, seed)
            risks.append(risk)
            finding["related-risks"] = [{"risk-uuid": risk["uuid"]}]
        findings.append(finding)
    if prof is not None and review is not None and review.get("signoff"):
        result["attestations"] = [_attestation(review, seed)]
    if risks:
        result["risks"] = risks
    if findings:
        result["findings"] = findings
    return result


def _methods(process: Any) -> list[str] | None:
    """OSCAL methods for the auditor's methods on a process (None: not reviewed)."""
    review = process.get("review") if isinstance(process, dict) else None
    if not isinstance(review, dict) or not review.get("methods"):
        return None
    return sorted({METHODS[m] for m in review["methods"] if m in METHODS}) or None


def _risk(finding: dict[str, Any], label: str, prefix: tuple[str, ...], number: int,
          observations: list[str], review: dict[str, Any] | None,
          seed: tuple[str, ...]) -> dict[str, Any]:
    """A finding as an OSCAL risk: status, severity as a characterization, and the
    management response (owner, due date) as a remediation."""
    uid = stable_uuid(*prefix, "risk", str(number), text(finding.get("id")))
    rated_by_auditor = review is not None and finding.get("severity") != finding.get(
        "rule_severity")
    actor = ({"type": "party", "actor-uuid": _party_uuids(review, seed)[0],
              "role-id": "assessor"} if rated_by_auditor and review is not None
             else {"type": "tool", "actor-uuid": stable_uuid(*seed, "tool")})
    status = text(finding.get("status")) or "open"
    risk: dict[str, Any] = {
        "uuid": uid,
        "title": md(label),
        "description": md(f"{text(finding.get('finding'))} found by rule "
                          f"{text(finding.get('rule'))} on {text(finding.get('process'))}: "
                          f"{label}"),
        "statement": md(" ".join(text(o.get("message")) for o in finding.get("occurrences") or []
                                 if isinstance(o, dict)) or label),
        "props": _props(("finding-id", finding.get("id")), ("rule", finding.get("rule"))),
        "status": RISK_STATUS.get(status, "open"),
        "characterizations": [{"origin": {"actors": [actor]},
                               "facets": [{"name": "severity", "system": NS,
                                           "value": text(finding.get("severity"))}]}],
    }
    if finding.get("due"):
        risk["deadline"] = f"{text(finding['due'])}T00:00:00+00:00"
    if finding.get("response") or finding.get("owner") or finding.get("due"):
        response: dict[str, Any] = {
            "uuid": stable_uuid(uid, "response"),
            "lifecycle": "completed" if status == "closed" else "planned",
            "title": md(f"Management response to {text(finding.get('id'))}"),
            "description": md(text(finding.get("response")) or "No response recorded."),
            "props": _props(("owner", finding.get("owner"))),
        }
        if not response["props"]:
            del response["props"]
        if finding.get("due"):
            response["tasks"] = [{"uuid": stable_uuid(uid, "task"), "type": "milestone",
                                  "title": md(f"Due: {text(finding['due'])}"),
                                  "timing": {"on-date": {
                                      "date": f"{text(finding['due'])}T00:00:00+00:00"}}}]
        risk["remediations"] = [response]
    if observations:
        risk["related-observations"] = [{"observation-uuid": u} for u in observations]
    return risk


def _attestation(review: dict[str, Any], seed: tuple[str, ...]) -> dict[str, Any]:
    """The auditor's sign-off as an OSCAL attestation."""
    signoff = review.get("signoff") or {}
    prose = " ".join(x for x in (text(signoff.get("statement")),
                                 f"Signed off by {text(signoff.get('name'))} on "
                                 f"{text(signoff.get('date'))}.") if x)
    return {"responsible-parties": [{"role-id": "assessor",
                                     "party-uuids": [_party_uuids(review, seed)[0]]}],
            "parts": [{"name": "sign-off", "title": "Sign-off", "prose": md(prose)}]}


def render_oscal_catalog(catalogue: Catalogue, tool_version: str) -> str:
    """The 45 O-ISM3 processes as an OSCAL `catalog`, grouped by management level."""
    groups = []
    levels = list(dict.fromkeys(p.level for p in catalogue.processes))  # catalogue order
    for level in levels:
        controls = []
        for proc in catalogue.processes:
            if proc.level != level:
                continue
            cid = control_id(proc.id)
            controls.append({
                "id": cid,
                "class": "ism3-process",
                "title": md(proc.name),
                "props": _props(("label", proc.id), ("management-level", proc.level),
                                ("process-group", proc.group)),
                "parts": [{"id": f"{cid}_smt", "name": "statement", "prose": md(proc.purpose)}],
            })
        groups.append({"id": level, "class": "management-level",
                       "title": md(f"{level.capitalize()} management processes"),
                       "controls": controls})
    catalog = {
        "uuid": stable_uuid("catalog", "o-ism3", tool_version),
        "metadata": {
            "title": "O-ISM3 processes (The Open Group C102, 2011)",
            "last-modified": CATALOG_LAST_MODIFIED,
            "version": tool_version,
            "oscal-version": OSCAL_VERSION,
            "props": _props(("tool", f"ism3rules {tool_version}")),
            "remarks": "Process names from the standard; purposes are one-line paraphrases "
                       "written for ism3rules. Capability levels (initial .. optimized) are "
                       "assessed from documentation and metric types, see `ism3 rules`.",
        },
        "groups": groups,
    }
    return _dump({"catalog": catalog})
