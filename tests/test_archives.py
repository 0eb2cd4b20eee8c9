"""Bundles given as archives (.zip, .tar.gz, .tgz): the results of the folder they unpack
to, and every hostile archive refused from its headers, before anything is inflated."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import archive_support as hostile
from cli import main
from conftest import ROOT
from ism3rules.archive import unpacked
from ism3rules.errors import EvidenceError
from ism3rules.evidence import load_bundle
from ism3rules.limits import Limits
from ism3rules.safe import json_dumps

SAMPLES = ("northwind", "harbor-clinic")


def _zip(folder: Path, target: Path, top: str | None = None) -> Path:
    """`folder` zipped as `zip -r` does: under `top/` when given, else at the top."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            name = str(path.relative_to(folder))
            archive.write(path, f"{top}/{name}" if top else name)
    return target


def _tgz(folder: Path, target: Path, top: str | None = None) -> Path:
    with tarfile.open(target, "w:gz") as archive:
        archive.add(folder, arcname=top or ".")
    return target


def _archives(tmp_path: Path, sample: str) -> list[Path]:
    folder = ROOT / "evidence" / sample
    return [_zip(folder, tmp_path / f"{sample}.zip", sample),
            _zip(folder, tmp_path / f"{sample}-flat.zip"),
            _tgz(folder, tmp_path / f"{sample}.tar.gz", sample),
            _tgz(folder, tmp_path / f"{sample}-flat.tgz")]


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "400"})   # paths unwrapped
    assert result.exit_code == code, result.output
    return result.output


def _temp_folders() -> set[str]:
    import tempfile

    return {p.name for p in Path(tempfile.gettempdir()).glob("ism3-archive-*")}


# -- the results of the folder ----------------------------------------------------------------
@pytest.mark.parametrize("sample", SAMPLES)
def test_an_archive_gives_the_report_of_its_folder_byte_for_byte(tmp_path: Path,
                                                                  sample: str) -> None:
    """Same verdicts, digests and bundle_sha256: the JSON report of an archive, without the
    one entry saying it was an archive, is the folder's report, byte for byte."""
    folder_report = _run("evaluate", str(ROOT / "evidence" / sample), "-f", "json")
    for archive in _archives(tmp_path, sample):
        report = _run("evaluate", str(archive), "-f", "json")
        document = json.loads(report)
        recorded = document["inputs"].pop("bundle_archive")
        assert recorded["format"] == ("zip" if archive.suffix == ".zip" else "tar.gz")
        assert recorded["sha256"] == _sha256(archive)
        assert json_dumps(document) == folder_report, archive.name
    assert "bundle_archive" not in json.loads(folder_report)["inputs"]


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_command_reading_a_bundle_reads_an_archive(tmp_path: Path) -> None:
    """What validate, gap, compare and explain say of an archive is what they say of its
    folder (paths aside); verify, batch and review init take it too."""
    folder = ROOT / "evidence" / "harbor-clinic"
    archive = _zip(folder, tmp_path / "clinic.zip", "harbor-clinic")
    for command in (["validate", "B"], ["gap", "B", "-p", "small-business"], ["compare", "B"],
                    ["explain", "B", "OSP-10"]):
        on_folder = _run(*[str(folder) if a == "B" else a for a in command])
        on_archive = _run(*[str(archive) if a == "B" else a for a in command])
        shown = str(archive / "harbor-clinic")
        assert on_archive.replace(shown, "B") == on_folder.replace(str(folder), "B"), command
    report = tmp_path / "r.json"
    _run("evaluate", str(archive), "-o", str(report))
    assert "MATCH" in _run("verify", str(report), str(archive))
    assert "clinic.zip" in _run("batch", str(tmp_path), "-q")
    _run("review", "init", str(archive), "-o", str(tmp_path / "review.yaml"))
    assert (tmp_path / "review.yaml").is_file()


def test_validate_names_the_archive_and_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(ROOT / "evidence" / "harbor-clinic", folder)
    manifest = folder / "bundle.yaml"
    manifest.write_text(manifest.read_text().replace("process: OSP-3\n", "process: OSP-99\n", 1))
    archive = _zip(folder, tmp_path / "bad.zip", "bad")
    output = _run("validate", str(archive), code=2)
    assert f"{archive}/bad/bundle.yaml:" in output and "unknown process 'OSP-99'" in output
    assert "ism3-archive-" not in output


