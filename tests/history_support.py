"""Helpers of the history and diff tests: real reports of the samples, derived variants."""

from __future__ import annotations

import copy
import functools
import json
from datetime import date
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from cli import main
from conftest import ROOT
from ism3rules.report_check import canonical_json

HARBOR = ROOT / "evidence" / "harbor-clinic"
NORTHWIND = ROOT / "evidence" / "northwind"


@functools.cache
def _evaluated(bundle: str, as_of: str | None, profiles: tuple[str, ...],
               rules_dir: str | None) -> str:
    from ism3rules.api import evaluate_bundle

    document = evaluate_bundle(Path(bundle), profiles, Path(rules_dir) if rules_dir else None,
                               as_of=date.fromisoformat(as_of) if as_of else None)
    return canonical_json(document)


def report(bundle: Path = HARBOR, as_of: str | None = None, profiles: tuple[str, ...] = (),
           rules_dir: Path | None = None) -> dict[str, Any]:
    """A fresh copy of the report `ism3 evaluate BUNDLE -f json` gives (evaluated once)."""
    document: dict[str, Any] = json.loads(
        _evaluated(str(bundle), as_of, profiles, str(rules_dir) if rules_dir else None))
    return document


def derived(document: dict[str, Any], org: str | None = None, as_of: str | None = None,
            name: str | None = None) -> dict[str, Any]:
    """A copy of a real report for another organization or date (neither is under a
    digest, so the copy passes every check a report can make of itself)."""
    out = copy.deepcopy(document)
    if org is not None:
        out["organization"]["id"] = org
        out["organization"]["name"] = name or f"{org} Ltd"
    elif name is not None:
        out["organization"]["name"] = name
    if as_of is not None:
        out["assessment"]["as_of"] = as_of
    return out


def write(path: Path, document: dict[str, Any]) -> Path:
    """Write `document` as `ism3 evaluate -f json` would; return the path."""
    path.write_text(canonical_json(document), encoding="utf-8")
    return path


def run(args: list[str], code: int, env: dict[str, str] | None = None) -> Result:
    """Invoke the CLI and assert its exit code (and that no traceback is shown)."""
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    return result
