"""Bundle digests: what a report was computed from, recomputable by anyone.

The bundle digest covers the manifest and every file it references. It is the
sha256 of lines `<sha256>  <path>\\n` (the `sha256sum` format), one per file,
sorted by path, so an auditor can reproduce it with standard tools:

    cd BUNDLE && sha256sum bundle.yaml docs/... metrics/... | sort -k2 | sha256sum

A referenced file that is missing, unreadable or outside the bundle is listed with
`missing` in place of its hash, so its later appearance is a change too.

When a bundle is loaded, the digests come from the loader itself (`Bundle.files`):
each file's digest is of the very bytes that were parsed or judged, read once.
`file_digests` recomputes them for `verify` when the manifest no longer loads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .bundlefs import MANIFEST, BundleFolder, Refused, TooLarge, manifest_problem
from .errors import EvidenceError
from .limits import DEFAULT_LIMITS, FLAGS, Limits

MISSING = "missing"


@dataclass(frozen=True)
class FileDigest:
    """One file of a bundle: its path relative to the bundle and its sha256 (None: absent)."""

    path: str
    sha256: str | None


def normalise(relative: str) -> str:
    """The canonical spelling of a bundle-relative path (`./docs//a.md` -> `docs/a.md`)."""
    return str(PurePosixPath(relative.replace("\\", "/")))


def file_digests(root: Path, manifest: Path, paths: Iterable[str],
                 limits: Limits = DEFAULT_LIMITS) -> tuple[FileDigest, ...]:
    """Digests of the manifest and of every referenced path, sorted by path, deduplicated.

    Every file is read relative to the bundle folder's descriptor, as the loader reads
    it (see `bundlefs`); one that is missing, outside the bundle or not a regular file
    gets None. Each distinct file is read once.

    Raises:
        EvidenceError: the folder or the manifest cannot be read, or a file is larger
            than the limits allow (naming the flag that changes it).
    """
    per_file = max(limits.max_document_bytes, limits.max_csv_bytes)
    budget = limits.max_documents_bytes + limits.max_csv_bytes
    try:
        folder = BundleFolder(root)
    except OSError as exc:
        raise EvidenceError(f"{root}: cannot open the bundle folder ({exc.strerror})") from exc
    with folder:
        try:
            with folder.open(manifest.name) as handle:
                if handle.size > limits.max_bytes:
                    raise TooLarge(f"{handle.size} bytes is larger than the limit of "
                                   f"{limits.max_bytes} bytes")
                manifest_sha, _ = handle.sha256(limits.max_bytes)
        except Refused as exc:
            raise EvidenceError(manifest_problem(str(manifest), exc)) from exc
        except TooLarge as exc:
            raise EvidenceError(f"{manifest}: {exc} ({FLAGS['max_bytes']} changes it)") from exc
        except OSError as exc:
            raise EvidenceError(f"{manifest}: cannot read ({exc.strerror})") from exc
        found: dict[str, str | None] = {manifest.name: manifest_sha}
        seen: dict[tuple[int, int], str] = {}
        used = 0
        for raw in paths:
            path = normalise(raw)
            if path in found:
                continue
            digest: str | None = None
            try:
                with folder.open(raw) as handle:
                    if handle.identity in seen:
                        digest = seen[handle.identity]
                    else:
                        if handle.size > per_file or used + handle.size > budget:
                            raise TooLarge(f"{handle.size} bytes")
                        digest, size = handle.sha256(min(per_file, budget - used))
                        used += size
                        seen[handle.identity] = digest
            except Refused:
                digest = None
            except TooLarge as exc:
                raise EvidenceError(
                    f"{root / path}: {exc}: larger than the limits on bundle files allow "
                    f"({FLAGS['max_document_bytes']}, {FLAGS['max_documents_bytes']} and "
                    f"{FLAGS['max_csv_bytes']} change them)") from exc
            except OSError:
                digest = None
            found[path] = digest
    return tuple(FileDigest(p, found[p]) for p in sorted(found))


def combined_digest(files: Iterable[FileDigest]) -> str:
    """The sha256 over `sha256sum`-style lines of `files`, in path order."""
    lines = "".join(f"{f.sha256 or MISSING}  {f.path}\n"
                    for f in sorted(files, key=lambda f: f.path))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


__all__ = ["MANIFEST", "MISSING", "FileDigest", "combined_digest", "file_digests", "normalise"]