def test_verify_checks_the_archive_itself(tmp_path: Path) -> None:
    folder = ROOT / "evidence" / "northwind"
    zipped = _zip(folder, tmp_path / "nw.zip", "northwind")
    tarred = _tgz(folder, tmp_path / "nw.tgz", "northwind")
    report = tmp_path / "r.json"
    _run("evaluate", str(zipped), "-o", str(report))
    assert "MATCH: the report matches" in _run("verify", str(report), str(zipped))
    other = _run("verify", str(report), str(tarred), code=1)      # same files, another archive
    assert "changed   bundle archive" in other and "MISMATCH: 1 input(s)" in other
    unpacked_only = _run("verify", str(report), str(folder), code=1)
    assert "not checked: the bundle archive" in unpacked_only and "NOT VERIFIED" in unpacked_only
    folder_report = tmp_path / "f.json"
    _run("evaluate", str(folder), "-o", str(folder_report))     # a folder's report says nothing
    assert "MATCH" in _run("verify", str(folder_report), str(zipped))   # of archives


def test_sign_and_verify_a_signature_with_an_archive(tmp_path: Path) -> None:
    archive = _zip(ROOT / "evidence" / "northwind", tmp_path / "nw.zip", "northwind")
    report = tmp_path / "r.json"
    _run("evaluate", str(archive), "-o", str(report))
    _run("keygen", str(tmp_path / "k.pem"), str(tmp_path / "k.pub"))
    _run("sign", str(report), "--key", str(tmp_path / "k.pem"), "--bundle", str(archive))
    out = _run("verify", str(report), str(archive), "--signature", f"{report}.dsse.json",
               "--public-key", str(tmp_path / "k.pub"))
    assert "VALID" in out


def test_history_backfill_reads_an_archive(tmp_path: Path) -> None:
    archive = _tgz(ROOT / "evidence" / "harbor-clinic", tmp_path / "c.tgz")
    out = _run("history", "backfill", str(archive), "--every", "quarter", "--db",
               str(tmp_path / "h.sqlite"), "-p", "small-business")
    assert "recorded" in out


def test_seal_refuses_an_archive(tmp_path: Path) -> None:
    archive = _zip(ROOT / "evidence" / "harbor-clinic", tmp_path / "c.zip")
    before = archive.read_bytes()
    output = _run("seal", str(archive), code=2)
    assert "an archive; `ism3 seal` edits bundle.yaml in place" in output
    assert "unpack it" in output and archive.read_bytes() == before


def test_batch_names_each_archive_of_a_folder(tmp_path: Path) -> None:
    many = tmp_path / "many"
    many.mkdir()
    _zip(ROOT / "evidence" / "northwind", many / "nw.zip", "northwind")
    _tgz(ROOT / "evidence" / "northwind", many / "nw2.tar.gz", "northwind")
    _run("batch", str(many), "-q", "--reports-dir", str(tmp_path / "reports"))
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["nw.json", "nw2.json"]


# -- the private folder -------------------------------------------------------------------------
def test_the_private_folder_is_0700_and_removed_afterwards(tmp_path: Path) -> None:
    archive = _zip(ROOT / "evidence" / "harbor-clinic", tmp_path / "c.zip", "c")
    with unpacked(archive) as done:
        assert stat.S_IMODE(done.root.stat().st_mode) == 0o700
        assert stat.S_IMODE((done.folder / "bundle.yaml").stat().st_mode) == 0o600
        assert stat.S_IMODE((done.folder / "docs").stat().st_mode) == 0o700
        root = done.root
    assert not root.exists()


