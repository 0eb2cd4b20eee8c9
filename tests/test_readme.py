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


def test_the_readme_first_steps_take_a_new_bundle_to_a_level(tmp_path: Path) -> None:
    """The README's first-steps commands, run as written: after `init`, the user puts a
    document in each file named and replaces the TODO titles, as the skeleton says."""
    import shutil
    import subprocess
    import sys

    import yaml

    text = README.read_text(encoding="utf-8")
    block = text[text.index("## Your own bundle, first steps"):]
    block = block[block.index("```sh\n") + 6:]
    commands = [line for line in block[:block.index("```")].splitlines() if line.strip()]
    assert [c.split()[1] for c in commands] == ["init", "validate", "seal", "gap", "evaluate",
                                                "explain"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("COLUMNS", None)
    assert shutil.which("ism3", path=env["PATH"])
    outputs = []
    for command in commands:
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stdout}"
        assert "Traceback" not in done.stdout
        outputs.append(done.stdout)
        if command.split()[1] == "init":
            manifest = tmp_path / "acme" / "bundle.yaml"
            for item in yaml.safe_load(manifest.read_text())["evidence"]:
                (tmp_path / "acme" / item["path"]).write_text(f"# {item['id']}\nOur procedure.\n")
            manifest.write_text(manifest.read_text().replace('title: "TODO: ', 'title: "'))
    validate, seal, gap, evaluate, explain = outputs[1:]
    assert "4 evidence items: 4 accepted, 0 rejected" in validate
    assert "4 item(s) sealed" in seal
    assert re.search(r"small-business\s+derived\s+1 / 3", evaluate)
    assert "Capability: initial" in explain
