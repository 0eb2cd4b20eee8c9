"""Writing results: a failed write is an error exit, special files stay what they are,
replaced files keep their mode, nothing half-written or temporary is left behind.

Full disks are real here: /dev/full as standard output, a file-size limit
(RLIMIT_FSIZE) in a subprocess for `-o`, and a 64 KiB tmpfs when the tests run with
the privilege to mount one (skipped otherwise).
"""

from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from conftest import ROOT
from ism3rules import output
from ism3rules.output import write_atomically

SAMPLE = str(ROOT / "evidence" / "northwind")
SMALL = str(ROOT / "evidence" / "harbor-clinic")
ISM3 = [sys.executable, "-c", "import cli; cli.main()"]


def _ism3(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ISM3, *args], cwd=ROOT, capture_output=kwargs.pop("capture", True),
                          text=True, timeout=120, **kwargs)  # type: ignore[call-overload]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["evaluate", SAMPLE, "-f", "json"], ["validate", SAMPLE],
                                  ["verify", "REPORT", SMALL], ["processes"]])
def test_a_full_standard_output_is_an_error_exit(tmp_path: Path, args: list[str]) -> None:
    """Issue 11: "No space left on device" was printed, yet the exit code was 0."""
    report = tmp_path / "r.json"
    assert _ism3(["evaluate", SMALL, "-f", "json", "-o", str(report)]).returncode == 0
    args = [str(report) if a == "REPORT" else a for a in args]
    with open("/dev/full", "w") as full:
        done = subprocess.run([*ISM3, *args], cwd=ROOT, stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr == "ism3: error: cannot write the output: No space left on device\n"


def test_a_closed_pipe_ends_quietly_with_141(tmp_path: Path) -> None:
    """`ism3 evaluate ... | head`: the reader is gone; no message, 128 + SIGPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([*ISM3, "evaluate", SAMPLE, "-f", "json"], cwd=ROOT, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


def _limit_file_size(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails (EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_report_file_that_cannot_be_written_whole_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    target.write_text("the previous report\n")
    done = subprocess.run([*ISM3, "evaluate", SAMPLE, "-f", "json", "-o", str(target)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: _limit_file_size(4096))
    assert done.returncode == 2, done.stderr
    assert "ism3: error: cannot write the output: File too large" in done.stderr
    assert target.read_text() == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> object:
    mount = tmp_path / "tiny"
    mount.mkdir()
    tried = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                           capture_output=True, text=True)
    if tried.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {tried.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_file_system_is_an_error_for_stdout_and_for_o(tiny_tmpfs: Path) -> None:
    """The issue's own case: a 64 KiB tmpfs and a larger report."""
    target = tiny_tmpfs / "out.json"
    with open(target, "w") as handle:
        done = subprocess.run([*ISM3, "evaluate", SAMPLE, "-f", "json"], cwd=ROOT, stdout=handle,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 2 and "No space left on device" in done.stderr, done.stderr
    target.unlink()
    done = _ism3(["evaluate", SAMPLE, "-f", "json", "-o", str(target)])
    assert done.returncode == 2 and "No space left on device" in done.stderr, done.stderr
    assert list(tiny_tmpfs.iterdir()) == []   # neither a truncated report nor a temporary file


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_o_to_a_named_pipe_writes_into_it(tmp_path: Path) -> None:
    """Issue 11: `-o FIFO` replaced the pipe with a regular file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = CliRunner().invoke(main, ["evaluate", SMALL, "-f", "json", "-o", str(fifo)])
    reader.join(timeout=60)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and received[0].startswith(b'{\n  "schema": "ism3-report/1"')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_o_to_a_character_device_leaves_it_a_device(tmp_path: Path) -> None:
    """Issue 11: `-o /dev/null` as root replaced /dev/null with a regular file. A private
    null device, not the system's: the test must not depend on (or harm) /dev/null."""
    null = tmp_path / "null"
    try:
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("creating a device node needs privileges")
    result = CliRunner().invoke(main, ["evaluate", SMALL, "-f", "json", "-o", str(null)])
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_o_to_a_folder_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["evaluate", SMALL, "-f", "json", "-o", str(tmp_path)])
    assert result.exit_code == 2


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_replacing_a_report_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    """Issue 11: replacing an existing 0600 file made it 0644."""
    target = tmp_path / "r.json"
    target.write_text("old\n")
    target.chmod(mode)
    write_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_a_new_report_gets_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomically(tmp_path / "r.json", "x\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o640


def test_a_symlinked_report_is_replaced_where_it_points(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomically(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


def test_the_file_is_flushed_before_the_rename_and_the_folder_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        events.append(f"fsync {kind}")
        real_fsync(fd)

    def replace(src: str, dst: object) -> None:
        events.append("rename")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomically(tmp_path / "r.json", "x\n")
    assert events == ["fsync file", "rename", "fsync folder"]


GATED_WRITE = """
import os, sys, time
from pathlib import Path
from ism3rules import output
def gate(fd):
    print("writing", flush=True)
    time.sleep(60)
os.fsync = gate
output.write_atomically(Path(sys.argv[1]), "x" * 100000)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_the_temporary_file_is_removed_on_a_signal(tmp_path: Path, signum: int) -> None:
    """A signal while the temporary file exists: it is removed, then the signal is handled
    as before (SIGTERM and SIGHUP end the process by the signal; SIGINT raises
    KeyboardInterrupt, which ends Python by the signal too)."""
    target = tmp_path / "r.json"
    target.write_text("previous\n")
    process = subprocess.Popen([sys.executable, "-c", GATED_WRITE, str(target)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline() == "writing\n"   # the temporary file exists now
    assert len(list(tmp_path.iterdir())) == 2
    process.send_signal(signum)
    process.wait(timeout=60)
    errors = process.stderr.read() if process.stderr else ""
    assert process.returncode == -signum, errors
    assert "_Interrupted" not in errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    assert target.read_text() == "previous\n"


def test_a_signal_ignored_before_stays_ignored(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        seen: list[object] = []
        real = os.fsync
        monkeypatch.setattr(os, "fsync",
                            lambda fd: (seen.append(signal.getsignal(signal.SIGHUP)), real(fd)))
        write_atomically(tmp_path / "r.json", "x\n")
        assert seen[0] is signal.SIG_IGN
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_handlers_are_restored_after_writing(tmp_path: Path) -> None:
    before = {s: signal.getsignal(s) for s in output._SIGNALS}
    write_atomically(tmp_path / "r.json", "x\n")
    assert {s: signal.getsignal(s) for s in output._SIGNALS} == before
