"""Bundle archives (.zip, .tar.gz, .tgz): checked from their headers, unpacked within limits.

An archive is as untrusted as a folder, and it can lie: about the sizes of its
members (a zip bomb declares small ones, or many entries sharing one compressed
block), about what a member is (a symlink, a hard link, a device), about where it
goes (`/etc/...`, `../..`). So an archive is refused *from its headers*, before
anything is inflated, when they declare more than the limits allow (bytes, entries,
compression ratio, path length), overlapping entries, duplicate names, or a member
that is not a regular file or a folder; and the inflating itself is bounded again,
byte by byte, whatever the headers said (never trust a header).

What passes is written into a private temporary folder (mode 0700, files 0600),
created and walked by descriptor, and removed afterwards: when the work is done,
when it fails, and when SIGTERM or SIGHUP arrives (SIGINT unwinds as an exception).
The bundle is then read from that folder by the same confined loader as any folder
(`bundlefs`), so an archive gives exactly the verdicts and digests of the folder it
unpacks to. Nested archives are never opened: a .zip inside a bundle is a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import stat
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, BinaryIO

# gzip, shutil, tarfile, tempfile and zipfile are imported where an archive is read: every
# evaluation imports this module (for `archive_format`), few read an archive, and they
# were about a tenth of the package's import time (15 ms).
if TYPE_CHECKING:
    import tarfile
    import zipfile

from .bundlefs import MANIFEST
from .errors import EvidenceError, Ism3Error
from .limits import DEFAULT_LIMITS, Limits, over
from .safe import terminal
from .signals import OverSignals, signals_named

# Name endings that make a path an archive, longest first; the format each means.
SUFFIXES = ((".tar.gz", "tar.gz"), (".tgz", "tar.gz"), (".zip", "zip"))
CHUNK = 1 << 16
# Below these sizes a ratio is never held against an archive or a member: a small
# file of zeros compresses a thousandfold and harms no one.
RATIO_FLOOR = 1 << 20
# Bytes of tar headers (pax and GNU long-name blocks, padding) read between two
# members: tarfile reads a pax header whole, so its declared size is bounded here.
MAX_TAR_HEADER_BYTES = 1 << 20
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")   # a zip local file header (30 bytes)
_SIGNALS = signals_named("SIGTERM", "SIGHUP")
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_LIVE: set[Path] = set()     # folders unpacked into right now (see remove_unpacked)


def archive_format(path: Path | str) -> str | None:
    """"zip" or "tar.gz" when `path` names an archive by its name (a folder never is)."""
    name = Path(path).name.lower()
    for suffix, kind in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return None if Path(path).is_dir() else kind
    return None


def archive_stem(path: Path | str) -> str:
    """The archive's name without its archive suffix (`acme.tar.gz` -> `acme`)."""
    name = Path(path).name
    for suffix, _ in SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class ArchiveInfo:
    """What the report says about the archive a bundle came in."""

    format: str          # "zip" or "tar.gz"
    sha256: str          # of the archive file's bytes
    size: int            # bytes of the archive file

    def as_dict(self) -> dict[str, Any]:
        """The report's `inputs.bundle_archive` entry."""
        return {"format": self.format, "sha256": self.sha256}


@dataclass
class Unpacked:
    """An archive unpacked into a private folder, for as long as its context lasts.

    `folder` is the bundle's folder (the one holding bundle.yaml: the top of the
    archive, or its single top folder); `shown` is how messages name it (the
    archive's path, then the top folder's name when there is one).
    """

    archive: Path
    root: Path
    folder: Path
    shown: Path
    info: ArchiveInfo
    entries: int = 0
    unpacked_bytes: int = 0

    def as_shown(self, message: str) -> str:
        """`message` with the private folder's path replaced by the archive's."""
        return message.replace(str(self.folder), str(self.shown)).replace(
            str(self.root), str(self.archive))


