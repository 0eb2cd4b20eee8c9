"""Nothing outside the bundle is read: every file reached from one descriptor of the folder.

The bundle folder is opened once; every file is opened relative to it, one component
at a time, never following a symlink the kernel would resolve; what is hashed or
parsed is the bytes read from that descriptor. These tests swap the folder while a
run reads it, count every open by path, and try each way a path can lead elsewhere.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from conftest import ROOT, doc_item, metric_item, write_bundle
from ism3rules import bundlefs
from ism3rules.catalogue import load_catalogue
from ism3rules.errors import EvidenceError
from ism3rules.evidence import load_bundle

SECRET = "SECRET-LINE-FROM-OUTSIDE"


def sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _reasons(root: Path) -> dict[str, str | None]:
    return {i.id: i.reason for i in load_bundle(root).items}


def _outside(tmp_path: Path) -> Path:
    """A folder beside the bundle with files of the same names and other contents (and
    no bundle.yaml): what a hostile swap would like the tool to read."""
    outside = tmp_path / "outside"
    (outside / "docs").mkdir(parents=True)
    (outside / "docs" / "d.md").write_text(f"{SECRET}\n")
    for n in range(4):
        (outside / f"m{n}.csv").write_text(f"{SECRET},1\n")
    return outside


def _bundle(root: Path, rows: int = 3) -> Path:
    """Four CSV metrics first, then a document: a run reads the CSVs before the document."""
    body = "date,value\n" + "".join(f"2026-01-{1 + n % 28:02d},{n % 97}\n" for n in range(rows))
    items = [dict(metric_item("OSP-3", t, item_id=f"M{n}"), observations={"path": f"m{n}.csv"})
             for n, t in enumerate(("activity", "scope", "load", "quality"))]
    items.append(doc_item("OSP-3", "D1", path="docs/d.md"))
    files = {f"m{n}.csv": body for n in range(4)}
    files["docs/d.md"] = "inside\n"
    return write_bundle(root, items, files=files, period=("2026-01-01", "2026-12-31"))


@pytest.mark.parametrize("swap_after", ["bundle.yaml", "m0.csv", "m3.csv"])
def test_folder_swapped_during_a_run_is_not_followed(tmp_path: Path, swap_after: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`mv tt tt.orig; ln -s /outside tt` while the run reads: the run keeps reading the
    folder it opened, and the report verifies against it, never against the outside."""
    outside = _outside(tmp_path)
    bundle = _bundle(tmp_path / "tt")
    shutil.copy(bundle / "bundle.yaml", outside / "bundle.yaml")   # the same manifest
    moved = tmp_path / "tt.orig"
    inside = {p.relative_to(bundle).as_posix(): sha(p.read_bytes())
              for p in bundle.rglob("*") if p.is_file()}
    real_open = bundlefs.BundleFolder.open
    swapped: list[str] = []

    def open_then_swap(self: bundlefs.BundleFolder, relative: str) -> bundlefs.OpenFile:
        handle = real_open(self, relative)
        if relative == swap_after and not swapped:
            os.rename(bundle, moved)
            os.symlink(outside, bundle)
            swapped.append(relative)
        return handle

    monkeypatch.setattr(bundlefs.BundleFolder, "open", open_then_swap)
    report = tmp_path / "r.json"
    result = CliRunner().invoke(main, ["evaluate", str(bundle), "-f", "json", "-o", str(report)])
    monkeypatch.undo()
    assert swapped == [swap_after]
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output and SECRET not in report.read_text()
    recorded = {f["path"]: f["sha256"] for f in json.loads(report.read_text())["inputs"]
                ["bundle_files"]}
    assert recorded == inside  # every digest is of the bundle's own bytes
    mismatch = CliRunner().invoke(main, ["verify", str(report), str(bundle)])
    assert mismatch.exit_code == 1, mismatch.output
    assert "MISMATCH: 5 input(s)" in mismatch.output and "\nMATCH" not in mismatch.output
    assert CliRunner().invoke(main, ["verify", str(report), str(moved)]).exit_code == 0


