"""JSON Schemas (draft 2020-12) of the files users write: bundle, profile, rule and review files.

The shipped files (`data/schemas/*.schema.json`) are `build(kind)`'s output, written
from the catalogue and the loaders' own vocabularies; a test keeps them equal. A
schema checks the shape (keys, types, names, patterns) so an editor can flag a typo
as it is typed; what needs the whole file or the disk (unique ids, a period's order,
files and hashes) stays the loaders' job, and the loaders decide.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .catalogue import Catalogue, load_catalogue
from .errors import Ism3Error

SCHEMA_DIR = Path(__file__).parent / "data" / "schemas"
KINDS = {"bundle": "bundle.schema.json", "profile": "profile.schema.json",
         "rules": "rules.schema.json", "review": "review.schema.json"}
DRAFT = "https://json-schema.org/draft/2020-12/schema"
DATE = {"type": "string", "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        "format": "date", "description": "a date, YYYY-MM-DD"}
# text the loaders accept: a string with something in it, or a number (read as its text)
TEXT: dict[str, Any] = {"type": ["string", "number"], "pattern": r"\S"}
OPTIONAL_TEXT: dict[str, Any] = {"type": ["string", "number", "null"]}


def schema_path(kind: str) -> Path:
    """The shipped schema file of `kind` (bundle, profile, rules or review).

    Raises:
        Ism3Error: no schema of that kind.
    """
    if kind not in KINDS:
        raise Ism3Error(f"no schema '{kind}'; kinds: {', '.join(KINDS)}")
    return SCHEMA_DIR / KINDS[kind]


def schema_text(kind: str) -> str:
    """The shipped schema of `kind` as text (JSON).

    Raises:
        Ism3Error: no schema of that kind, or the file is missing (a broken installation).
    """
    path = schema_path(kind)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Ism3Error(f"{path}: cannot read the shipped schema ({exc.strerror}); "
                        "reinstall ism3rules") from exc


def build(kind: str, catalogue: Catalogue | None = None) -> str:
    """The schema of `kind` as the text of its shipped file (indented JSON, final newline).

    Raises:
        Ism3Error: no schema of that kind.
    """
    schema_path(kind)
    catalogue = catalogue or load_catalogue()
    builders = {"bundle": _bundle, "profile": _profile, "rules": _rules, "review": _review}
    return json.dumps(builders[kind](catalogue), indent=2, ensure_ascii=False) + "\n"


def _any_case(names: list[str]) -> dict[str, Any]:
    """A string equal to one of `names` in any case (the loaders lower-case these names);
    spelled out letter by letter, since editors' regular expressions have no (?i)."""
    def letters(name: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else _escape(c) for c in name)
    return {"type": "string", "pattern": "^(" + "|".join(letters(n) for n in names) + ")$",
            "examples": names}


def _escape(char: str) -> str:
    return "\\" + char if char in r".^$*+?()[]{}|\/-" else char


def _object(properties: dict[str, Any], required: tuple[str, ...] = (),
            **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "additionalProperties": False}
    if required:
        out["required"] = list(required)
    out.update(more)
    return out