class _Refusal(Exception):
    """The archive is refused; the message says why (without the archive's name)."""


@dataclass
class _Budget:
    """What unpacking one archive may still write, counted as it is written."""

    limits: Limits
    archive_size: int
    declared: int = 0
    written: int = 0
    entries: int = 0
    names: dict[str, str] = field(default_factory=dict)   # normalised -> as written

    def entry(self, written_name: str, directory: bool) -> PurePosixPath | None:
        """Check one entry's name (None: the archive's own top, nothing to make)."""
        self.entries += 1
        if self.entries > self.limits.max_archive_entries:
            raise _Refusal(over("max_archive_entries", self.limits,
                                f"more than {self.limits.max_archive_entries} entries"))
        path = _member_path(written_name, self.limits)
        if path is None:
            return None
        key = str(path)
        if key in self.names:
            raise _Refusal(f"two entries name '{key}' ('{self.names[key]}' and "
                           f"'{written_name}'); an archive must name each file once")
        self.names[key] = written_name
        return path

    def declare(self, name: str, size: int, compressed: int | None) -> None:
        """Check a member's declared size, before anything of it is inflated."""
        limits = self.limits
        if size < 0 or (compressed is not None and compressed < 0):
            raise _Refusal(f"'{name}': a negative size in its header")
        self.declared += size
        if self.declared > limits.max_archive_bytes:
            raise _Refusal(over("max_archive_bytes", limits,
                                f"its headers declare more than {limits.max_archive_bytes} "
                                f"bytes unpacked (at '{name}', {size} bytes)"))
        ratio = limits.max_archive_ratio
        if compressed is not None and size > RATIO_FLOOR and size > ratio * max(compressed, 1):
            raise _Refusal(over("max_archive_ratio", limits,
                                f"'{name}' declares {size} bytes from {compressed} compressed: "
                                f"a compression ratio above {ratio} (a zip bomb?)"))
        if self.declared > RATIO_FLOOR and self.declared > ratio * max(self.archive_size, 1):
            raise _Refusal(over("max_archive_ratio", limits,
                                f"its headers declare {self.declared} bytes unpacked from an "
                                f"archive of {self.archive_size} bytes: a compression ratio "
                                f"above {ratio} (a zip bomb?)"))

    def wrote(self, count: int) -> None:
        """Count bytes actually written (the headers may have lied)."""
        self.written += count
        if self.written > self.limits.max_archive_bytes:
            raise _Refusal(over("max_archive_bytes", self.limits,
                                f"it unpacks to more than {self.limits.max_archive_bytes} bytes"))


def _member_path(written: str, limits: Limits) -> PurePosixPath | None:
    """The relative path an entry names, checked as text (None: the archive's top)."""
    if len(written) > limits.max_archive_path:
        raise _Refusal(over("max_archive_path", limits,
                            f"an entry's name of {len(written)} characters is longer than "
                            f"{limits.max_archive_path} ('{written[:60]}...')"))
    if "\x00" in written:
        raise _Refusal(f"an entry's name holds a NUL character ('{written}')")
    unified = written.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"
                                   and unified[0].isalpha()):
        raise _Refusal(f"entry '{written}' has an absolute path; an archive's entries must be "
                       "relative")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _Refusal(f"entry '{written}' leads outside the archive ('..')")
    return PurePosixPath(*parts) if parts else None


