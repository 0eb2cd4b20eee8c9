"""The shipped JSON Schemas: generated from the loaders, accepting every shipped file and
the init skeleton, rejecting the bad inputs a schema can express."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from cli import main
from conftest import ROOT
from ism3rules.schemas import KINDS, build, schema_path
from ism3rules.yamlio import load_yaml

REGENERATE = os.environ.get("ISM3_REGEN_GOLDEN") == "1"
BAD = ROOT / "tests" / "bad_bundles"
CASES: dict[str, dict[str, Any]] = yaml.safe_load((BAD / "cases.yaml").read_text())
SPEC_CASES: dict[str, dict[str, Any]] = yaml.safe_load((BAD / "specifications.yaml").read_text())

# Bad bundles (tests/bad_bundles/cases.yaml) whose fault is in the shape of bundle.yaml:
# a schema rejects them, so an editor flags them as they are typed.
SCHEMA_REJECTS = {
    "wrong-top-level-type", "empty-file", "wrong-schema", "missing-organization-name",
    "bad-organization-id", "unknown-top-key", "unknown-process", "unknown-kind",
    "unknown-metric-type", "non-numeric-value", "empty-value", "malformed-sha256",
    "unknown-item-key", "scalar-top-level", "missing-schema", "missing-evidence",
    "missing-item-id", "missing-item-path", "item-not-a-mapping", "unknown-process-near-miss",
    "metric-without-observations", "control-characters-in-a-message",
}
# ... and the ones it cannot express: YAML syntax and parsing, limits, things that need the
# whole file or the disk (unique ids, impossible dates, the order of two dates, files).
SCHEMA_CANNOT = {
    "yaml-syntax-error": "not YAML: a parser error, before any schema",
    "duplicate-id": "unique ids across items",
    "invalid-date": "an impossible date (2026-02-30) has the right form",
    "python-object-tag": "YAML tags are the parser's business",
    "non-utf8": "encoding", "period-reversed": "the order of two dates",
    "csv-missing-header": "file content", "csv-extra-column": "file content",
    "csv-bad-row": "file content", "duplicate-yaml-key": "the parser's business",
    "two-yaml-documents": "the parser's business", "invalid-date-in-period": "impossible date",
    "infinite-value": "YAML's .inf is a number to JSON Schema",
    "csv-invalid-date": "file content", "csv-non-numeric-value": "file content",
    "csv-empty-value": "file content", "csv-empty-file": "file content",
    "csv-non-utf8": "file content", "csv-unterminated-quote": "file content",
    "csv-too-large": "a limit", "bundle-yaml-is-a-folder": "the disk",
    "bundle-yaml-symlink-outside": "the disk", "bundle-yaml-too-large": "a limit",
    "python-name-tag": "the parser's business", "custom-tag": "the parser's business",
    "too-deep": "a limit", "too-many-aliases": "a limit", "alias-bomb": "a limit",
    "recursive-alias": "the parser's business",
    "control-characters-in-a-duplicate-key": "the parser's business",
}
SPEC_REJECTS = {
    "unknown-specification-key", "specification-not-a-mapping", "unknown-frequency",
    "threshold-not-a-number", "unknown-threshold-key", "thresholds-empty",
    "target-not-a-number", "target-a-boolean", "unknown-direction", "direction-without-target",
    "description-not-text", "specification-on-documentation", "unknown-role",
    "role-without-person", "sla-bad-target", "sla-both-metric-and-type", "sla-bad-window",
    "sla-unknown-key",
}
SPEC_CANNOT = {
    "thresholds-reversed": "the order of two numbers", "bad-expiry-date": "impossible date",
    "expires-before-date": "the order of two dates",
    "sla-unknown-metric": "a reference to another item", "sla-duplicate-id": "unique ids",
    "sla-metric-of-another-process": "a reference to another item",
}


def validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path(kind).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def errors(kind: str, data: Any) -> list[str]:
    return [e.message for e in validator(kind).iter_errors(data)]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_shipped_schema_is_what_the_loaders_vocabulary_gives(kind: str) -> None:
    built = build(kind)
    if REGENERATE:
        schema_path(kind).write_text(built, encoding="utf-8")
    assert schema_path(kind).read_text(encoding="utf-8") == built, (
        f"{schema_path(kind)} is stale: regenerate with ISM3_REGEN_GOLDEN=1")


@pytest.mark.parametrize("path", [*sorted((ROOT / "evidence").glob("*/bundle.yaml")),
                                  *sorted((ROOT / "profiles").glob("*.yaml")),
                                  *sorted((ROOT / "rules").glob("*.yaml"))],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_file_is_accepted(path: Path) -> None:
    kind = {"evidence": "bundle", "profiles": "profile", "rules": "rules"}[
        path.parent.parent.name if path.name == "bundle.yaml" else path.parent.name]
    assert errors(kind, load_yaml(path)) == []


@pytest.mark.parametrize("args", [["-p", "small-business", "-l", "3"],
                                  ["-p", "cloud-saas", "-l", "5", "--period-start", "2026-01-01",
                                   "--period-end", "2026-06-30"]])
def test_the_init_skeleton_is_accepted_and_points_at_its_schema(tmp_path: Path,
                                                                args: list[str]) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "b"), *args])
    assert result.exit_code == 0, result.output
    manifest = tmp_path / "b" / "bundle.yaml"
    first = manifest.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=bundle.schema.json"
    written = tmp_path / "b" / "bundle.schema.json"
    assert written.read_text() == schema_path("bundle").read_text()
    assert errors("bundle", load_yaml(manifest)) == []


def _bundle_data(tmp_path: Path, manifest: str) -> Any:
    path = tmp_path / "bundle.yaml"
    path.write_text(manifest)
    return load_yaml(path)


def test_every_bad_bundle_case_is_classified() -> None:
    assert SCHEMA_REJECTS.isdisjoint(SCHEMA_CANNOT)
    assert SCHEMA_REJECTS | set(SCHEMA_CANNOT) <= set(CASES)
    assert SPEC_REJECTS | set(SPEC_CANNOT) == set(SPEC_CASES)
    unclassified = set(CASES) - SCHEMA_REJECTS - set(SCHEMA_CANNOT)
    # item-level verdicts (a file outside the bundle, ...) are the loader's: the bundle is valid
    assert all("rejected" in CASES[name] for name in unclassified), unclassified


@pytest.mark.parametrize("name", sorted(SCHEMA_REJECTS))
def test_schema_rejects_the_bad_bundles_it_can_express(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    assert errors("bundle", _bundle_data(tmp_path, case["manifest"])), name


@pytest.mark.parametrize("name", sorted(SPEC_REJECTS))
def test_schema_rejects_the_bad_specifications_it_can_express(name: str, tmp_path: Path) -> None:
    case = SPEC_CASES[name]
    manifest = ("schema: ism3-evidence/1\norganization: {id: a, name: A}\nevidence:\n"
                f"  - {case['item']}\n{case.get('extra', '')}")
    assert errors("bundle", _bundle_data(tmp_path, manifest)), name


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if "rejected" in c))
def test_item_level_verdicts_are_left_to_the_loader(name: str, tmp_path: Path) -> None:
    """A readable bundle with an item that does not count is valid bundle.yaml."""
    assert errors("bundle", _bundle_data(tmp_path, CASES[name]["manifest"])) == []


@pytest.mark.parametrize("kind, text", [
    ("profile", "schema: ism3-profile/1\nid: p\nname: P\nsource: offical\nlevels: []\n"),
    ("profile", "schema: ism3-profile/1\nid: p\nname: P\nsource: custom\n"
                "levels:\n  - {level: 1, name: One, requires: {OSP-13: managed}}\n"),
    ("profile", "schema: ism3-profile/1\nid: p\nname: P\nsource: custom\n"
                "levels:\n  - {level: 1, name: One, requires: {OSP-3: manged}}\n"),
    ("rules", "schema: ism3-rules/1\nid: r\ntitle: R\nrules:\n  - id: X-ONE\n    title: t\n"
              "    section: s\n    rationale: r\n    when: [{fact: documentaton}]\n"
              "    then: {fact: capability, capability: initial}\n"),
    ("rules", "schema: ism3-rules/1\nid: r\ntitle: R\nrules:\n  - id: X-ONE\n    title: t\n"
              "    section: s\n    rationale: r\n    when: [{fact: metric, metric_typ: load}]\n"
              "    then: {fact: capability, capability: initial}\n"),
    ("rules", "schema: ism3-rules/1\nid: r\ntitle: R\nrules:\n  - id: X-ONE\n    title: t\n"
              "    section: s\n    rationale: r\n    when: [{fact: metric, coverage: {gtee: 1}}]\n"
              "    then: {fact: capability, capability: initial}\n"),
    ("rules", "schema: ism3-rules/1\nid: r\ntitle: R\nrules:\n  - id: x-one\n    title: t\n"
              "    section: s\n    rationale: r\n    when: [{fact: documentation}]\n"
              "    then: {fact: documentation}\n"),
])
def test_profile_and_rule_schemas_reject_what_the_loaders_reject(kind: str, text: str,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    assert errors(kind, load_yaml(path))
    command = (["evaluate", str(ROOT / "evidence" / "northwind"), "-p", str(path)]
               if kind == "profile" else
               ["evaluate", str(ROOT / "evidence" / "northwind"), "--rules-dir", str(tmp_path)])
    assert CliRunner().invoke(main, command).exit_code == 2   # the loader agrees


def test_any_case_names_are_accepted_as_the_loader_accepts_them(tmp_path: Path) -> None:
    data = _bundle_data(tmp_path, "schema: ism3-evidence/1\norganization: {id: a, name: A}\n"
                        "evidence:\n  - {id: M1, process: OSP-3, kind: metric, "
                        "metric_type: Efficacy, observations: [{date: 2026-01-01, value: 1}]}\n")
    assert errors("bundle", data) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_ism3_schema_prints_and_writes_the_shipped_schema(kind: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["schema", kind])
    assert result.exit_code == 0
    assert result.output == schema_path(kind).read_text()
    target = tmp_path / f"{kind}.schema.json"
    assert CliRunner().invoke(main, ["schema", kind, "-o", str(target)]).exit_code == 0
    assert json.loads(target.read_text())["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_ism3_schema_refuses_an_unknown_kind_and_a_non_json_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["schema", "bundel"])
    assert result.exit_code == 2 and "bundle" in result.output
    result = CliRunner().invoke(main, ["schema", "bundle", "-o", str(tmp_path / "s.html")])
    assert result.exit_code == 2 and "a JSON Schema is JSON" in result.output


def test_the_schemas_know_every_key_the_loaders_know() -> None:
    """A key added to a loader must be added to the schema builder too (and regenerated)."""
    from ism3rules import evidence, profiles, rules, specs

    bundle = json.loads(schema_path("bundle").read_text())
    props = bundle["properties"]
    assert set(props) == set(evidence.TOP_KEYS)
    assert set(props["organization"]["properties"]) == set(evidence.ORG_KEYS)
    assessment = props["assessment"]["anyOf"][1]["properties"]
    assert set(assessment) == set(evidence.ASSESSMENT_KEYS)
    assert set(assessment["period"]["anyOf"][1]["properties"]) == set(evidence.PERIOD_KEYS)
    by_kind = {rule["if"]["properties"]["kind"]["const"]: rule["then"]["properties"]
               for rule in props["evidence"]["items"]["allOf"]}
    assert {k: set(v) for k, v in by_kind.items()} == {
        k: set(v) for k, v in evidence.ITEM_KEYS.items()}
    assert set(by_kind["metric"]["specification"]["properties"]) == set(specs.SPEC_KEYS)
    assert set(props["service_levels"]["anyOf"][1]["items"]["properties"]) == set(specs.SLA_KEYS)
    profile = json.loads(schema_path("profile").read_text())["properties"]
    assert set(profile) == set(profiles.TOP_KEYS)
    assert set(profile["levels"]["items"]["properties"]) == set(profiles.LEVEL_KEYS)
    requirement = profile["levels"]["items"]["properties"]["requires"]["anyOf"][1]
    assert set(requirement["additionalProperties"]["anyOf"][1]["properties"]) == set(
        profiles.REQUIREMENT_KEYS)
    rule_file = json.loads(schema_path("rules").read_text())["properties"]
    assert set(rule_file) == set(rules.FILE_KEYS)
    assert set(rule_file["rules"]["items"]["properties"]) == set(rules.RULE_KEYS)


# -- review files (ism3-review/1) ------------------------------------------------------
# The bad reviews of tests/test_review.py whose fault is in the shape of the file: a
# schema rejects them; the others need the bundle or the evaluation, or are the parser's.
REVIEW_REJECTS = {"bad-severity", "bad-status", "bad-date", "bad-decision",
                  "rejected-without-reason", "unknown-key", "bad-method", "bad-audit-type",
                  "half-signoff", "wrong-schema", "unknown-process"}
REVIEW_CANNOT = {
    "client-mismatch": "the bundle's organization", "unknown-item": "the bundle's items",
    "unknown-finding": "the evaluation's findings", "python-tag": "the parser's business",
    "not-yaml": "not YAML: a parser error", "control-characters": "the bundle's organization",
}


def test_the_review_schema_knows_every_key_the_loader_knows() -> None:
    from ism3rules import review

    props = json.loads(schema_path("review").read_text())["properties"]
    assert tuple(props) == review.TOP_KEYS
    assert tuple(props["engagement"]["properties"]) == review.ENGAGEMENT_KEYS
    for section, keys in (("evidence", review.ITEM_KEYS), ("processes", review.PROCESS_KEYS),
                          ("findings", review.FINDING_KEYS)):
        entry = props[section]["additionalProperties"]["anyOf"][1]
        assert tuple(entry["properties"]) == keys, section
    assert tuple(props["signoff"]["anyOf"][1]["properties"]) == review.SIGNOFF_KEYS


def test_the_example_review_and_a_review_init_skeleton_are_accepted(tmp_path: Path) -> None:
    assert errors("review", load_yaml(ROOT / "evidence" / "harbor-clinic.review.yaml")) == []
    skeleton = tmp_path / "r.yaml"
    result = CliRunner().invoke(main, ["review", "init", str(ROOT / "evidence" / "northwind"),
                                       "-o", str(skeleton)])
    assert result.exit_code == 0, result.output
    assert errors("review", load_yaml(skeleton)) == []


def test_every_bad_review_case_is_classified() -> None:
    from test_review import BAD as BAD_REVIEWS

    assert REVIEW_REJECTS.isdisjoint(REVIEW_CANNOT)
    assert REVIEW_REJECTS | set(REVIEW_CANNOT) == set(BAD_REVIEWS)


@pytest.mark.parametrize("name", sorted(REVIEW_REJECTS))
def test_the_review_schema_rejects_the_bad_reviews_it_can_express(name: str,
                                                                  tmp_path: Path) -> None:
    from test_review import BAD as BAD_REVIEWS

    path = tmp_path / "r.yaml"
    path.write_text(BAD_REVIEWS[name][0])
    assert errors("review", load_yaml(path)), name
