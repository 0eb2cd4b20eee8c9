"""`ism3 seal`: document hashes written into bundle.yaml, comments and layout kept."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from ism3rules.errors import EvidenceError
from ism3rules.evidence import load_bundle
from ism3rules.seal import seal

MANIFEST = """\
# Acme's evidence: keep this comment
schema: ism3-evidence/1
organization: {id: acme, name: Acme}   # and this one
evidence:
  - id: DOC-A            # block item
    process: OSP-3
    kind: documentation
    title: "Inventory: how we keep it"
    path: docs/a.md      # the procedure
    date: 2026-01-01

  - {id: DOC-B, process: OSP-4, kind: documentation, path: "docs/b.md"}   # flow item
  - id: DOC-C
    process: OSP-5
    kind: documentation
    path: docs/c.md
    sha256: {c_sha}
  - id: DOC-MISSING
    process: OSP-10
    kind: documentation
    path: docs/none.md
  - id: DOC-OUT
    process: OSP-11
    kind: documentation
    path: ../outside.md
  - id: DOC-EMPTY-SHA
    process: OSP-12
    kind: documentation
    path: docs/e.md
    sha256:
  - id: MET-A
    process: OSP-3
    kind: metric
    metric_type: activity
    observations: [{date: 2026-01-07, value: 3}]
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


A, B, E = sha("# a\n"), sha("# b\n"), sha("# e\n")


def make(tmp_path: Path, newline: str = "\n") -> Path:
    root = tmp_path / "acme"
    (root / "docs").mkdir(parents=True)
    for name in "abce":
        (root / "docs" / f"{name}.md").write_text(f"# {name}\n")
    (tmp_path / "outside.md").write_text("secret\n")
    text = MANIFEST.replace("{c_sha}", sha("# c\n"))
    (root / "bundle.yaml").write_bytes(text.replace("\n", newline).encode())
    return root


def run(args: list[str], code: int) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def test_seal_adds_the_missing_hashes_and_nothing_else(tmp_path: Path) -> None:
    root = make(tmp_path)
    before = (root / "bundle.yaml").read_text()
    out = run(["seal", str(root)], 0)
    after = (root / "bundle.yaml").read_text()
    # exactly three lines changed or added, at the places a person would put them
    expected = before.replace(
        "    path: docs/a.md      # the procedure\n",
        f"    path: docs/a.md      # the procedure\n    sha256: {A}\n").replace(
        'path: "docs/b.md"}', f'path: "docs/b.md", sha256: {B}}}').replace(
        "    sha256:\n", f"    sha256: {E}\n")
    assert after == expected
    # what it did, with the full hash, and what it left alone with the reason
    assert f"sealed DOC-A (docs/a.md): sha256 {A}" in out
    assert f"sealed DOC-B (docs/b.md): sha256 {B}" in out
    assert "not sealed DOC-MISSING: file missing ('docs/none.md')" in out
    assert "not sealed DOC-OUT: path outside the bundle ('..' in '../outside.md')" in out
    assert "3 item(s) sealed, 1 sealed already, 2 cannot be" in out
    items = {i.id: i for i in load_bundle(root).items}
    assert all(items[i].accepted for i in ("DOC-A", "DOC-B", "DOC-C", "DOC-EMPTY-SHA"))
    # and the seal holds: an edited document no longer counts
    (root / "docs" / "a.md").write_text("# a, edited\n")
    assert "hash mismatch" in str({i.id: i for i in load_bundle(root).items}["DOC-A"].reason)


def test_seal_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    root = make(tmp_path)
    run(["seal", str(root)], 0)
    once = (root / "bundle.yaml").read_bytes()
    out = run(["seal", str(root)], 0)
    assert (root / "bundle.yaml").read_bytes() == once
    assert "0 item(s) sealed, 4 sealed already" in out


def test_check_changes_nothing_and_exits_1_when_something_would_change(tmp_path: Path) -> None:
    root = make(tmp_path)
    before = (root / "bundle.yaml").read_bytes()
    out = run(["seal", str(root), "--check"], 1)
    assert "would seal DOC-A" in out and "3 documentation item(s) to seal" in out
    assert (root / "bundle.yaml").read_bytes() == before
    run(["seal", str(root), "--dry-run"], 1)
    run(["seal", str(root)], 0)
    assert "0 documentation item(s) to seal" in run(["seal", str(root), "--check"], 0)


def test_line_endings_mode_and_a_last_line_without_break_are_kept(tmp_path: Path) -> None:
    root = make(tmp_path, newline="\r\n")
    manifest = root / "bundle.yaml"
    manifest.write_bytes(manifest.read_bytes().rstrip(b"\r\n").replace(
        b"observations: [{date: 2026-01-07, value: 3}]", b"observations: []"))
    text = manifest.read_bytes() + b"\r\n  - id: DOC-LAST\r\n    process: OSP-17\r\n" \
        b"    kind: documentation\r\n    path: docs/a.md"
    manifest.write_bytes(text)
    os.chmod(manifest, 0o640)
    run(["seal", str(root)], 0)
    after = manifest.read_bytes()
    assert b"\n" not in after.replace(b"\r\n", b"")          # CRLF throughout
    assert after.endswith(f"    path: docs/a.md\r\n    sha256: {A}\r\n".encode())
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o640
    assert {i.id: i for i in load_bundle(root).items}["DOC-LAST"].accepted


def test_a_symlinked_manifest_stays_a_link(tmp_path: Path) -> None:
    root = make(tmp_path)
    (root / "real.yaml").write_text((root / "bundle.yaml").read_text())
    (root / "bundle.yaml").unlink()
    (root / "bundle.yaml").symlink_to("real.yaml")
    run(["seal", str(root)], 0)
    assert (root / "bundle.yaml").is_symlink()
    assert "sha256: " + A in (root / "real.yaml").read_text()


def test_nothing_to_seal_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "b"
    root.mkdir()
    (root / "bundle.yaml").write_text("schema: ism3-evidence/1\norganization: {id: a, name: A}\n"
                                      "evidence: []\n")
    mtime = (root / "bundle.yaml").stat().st_mtime_ns
    result = seal(root)
    assert (result.sealed, result.written) == ((), False)
    assert (root / "bundle.yaml").stat().st_mtime_ns == mtime


def test_a_bundle_that_cannot_be_read_is_exit_2_and_untouched(tmp_path: Path) -> None:
    root = make(tmp_path)
    manifest = root / "bundle.yaml"
    manifest.write_text(manifest.read_text().replace("OSP-3\n", "OSP-33\n", 1))
    before = manifest.read_bytes()
    assert "unknown process 'OSP-33'" in run(["seal", str(root)], 2)
    assert manifest.read_bytes() == before
    with pytest.raises(EvidenceError):
        seal(root)


def test_the_documented_example_is_what_seal_prints(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    doc = (Path(__file__).parent.parent / "docs" / "bundles.md").read_text()
    start = doc.index("$ ism3 seal acme\n") + len("$ ism3 seal acme\n")
    shown = doc[start:doc.index("```", start)]
    monkeypatch.chdir(tmp_path)
    run(["init", "acme", "-p", "small-business", "--period-start", "2026-01-01",
         "--period-end", "2026-06-30"], 0)
    for name, text in (("osp-3", "hello\n"), ("osp-10", "x\n"), ("osp-17", "y\n")):
        Path(f"acme/docs/{name}-procedure.md").write_text(text)
    assert run(["seal", "acme"], 0) == shown