class _Folder:
    """The private folder an archive is unpacked into, written by descriptor only."""

    def __init__(self, root: Path) -> None:
        self.fd = os.open(root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        self.kinds: dict[str, str] = {}      # made path -> "dir" | "file"

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _parent(self, path: PurePosixPath, held: list[int]) -> int:
        """The descriptor of `path`'s folder, made as needed (descriptors in `held`)."""
        here = self.fd
        for depth in range(1, len(path.parts)):
            sub = PurePosixPath(*path.parts[:depth])
            name = path.parts[depth - 1]
            made = self.kinds.get(str(sub))
            if made == "file":
                raise _Refusal(f"'{sub}' is a file in the archive and also a folder of "
                               f"'{path}'")
            if made is None:
                self._mkdir(name, here, sub)
            here = os.open(name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC,
                           dir_fd=here)
            held.append(here)
        return here

    def _mkdir(self, name: str, parent: int, path: PurePosixPath) -> None:
        try:
            os.mkdir(name, 0o700, dir_fd=parent)
        except FileExistsError:
            raise _Refusal(f"two entries name the same folder on this system ('{path}')") \
                from None
        except OSError as exc:
            raise _Refusal(f"'{path}' cannot be made here ({exc.strerror})") from None
        self.kinds[str(path)] = "dir"

    def directory(self, path: PurePosixPath) -> None:
        """Make the folder `path` (and its parents)."""
        if self.kinds.get(str(path)) == "dir":
            return
        if self.kinds.get(str(path)) == "file":
            raise _Refusal(f"'{path}' is both a file and a folder in the archive")
        held: list[int] = []
        try:
            self._mkdir(path.name, self._parent(path, held), path)
        finally:
            for fd in held:
                os.close(fd)

    def file(self, path: PurePosixPath, chunks: Iterator[bytes], budget: _Budget,
             size: int) -> None:
        """Write the file `path` from `chunks`: exactly `size` bytes, or refused."""
        if str(path) in self.kinds:
            raise _Refusal(f"'{path}' is both a file and a folder in the archive")
        held: list[int] = []
        try:
            parent = self._parent(path, held)
            try:
                fd = os.open(path.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW
                             | _O_CLOEXEC, 0o600, dir_fd=parent)
            except FileExistsError:
                raise _Refusal(f"two entries name the same file on this system ('{path}')") \
                    from None
            except OSError as exc:
                raise _Refusal(f"'{path}' cannot be made here ({exc.strerror})") from None
            self.kinds[str(path)] = "file"
            written = 0
            try:
                for chunk in chunks:
                    written += len(chunk)
                    if written > size:
                        raise _Refusal(f"'{path}' holds more than the {size} bytes its header "
                                       "declares")
                    budget.wrote(len(chunk))
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            if written != size:
                raise _Refusal(f"'{path}' holds {written} bytes, not the {size} its header "
                               "declares (a damaged archive)")
        finally:
            for fd in held:
                os.close(fd)


# -- zip ------------------------------------------------------------------------------------
def _zip_kind(info: zipfile.ZipInfo) -> str:
    """"file", "dir", or what else the entry is (refused). Unix archivers record the
    file's type in the high bits of `external_attr`; some record permissions only."""
    kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    if kind == stat.S_IFLNK:
        return "a symlink"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "a device, a named pipe or a socket"
    if info.filename.endswith("/") or kind == stat.S_IFDIR:
        return "dir"
    return "file"


@dataclass(frozen=True)
class _ZipMember:
    """Where a zip entry's data is, from its local header (checked against the directory)."""

    info: zipfile.ZipInfo
    data: int          # offset of the compressed data
    end: int           # offset just past it


def _zip_members(handle: BinaryIO, infos: list[zipfile.ZipInfo],
                 directory: int) -> list[_ZipMember]:
    """Each entry's data span, from its local header; refused when the local header is not
    where the directory says or names another file, when two entries' data overlap (many
    entries inflating one block: a zip bomb), or when data runs into the directory."""
    members = []
    names = []
    for info in infos:
        handle.seek(info.header_offset)
        raw = handle.read(_LOCAL_HEADER.size)
        if len(raw) != _LOCAL_HEADER.size or raw[:4] != b"PK\x03\x04":
            raise _Refusal(f"entry '{info.filename}': no local header where the directory "
                           "says (a damaged archive)")
        fields = _LOCAL_HEADER.unpack(raw)
        names.append(handle.read(fields[9]))
        data = info.header_offset + _LOCAL_HEADER.size + fields[9] + fields[10]
        members.append(_ZipMember(info, data, data + info.compress_size))
    spans = sorted(members, key=lambda m: m.info.header_offset)
    for one, other in zip(spans, spans[1:], strict=False):
        if other.info.header_offset < one.end:
            raise _Refusal(f"entries '{one.info.filename}' and '{other.info.filename}' overlap "
                           "(one compressed block inflated many times: a zip bomb)")
    if spans and spans[-1].end > directory:
        raise _Refusal(f"entry '{spans[-1].info.filename}' runs into the archive's directory "
                       "(a damaged archive or a zip bomb)")
    for info, name in zip(infos, names, strict=True):
        encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
        if name != info.orig_filename.encode(encoding, "surrogateescape"):
            raise _Refusal(f"entry '{info.filename}' is named '{name.decode(encoding, 'replace')}'"
                           " in its local header (an archive that reads differently in "
                           "different tools)")
    return members


def _unzip(handle: BinaryIO, folder: _Folder, budget: _Budget) -> None:
    import zipfile

    with zipfile.ZipFile(handle) as archive:   # reads the central directory only
        infos = archive.infolist()
        directory = archive.start_dir
    if len(infos) > budget.limits.max_archive_entries:
        raise _Refusal(over("max_archive_entries", budget.limits,
                            f"{len(infos)} entries, more than "
                            f"{budget.limits.max_archive_entries}"))
    members = _zip_members(handle, infos, directory)
    plan = []
    for member in members:   # every header is checked before anything is inflated
        info = member.info
        kind = _zip_kind(info)
        if kind not in ("file", "dir"):
            raise _Refusal(f"entry '{info.filename}' is {kind}; an archive may hold only "
                           "files and folders")
        if info.flag_bits & 0x1:
            raise _Refusal(f"entry '{info.filename}' is encrypted; give an archive "
                           "without a password")
        if kind == "file" and info.compress_type not in (zipfile.ZIP_STORED,
                                                          zipfile.ZIP_DEFLATED):
            raise _Refusal(f"entry '{info.filename}' is compressed with method "
                           f"{info.compress_type}; this tool reads stored and deflated "
                           "entries (what zip tools write by default)")
        path = budget.entry(info.filename, kind == "dir")
        if kind == "file":
            budget.declare(info.filename, info.file_size, info.compress_size)
        plan.append((member, kind, path))
    for member, kind, path in plan:
        if path is None:
            continue
        if kind == "dir":
            folder.directory(path)
            continue
        folder.file(path, _inflate(handle, member), budget, member.info.file_size)


def _inflate(handle: BinaryIO, member: _ZipMember) -> Iterator[bytes]:
    """A zip entry's bytes, inflated from exactly its compressed span and never past its
    declared size; its end, its length and its CRC must be what the headers say."""
    import zipfile

    info = member.info
    deflated = info.compress_type == zipfile.ZIP_DEFLATED
    if not deflated and info.compress_size != info.file_size:
        raise _Refusal(f"entry '{info.filename}' is stored with {info.compress_size} bytes but "
                       f"declares {info.file_size} (a damaged archive)")
    inflater = zlib.decompressobj(-15)
    crc = 0
    produced = 0
    offset = member.data
    while offset < member.end or (deflated and inflater.unconsumed_tail):
        if inflater.unconsumed_tail:
            data = inflater.unconsumed_tail
        else:
            handle.seek(offset)
            data = handle.read(min(CHUNK, member.end - offset))
            if not data:
                raise _Refusal(f"entry '{info.filename}' is cut short (a damaged archive)")
            offset += len(data)
        room = info.file_size - produced + 1    # one byte more shows a lie
        chunk = inflater.decompress(data, min(room, CHUNK)) if deflated else data
        produced += len(chunk)
        if produced > info.file_size:
            raise _Refusal(f"entry '{info.filename}' inflates to more than the {info.file_size} "
                           "bytes its headers declare")
        crc = zlib.crc32(chunk, crc)
        if chunk:
            yield chunk
        if deflated and inflater.eof:
            break
    if deflated and (not inflater.eof or inflater.unused_data or offset != member.end):
        raise _Refusal(f"entry '{info.filename}': its compressed data does not end where its "
                       "headers say (a damaged archive)")
    if produced != info.file_size or crc != info.CRC:
        raise _Refusal(f"entry '{info.filename}' does not hold what its headers declare (size "
                       "or CRC differs: a damaged archive)")


def _chunks(member: IO[bytes], size: int) -> Iterator[bytes]:
    """A member's bytes in chunks, reading at most one byte more than `size`."""
    left = size + 1
    while left > 0:
        chunk = member.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


# -- tar.gz ---------------------------------------------------------------------------------
class _Inflated(io.RawIOBase):
    """The gzip-inflated bytes of an archive, bounded as they are inflated: in total,
    against the compressed bytes consumed (the ratio), and between members (headers)."""

    def __init__(self, raw: BinaryIO, budget: _Budget) -> None:
        import gzip

        super().__init__()
        self.raw = raw
        self.gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self.budget = budget
        self.total = 0
        self.in_headers = 0          # bytes read since the last member's data ended
        self.reading_data = False
        limits = budget.limits
        # tar headers and padding on top of the members' bytes
        self.cap = limits.max_archive_bytes + (limits.max_archive_entries + 2) * 3 * 512

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), CHUNK)
        data = self.gzip.read(want)
        count = len(data)
        buffer[:count] = data
        self.total += count
        limits = self.budget.limits
        if self.total > self.cap:
            raise _Refusal(over("max_archive_bytes", limits, "it inflates to more than "
                                f"{limits.max_archive_bytes} bytes"))
        consumed = max(self.raw.tell(), 1)
        if self.total > RATIO_FLOOR and self.total > limits.max_archive_ratio * consumed:
            raise _Refusal(over("max_archive_ratio", limits,
                                f"{consumed} compressed bytes inflate to more than "
                                f"{self.total}: a compression ratio above "
                                f"{limits.max_archive_ratio} (a gzip bomb?)"))
        if not self.reading_data:
            self.in_headers += count
            if self.in_headers > MAX_TAR_HEADER_BYTES:
                raise _Refusal(f"more than {MAX_TAR_HEADER_BYTES} bytes of tar headers between "
                               "two members (a damaged archive, or a header bomb)")
        return count


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.issparse():
        return "a sparse file (a member with holes, which could unpack to anything)"
    if member.issym():
        return "a symlink"
    if member.islnk():
        return "a hard link"
    if member.isdir():
        return "dir"
    if member.isreg():
        return "file"
    return "a device, a named pipe or a socket"