def _bundle(catalogue: Catalogue) -> dict[str, Any]:
    from .evidence import KINDS as ITEM_KINDS
    from .evidence import ORG_ID, ROLES, SCHEMA, SHA256
    from .specs import DIRECTIONS, FREQUENCIES, SLA_ID

    process = {"enum": list(catalogue.process_ids), "description": "an O-ISM3 process id"}
    metric_type = _any_case(catalogue.metric_type_choices())
    common = {"id": TEXT, "process": process, "kind": {"enum": list(ITEM_KINDS)}}
    number_text = {"type": "string",
                   "pattern": r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"}
    observation = _object({"date": DATE, "value": {"anyOf": [{"type": "number"}, number_text]}},
                          ("date", "value"))
    specification = _object({
        "description": OPTIONAL_TEXT, "measurement_procedure": OPTIONAL_TEXT,
        "frequency": {"enum": [*FREQUENCIES, None]},
        "thresholds_estimation": OPTIONAL_TEXT,
        "thresholds": {"anyOf": [{"type": "null"}, _object(
            {"lower": {"type": ["number", "null"]}, "upper": {"type": ["number", "null"]}},
            minProperties=1)]},
        "target": {"type": ["number", "null"]},
        "better": {"enum": [*DIRECTIONS, None]},
        "units": OPTIONAL_TEXT,
    }, dependentRequired={"better": ["target"]})
    items = {
        "documentation": _object({
            **common, "title": OPTIONAL_TEXT, "path": TEXT,
            "sha256": {"anyOf": [{"type": "null"},
                                 {"type": "string", "pattern": SHA256.pattern}]},
            "date": DATE, "expires": DATE}, ("id", "process", "kind", "path")),
        "metric": _object({
            **common, "metric_type": metric_type, "name": OPTIONAL_TEXT,
            "observations": {"anyOf": [{"type": "array", "items": observation},
                                       _object({"path": TEXT}, ("path",))]},
            "path": TEXT, "specification": specification},
            ("id", "process", "kind", "metric_type"),
            oneOf=[{"required": ["observations"]}, {"required": ["path"]}]),
        "exclusion": _object({
            **common, "justification": TEXT, "approver": TEXT, "expires": DATE},
            ("id", "process", "kind", "justification", "approver")),
        "role": _object({
            **common, "role": {"enum": list(ROLES)}, "person": TEXT, "title": OPTIONAL_TEXT,
            "date": DATE, "expires": DATE}, ("id", "process", "kind", "role", "person")),
    }
    item = {"type": "object", "required": ["id", "process", "kind"],
            "properties": common,
            "allOf": [{"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                       "then": schema} for kind, schema in items.items()]}
    service_level = _object({
        "id": {"type": "string", "pattern": SLA_ID.pattern}, "process": process,
        "provider": {"type": ["string", "null"]}, "metric": {"type": "string"},
        "metric_type": metric_type,
        "target": {"type": "string", "pattern": r"^\s*(<=|>=|==)\s*\S+\s*$",
                   "description": "an operator and a number, e.g. '>= 99.5'"},
        "window": {"anyOf": [{"const": "period"},
                             _object({"last": {"type": "integer", "minimum": 1}}, ("last",))]},
    }, ("id", "process", "target"), oneOf=[{"required": ["metric"]},
                                           {"required": ["metric_type"]}])
    return {
        "$schema": DRAFT,
        "$id": "urn:ism3rules:schema:ism3-evidence-1",
        "title": "ism3rules evidence bundle (bundle.yaml, ism3-evidence/1)",
        "description": "Generated from ism3rules' catalogue and loaders (ism3 schema bundle). "
                       "The loader (ism3 validate) is the reference: it also checks what a "
                       "schema cannot (unique ids, dates in order, files and hashes).",
        **_object({
            "schema": {"const": SCHEMA},
            "organization": _object({"id": {"type": ["string", "integer"],
                                            "pattern": ORG_ID.pattern},
                                     "name": TEXT}, ("id", "name")),
            "assessment": {"anyOf": [{"type": "null"}, _object({
                "period": {"anyOf": [{"type": "null"},
                                     _object({"start": DATE, "end": DATE}, ("start", "end"))]},
                "as_of": {"anyOf": [{"type": "null"}, DATE]}})]},
            "evidence": {"type": "array", "items": item},
            "service_levels": {"anyOf": [{"type": "null"},
                                         {"type": "array", "items": service_level}]},
        }, ("schema", "organization", "evidence")),
    }


def _profile(catalogue: Catalogue) -> dict[str, Any]:
    from .profiles import PROFILE_ID, SCHEMA, SOURCES

    capability = _any_case(catalogue.capability_choices())
    requirement = {"anyOf": [capability, _object({"capability": capability,
                                                  "rationale": OPTIONAL_TEXT},
                                                 ("capability",))]}
    level = _object({
        "level": {"type": "integer", "minimum": 1,
                  "description": "levels are numbered 1..N in order, with no gaps"},
        "name": {"type": "string", "pattern": r"\S"},
        "description": OPTIONAL_TEXT,
        "requires": {"anyOf": [{"type": "null"}, {
            "type": "object", "propertyNames": {"enum": list(catalogue.process_ids)},
            "additionalProperties": requirement}]},
    }, ("level", "name"))
    return {
        "$schema": DRAFT,
        "$id": "urn:ism3rules:schema:ism3-profile-1",
        "title": "ism3rules maturity profile (ism3-profile/1)",
        "description": "Generated from ism3rules' catalogue and loaders (ism3 schema profile).",
        **_object({
            "schema": {"const": SCHEMA},
            "id": {"type": ["string", "number"], "pattern": PROFILE_ID.pattern},
            "name": TEXT,
            "source": {"enum": list(SOURCES)},
            "description": OPTIONAL_TEXT,
            "mandatory": {"type": "array", "uniqueItems": True,
                          "items": {"enum": list(catalogue.process_ids)}},
            "levels": {"type": "array", "minItems": 1, "items": level},
        }, ("schema", "id", "name", "source", "levels")),
    }


def _rules(catalogue: Catalogue) -> dict[str, Any]:
    from .rules import FACT_TYPES, OPERATORS, RULE_ID, SCHEMA

    scalar = {"type": ["string", "number"]}
    ref = _object({"ref": {"type": "string", "pattern": r"^[^.]+\.[^.]+$"}}, ("ref",))
    test = {"anyOf": [scalar, ref, {
        "type": "object", "minProperties": 1, "maxProperties": 1,
        "propertyNames": {"enum": list(OPERATORS)},
        "additionalProperties": {"anyOf": [scalar, ref]}}]}
    alias = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}
    conditions = []
    derivations = []
    for name, ftype in FACT_TYPES.items():
        attrs = [a for a in ftype.attrs if a != "process"]
        conditions.append({
            "if": {"properties": {"fact": {"const": name}}, "required": ["fact"]},
            "then": {"propertyNames": {"enum": ["fact", "as", *attrs]}}})
        if ftype.derived or ftype.derived_from:
            allowed = [a for a in (*ftype.attrs, *ftype.lists) if a not in ("process", "rank")]
            derivations.append({
                "if": {"properties": {"fact": {"const": name}}, "required": ["fact"]},
                "then": {"propertyNames": {"enum": ["fact", *allowed]},
                         "properties": {a: {"type": "array", "items": {"type": "string"}}
                                        for a in ftype.lists}}})
    condition = {"type": "object", "required": ["fact"],
                 "properties": {"fact": {"enum": list(FACT_TYPES)}, "as": alias},
                 "additionalProperties": test, "allOf": conditions}
    derivable = [n for n, f in FACT_TYPES.items() if f.derived or f.derived_from]
    then = {"type": "object", "required": ["fact"],
            "properties": {"fact": {"enum": derivable}},
            "additionalProperties": {"anyOf": [scalar, ref,
                                               {"type": "array", "items": {"type": "string"}}]},
            "allOf": derivations}
    words = {"type": "string", "pattern": r"\S"}
    rule = _object({
        "id": {"type": "string", "pattern": RULE_ID.pattern},
        "title": words, "section": words, "rationale": words,
        "when": {"type": "array", "minItems": 1, "items": condition},
        "then": then,
    }, ("id", "title", "section", "rationale", "when", "then"))
    return {
        "$schema": DRAFT,
        "$id": "urn:ism3rules:schema:ism3-rules-1",
        "title": "ism3rules rule file (ism3-rules/1)",
        "description": "Generated from ism3rules' loaders (ism3 schema rules). The loader "
                       "also checks names (capabilities, metric types), references and "
                       "message templates.",
        **_object({
            "schema": {"const": SCHEMA},
            "id": scalar, "title": scalar, "source": OPTIONAL_TEXT, "description": OPTIONAL_TEXT,
            "rules": {"type": "array", "minItems": 1, "items": rule},
        }, ("schema", "id", "title", "rules")),
    }


def _review(catalogue: Catalogue) -> dict[str, Any]:
    from .review import AUDIT_TYPES, DECISIONS, METHODS, SCHEMA, STATUSES
    from .rules import SEVERITIES

    def choice(names: tuple[str, ...]) -> dict[str, Any]:
        return {"enum": [*names, None]}

    def entries(entry: dict[str, Any], keys: dict[str, Any] | None = None) -> dict[str, Any]:
        section: dict[str, Any] = {"type": ["object", "null"],
                                   "additionalProperties": {"anyOf": [{"type": "null"}, entry]}}
        if keys is not None:
            section["propertyNames"] = keys
        return section

    date = {"anyOf": [{"type": "null"}, DATE]}
    text = OPTIONAL_TEXT
    item = _object({"decision": choice(DECISIONS), "reason": text, "reviewer": text,
                    "date": date})
    item["if"] = {"properties": {"decision": {"const": "rejected"}}, "required": ["decision"]}
    item["then"] = {"required": ["reason"],   # a rejected item says why
                    "properties": {"reason": {"type": ["string", "number"], "pattern": r"\S"}}}
    method = {"enum": list(METHODS)}
    process = _object({"methods": {"anyOf": [{"type": "null"}, method,
                                             {"type": "array", "items": method}]},
                       "notes": text})
    finding = _object({"severity": choice(SEVERITIES), "owner": text, "due": date,
                       "response": text, "status": choice(STATUSES)})
    signoff = _object({"name": text, "date": date, "statement": text},
                      dependentRequired={"name": ["date"], "date": ["name"],
                                         "statement": ["name", "date"]})
    engagement = _object({"client": {"type": ["string", "number"], "pattern": r"\S"},
                          "auditor": text, "firm": text, "audit_type": choice(AUDIT_TYPES),
                          "start": date, "end": date, "scope": text}, ("client",))
    properties = {
        "schema": {"const": SCHEMA}, "engagement": engagement,
        "evidence": entries(item),
        "processes": entries(process, {"enum": list(catalogue.process_ids)}),
        "findings": entries(finding),
        "signoff": {"anyOf": [{"type": "null"}, signoff]}}
    return {
        "$schema": DRAFT,
        "$id": "urn:ism3rules:schema:ism3-review-1",
        "title": "ism3rules review file (ism3-review/1)",
        "description": "Generated from ism3rules' review loader (ism3 schema review). The "
                       "loader also checks the review against its bundle: the client, the "
                       "item ids and the finding ids of the evaluation.",
        **_object(properties, ("schema", "engagement")),
    }
