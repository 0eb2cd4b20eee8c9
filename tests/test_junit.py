"""JUnit for CI: valid for the Jenkins xUnit plugin's schema, and, with --require, the same
verdict as the exit code (requirements above a target are skipped, not failed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from click.testing import CliRunner

from cli import main
from conftest import ROOT

SCHEMA = xmlschema.XMLSchema10(str(Path(__file__).parent / "schemas" / "junit-10.xsd"))
HARBOR = str(ROOT / "evidence" / "harbor-clinic")
NORTHWIND = str(ROOT / "evidence" / "northwind")


def _junit(args: list[str], code: int) -> tuple[ET.Element, str]:
    result = CliRunner().invoke(main, ["evaluate", *args, "-f", "junit"])
    assert result.exit_code == code, result.output
    xml = result.stdout
    SCHEMA.validate(xml)
    return ET.fromstring(xml), result.output


@pytest.mark.parametrize("args", [[HARBOR], [NORTHWIND], [HARBOR, "--require", "small-business=1"],
                                  [NORTHWIND, "--require", "cloud-saas=3"]])
def test_junit_validates_against_the_xunit_plugin_schema(args: list[str]) -> None:
    _junit(args, 0)


def test_the_schema_refuses_what_junit_used_to_write() -> None:
    """Not a vacuous check: `skipped` on <testsuites> is refused, as the issue reported."""
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        SCHEMA.validate('<testsuites tests="0" failures="0" errors="0" skipped="0"/>')


def test_a_target_met_is_exit_0_and_no_failure() -> None:
    root, _ = _junit([HARBOR, "--require", "small-business=1"], 0)
    assert root.get("failures") == "0"
    small = next(s for s in root if s.get("name") == "small-business")
    props = {p.get("name"): p.get("value") for p in small.iter("property")}
    assert props["target_level"] == "1"
    # level 2 is not met: its unmet requirements are skipped, saying why
    skipped = [c.find("skipped").get("message") for c in small.iter("testcase")
               if c.find("skipped") is not None]
    assert skipped and all("above the target level 1" in m for m in skipped)
    # profiles with no target fail nothing either
    cloud = next(s for s in root if s.get("name") == "cloud-saas")
    assert cloud.get("failures") == "0"
    assert any("no target for this profile" in c.find("skipped").get("message")
               for c in cloud.iter("testcase") if c.find("skipped") is not None)


def test_a_target_missed_is_exit_1_and_fails_only_up_to_the_target() -> None:
    root, output = _junit([HARBOR, "--require", "small-business=2"], 1)
    small = next(s for s in root if s.get("name") == "small-business")
    failed = [c for c in small.iter("testcase") if c.find("failure") is not None]
    assert {c.get("classname") for c in failed} == {"small-business.level-2"}
    assert sorted(c.get("name") for c in failed) == [
        "OSP-10 is at least managed", "OSP-11 is at least initial", "OSP-16 is at least initial",
        "OSP-24 is at least initial"]
    assert root.get("failures") == small.get("failures") == "4"
    assert "target not met: small-business reaches level 1, 2 required" in output


def test_without_targets_every_unmet_requirement_is_a_failure() -> None:
    root, _ = _junit([HARBOR], 0)
    small = next(s for s in root if s.get("name") == "small-business")
    assert int(small.get("failures")) > 4      # levels 2 and 3 alike
    assert all(p.get("name") != "target_level" for p in root.iter("property"))
