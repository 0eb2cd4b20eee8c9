"""Layering: the core never imports the CLI edge, never prints, never exits."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

CORE = ROOT / "ism3rules"


def _core_modules() -> list[Path]:
    return [p for p in CORE.rglob("*.py") if "formats" not in p.relative_to(CORE).parts]


def test_core_does_not_import_click_or_tabulate() -> None:
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith("click"), f"{path} imports click"
                if "formats" not in path.parts:
                    assert not name.startswith("tabulate"), f"{path} imports tabulate"


def test_core_never_prints_or_exits() -> None:
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("print", "exit", "quit"), f"{path}: {node.func.id}()"
            if isinstance(node, ast.Attribute) and node.attr == "exit":
                assert not (isinstance(node.value, ast.Name) and node.value.id == "sys"), path


def test_only_the_engine_module_imports_durable() -> None:
    for path in CORE.rglob("*.py"):
        if path.name == "engine.py":
            continue
        assert "durable" not in path.read_text().replace("durable_rules", ""), path


def test_every_format_choice_has_a_renderer() -> None:
    import cli
    from ism3rules.formats import FORMATS

    assert set(cli.FORMAT_CHOICES) == set(FORMATS)


def test_every_module_has_a_docstring() -> None:
    for path in [*CORE.rglob("*.py"), ROOT / "cli.py"]:
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path} has no module docstring"
