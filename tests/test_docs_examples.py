"""Documentation that is true: every `$ ism3 ...` example of README.md and docs/*.md runs.

The harness finds each fenced block holding a line that starts with `$ ism3` (or `$
python -m ism3rules`), runs every `$ ` line of it for real with bash, in a temporary
copy of the repository's `evidence/`, `profiles/` and `rules/` (the working folder the
docs assume: `ism3 evaluate evidence/northwind`), and compares what the docs show under
the line with what the command printed (standard output and error, as a terminal shows
them, with no COLUMNS: tables are 100 wide, as when piped). A shown output ending with a
line `...` is a prefix of the real one; otherwise they are equal (trailing spaces and
blank lines aside). A `$` line with nothing under it must print nothing.

An HTML comment right above a block says how to run it; directives are separated by `;`
(`setup:` comes last and takes the rest of the comment, `;` included):

    <!-- example: not run (needs a Slurm cluster) -->   never silently skipped: said here
    <!-- example: in evidence -->                       run in that folder of the copy
    <!-- example: setup: ism3 init acme -p small-business -->   shell run first, unshown
    <!-- example: continues -->                         in the folder (and the exports)
                                                         of the page's block before it

Each `$` line runs in a new bash that first replays the block's (and a continued
block's) `export` lines and sets `$?` to the exit code of the line before, so `$ echo
$?` shows what the command above it returned.

`ISM3_REGEN_DOCS=1 python -m pytest tests/test_docs_examples.py` rewrites every shown
output that differs with what the command printed (a `...` prefix keeps its length);
read the diff before committing it, as with the golden files.

Run-specific values are normalised, on both sides, by these rules only:

1. the temporary home folder (`HOME`, which holds the copy and `~/.local/share`) is `~`;
2. a date with a time of day (`2026-12-01 15:28`, `2026-12-01T15:06:06+00:00`) is
   `<time>`: when a run was recorded, when a report was signed;
3. a history chain's head (`head <64 hex>`, which covers recording times) is
   `head <hash>`;
4. a signing key's id (`Ed25519 key <16 hex>...`, a new key per run) is `key <id>`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DIRECTIVE = re.compile(r"^<!--\s*example:\s*(.*?)\s*-->$")
RUNS_ISM3 = re.compile(r"^\$ (?:[A-Z_]+=\S+ )*(?:ism3|python -m ism3rules)\b")
COPIED = ("evidence", "profiles", "rules")
NORMALISE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2})?"),
     "<time>"),
    (re.compile(r"\bhead [0-9a-f]{64}\b"), "head <hash>"),
    (re.compile(r"\bkey [0-9a-f]{16}\.\.\."), "key <id>..."),
]


@dataclass
class Command:
    line: int             # of the `$` line in the page
    text: str             # after `$ `
    shown: list[str]      # the output the page shows under it


@dataclass
class Block:
    page: Path
    line: int             # of the opening fence
    directives: list[str]
    commands: list[Command] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    def directive(self, name: str) -> str | None:
        for item in self.directives:
            if item == name or item.startswith(name + " ") or item.startswith(name + ":"):
                return item[len(name):].lstrip(": ").strip()
        return None


def examples(page: Path) -> list[Block]:
    """The example blocks of a page: fenced blocks with a `$ ism3` line."""
    lines = page.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    number = 0
    while number < len(lines):
        if not lines[number].startswith("```"):
            number += 1
            continue
        start = number
        end = next(n for n in range(start + 1, len(lines)) if lines[n].startswith("```"))
        body = lines[start + 1:end]
        if any(RUNS_ISM3.match(line) for line in body):
            above = next((lines[n] for n in range(start - 1, -1, -1) if lines[n].strip()), "")
            found = DIRECTIVE.match(above.strip())
            raw, _, setup = found.group(1).partition("setup:") if found else ("", "", "")
            directives = [d.strip() for d in raw.split(";") if d.strip()]
            if setup.strip():
                directives.append("setup: " + setup.strip())
            block = Block(page, start + 1, directives)
            for offset, line in enumerate(body):
                if line.startswith("$ "):
                    block.commands.append(Command(start + 2 + offset, line[2:], []))
                elif block.commands:
                    block.commands[-1].shown.append(line)
            blocks.append(block)
        number = end + 1
    return blocks


ALL = [block for page in PAGES for block in examples(page)]


def _normalise(text: str, home: Path) -> list[str]:
    text = text.replace(str(home), "~")
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ISM3_", "COLUMNS", "XDG_", "PYTHON"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               LC_ALL="C.UTF-8", TZ="UTC")
    return env


def _fresh(home: Path) -> Path:
    copy = home / "repo"
    copy.mkdir(parents=True)
    for name in COPIED:
        shutil.copytree(ROOT / name, copy / name)
    return copy


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)


def _mismatch(shown: list[str], actual: list[str]) -> bool:
    shown = list(shown)
    while shown and not shown[-1].strip():
        shown.pop()
    if shown and shown[-1].strip() == "...":
        return actual[:len(shown) - 1] != shown[:-1]
    return actual != shown


def _run_page(page: Path, tmp_path: Path) -> list[str]:
    problems: list[str] = []
    state: dict[str, object] = {}
    replacements: list[tuple[Command, list[str]]] = []
    for index, block in enumerate(b for b in ALL if b.page == page):
        if block.directive("not run") is not None:
            continue
        if block.directive("continues") is not None and state:
            home, copy, exports = state["home"], state["copy"], state["exports"]
        else:
            home = tmp_path / f"home{index}"
            copy = _fresh(home)
            exports = []
        returned = 0
        assert isinstance(home, Path) and isinstance(copy, Path) and isinstance(exports, list)
        env = _environment(home)
        where = copy / (block.directive("in") or ".")
        setup = block.directive("setup")
        if setup:
            done = _bash(setup, where, env)
            if done.returncode != 0:
                problems.append(f"{block.where}: setup failed ({done.returncode}):\n"
                                f"{done.stdout}")
                continue
        for command in block.commands:
            if command.text.startswith("export "):
                exports.append(command.text)
            script = "".join(f"{e}\n" for e in exports) + f"(exit {returned})\n" + command.text
            done = _bash(script, where, env)
            returned = done.returncode
            actual = _normalise(done.stdout, home)
            shown = _normalise("\n".join(command.shown), home)
            if _mismatch(shown, actual):
                replacements.append((command, done.stdout.replace(str(home), "~").split("\n")))
                problems.append(f"{page.relative_to(ROOT)}:{command.line}: `{command.text}` "
                                f"printed (exit {done.returncode}):\n" + "\n".join(actual)
                                + "\n--- the page shows:\n" + "\n".join(shown))
        state = {"home": home, "copy": copy, "exports": exports}
    if replacements and os.environ.get("ISM3_REGEN_DOCS"):
        _rewrite(page, replacements)
    return problems


def _rewrite(page: Path, replacements: list[tuple[Command, list[str]]]) -> None:
    """Put what each command printed under its `$` line in the page (ISM3_REGEN_DOCS=1)."""
    lines = page.read_text(encoding="utf-8").split("\n")
    for command, printed in sorted(replacements, key=lambda r: -r[0].line):
        printed = [line.rstrip() for line in printed]
        while printed and not printed[-1]:
            printed.pop()
        shown = list(command.shown)
        while shown and not shown[-1].strip():
            shown.pop()
        if shown and shown[-1].strip() == "..." and len(printed) >= len(shown):
            printed = printed[:len(shown) - 1] + ["..."]
        lines[command.line:command.line + len(shown)] = printed
    page.write_text("\n".join(lines), encoding="utf-8")


@pytest.mark.parametrize("page", [p for p in PAGES if any(b.page == p for b in ALL)],
                         ids=lambda p: p.name)
def test_every_example_of_the_page_prints_what_it_shows(page: Path, tmp_path: Path) -> None:
    problems = _run_page(page, tmp_path)
    assert not problems, "\n\n".join(problems)


def test_the_harness_finds_the_examples_and_every_skip_says_why() -> None:
    assert len(ALL) >= 15 and sum(len(b.commands) for b in ALL) >= 30
    for block in ALL:
        reason = block.directive("not run")
        if reason is not None:
            assert re.fullmatch(r"\(.+\)", reason), f"{block.where}: say why it is not run"
        known = ("not run", "in", "setup", "continues")
        for item in block.directives:
            assert item.split(":")[0].split(" ")[0] in {k.split()[0] for k in known} \
                or item.startswith("not run"), f"{block.where}: unknown directive {item!r}"
