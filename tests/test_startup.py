"""What a one-shot command loads: only the renderer asked for, nothing of the engine for --help;
and the garbage collector pause of `evaluate` does not leak into a program that embeds it."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from conftest import ROOT
from ism3rules.formats import FORMATS

SAMPLE = ROOT / "evidence" / "northwind"


def modules_after(args: list[str], prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with `prefixes` that `ism3 ARGS` has loaded when it is done."""
    code = ("import sys, cli\n"
            "try:\n"
            f"    cli.main({args!r})\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n"
            f"print(sorted(m for m in sys.modules if m.startswith({prefixes!r})))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1].replace("'", '"'))
    return loaded


def test_evaluate_as_json_imports_no_other_renderer_and_no_tabulate(tmp_path: Path) -> None:
    loaded = modules_after(["evaluate", str(SAMPLE), "-f", "json", "-o",
                            str(tmp_path / "r.json")], ("tabulate", "ism3rules.formats"))
    assert loaded == ["ism3rules.formats", "ism3rules.formats.json_format"]


def test_each_format_loads_on_use(tmp_path: Path) -> None:
    loaded = modules_after(["evaluate", str(SAMPLE), "-f", "table", "-o",
                            str(tmp_path / "r.txt")], ("tabulate", "ism3rules.formats.html"))
    assert loaded == ["tabulate"]
    assert all(callable(FORMATS[name]) for name in FORMATS)


def test_help_loads_neither_the_package_nor_yaml() -> None:
    loaded = modules_after(["--help"], ("ism3rules", "durable", "yaml", "tabulate"))
    assert loaded == []


def test_evaluate_restores_the_garbage_collector() -> None:
    """A program (or a test run) that calls the command in process keeps its collector."""
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            result = CliRunner().invoke(main, ["evaluate", str(SAMPLE), "-f", "json"])
            assert result.exit_code == 0, result.output
            assert gc.isenabled() is enabled
        finally:
            gc.enable()


def test_history_as_json_loads_no_tabulate(tmp_path: Path) -> None:
    db = str(tmp_path / "h.sqlite")
    record = CliRunner().invoke(main, ["evaluate", str(SAMPLE), "-f", "json", "-o",
                                       str(tmp_path / "r.json"), "--record", "--db", db])
    assert record.exit_code == 0, record.output
    trend = modules_after(["history", "trend", "northwind", "--db", db, "-f", "json", "-o",
                           str(tmp_path / "t.json")], ("tabulate",))
    portfolio = modules_after(["history", "portfolio", "--db", db, "-f", "json", "-o",
                               str(tmp_path / "p.json")], ("tabulate",))
    assert trend == portfolio == []
    assert json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))["points"]


def test_evaluate_of_a_folder_loads_no_archive_reader(tmp_path: Path) -> None:
    """zipfile, tarfile and gzip (with tempfile, which writing the report needs anyway) were
    about a tenth of the package's import time; only a bundle given as an archive needs them."""
    loaded = modules_after(["evaluate", str(SAMPLE), "-f", "json", "-o",
                            str(tmp_path / "r.json")], ("zipfile", "tarfile", "gzip"))
    assert loaded == []


def test_a_batch_worker_keeps_the_collector_paused_for_a_bundle_and_restores_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resumed while a bundle's observations are alive, the collector's first pass would walk
    every one of them: a worker evaluates, renders and writes with it paused."""
    from ism3rules import batch
    from ism3rules.api import load_inputs

    seen: list[bool] = []
    real = batch.write_atomically

    def write(path: Path, text: str) -> None:
        seen.append(gc.isenabled())
        real(path, text)

    monkeypatch.setattr(batch, "write_atomically", write)
    inputs = load_inputs()
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            outcome = batch.evaluate_with(str(SAMPLE), str(tmp_path / f"{enabled}.json"),
                                          inputs, None, None)
            assert outcome.ok and gc.isenabled() is enabled
        finally:
            gc.enable()
    assert seen == [False, False]