def _untar(handle: BinaryIO, folder: _Folder, budget: _Budget) -> None:
    import tarfile

    inflated = _Inflated(handle, budget)
    stream = io.BufferedReader(inflated, CHUNK)
    with tarfile.open(fileobj=stream, mode="r|", encoding="utf-8",
                      errors="surrogateescape") as archive:
        while True:
            inflated.reading_data = False
            inflated.in_headers = 0
            member = archive.next()
            if member is None:
                return
            kind = _tar_kind(member)
            if kind not in ("file", "dir"):
                raise _Refusal(f"entry '{member.name}' is {kind}; an archive may hold only "
                               "files and folders")
            path = budget.entry(member.name, kind == "dir")
            if kind == "dir":
                if path is not None:
                    folder.directory(path)
                continue
            budget.declare(member.name, member.size, None)
            if path is None:
                raise _Refusal(f"entry '{member.name}' is a file without a name")
            inflated.reading_data = True
            data = archive.extractfile(member)
            if data is None:   # pragma: no cover - a regular member always has data
                raise _Refusal(f"entry '{member.name}' has no data")
            folder.file(path, _chunks(data, member.size), budget, member.size)


# -- the whole ----------------------------------------------------------------------------
def _sha256(fd: int, size: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(1 << 20, size - offset), offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def _open_archive(path: Path, limits: Limits) -> tuple[int, os.stat_result]:
    """The archive's descriptor and its `fstat`: a regular file within the size limit."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _Refusal("no such archive") from None
    except OSError as exc:
        raise _Refusal(f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise _Refusal("not a regular file (a named pipe or a device is never opened)")
    try:
        fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC)
    except OSError as exc:
        raise _Refusal(f"cannot be read ({exc.strerror})") from None
    now = os.fstat(fd)
    if not stat.S_ISREG(now.st_mode):
        os.close(fd)
        raise _Refusal("not a regular file (a named pipe or a device is never opened)")
    if now.st_size > limits.max_archive_bytes:
        os.close(fd)
        raise _Refusal(over("max_archive_bytes", limits, f"the archive file is {now.st_size} "
                            "bytes, more than an archive may unpack to"))
    return fd, now


def _bundle_folder(root: Path, names: dict[str, str]) -> Path:
    """The folder holding bundle.yaml: the archive's top, or its one top folder doing so."""
    if MANIFEST in names:
        return root
    tops = sorted({PurePosixPath(n).parts[0] for n in names
                   if len(PurePosixPath(n).parts) == 2 and PurePosixPath(n).name == MANIFEST})
    if len(tops) == 1:
        return root / tops[0]
    if tops:
        raise _Refusal(f"several folders hold a {MANIFEST} ({', '.join(tops[:5])}); an archive "
                       "holds one bundle: give one archive per bundle")
    near = sorted(n for n in names if PurePosixPath(n).name.lower() in ("bundle.yaml",
                                                                         "bundle.yml"))
    hint = (f"; found '{near[0]}' (the manifest's name is exact: {MANIFEST}, at the top or in "
            "one top folder)" if near else "; is it an evidence bundle?")
    raise _Refusal(f"no {MANIFEST} at the top of the archive or in a top folder{hint}")


@contextlib.contextmanager
def unpacked(path: Path | str, limits: Limits = DEFAULT_LIMITS) -> Iterator[Unpacked]:
    """Unpack the archive at `path` into a private temporary folder, for the context.

    The folder is removed when the context ends, however it ends, and when SIGTERM or
    SIGHUP arrives while it exists (the signal is then handled as it would have been).

    Raises:
        EvidenceError: the archive is refused (its message starts with the archive's
            name and says why: a limit and its flag, an entry that is not a file or a
            folder, an absolute or `..` path, duplicate or overlapping entries, a
            damaged archive, or no bundle.yaml in it).
    """
    import shutil
    import tempfile

    archive = Path(path)
    kind = archive_format(archive)
    shown = terminal(str(archive))
    if kind is None:
        raise EvidenceError(f"{shown}: not an archive this tool reads (.zip, .tar.gz, .tgz)")
    root = Path(tempfile.mkdtemp(prefix="ism3-archive-"))
    _LIVE.add(root)
    with _removed_on_signals(root):
        try:
            try:
                fd, info = _open_archive(archive, limits)
            except _Refusal as exc:
                raise EvidenceError(f"{shown}: {terminal(str(exc))}") from None
            try:
                result = _unpack(archive, kind, fd, info, root, limits)
            finally:
                os.close(fd)
            try:
                yield result
            except Ism3Error as exc:   # messages name the archive, not the private folder
                raise type(exc)(result.as_shown(str(exc))) from None
        finally:
            shutil.rmtree(root, ignore_errors=True)
            _LIVE.discard(root)


def remove_unpacked() -> None:
    """Remove every folder an archive is unpacked into now (for a signal handler that
    ends the process with `os._exit`, which skips the usual clean-up)."""
    if not _LIVE:
        return
    import shutil   # imported already: `unpacked` put the folders there

    for root in list(_LIVE):
        shutil.rmtree(root, ignore_errors=True)
        _LIVE.discard(root)


def _unpack(archive: Path, kind: str, fd: int, info: os.stat_result, root: Path,
            limits: Limits) -> Unpacked:
    import gzip
    import tarfile
    import zipfile

    shown = terminal(str(archive))
    budget = _Budget(limits, info.st_size)
    folder = _Folder(root)
    try:
        with open(fd, "rb", closefd=False) as handle:   # noqa: SIM115 - the caller owns fd
            try:
                (_unzip if kind == "zip" else _untar)(handle, folder, budget)
            except _Refusal as exc:
                raise EvidenceError(f"{shown}: {terminal(str(exc))}") from None
            except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError,
                    NotImplementedError, RuntimeError, struct.error, LookupError,
                    OverflowError, gzip.BadGzipFile, zlib.error) as exc:
                what = "zip" if kind == "zip" else "tar.gz (gzip-compressed tar)"
                raise EvidenceError(f"{shown}: not a readable {what} archive "
                                    f"({terminal(str(exc)) or type(exc).__name__})") from None
        sha = _sha256(fd, info.st_size)
        after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns) != (info.st_size, info.st_mtime_ns):
            raise EvidenceError(f"{shown}: the archive changed while it was read")
        made = {k: v for k, v in folder.kinds.items() if v == "file"}
        try:
            bundle = _bundle_folder(root, made)
        except _Refusal as exc:
            raise EvidenceError(f"{shown}: {terminal(str(exc))}") from None
    finally:
        folder.close()
    shown_folder = archive if bundle == root else archive / bundle.name
    return Unpacked(archive, root, bundle, shown_folder,
                    ArchiveInfo(kind, sha, info.st_size), budget.entries, budget.written)


