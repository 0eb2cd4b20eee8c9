"""Confined reading of a bundle's files: one folder descriptor, every file opened relative to it.

The bundle folder is opened once. Every file the manifest names is then reached
from that descriptor one path component at a time (`openat` with `O_NOFOLLOW`), so
renaming or replacing the folder, or a folder inside it, while the bundle is read
cannot make anything outside it be read: the descriptors keep pointing at what was
opened. Symlinks inside the bundle are followed by this code, not by the kernel:
each target is resolved from the descriptors already held, and a target that leaves
the bundle (an absolute path elsewhere, or `..` above its root) is refused. A file is
checked for its type before it is opened (a named pipe or a device is never opened)
and again, with its size and identity, on the open descriptor (`fstat`); whatever is
hashed or parsed is the bytes read from that descriptor. A file with more than one
name (a hard link) is refused: its other name may be outside the bundle, and its
content could change from there.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import itertools
import os
import re
import stat
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MANIFEST = "bundle.yaml"
MAX_SYMLINKS = 40          # as Linux: more links on one path is a loop
CHUNK = 1 << 20

_O_PATH = getattr(os, "O_PATH", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# A folder on the way is only looked through (O_PATH where the system has it).
DIR_FLAGS = (_O_PATH or os.O_RDONLY) | _O_DIRECTORY | _O_CLOEXEC
# A file: never a symlink, never block (a FIFO that appeared after the type check
# opens at once and is then refused by fstat), never a controlling terminal.
FILE_FLAGS = os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC | _O_NOCTTY
_DIR_FD = {os.open, os.stat, os.readlink} <= os.supports_dir_fd   # openat and friends


class Refused(Exception):
    """A path that cannot be read as a file of the bundle; the message is the reason.

    `kind` says which: "outside", "missing", "folder", "special" (a pipe, a device,
    a socket), "link" (a hard link), "loop", "changed" or "unusable".
    """

    def __init__(self, reason: str, kind: str = "unusable") -> None:
        super().__init__(reason)
        self.kind = kind


class TooLarge(Exception):
    """A file grew past the number of bytes its reader may take."""


def check_relative(relative: str) -> PurePosixPath:
    """The components of a bundle-relative path, checked as text.

    Raises:
        Refused: absolute, with a drive letter, with `..`, with a NUL, or empty.
    """
    if "\x00" in relative:
        return _refuse(f"path holds a NUL character ('{relative}')", "unusable")
    posix = PurePosixPath(relative.replace("\\", "/"))
    if posix.is_absolute() or (len(relative) > 1 and relative[1] == ":"
                               and relative[0].isalpha()):
        return _refuse(f"path outside the bundle (absolute path '{relative}')", "outside")
    if ".." in posix.parts:
        return _refuse(f"path outside the bundle ('..' in '{relative}')", "outside")
    if not posix.parts:
        return _refuse(f"not a regular file ('{relative}')", "folder")
    return posix


def _refuse(reason: str, kind: str) -> PurePosixPath:
    raise Refused(reason, kind)


@dataclass
class OpenFile:
    """A regular file of the bundle, open for reading; its identity and size from `fstat`."""

    fd: int
    size: int
    identity: tuple[int, int]     # (st_dev, st_ino)

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> OpenFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chunks(self, limit: int) -> Iterator[bytes]:
        """The file's bytes in chunks, from the start; at most `limit` bytes.

        Raises:
            TooLarge: the file holds more than `limit` bytes (it grew after `fstat`).
            OSError: a read failed.
        """
        total = 0
        offset = 0
        while True:
            chunk = os.pread(self.fd, min(CHUNK, limit + 1 - total), offset)
            if not chunk:
                return
            offset += len(chunk)
            total += len(chunk)
            if total > limit:
                raise TooLarge(f"more than {limit} bytes")
            yield chunk

    def read(self, limit: int) -> bytes:
        """The whole file, at most `limit` bytes. Raises TooLarge, OSError."""
        return b"".join(self.chunks(limit))

    def sha256(self, limit: int) -> tuple[str, int]:
        """(sha256, bytes read) of the whole file, at most `limit` bytes, in chunks.

        Raises TooLarge, OSError.
        """
        digest = hashlib.sha256()
        total = 0
        for chunk in self.chunks(limit):
            digest.update(chunk)
            total += len(chunk)
        return digest.hexdigest(), total


class BundleFolder:
    """An evidence bundle's folder, open as a descriptor; every file read below it.

    Use as a context manager, or call `close()`.
    """

    def __init__(self, root: Path) -> None:
        """Open `root` (following a symlink the user named, once).

        Raises:
            OSError: the folder cannot be opened, or the system cannot open files
                relative to a folder (`openat`: POSIX systems can; Windows cannot).
        """
        if not _DIR_FD:
            raise OSError(errno.ENOTSUP, "this system cannot open files relative to a "
                          "folder, which reading a bundle safely needs (use Linux or macOS)")
        self.root = root
        self.fd = os.open(root, DIR_FLAGS)
        try:
            here = os.fstat(self.fd)
            if not stat.S_ISDIR(here.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(root))
            # Absolute symlinks into the bundle's own path are followed (from this
            # descriptor); the path is only compared as text, never opened again.
            real = os.path.realpath(root)
            try:
                same = os.stat(real)
                self.real: str | None = (real if (same.st_dev, same.st_ino)
                                         == (here.st_dev, here.st_ino) else None)
            except OSError:
                self.real = None
        except BaseException:
            os.close(self.fd)
            raise

    def close(self) -> None:
        """Close the folder's descriptor (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> BundleFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self, relative: str) -> OpenFile:
        """Open the regular file at `relative`, without leaving the bundle.

        Raises:
            Refused: with the reason the path does not name a file of the bundle
                (outside, missing, not a regular file, a hard link, a symlink loop,
                a name the file system refuses, ...). Nothing was opened then, except
                folders on the way.
        """
        found = self._resolve(relative, True)
        assert isinstance(found, OpenFile)
        return found

    def size(self, relative: str) -> int:
        """The size of the regular file at `relative`, found as `open` finds it, without
        opening the file itself (for an early answer only: read through `open`).

        Raises:
            Refused: as `open`.
        """
        found = self._resolve(relative, False)
        assert isinstance(found, int)
        return found

    def _resolve(self, relative: str, open_it: bool) -> OpenFile | int:
        posix = check_relative(relative)
        held: list[int] = []          # descriptors of the folders below the root
        try:
            return self._walk(relative, deque(posix.parts), held, open_it)
        finally:
            for fd in held:
                os.close(fd)

    def _walk(self, relative: str, parts: deque[str], held: list[int],
              open_it: bool) -> OpenFile | int:
        links = 0

        def here() -> int:
            return held[-1] if held else self.fd

        while parts:
            part = parts.popleft()
            if part in ("", "."):
                continue
            if part == "..":          # only from a symlink's target
                if not held:
                    raise Refused(f"path outside the bundle ('{relative}' leads through a "
                                  "symlink to outside)", "outside")
                os.close(held.pop())
                continue
            try:
                info = os.stat(part, dir_fd=here(), follow_symlinks=False)
            except (FileNotFoundError, NotADirectoryError):
                raise Refused(f"file missing ('{relative}'{self._near(relative)})",
                              "missing") from None
            except (OSError, ValueError) as exc:
                raise Refused(_unusable(relative, exc)) from None
            if stat.S_ISLNK(info.st_mode):
                links += 1
                if links > MAX_SYMLINKS:
                    raise Refused(f"path cannot be resolved ('{relative}', symlink loop?)",
                                  "loop")
                try:
                    target = os.readlink(part, dir_fd=here())
                except OSError as exc:
                    raise Refused(_unusable(relative, exc)) from None
                if target.startswith("/"):
                    inside = self._inside(target)
                    if inside is None:
                        raise Refused(f"path outside the bundle ('{relative}' leads through "
                                      "a symlink to outside)", "outside")
                    while held:
                        os.close(held.pop())
                    parts.extendleft(reversed(inside))
                else:
                    parts.extendleft(reversed(PurePosixPath(target).parts))
                continue
            if parts:                 # a folder on the way
                if not stat.S_ISDIR(info.st_mode):
                    raise Refused(f"file missing ('{relative}')", "missing")
                try:
                    fd = os.open(part, DIR_FLAGS | _O_NOFOLLOW, dir_fd=here())
                except OSError as exc:
                    raise _changed_or(relative, exc) from None
                held.append(fd)
                if not _same(fd, info):
                    raise Refused(f"'{relative}' changed while the bundle was read", "changed")
                continue
            if not open_it:
                _check_final(relative, info)
                return info.st_size
            return self._open_final(relative, part, here(), info)
        raise Refused(f"not a regular file ('{relative}')", "folder")

    def _near(self, relative: str) -> str:
        """`; did you mean 'x'?` naming the file of the bundle that `relative` nearly names
        (a name in another case at any level, or a close name at the last), or ''.

        Found by listing folders from the bundle's descriptor (at most MAX_LISTED names
        each), never by opening a path by name; a symlink on the way ends the search.
        """
        try:
            parts = list(check_relative(relative).parts)
        except Refused:
            return ""
        found: list[str] = []
        fd = os.open(".", os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC, dir_fd=self.fd)
        try:
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                names = _listed(fd)
                if part in names:
                    name = part
                else:
                    folded = [n for n in names if n.casefold() == part.casefold()]
                    close = (difflib.get_close_matches(part, sorted(_same_numbers(part, names)),
                                                       1, 0.85)
                             if last else [])
                    if len(folded) == 1:
                        name = folded[0]
                    elif close:
                        name = close[0]
                    else:
                        return ""
                found.append(name)
                if last:
                    break
                try:
                    sub = os.open(name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC,
                                  dir_fd=fd)
                except OSError:
                    return ""
                os.close(fd)
                fd = sub
            info = os.stat(found[-1], dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or found == parts:
                return ""
        except OSError:
            return ""
        finally:
            os.close(fd)
        return f"; did you mean '{'/'.join(found)}'?"

    def _inside(self, target: str) -> list[str] | None:
        """The components of an absolute symlink target below the bundle root, or None."""
        if self.real is None:
            return None
        if target.rstrip("/") == self.real:
            return []
        prefix = self.real.rstrip("/") + "/"
        if not target.startswith(prefix):
            return None
        return list(PurePosixPath(target[len(prefix):]).parts)

    def _open_final(self, relative: str, name: str, folder: int,
                    info: os.stat_result) -> OpenFile:
        _check_final(relative, info)
        try:
            fd = os.open(name, FILE_FLAGS, dir_fd=folder)
        except OSError as exc:
            raise _changed_or(relative, exc) from None
        try:
            now = os.fstat(fd)
            if not stat.S_ISREG(now.st_mode) or not _same(fd, info, now):
                raise Refused(f"'{relative}' changed while the bundle was read", "changed")
            if now.st_nlink > 1:
                raise Refused(_hard_link(relative, now.st_nlink), "link")
        except BaseException:
            os.close(fd)
            raise
        return OpenFile(fd, now.st_size, (now.st_dev, now.st_ino))


MAX_LISTED = 2000   # names of one folder looked at for a suggestion (a huge folder: no more)


def _listed(fd: int) -> set[str]:
    """The names in the folder open as `fd` (at most MAX_LISTED; the descriptor is kept)."""
    with os.scandir(fd) as entries:   # scandir reads a duplicate of fd
        return {entry.name for entry in itertools.islice(entries, MAX_LISTED)}


def _check_final(relative: str, info: os.stat_result) -> None:
    """Refuse what is not a regular file of its own, before it is opened."""
    if not stat.S_ISREG(info.st_mode):   # a pipe or a device is never opened
        raise Refused(f"not a regular file ('{relative}')",
                      "folder" if stat.S_ISDIR(info.st_mode) else "special")
    if info.st_nlink > 1:
        raise Refused(_hard_link(relative, info.st_nlink), "link")


def _same(fd: int, before: os.stat_result, now: os.stat_result | None = None) -> bool:
    now = now or os.fstat(fd)
    return (now.st_dev, now.st_ino) == (before.st_dev, before.st_ino)


def _hard_link(relative: str, links: int) -> str:
    return (f"hard link ('{relative}' has {links} names; a bundle file must have only its "
            "own: copy the file instead of linking it)")


def _unusable(relative: str, exc: BaseException) -> str:
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"path cannot be used ('{relative}': {why})"


def _changed_or(relative: str, exc: OSError) -> Refused:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
        return Refused(f"'{relative}' changed while the bundle was read", "changed")
    return Refused(_unusable(relative, exc))


def manifest_problem(shown: str, refused: Refused) -> str:
    """The message for a manifest that cannot be opened as one (`shown`: its name)."""
    if refused.kind == "folder":
        return f"{shown}: expected a YAML file, found a folder"
    if refused.kind == "special":
        return (f"{shown}: expected a YAML file, found not a regular file (a named pipe or a "
                "device is never opened)")
    if refused.kind == "outside":
        return (f"{shown}: leads outside the bundle folder (a symlink); a bundle is read only "
                "inside its own folder")
    return f"{shown}: cannot be read: {refused}"


def read_regular(path: Path, limit: int) -> bytes:
    """All bytes of the regular file at `path` (a file the user named), at most `limit`.

    Opened without blocking and checked on the descriptor, so a named pipe or a
    device is refused at once, whatever it claims.

    Raises:
        Refused: not a regular file (a folder, a pipe, a device).
        TooLarge: larger than `limit` bytes (the message gives its size).
        OSError: it cannot be opened or read.
    """
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        if stat.S_ISDIR(info.st_mode):
            raise Refused("a folder", "folder")
        raise Refused("not a regular file", "special")
    fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC | _O_NOCTTY)
    with OpenFile(fd, 0, (0, 0)) as handle:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode):
            if stat.S_ISDIR(now.st_mode):
                raise Refused("a folder", "folder")
            raise Refused("not a regular file", "special")
        if now.st_size > limit:
            raise TooLarge(f"{now.st_size} bytes is larger than the limit of {limit} bytes")
        try:
            return handle.read(limit)
        except TooLarge:
            raise TooLarge(f"larger than the limit of {limit} bytes") from None


def _same_numbers(name: str, names: Iterable[str]) -> list[str]:
    """The names holding the same numbers as `name`: a typo is suggested, another file
    (`osp-3-procedure.md` for `osp-5-procedure.md`) never is."""
    numbers = re.findall(r"\d+", name)
    return [n for n in names if re.findall(r"\d+", n) == numbers]