def test_folder_swapped_repeatedly_by_another_thread(tmp_path: Path) -> None:
    """A real race: a thread swaps the folder for a symlink to the outside, and back,
    every few milliseconds while `ism3 evaluate` reads large CSVs in another process.
    Whatever the timing, nothing from outside is read: either the run read its own
    folder (every digest is the bundle's), or it found no bundle at the path (exit 2)."""
    outside = _outside(tmp_path)
    bundle = _bundle(tmp_path / "tt", rows=40_000)   # about 0.5 MB per CSV
    moved = tmp_path / "tt.orig"
    inside = {p.relative_to(bundle).as_posix(): sha(p.read_bytes())
              for p in bundle.rglob("*") if p.is_file()}
    stop = threading.Event()
    swaps = [0]

    def swapper() -> None:
        while not stop.is_set():
            os.rename(bundle, moved)
            os.symlink(outside, bundle)
            time.sleep(0.002)
            os.unlink(bundle)
            os.rename(moved, bundle)
            swaps[0] += 1
            time.sleep(0.02)   # mostly in place: most runs open it, then see it swapped

    thread = threading.Thread(target=swapper)
    outcomes = []
    thread.start()
    try:
        for run in range(3):
            report = tmp_path / f"r{run}.json"
            done = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "evaluate",
                                   str(bundle), "-f", "json", "-o", str(report)],
                                  cwd=ROOT, capture_output=True, text=True, timeout=300)
            assert SECRET not in done.stdout + done.stderr
            assert done.returncode in (0, 2), done.stderr
            if done.returncode == 0:
                recorded = {f["path"]: f["sha256"]
                            for f in json.loads(report.read_text())["inputs"]["bundle_files"]}
                assert recorded == inside
            else:
                assert "bundle" in done.stderr and "Traceback" not in done.stderr
            outcomes.append(done.returncode)
    finally:
        stop.set()
        thread.join()
    assert swaps[0] > 10   # the folder really moved under the runs