@contextlib.contextmanager
def _removed_on_signals(root: Path) -> Iterator[None]:
    """While the body runs, SIGTERM and SIGHUP with their default action first remove
    `root`, then end the process by that signal. A handler the program installed runs as
    before: if it raises, the unwinding removes `root`; if it returns, the work goes on;
    one that ends the process at once (`os._exit`) calls `remove_unpacked()` first.
    SIGINT needs nothing: it raises KeyboardInterrupt, which unwinds through `finally`."""
    import shutil

    ours = OverSignals(_SIGNALS)

    def handler(signum: int, frame: FrameType | None) -> None:
        old = ours.previous.get(signum)
        if callable(old):      # the program's own handler: it raises (we unwind), returns
            old(signum, frame)  # (the work goes on) or exits (it calls remove_unpacked)
            return
        shutil.rmtree(root, ignore_errors=True)
        ours.restore()
        signal.raise_signal(signum)   # the default: end by this signal

    with ours.installed(handler):
        yield


@contextlib.contextmanager
def bundle_folder(path: Path, limits: Limits = DEFAULT_LIMITS) -> Iterator[Path]:
    """The folder to read the bundle at `path` from: `path` itself, or for an archive its
    unpacked folder (for the context; errors then name the archive).

    Raises:
        EvidenceError: as `unpacked`, for an archive.
    """
    if archive_format(path) is None:
        yield path
        return
    with unpacked(path, limits) as done:
        yield done.folder


def refuse_archive(path: Path, what: str) -> None:
    """Raise when `path` is an archive and the command (`what` it does) needs a folder.

    Raises:
        EvidenceError: `path` is an archive.
    """
    if archive_format(path) is not None:
        raise EvidenceError(f"{terminal(str(path))}: an archive; {what}, which an archive "
                            "cannot have: unpack it, run the command on the folder, and pack "
                            "the folder again")


__all__ = ["SUFFIXES", "ArchiveInfo", "Unpacked", "archive_format", "archive_stem",
           "bundle_folder", "refuse_archive", "remove_unpacked", "unpacked"]
