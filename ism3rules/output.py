"""Writing report files: atomically, so an interrupted run never leaves half a report.

A regular file (or a new one) is replaced through a temporary file beside it: written,
flushed to disk (`fsync`), renamed over the target, and the folder flushed too, so
after a crash the target holds either the old or the whole new report. The replaced
file keeps its mode (and, when run as root, its owner). A target that exists and is
not a regular file (a named pipe, `/dev/null`, a terminal or another character
device) is written to directly: it is never replaced by a regular file. The temporary
file is removed when writing fails, and when SIGTERM, SIGINT or SIGHUP arrives while
it exists (the signal is then handled as it would have been).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from .signals import OverSignals, signals_named

_SIGNALS = signals_named("SIGTERM", "SIGINT", "SIGHUP")


class _Interrupted(BaseException):
    """A signal arrived while a temporary file existed (raised by our handler)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def write_atomically(target: Path, text: str) -> None:
    """Write `text` (UTF-8, newlines as given) to `target`.

    A regular file or a new file is replaced atomically (see the module docstring);
    anything else that exists at `target` (a pipe, a device) is written to directly.

    Raises:
        OSError: the folder is missing or not writable, the disk is full, `target` is
            a folder, ...; no partial or temporary file is left.
        InterruptedError: a signal whose handler returned interrupted the writing.
    """
    data = text.encode("utf-8")
    try:
        info: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(target))
    if info is not None and not stat.S_ISREG(info.st_mode):
        _write_directly(target, data)
        return
    final = Path(os.path.realpath(target))     # through a symlink: replace what it names
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    created: list[str] = []
    with _removed_on_signals(created, target):
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        created.append(tmp)
        try:
            try:
                os.fchmod(fd, mode)
                if info is not None and os.geteuid() == 0:
                    with contextlib.suppress(OSError):
                        os.fchown(fd, info.st_uid, info.st_gid)
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    _fsync_folder(final.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _write_directly(target: Path, data: bytes) -> None:
    """Write to an existing non-regular file (a pipe waits for its reader, as a shell's
    `>` does); never create, truncate or replace it."""
    flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(target, flags)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Flush the folder entry of a renamed file to disk (where the system allows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot fsync a folder
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def _removed_on_signals(created: list[str], target: Path) -> Iterator[None]:
    """While the body runs, SIGTERM, SIGINT and SIGHUP first remove the temporary files
    listed in `created`, then are handled as before (default: the process ends by that
    signal; Python's SIGINT handler raises KeyboardInterrupt). A previous handler that
    returns ends the writing with InterruptedError."""
    ours = OverSignals(_SIGNALS)

    def handler(signum: int, frame: FrameType | None) -> None:
        for tmp in created:
            Path(tmp).unlink(missing_ok=True)
        ours.restore()
        signal.raise_signal(signum)   # the previous handler, as if ours had not been there
        raise _Interrupted(signum)    # it returned: the writing stops all the same

    try:
        with ours.installed(handler):
            yield
    except _Interrupted as exc:
        raise InterruptedError(errno.EINTR, f"interrupted by signal {exc.signum}; nothing "
                               "was written", str(target)) from None


def _umask() -> int:
    """The process's umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
