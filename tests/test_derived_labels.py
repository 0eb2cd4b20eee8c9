"""Every output that shows a profile's level says where the profile comes from (derived)."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner

from cli import main
from conftest import ROOT

HARBOR = str(ROOT / "evidence" / "harbor-clinic")


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_evaluate_csv_has_a_source_column_per_profile() -> None:
    rows = list(csv.DictReader(io.StringIO(_run(["evaluate", HARBOR, "-f", "csv"]))))
    assert len(rows) == 45
    for pid in ("cloud-saas", "ism3-derived", "small-business"):
        assert {r[f"{pid} source"] for r in rows} == {"derived"}
    # the columns that were there keep their places
    header = next(csv.reader(io.StringIO(_run(["evaluate", HARBOR, "-f", "csv"]))))
    assert header[-4:] == ["small-business met", "cloud-saas source", "ism3-derived source",
                           "small-business source"]


def test_explain_names_each_profiles_source() -> None:
    out = _run(["explain", HARBOR, "OSP-10", "-p", "small-business"])
    assert "  - small-business (derived) level 1 (Essentials) requires initial: met" in out
    assert "derived or custom: a profile's levels are not the standard's own table" in out