def test_the_private_folder_is_removed_on_errors(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "bundle.yaml").write_text("schema: ism3-evidence/1\nevidence: [\n")
    before = _temp_folders()
    for archive in (_zip(folder, tmp_path / "bad.zip"), hostile.lying_zip(tmp_path / "l.zip")):
        with pytest.raises(EvidenceError):
            load_bundle(archive)
    assert _temp_folders() <= before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_the_private_folder_is_removed_on_a_signal(tmp_path: Path, signum: int) -> None:
    archive = _zip(ROOT / "evidence" / "harbor-clinic", tmp_path / "c.zip")
    code = (f"import os, sys, time\nfrom ism3rules.archive import unpacked\n"
            f"with unpacked({str(archive)!r}) as done:\n"
            f"    print(done.root, flush=True)\n"
            f"    os.kill(os.getpid(), {int(signum)})\n"
            f"    time.sleep(30)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert run.returncode == -signum
    root = Path(run.stdout.strip())
    assert root.name.startswith("ism3-archive-") and not root.exists()


# -- hostile archives ---------------------------------------------------------------------------
def _zip_with(tmp_path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]],
              name: str = "x.zip") -> Path:
    target = tmp_path / name
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bundle.yaml", "schema: ism3-evidence/1\norganization: {id: a, name: A}"
                                        "\nevidence: []\n")
        for info, data in entries:
            archive.writestr(info, data)
    return target


def _symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _fifo_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFIFO | 0o644) << 16
    return info


def _tar_with(tmp_path: Path, members: list[tarfile.TarInfo], name: str = "x.tgz") -> Path:
    target = tmp_path / name
    manifest = b"schema: ism3-evidence/1\norganization: {id: a, name: A}\nevidence: []\n"
    with tarfile.open(target, "w:gz") as archive:
        info = tarfile.TarInfo("bundle.yaml")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
        for member in members:
            archive.addfile(member, io.BytesIO(b"x" * member.size) if member.isreg() else None)
    return target


def _tar_member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0,
                link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.linkname = link
    return info


def _zip_duplicate(tmp_path: Path) -> Path:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # zipfile warns, and writes it
        return _zip_with(tmp_path, [("docs/a.md", b"one"), ("docs/a.md", b"two")])


