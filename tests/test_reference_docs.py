"""The reference pages stay whole: design.md's module table names every module, and
contract.md's additions are one table in release order."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "ism3rules"
RELEASES = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


def _section(page: Path, heading: str) -> str:
    text = page.read_text(encoding="utf-8")
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end >= 0 else len(text)]


def _module_table() -> str:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    start = text.index("| module | job |")
    return text[start:text.index("\n\n", start)]


def test_the_design_module_table_names_every_module_and_subpackage() -> None:
    table = _module_table()
    named = set(re.findall(r"`(?:ism3rules/)?([\w/.]+)`", table))
    modules = {p.name for p in PACKAGE.glob("*.py")}
    packages = {f"{p.parent.name}/" for p in PACKAGE.glob("*/__init__.py")}
    missing = sorted((modules | packages) - named)
    assert not missing, f"docs/design.md's module table does not name {missing}"
    stale = sorted(n for n in named if n.endswith(".py") and "/" not in n
                   and n != "cli.py" and n not in modules)
    assert not stale, f"docs/design.md names modules that do not exist: {stale}"


def _release_key(release: str) -> tuple[int, ...]:
    if release == "next":
        return (10 ** 6,)
    found = RELEASES.match(release)
    assert found, f"release {release!r} is neither a version nor 'next'"
    return tuple(int(part or 0) for part in found.groups())


def test_the_contract_additions_are_one_table_in_release_order() -> None:
    section = _section(ROOT / "docs" / "contract.md", "## Additions")
    headers = [line for line in section.splitlines()
               if line.startswith("|") and re.match(r"\|\s*(release|format|where)\b", line)]
    assert headers == ["| release | issue | where | additions |"], headers
    rows = [line for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| release ")]
    assert len(rows) >= 30
    keys = []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert len(cells) == 4 and all(cells[i] for i in (0, 1, 2, 3)), row
        issue = cells[1]
        assert issue == "-" or issue.isdigit(), row
        keys.append((_release_key(cells[0]), int(issue) if issue.isdigit() else 0))
    assert keys == sorted(keys), "additions are not ordered by release, then issue"


def test_every_limit_flag_in_the_contract_exists() -> None:
    """A flag the contract promises is one the command line has."""
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    cli = (ROOT / "cli.py").read_text(encoding="utf-8")
    flags = set(re.findall(r"`(--max-[a-z-]+)`", contract))
    assert {"--max-archive-bytes", "--max-items"} <= flags
    assert not [f for f in sorted(flags) if f'"{f}"' not in cli]
