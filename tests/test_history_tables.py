"""History and diff tables fit the width like every other table (formats/fit.py), and the
history commands take -o with the format from its extension."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from conftest import ROOT

NORTHWIND = str(ROOT / "evidence" / "northwind")
HARBOR = str(ROOT / "evidence" / "harbor-clinic")
IDS = ("northwind", "harbor-clinic", "small-business", "ism3-derived", "cloud-saas",
       "MON-ABOVE-THRESHOLD/OSP-10/d5a866c796", "OSP-10", "OSP-12", "TSP-3")


def _words(text: str) -> list[str]:
    return sorted(w for w in text.split() if set(w) != {"-"})


def _run(args: list[str], columns: str | None = None, code: int = 0) -> str:
    env = {"COLUMNS": columns} if columns else {}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = str(tmp_path_factory.mktemp("history") / "h.sqlite")
    for day in ("2025-12-31", "2026-03-31", "2026-06-30"):
        _run(["evaluate", NORTHWIND, "--as-of", day, "--db", db, "-f", "json"])
    _run(["evaluate", HARBOR, "--db", db, "-f", "json"])
    return db


COMMANDS = [["history", "list"], ["history", "trend", "northwind", "-p", "small-business"],
            ["history", "portfolio"], ["history", "show", "1"], ["diff", "1", "3"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_history_and_diff_tables_fit_and_never_split_an_identifier(store: str,
                                                                   command: list[str]) -> None:
    args = [*command, "--db", store]
    piped = _run(args)
    shown = {i for i in IDS if re.search(rf"(?<![\w/-]){re.escape(i)}(?![\w/-])", piped)}
    assert shown
    for columns, limit in (("80", 80), ("120", 120), ("40", 80)):
        out = _run(args, columns)
        assert max(len(line) for line in out.splitlines()) <= limit, (columns, out)
        assert all(re.search(rf"(?<![\w/-]){re.escape(i)}(?![\w/-])", out) for i in shown)
        if command[1] in ("list", "1"):   # the same words at any width (rules aside)
            assert _words(out) == _words(piped)
    assert max(len(line) for line in piped.splitlines()) <= 100    # piped: a stable 100
    assert piped == _run(args, "100")


@pytest.mark.parametrize("command", [["history", "trend", "northwind"], ["history", "portfolio"]])
def test_levels_of_many_profiles_fold_into_one_column_when_they_do_not_fit(
        store: str, command: list[str]) -> None:
    """A column per profile while they fit; else one `levels` column, a line per profile."""
    wide = _run([*command, "--db", store], "300")
    narrow = _run([*command, "--db", store], "80")
    assert "small-business" in wide.splitlines()[wide.splitlines().index("") + 1
                                                 if command[1] == "trend" else 0]
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert re.search(r"^\S.*  levels  ", narrow, re.MULTILINE)
    for profile in ("cloud-saas", "ism3-derived", "small-business"):
        assert re.search(rf"  {profile} \d/\d [↑↓→·]", narrow)


@pytest.mark.parametrize(("name", "check"), [
    ("runs.json", lambda text: json.loads(text)["schema"] == "ism3-runs/1"),
    ("runs.csv", lambda text: text.startswith("run,organization_id,")),
])
def test_history_list_takes_o_with_the_format_from_its_extension(store: str, tmp_path: Path,
                                                                 name: str, check: object) -> None:
    target = tmp_path / name
    _run(["history", "list", "--db", store, "-o", str(target)])
    assert check(target.read_text())   # type: ignore[operator]
    out = _run(["history", "list", "--db", store, "-f", "csv", "-o", str(tmp_path / "r.json")],
               code=2)
    assert "--format csv contradicts --output" in out


@pytest.mark.parametrize("command", [["history", "trend", "northwind"], ["history", "portfolio"],
                                     ["diff", "1", "2"]])
def test_every_history_and_diff_command_writes_json_by_extension(store: str, tmp_path: Path,
                                                                 command: list[str]) -> None:
    target = tmp_path / "out.json"
    _run([*command, "--db", store, "-o", str(target)])
    assert json.loads(target.read_text())["schema"].startswith("ism3-")
