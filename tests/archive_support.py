"""Hostile archives built byte by byte (zip bombs, overlapping entries, sparse tar members),
for tests/test_archives.py and benchmarks/hostile_inputs.py.

Nothing here inflates what it builds: the bombs are made from a deflate block that
zlib emits identically after every full flush, repeated.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

MIB = 1 << 20
GIB = 1 << 30
BLOCK = MIB   # zeros per repeated deflate block


def _zero_blocks() -> tuple[bytes, bytes]:
    """(one flushed deflate block of BLOCK zeros, the final empty block), raw deflate.

    After Z_FULL_FLUSH the compressor starts afresh, so every further block of zeros
    compresses to the same bytes: a stream of n blocks inflates to n * BLOCK zeros."""
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    first.compress(bytes(BLOCK))
    first.flush(zlib.Z_FULL_FLUSH)
    block = first.compress(bytes(BLOCK)) + first.flush(zlib.Z_FULL_FLUSH)
    again = first.compress(bytes(BLOCK)) + first.flush(zlib.Z_FULL_FLUSH)
    assert block == again
    return block, first.flush()


def deflated_zeros(size: int) -> bytes:
    """A raw deflate stream of `size` zero bytes (`size` a multiple of BLOCK)."""
    assert size % BLOCK == 0
    block, final = _zero_blocks()
    return block * (size // BLOCK) + final


def _local(name: bytes, method: int, crc: int, csize: int, size: int) -> bytes:
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, csize,
                       size, len(name), 0) + name


def _central(name: bytes, method: int, crc: int, csize: int, size: int, offset: int,
             mode: int = 0o100644) -> bytes:
    return struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", (3 << 8) | 20, 20, 0, method, 0,
                       0x21, crc, csize, size, len(name), 0, 0, 0, 0, mode << 16,
                       offset) + name


def _end(count: int, size: int, offset: int) -> bytes:
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, size, offset, 0)


def zip_bomb(path: Path, size: int = 3 * GIB + 512 * MIB) -> Path:
    """A zip holding bundle.yaml and one member of `size` zeros, truly deflated
    (about a thousandfold: a 3.5 GiB member takes 3.5 MB). Its CRC is not computed
    (the archive is refused before anything is inflated)."""
    manifest = b"schema: ism3-evidence/1\norganization: {id: a, name: A}\nevidence: []\n"
    data = deflated_zeros(size)
    out = io.BytesIO()
    central = b""
    for name, method, raw, plain, crc in (
            (b"bundle.yaml", 0, manifest, len(manifest), zlib.crc32(manifest)),
            (b"docs/zeros.md", 8, data, size, 0)):
        offset = out.tell()
        out.write(_local(name, method, crc, len(raw), plain) + raw)
        central += _central(name, method, crc, len(raw), plain, offset)
    start = out.tell()
    out.write(central + _end(2, len(central), start))
    path.write_bytes(out.getvalue())
    return path


def overlapping_zip(path: Path, entries: int = 200, kernel: int = 64 * MIB) -> Path:
    """Many central-directory entries whose data is one and the same deflated block (the
    overlapping-entries zip bomb): `entries` x `kernel` bytes from one kernel."""
    data = deflated_zeros(kernel)
    name0 = b"docs/0.md"
    out = io.BytesIO()
    out.write(_local(name0, 8, 0, len(data), kernel) + data)
    central = b"".join(_central(f"docs/{n}.md".encode() if n else name0, 8, 0, len(data), kernel,
                                0) for n in range(entries))
    start = out.tell()
    out.write(central + _end(entries, len(central), start))
    path.write_bytes(out.getvalue())
    return path


def lying_zip(path: Path, actual: int = 16 * MIB, declared: int = 1000) -> Path:
    """A zip whose member inflates to `actual` bytes but whose headers say `declared`."""
    manifest = b"schema: ism3-evidence/1\norganization: {id: a, name: A}\nevidence: []\n"
    data = deflated_zeros(actual)
    out = io.BytesIO()
    central = b""
    for name, method, raw, plain, crc in (
            (b"bundle.yaml", 0, manifest, len(manifest), zlib.crc32(manifest)),
            (b"docs/zeros.md", 8, data, declared, zlib.crc32(bytes(declared)))):
        offset = out.tell()
        out.write(_local(name, method, crc, len(raw), plain) + raw)
        central += _central(name, method, crc, len(raw), plain, offset)
    start = out.tell()
    out.write(central + _end(2, len(central), start))
    path.write_bytes(out.getvalue())
    return path


def nested_zip(path: Path, width: int = 16) -> Path:
    """A zip of `width` zips each holding a zip bomb (42.zip's shape, one level)."""
    inner = path.with_name("inner.zip")
    zip_bomb(inner, 512 * MIB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("bundle.yaml", "schema: ism3-evidence/1\norganization: {id: a, name: A}"
                                        "\nevidence: []\n")
        for n in range(width):
            archive.write(inner, f"docs/{n}.zip")
    inner.unlink()
    return path


def _octal(value: int, digits: int) -> bytes:
    return f"{value:0{digits - 1}o}".encode() + b"\0"


def _base256(value: int, width: int) -> bytes:
    return bytes([0x80]) + value.to_bytes(width - 1, "big")


def _checksummed(header: bytearray) -> bytes:
    header[148:156] = b" " * 8
    header[148:156] = f"{sum(header):06o}".encode() + b"\0 "
    return bytes(header)


def sparse_tar(path: Path, real: int = 1 << 40) -> Path:
    """A .tar.gz with bundle.yaml and a GNU sparse member of `real` bytes (one TiB by
    default), of which 512 are stored: it would unpack to a file of that size."""
    manifest = b"schema: ism3-evidence/1\norganization: {id: a, name: A}\nevidence: []\n"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        info = tarfile.TarInfo("bundle.yaml")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
    body = buffer.getvalue()
    body = body[: body.rstrip(b"\0").__len__()]
    body += b"\0" * (-len(body) % 512)
    header = bytearray(512)
    header[0:13] = b"docs/huge.md\0"
    header[100:108] = _octal(0o644, 8)
    header[108:116] = _octal(0, 8)
    header[116:124] = _octal(0, 8)
    header[124:136] = _octal(512, 12)                 # bytes stored
    header[136:148] = _octal(0, 12)
    header[156:157] = b"S"                            # GNU sparse
    header[257:265] = b"ustar  \0"
    header[386:398] = _base256(real - 512, 12)        # the one stored piece: at the end
    header[398:410] = _octal(512, 12)
    header[482:483] = b"\0"                           # no extended sparse headers
    header[483:495] = _base256(real, 12)              # the file's real size
    body += _checksummed(header) + b"x" * 512 + b"\0" * 1024
    path.write_bytes(gzip.compress(body))
    return path


def declared_tar(path: Path, size: int = 3 * GIB) -> Path:
    """A .tar.gz whose member's header declares `size` bytes, followed by a truly
    deflated stream of that many zeros (a gzip bomb behind a tar header). The gzip
    trailer's CRC is not computed (the archive is refused from the header)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = squeeze.compress(_tar_header("docs/zero.md", size))
    deflated += squeeze.flush(zlib.Z_FULL_FLUSH)
    block, final = _zero_blocks()
    deflated += block * (size // BLOCK) + final
    path.write_bytes(b"\x1f\x8b\x08\0\0\0\0\0\x02\xff" + deflated
                     + struct.pack("<II", 0, (size + 512) & 0xFFFFFFFF))
    return path


def _tar_header(name: str, size: int, kind: bytes = b"0") -> bytes:
    header = bytearray(512)
    header[0:len(name)] = name.encode()
    header[100:108] = _octal(0o644, 8)
    header[108:116] = _octal(0, 8)
    header[116:124] = _octal(0, 8)
    header[124:136] = _base256(size, 12) if size >= 8 * GIB else _octal(size, 12)
    header[136:148] = _octal(0, 12)
    header[156:157] = kind
    header[257:265] = b"ustar  \0"
    return _checksummed(header)


def many_small_tar(path: Path, members: int = 2000) -> Path:
    """A .tar.gz of many members of zeros each just under a MiB (each below the ratio
    floor; together a thousandfold): refused while inflating, from the stream's ratio.
    Built from flushed deflate blocks: each member's header, then one block of zeros (its
    data and the byte of padding). The gzip trailer's CRC is not computed."""
    manifest = b"schema: ism3-evidence/1\norganization: {id: a, name: A}\nevidence: []\n"
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    pad = bytes(-len(manifest) % 512)
    deflated = squeeze.compress(_tar_header("bundle.yaml", len(manifest)) + manifest + pad)
    deflated += squeeze.flush(zlib.Z_FULL_FLUSH)
    block, final = _zero_blocks()
    for n in range(members):
        deflated += squeeze.compress(_tar_header(f"docs/{n}.md", MIB - 1))
        deflated += squeeze.flush(zlib.Z_FULL_FLUSH) + block
    deflated += squeeze.compress(bytes(1024)) + squeeze.flush()
    path.write_bytes(b"\x1f\x8b\x08\0\0\0\0\0\x02\xff" + deflated + struct.pack("<II", 0, 0))
    return path