REFUSED: list[tuple[str, Any, str]] = [
    ("zip absolute path", lambda t: _zip_with(t, [("/etc/evil.md", b"x")]),
     r"entry '/etc/evil.md' has an absolute path"),
    ("zip drive letter", lambda t: _zip_with(t, [("C:\\evil.md", b"x")]),
     r"has an absolute path"),
    ("zip dot-dot", lambda t: _zip_with(t, [("docs/../../evil.md", b"x")]),
     r"leads outside the archive \('\.\.'\)"),
    ("zip backslash dot-dot", lambda t: _zip_with(t, [("docs\\..\\..\\evil.md", b"x")]),
     r"leads outside the archive"),
    ("zip symlink", lambda t: _zip_with(t, [(_symlink_info("docs/a.md"), b"/etc/passwd")]),
     r"entry 'docs/a.md' is a symlink"),
    ("zip fifo", lambda t: _zip_with(t, [(_fifo_info("docs/p"), b"")]),
     r"is a device, a named pipe or a socket"),
    ("zip duplicate names", _zip_duplicate, r"two entries name 'docs/a.md'"),
    ("zip duplicate after normalising", lambda t: _zip_with(t, [("docs/a.md", b"1"),
                                                                ("docs//./a.md", b"2")]),
     r"two entries name 'docs/a.md'"),
    ("zip file and folder of one name", lambda t: _zip_with(t, [("docs", b"1"),
                                                                ("docs/a.md", b"2")]),
     r"'docs' is a file in the archive and also a folder"),
    ("zip long name", lambda t: _zip_with(t, [("d/" * 600 + "a.md", b"x")]),
     r"an entry's name of 1204 characters is longer than 1024 .*--max-archive-path"),
    ("zip encrypted", lambda t: _encrypted(t), r"is encrypted"),
    ("tar symlink", lambda t: _tar_with(t, [_tar_member("docs/a.md", tarfile.SYMTYPE,
                                                        link="/etc/passwd")]),
     r"entry 'docs/a.md' is a symlink"),
    ("tar hard link", lambda t: _tar_with(t, [_tar_member("docs/a.md", tarfile.LNKTYPE,
                                                          link="bundle.yaml")]),
     r"entry 'docs/a.md' is a hard link"),
    ("tar character device", lambda t: _tar_with(t, [_tar_member("docs/tty", tarfile.CHRTYPE)]),
     r"is a device, a named pipe or a socket"),
    ("tar fifo", lambda t: _tar_with(t, [_tar_member("docs/p", tarfile.FIFOTYPE)]),
     r"is a device, a named pipe or a socket"),
    ("tar absolute path", lambda t: _tar_with(t, [_tar_member("/tmp/evil.md", size=1)]),
     r"has an absolute path"),
    ("tar dot-dot", lambda t: _tar_with(t, [_tar_member("../evil.md", size=1)]),
     r"leads outside the archive"),
    ("tar duplicate names", lambda t: _tar_with(t, [_tar_member("docs/a.md", size=1),
                                                    _tar_member("./docs/a.md", size=2)]),
     r"two entries name 'docs/a.md'"),
    ("tar huge sparse member", lambda t: hostile.sparse_tar(t / "s.tar.gz"),
     r"entry 'docs/huge.md' is a sparse file"),
    ("zip bomb", lambda t: hostile.zip_bomb(t / "bomb.zip"),
     r"headers declare more than 2415919104 bytes unpacked .*--max-archive-bytes"),
    ("overlapping entries", lambda t: hostile.overlapping_zip(t / "o.zip"),
     r"entries 'docs/0.md' and 'docs/1.md' overlap .*zip bomb"),
    ("nested zips", lambda t: hostile.nested_zip(t / "n.zip"),
     r"a compression ratio above 100 .*--max-archive-ratio"),
    ("tar member declaring gigabytes", lambda t: hostile.declared_tar(t / "d.tar.gz"),
     r"headers declare more than 2415919104 bytes"),
    ("gzip bomb of small members", lambda t: hostile.many_small_tar(t / "m.tgz"),
     r"compressed bytes inflate to more than .*a compression ratio above 100"),
    ("zip whose headers lie about a size", lambda t: hostile.lying_zip(t / "l.zip"),
     r"inflates to more than the 1000 bytes its headers declare"),
    ("not a zip", lambda t: _write(t / "junk.zip", b"PK\x03\x04 not really"),
     r"not a readable zip archive"),
    ("not a gzip", lambda t: _write(t / "junk.tgz", b"plain text"),
     r"not a readable tar.gz"),
    ("no manifest", lambda t: _zip_only(t, {"docs/a.md": b"x"}),
     r"no bundle.yaml at the top of the archive or in a top folder; is it"),
    ("manifest under another name", lambda t: _zip_only(t, {"acme/bundle.yml": b"x"}),
     r"found 'acme/bundle.yml' \(the manifest's name is exact"),
    ("two bundles", lambda t: _zip_only(t, {"a/bundle.yaml": b"x", "b/bundle.yaml": b"x"}),
     r"several folders hold a bundle.yaml \(a, b\)"),
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip_only(tmp_path: Path, files: dict[str, bytes]) -> Path:
    target = tmp_path / "only.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return target


def _encrypted(tmp_path: Path) -> Path:
    target = _zip_with(tmp_path, [("docs/a.md", b"secret")])
    data = bytearray(target.read_bytes())
    # set the "encrypted" flag bit in every local and central header
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (found := data.find(signature, start)) >= 0:
            data[found + flag_at] |= 1
            start = found + 4
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize(("case", "build", "message"), REFUSED, ids=[c[0] for c in REFUSED])
def test_hostile_archives_are_refused_with_the_reason(tmp_path: Path, case: str, build: Any,
                                                      message: str) -> None:
    archive = build(tmp_path)
    before = _temp_folders()
    with pytest.raises(EvidenceError, match=message) as caught:
        load_bundle(archive)
    assert str(caught.value).startswith(f"{archive}: "), case
    assert _temp_folders() <= before
    result = CliRunner().invoke(main, ["validate", str(archive)])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_bombs_are_refused_before_anything_is_inflated(tmp_path: Path) -> None:
    """From the headers: nothing of the member is written (the private folder holds only
    what came before it), whatever the limits on size, once the ratio says bomb."""
    written: list[int] = []
    import ism3rules.archive as archive_module

    real = archive_module._Folder.file

    def counting(self: Any, path: Any, chunks: Any, budget: Any, size: int) -> None:
        written.append(size)
        real(self, path, chunks, budget, size)

    archive_module._Folder.file = counting   # type: ignore[method-assign]
    try:
        for bomb, limits in ((hostile.zip_bomb(tmp_path / "b.zip"), Limits()),
                             (hostile.zip_bomb(tmp_path / "b2.zip"),
                              Limits(max_archive_bytes=1 << 40)),
                             (hostile.overlapping_zip(tmp_path / "o.zip"),
                              Limits(max_archive_bytes=1 << 40, max_archive_ratio=10 ** 6)),
                             (hostile.declared_tar(tmp_path / "d.tgz"),
                              Limits(max_archive_bytes=1 << 40))):
            written.clear()
            with pytest.raises(EvidenceError):
                load_bundle(bomb, limits=limits)
            assert all(size < 1 << 20 for size in written), bomb.name
    finally:
        archive_module._Folder.file = real   # type: ignore[method-assign]


def test_a_zip_bomb_with_its_limits_raised_is_still_bounded_by_its_ratio(tmp_path: Path) -> None:
    bomb = hostile.zip_bomb(tmp_path / "b.zip")
    with pytest.raises(EvidenceError, match=r"compression ratio above 100 \(a zip bomb\?\)"):
        load_bundle(bomb, limits=Limits(max_archive_bytes=1 << 40))


def test_a_gzip_stream_is_bounded_while_it_is_inflated(tmp_path: Path) -> None:
    """Tar headers come inside the compressed stream: the stream itself is bounded, by the
    ratio of bytes inflated to bytes read, long before the members' total."""
    archive = hostile.many_small_tar(tmp_path / "m.tgz")
    with unpacked_refused(archive, Limits()) as message:
        assert "a compression ratio above 100 (a gzip bomb?)" in message
    limits = Limits(max_archive_ratio=10 ** 6, max_archive_bytes=64 << 20)
    with unpacked_refused(archive, limits) as message:
        assert "more than 67108864 bytes" in message


class unpacked_refused:   # noqa: N801 - used as a context manager, like pytest.raises
    """Expect `unpacked(archive, limits)` to be refused; the message is the target."""

    def __init__(self, archive: Path, limits: Limits) -> None:
        self.archive, self.limits = archive, limits

    def __enter__(self) -> str:
        try:
            with unpacked(self.archive, self.limits):
                pass
        except EvidenceError as exc:
            return str(exc)
        raise AssertionError(f"{self.archive} was not refused")

    def __exit__(self, *exc: object) -> None:
        return None


def test_limits_count_entries_and_bytes(tmp_path: Path) -> None:
    archive = _zip_with(tmp_path, [(f"docs/{n}.md", b"x" * 1000) for n in range(30)])
    with pytest.raises(EvidenceError, match=r"31 entries, more than 20 .*--max-archive-entries"):
        load_bundle(archive, limits=Limits(max_archive_entries=20))
    with pytest.raises(EvidenceError, match=r"declare more than 10000 bytes .*--max-archive-bytes"):
        load_bundle(archive, limits=Limits(max_archive_bytes=10000))
    with pytest.raises(EvidenceError, match=r"the archive file is \d+ bytes, .*--max-archive-bytes"):
        load_bundle(archive, limits=Limits(max_archive_bytes=1000))
    assert load_bundle(archive).archive is not None


def test_a_nested_archive_is_a_file_never_opened(tmp_path: Path) -> None:
    inner = _zip(ROOT / "evidence" / "harbor-clinic", tmp_path / "inner.zip")
    folder = tmp_path / "outer"
    folder.mkdir()
    (folder / "docs").mkdir()
    shutil.copy(inner, folder / "docs" / "inner.zip")
    (folder / "bundle.yaml").write_text(
        "schema: ism3-evidence/1\norganization: {id: a, name: A}\nevidence:\n"
        "  - {id: D1, process: OSP-3, kind: documentation, path: docs/inner.zip}\n")
    loaded = load_bundle(_zip(folder, tmp_path / "outer.zip"))
    assert loaded.items[0].accepted and loaded.items[0].sha256 == _sha256(inner)


def test_a_pipe_named_like_an_archive_is_never_opened(tmp_path: Path) -> None:
    pipe = tmp_path / "p.zip"     # opened to be read, it would block for ever
    os.mkfifo(pipe)
    with pytest.raises(EvidenceError, match="not a regular file"):
        load_bundle(pipe)


def test_a_folder_named_like_an_archive_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "looks.zip"
    shutil.copytree(ROOT / "evidence" / "harbor-clinic", folder)
    assert load_bundle(folder).archive is None
