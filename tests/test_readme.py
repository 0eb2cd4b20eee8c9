"""The README is a newcomer's page: short, the caveat near the top, links that resolve,
and nothing in the repository pointing to a folder users never get."""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import ROOT

README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")
SKIPPED_DIRS = {".git", ".venv", "venv", "build", "dist", "node_modules", "__pycache__",
                ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"}


def _local_links(page: Path) -> list[str]:
    return [target.split("#")[0] for target in LINK.findall(page.read_text(encoding="utf-8"))
            if not re.match(r"[a-z]+:", target) and not target.startswith("#")]


def test_the_readme_stays_under_15_kb() -> None:
    size = README.stat().st_size
    assert size < 15_000, f"README.md is {size} bytes: move reference material to docs/"


def test_the_derived_profile_caveat_comes_before_set_up() -> None:
    text = README.read_text(encoding="utf-8")
    caveat = text.find("derived, not the standard's own table")
    assert 0 <= caveat < text.find("## Set up")


def test_every_page_the_readme_links_exists_and_every_docs_page_is_linked() -> None:
    links = _local_links(README)
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert not missing, f"README.md links to missing files: {missing}"
    pages = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert pages <= set(links), f"docs pages not in the README: {sorted(pages - set(links))}"


def test_every_local_link_of_the_docs_resolves() -> None:
    missing = [f"{page.name}: {link}" for page in sorted((ROOT / "docs").glob("*.md"))
               for link in _local_links(page) if link and not (page.parent / link).exists()]
    assert not missing, missing


def test_no_file_points_into_the_folder_users_never_get() -> None:
    """The team's specification folder is not in the repository; the public contract is
    docs/contract.md, so no file may point into it."""
    needle = "shared" + "/"
    offenders = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if needle in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"files mentioning {needle!r}: {offenders}"
