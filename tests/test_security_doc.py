"""SECURITY.md links each guarantee to the tests that prove it: those tests must exist."""

from __future__ import annotations

import ast
import re

from conftest import ROOT

NAMED = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def _tests_of(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text())
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_named_in_security_md_exists() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    named = NAMED.findall(text)
    assert len(named) > 40   # the page does name its proofs
    missing = [f"{path}::{name}" for path, name in named
               if not (ROOT / path).is_file() or (name and name not in _tests_of(path))]
    assert missing == []


def test_every_guarantee_names_a_proof() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    guarantees = text.split("## What the tool guarantees")[1].split("\n## ")[0]
    for section in guarantees.split("\n### ")[1:]:
        assert "Proved by" in section, section.splitlines()[0]