def test_every_file_is_opened_relative_to_the_bundle_folder(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The only open by path is the bundle folder itself; no file is opened twice."""
    root = _bundle(tmp_path / "b")
    (root / "docs" / "d.md").write_text("text\n")
    catalogue = load_catalogue()
    calls: list[tuple[str, int | None]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        calls.append((str(path), dir_fd))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    def no_open(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"opened by name: {args[0]!r}")

    monkeypatch.setattr(os, "open", spy)
    monkeypatch.setattr(builtins, "open", no_open)
    loaded = load_bundle(root, catalogue)
    monkeypatch.undo()
    assert all(i.accepted for i in loaded.items)
    assert [c for c in calls if c[1] is None] == [(str(root), None)]
    files = [name for name, fd in calls if fd is not None and "." in name]
    assert sorted(files) == sorted(["bundle.yaml", "m0.csv", "m1.csv", "m2.csv", "m3.csv",
                                    "d.md"])


def test_the_manifest_digest_is_of_the_bytes_parsed(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """bundle.yaml rewritten after it was read: the report records what was parsed."""
    root = _bundle(tmp_path / "b")
    manifest = root / "bundle.yaml"
    parsed = manifest.read_bytes()
    real_open = bundlefs.BundleFolder.open

    def open_then_edit(self: bundlefs.BundleFolder, relative: str) -> bundlefs.OpenFile:
        if relative == "docs/d.md":
            manifest.write_text(parsed.decode().replace("acme Ltd", "Other Ltd"))
        return real_open(self, relative)

    monkeypatch.setattr(bundlefs.BundleFolder, "open", open_then_edit)
    report = tmp_path / "r.json"
    assert CliRunner().invoke(main, ["evaluate", str(root), "-f", "json", "-o",
                                     str(report)]).exit_code == 0
    doc = json.loads(report.read_text())
    assert doc["organization"]["name"] == "acme Ltd"
    assert doc["inputs"]["bundle_manifest_sha256"] == sha(parsed)
    assert {f["path"]: f["sha256"] for f in doc["inputs"]["bundle_files"]}["bundle.yaml"] \
        == sha(parsed)


def test_symlinks_inside_the_bundle_are_followed_by_descriptor(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", [
        doc_item("OSP-3", "REL", path="rel.md"), doc_item("OSP-3", "ABS", path="abs.md"),
        doc_item("OSP-3", "CHAIN", path="chain.md"), doc_item("OSP-3", "VIA", path="via/real.md"),
        doc_item("OSP-3", "UP", path="docs/up.md")], files={"docs/real.md": "x\n"})
    os.symlink("docs/real.md", root / "rel.md")
    os.symlink(root.resolve() / "docs" / "real.md", root / "abs.md")
    os.symlink("rel.md", root / "chain.md")
    os.symlink("docs", root / "via")
    os.symlink("../docs/./real.md", root / "docs" / "up.md")
    loaded = load_bundle(root)
    assert [(i.id, i.status) for i in loaded.items] == [
        ("REL", "accepted"), ("ABS", "accepted"), ("CHAIN", "accepted"), ("VIA", "accepted"),
        ("UP", "accepted")]
    assert len({i.sha256 for i in loaded.items}) == 1


@pytest.mark.parametrize("target, reason", [
    ("ABS_OUTSIDE", "leads through a symlink to outside"),
    ("../outside.md", "leads through a symlink to outside"),
    ("docs/../../outside.md", "leads through a symlink to outside"),
    ("SIBLING", "leads through a symlink to outside"),   # /x/b2/... is not inside /x/b
    ("loop.md", "symlink loop"),
    ("nowhere.md", "file missing"),
    ("docs/real.md/x", "file missing"),
])
def test_symlinks_leading_elsewhere_are_refused(tmp_path: Path, target: str, reason: str) -> None:
    (tmp_path / "outside.md").write_text(f"{SECRET}\n")
    sibling = tmp_path / "b2"
    sibling.mkdir()
    (sibling / "s.md").write_text(f"{SECRET}\n")
    root = write_bundle(tmp_path / "b", [doc_item("OSP-3", "D1", path="link.md")],
                        files={"docs/real.md": "x\n"})
    target = {"ABS_OUTSIDE": str(tmp_path / "outside.md"),
              "SIBLING": str(sibling.resolve() / "s.md")}.get(target, target)
    os.symlink(target, root / "link.md")
    os.symlink("loop.md", root / "loop.md")
    item = load_bundle(root).items[0]
    assert item.status == "rejected" and reason in str(item.reason), item.reason
    assert item.sha256 is None  # nothing was hashed


def test_hard_links_are_refused(tmp_path: Path) -> None:
    """A file with another name (inside or outside the bundle) is refused: its content
    is reachable, and changeable, from elsewhere."""
    (tmp_path / "outside.md").write_text(f"{SECRET}\n")
    root = write_bundle(tmp_path / "b", [doc_item("OSP-3", "OUT", path="out.md"),
                                         doc_item("OSP-3", "IN", path="twin.md")],
                        files={"one.md": "x\n"})
    os.link(tmp_path / "outside.md", root / "out.md")
    os.link(root / "one.md", root / "twin.md")
    reasons = _reasons(root)
    assert reasons["OUT"] == ("hard link ('out.md' has 2 names; a bundle file must have only "
                              "its own: copy the file instead of linking it)")
    assert reasons["IN"] is not None and reasons["IN"].startswith("hard link ('twin.md'")
    other = write_bundle(tmp_path / "c", [])
    os.unlink(other / "bundle.yaml")
    os.link(root / "bundle.yaml", other / "bundle.yaml")
    with pytest.raises(EvidenceError, match="bundle.yaml: cannot be read: hard link"):
        load_bundle(other)


@pytest.mark.skipif(not hasattr(os, "mknod"), reason="needs device nodes")
def test_a_device_is_never_opened(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", [doc_item("OSP-3", "D1", path="dev"),
                                         dict(metric_item("OSP-3", "scope", item_id="M1"),
                                              observations={"path": "dev"})])
    try:
        os.mknod(root / "dev", 0o600 | 0o020000, os.makedev(1, 5))   # like /dev/zero
    except PermissionError:
        pytest.skip("creating a device node needs privileges")
    assert _reasons(root) == {"D1": "not a regular file ('dev')",
                              "M1": "observations not a regular file ('dev')"}


def test_a_nul_in_a_path_rejects_the_item(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", [doc_item("OSP-3", "D1", path="docs/a\x00b.md"),
                                         dict(metric_item("OSP-3", "scope", item_id="M1"),
                                              observations={"path": "m\x00.csv"})])
    reasons = _reasons(root)
    assert reasons["D1"] == "path holds a NUL character ('docs/a\x00b.md')"
    assert reasons["M1"] == "observations path holds a NUL character ('m\x00.csv')"
    result = CliRunner().invoke(main, ["validate", str(root)])
    assert result.exit_code == 0 and "\x00" not in result.output and "a\\x00b" in result.output


def test_a_manifest_symlinked_inside_is_read_and_outside_is_refused(tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "b", [])
    shutil.move(root / "bundle.yaml", root / "real.yaml")
    os.symlink("real.yaml", root / "bundle.yaml")
    assert load_bundle(root).items == ()
    os.unlink(root / "bundle.yaml")
    os.symlink("../b/real.yaml", root / "bundle.yaml")   # leaves the folder, even to come back
    with pytest.raises(EvidenceError, match="leads outside the bundle folder"):
        load_bundle(root)
