"""The job array recipes of docs/batch.md run as shown: the Slurm array script and the
Kubernetes Indexed Job's commands, shard by shard, then their merge, give what one run gives."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT
from test_batch import fleet  # noqa: F401 - the fixture

__all__ = ["fleet"]
DOC = ROOT / "docs" / "batch.md"


def block(marker: str) -> str:
    """The fenced code block that follows `<!-- marker` in docs/batch.md."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {re.escape(marker)}\b.*?-->\n```\w+\n(.*?)```", text, re.S)
    assert match, f"docs/batch.md has no block marked {marker}"
    return match[1]


@pytest.fixture
def ism3_on_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose `ism3` is this checkout's command line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "ism3"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "cli.py"}" "$@"\n')
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def run(command: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def single_run(bundles: Path, out: Path, env: dict[str, str], cwd: Path,
               path: str) -> tuple[str, dict[str, bytes]]:
    """One `ism3 batch` over every bundle; its summary and reports (then cleared away)."""
    reports = out / "reports"
    result = subprocess.run(["ism3", "batch", path, "-j", "1", "-q", "--reports-dir",
                             str(reports), "-f", "json"], env=env, cwd=cwd, capture_output=True,
                            text=True)
    assert result.returncode == 2, result.stderr      # the fleet has one broken bundle
    made = {p.name: p.read_bytes() for p in reports.iterdir()}
    shutil.rmtree(out)
    return result.stdout, made


def test_the_slurm_array_script_and_its_merge(fleet: Path, tmp_path: Path,
                                              ism3_on_path: dict[str, str]) -> None:
    (fleet / "broken").mkdir()
    (fleet / "broken" / "bundle.yaml").write_text("schema: [unclosed\n")
    script = block("slurm-shard-script")
    array = re.search(r"^#SBATCH --array=1-(\d+)$", script, re.M)
    assert array, "the script declares its array"
    count = int(array[1])
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    whole = tmp_path / "whole"
    shutil.copytree(fleet, whole / "bundles")
    expected, reports = single_run(whole / "bundles", out, ism3_on_path, whole, "bundles")

    scratch.mkdir()
    for k in range(1, count + 1):
        env = {**ism3_on_path, "SOURCE": str(fleet), "OUT": str(out), "TMPDIR": str(scratch),
               "SLURM_ARRAY_TASK_ID": str(k), "SLURM_ARRAY_TASK_COUNT": str(count),
               "SLURM_ARRAY_JOB_ID": "4242", "SLURM_CPUS_PER_TASK": "1"}
        run(["bash", "-c", script], env)
        assert list(scratch.iterdir()) == []            # the task cleans its scratch
    assert sorted(p.name for p in (out / "shards").iterdir()) == \
        sorted(f"shard-{k}.json" for k in range(1, count + 1))
    wrap = re.search(r"--wrap \\\n\s*'(.*)'", block("slurm-merge"))
    assert wrap, "the merge job wraps one command"
    run(["bash", "-c", wrap[1]], {**ism3_on_path, "OUT": str(out)})
    assert (out / "summary.json").read_text() == expected
    assert {p.name: p.read_bytes() for p in (out / "reports").iterdir()} == reports


def mounted(script: str, container: dict[str, Any], mounts: dict[str, Path]) -> str:
    """`script` with each volume's mount path replaced by a local folder."""
    for mount in container["volumeMounts"]:
        script = script.replace(mount["mountPath"], str(mounts[mount["name"]]))
    return script


def test_the_kubernetes_indexed_job_and_its_merge(fleet: Path, tmp_path: Path,
                                                  ism3_on_path: dict[str, str]) -> None:
    (fleet / "broken").mkdir()
    (fleet / "broken" / "bundle.yaml").write_text("schema: [unclosed\n")
    job, merge = yaml.safe_load_all(block("k8s-indexed-job"))
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    count = spec["completions"]
    assert spec["parallelism"] == count
    [container] = spec["template"]["spec"]["containers"]
    assert container["command"] == ["/bin/sh", "-c"]
    [script] = container["args"]
    assert f'--shard "$K/{count}"' in script, "N in --shard K/N must equal completions"
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert volumes["bundles"]["persistentVolumeClaim"]["readOnly"] is True
    mounts = {"bundles": fleet, "out": tmp_path / "out"}
    expected, reports = single_run(fleet, mounts["out"], ism3_on_path, tmp_path, str(fleet))

    for index in range(count):
        run(["/bin/sh", "-c", mounted(script, container, mounts)],
            {**ism3_on_path, "JOB_COMPLETION_INDEX": str(index)})
    [merger] = merge["spec"]["template"]["spec"]["containers"]
    run(["/bin/sh", "-c", mounted(merger["args"][0], merger, mounts)], ism3_on_path)
    assert (mounts["out"] / "summary.json").read_text() == expected
    assert {p.name: p.read_bytes() for p in (mounts["out"] / "reports").iterdir()} == reports
