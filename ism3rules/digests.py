"""Bundle digests: what a report was computed from, recomputable by anyone.

The bundle digest covers the manifest and every file it references. It is the
sha256 of lines `<sha256>  <path>\\n` (the `sha256sum` format), one per file,
sorted by path, so an auditor can reproduce it with standard tools:

    cd BUNDLE && sha256sum bundle.yaml docs/... metrics/... | sort -k2 | sha256sum

A referenced file that is missing, unreadable or outside the bundle is listed with
`missing` in place of its hash, so its later appearance is a change too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .evidence import MANIFEST, file_sha256, resolve_inside

MISSING = "missing"


@dataclass(frozen=True)
class FileDigest:
    """One file of a bundle: its path relative to the bundle and its sha256 (None: absent)."""

    path: str
    sha256: str | None


def normalise(relative: str) -> str:
    """The canonical spelling of a bundle-relative path (`./docs//a.md` -> `docs/a.md`)."""
    return str(PurePosixPath(relative.replace("\\", "/")))


def file_digests(root: Path, manifest: Path, paths: Iterable[str]) -> tuple[FileDigest, ...]:
    """Digests of the manifest and of every referenced path, sorted by path, deduplicated.

    Files are opened only when they resolve inside `root`. Raises OSError only when
    the manifest itself cannot be read.
    """
    found: dict[str, str | None] = {MANIFEST: file_sha256(manifest)}
    if manifest.name != MANIFEST:
        found = {manifest.name: found[MANIFEST]}
    for raw in paths:
        path = normalise(raw)
        if path in found:
            continue
        real, _reason = resolve_inside(root, raw)
        digest: str | None = None
        if real is not None:
            try:
                digest = file_sha256(real)
            except OSError:
                digest = None
        found[path] = digest
    return tuple(FileDigest(p, found[p]) for p in sorted(found))


def combined_digest(files: Iterable[FileDigest]) -> str:
    """The sha256 over `sha256sum`-style lines of `files`, in path order."""
    lines = "".join(f"{f.sha256 or MISSING}  {f.path}\n"
                    for f in sorted(files, key=lambda f: f.path))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()
