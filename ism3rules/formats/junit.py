"""The JUnit XML format: maturity requirements as test cases, for CI dashboards.

One test suite per profile, one test case per (level, process) requirement
(cumulative, as the level is judged). Without targets, a failure is an unmet
requirement at any level of the profile. With targets (`--require PROFILE=LEVEL`),
JUnit says what the exit code says: an unmet requirement is a failure only at or
below its profile's target; above it, or in a profile with no target, it is skipped.
`skipped` also marks a requirement in another state (e.g. `excluded`). The document
validates against the Jenkins xUnit plugin's junit-10.xsd (no `skipped` on
`<testsuites>`). Built with ElementTree, so text and attributes are XML-escaped;
characters XML 1.0 cannot carry are replaced first.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from ._common import requirement_state, text, xml_text
from .markdown import gap_missing, gap_rejected


def render_junit(document: dict[str, Any], targets: Mapping[str, int] | None = None) -> str:
    """A `<testsuites>` document, UTF-8, with a final newline.

    `targets` maps profile ids to the level required of them (`--require`); given, only
    unmet requirements at or below a profile's target are failures.
    """
    org = document.get("organization", {})
    root = ET.Element("testsuites", {"name": xml_text(f"O-ISM3 maturity of {text(org.get('name'))}"
                                                      f" ({text(org.get('id'))})")})
    total = failed = 0
    for prof in document.get("profiles", []):
        suite = ET.SubElement(root, "testsuite", {"name": xml_text(prof.get("id"))})
        props = ET.SubElement(suite, "properties")
        for name, value in (("profile.name", prof.get("name")),
                            ("profile.source", prof.get("source")),
                            ("profile.sha256", prof.get("sha256")),
                            ("achieved_level", prof.get("achieved_level")),
                            ("max_level", prof.get("max_level"))):
            ET.SubElement(props, "property", {"name": name, "value": xml_text(value)})
        review = document.get("review")
        if isinstance(review, dict):   # an auditor's review: what is still unreviewed
            counts = review.get("evidence") or {}
            for name, value in (("review.unreviewed", text(counts.get("unreviewed"))),
                                ("review.signed_off", "yes" if review.get("signoff") else "no")):
                ET.SubElement(props, "property", {"name": name, "value": xml_text(value)})
        target = None if targets is None else targets.get(str(prof.get("id")))
        if targets is not None:
            ET.SubElement(props, "property", {"name": "target_level", "value": xml_text(
                target if target is not None else "none")})
        cases = fails = skips = 0
        for lvl in prof.get("levels", []):
            gaps = {g.get("process"): g for g in lvl.get("gaps", [])}
            for req in lvl.get("requirements", []):
                cases += 1
                case = ET.SubElement(suite, "testcase", {
                    "classname": xml_text(f"{text(prof.get('id'))}.level-{text(lvl.get('level'))}"),
                    "name": xml_text(f"{text(req.get('process'))} is at least "
                                     f"{text(req.get('required'))}"),
                    "time": "0",
                })
                state = requirement_state(req)
                if state == "met":
                    continue
                if state != "unmet":
                    skips += 1
                    ET.SubElement(case, "skipped", {"message": xml_text(
                        f"{text(req.get('process'))}: {state}"
                        + (f" by {text(req.get('excluded_by'))}" if req.get("excluded_by") else "")
                        + (f" (rule {text(req.get('rule'))})" if req.get("rule") else ""))})
                    continue
                level = lvl.get("level")
                if targets is not None and (target is None or not isinstance(level, int)
                                            or level > target):
                    skips += 1
                    why = (f"level {text(level)} is above the target level {target}"
                           if target is not None else "no target for this profile")
                    ET.SubElement(case, "skipped", {"message": xml_text(
                        f"{text(req.get('process'))}: not met, not required: {why}")})
                    continue
                fails += 1
                gap = gaps.get(req.get("process"), {})
                message = (f"{text(req.get('process'))} is {text(req.get('actual'))}, level "
                           f"{text(lvl.get('level'))} ({text(lvl.get('name'))}) requires "
                           f"{text(req.get('required'))}")
                failure = ET.SubElement(case, "failure", {"message": xml_text(message),
                                                          "type": "requirement-not-met"})
                detail = [message]
                if gap_missing(gap):
                    detail.append(f"missing: {gap_missing(gap)}")
                if gap_rejected(gap):
                    detail.append(f"rejected evidence that would count: {gap_rejected(gap)}")
                if gap.get("rationale"):
                    detail.append(f"why: {text(gap.get('rationale'))}")
                failure.text = "\n".join(xml_text(d) for d in detail)
        suite.set("tests", str(cases))
        suite.set("failures", str(fails))
        suite.set("errors", "0")
        suite.set("skipped", str(skips))
        total, failed = total + cases, failed + fails
    root.set("tests", str(total))
    root.set("failures", str(failed))
    root.set("errors", "0")   # no `skipped` here: junit-10.xsd refuses it on <testsuites>
    ET.indent(root, space="  ")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode") + "\n")
