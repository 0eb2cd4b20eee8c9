"""`ism3 seal`: record the sha256 of every documentation file that has none in bundle.yaml.

The hashes come from the loader (`load_bundle` hashes every document it accepts), so
this module never opens a document itself. bundle.yaml is edited as text, at the
positions the YAML parser reports, so comments, order, quoting and layout stay as
the user wrote them: one `sha256: <hash>` line is inserted after the item's `path`
(or `, sha256: <hash>` inside a `{...}` item), or an empty `sha256:` is filled in.
The edited text is parsed again and must hold exactly the old data plus the new
hashes before anything is written, and it is written atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import EvidenceError
from .archive import refuse_archive
from .evidence import Bundle, load_bundle
from .output import write_atomically
from .yamlio import DEFAULT_LIMITS, Limits, load_yaml


@dataclass(frozen=True)
class Sealed:
    """One documentation item given its sha256 (or that would be, with `check`)."""

    id: str
    path: str
    sha256: str
    line: int


@dataclass(frozen=True)
class NotSealed:
    """A documentation item without a sha256 that cannot get one, and why."""

    id: str
    path: str | None
    reason: str
    line: int


@dataclass(frozen=True)
class SealResult:
    """What `seal` changed (or would change) in a bundle's manifest."""

    manifest: Path
    sealed: tuple[Sealed, ...]
    not_sealed: tuple[NotSealed, ...]
    already: int            # documentation items that had a sha256 already
    written: bool           # whether bundle.yaml was rewritten


def seal(path: Path | str, check: bool = False, limits: Limits = DEFAULT_LIMITS) -> SealResult:
    """Write the sha256 of every accepted documentation item lacking one into bundle.yaml.

    Items whose file is missing, unreadable or outside the bundle are reported in
    `not_sealed` and left alone. With `check`, nothing is written. Running it twice
    changes nothing the second time.

    Raises:
        EvidenceError: the bundle cannot be read, is an archive (.zip, .tar.gz: its
            bundle.yaml cannot be edited in place), or the edit could not be made
            safely (nothing is written then).
        OSError: bundle.yaml cannot be written.
    """
    refuse_archive(Path(path), "`ism3 seal` edits bundle.yaml in place")
    bundle = load_bundle(Path(path), limits=limits)
    manifest = bundle.manifest
    raw = manifest.read_bytes()   # the loader has read it already, within the limits
    text = raw.decode("utf-8")
    items = _documentation_nodes(text, manifest)
    sealed: list[Sealed] = []
    not_sealed: list[NotSealed] = []
    already = 0
    edits: list[tuple[int, int, str]] = []   # (start, end, replacement) in `text`
    newline = "\r\n" if "\r\n" in text else "\n"
    for item in _documentation_items(bundle):
        node = items.get(item.id)
        if node is None:   # cannot happen for a loaded bundle; never guess
            raise EvidenceError(f"{manifest}:{item.line}: item {item.id}: not found where "
                                "the parser puts it; nothing sealed")
        declared = _value(node, "sha256")
        if declared is not None and str(declared.value).strip() not in ("", "~", "null"):
            already += 1
            continue
        if item.sha256 is None:
            not_sealed.append(NotSealed(item.id, item.path, item.reason or "no file", item.line))
            continue
        edits.append(_edit(text, node, declared, item.sha256, newline))
        sealed.append(Sealed(item.id, item.path or "", item.sha256, item.line))
    if not edits:
        return SealResult(manifest, (), tuple(not_sealed), already, False)
    new_text = text
    for start, end, replacement in sorted(edits, reverse=True):
        new_text = new_text[:start] + replacement + new_text[end:]
    _check_edit(manifest, text, new_text, {s.id: s.sha256 for s in sealed}, limits)
    if not check:
        target = manifest.resolve()   # a symlinked manifest (inside the bundle) stays a link
        mode = target.stat().st_mode & 0o7777
        write_atomically(target, new_text)
        os.chmod(target, mode)
    return SealResult(manifest, tuple(sealed), tuple(not_sealed), already, not check)


def _documentation_items(bundle: Bundle) -> list[Any]:
    return [i for i in bundle.items if i.kind == "documentation"]


def _documentation_nodes(text: str, manifest: Path) -> dict[str, yaml.MappingNode]:
    """The mapping node of each evidence item, by id (composed only: nothing is built)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:  # the loader read it a moment ago; a file changed under us
        raise EvidenceError(f"{manifest}: changed while it was read; run again") from exc
    evidence = _value(root, "evidence") if isinstance(root, yaml.MappingNode) else None
    out: dict[str, yaml.MappingNode] = {}
    if isinstance(evidence, yaml.SequenceNode):
        for node in evidence.value:
            if isinstance(node, yaml.MappingNode):
                ident = _value(node, "id")
                if isinstance(ident, yaml.ScalarNode):
                    out[str(ident.value).strip()] = node
    return out


def _value(node: Any, key: str) -> Any:
    """The value node of `key` in a mapping node, or None."""
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return value_node
    return None


def _key(node: yaml.MappingNode, key: str) -> yaml.Node:
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node
    raise KeyError(key)


def _edit(text: str, node: yaml.MappingNode, declared: yaml.Node | None, sha: str,
          newline: str) -> tuple[int, int, str]:
    """The one textual change that gives `node` `sha256: <sha>`."""
    if declared is not None:   # `sha256:` with an empty or null value: fill it in
        start, end = declared.start_mark.index, declared.end_mark.index
        lead = " " if start > 0 and text[start - 1] == ":" else ""
        return start, end, f"{lead}{sha}"
    path_value = _value(node, "path")
    if node.flow_style:   # {id: D1, ..., path: d.md}: right after the path's value
        at = path_value.end_mark.index
        return at, at, f", sha256: {sha}"
    column = _key(node, "path").start_mark.column
    at = path_value.end_mark.index
    if path_value.style in ("|", ">"):   # a block scalar ends at the start of the next line
        return at, at, f"{' ' * column}sha256: {sha}{newline}"
    line_end = text.find("\n", at)
    if line_end == -1:   # the last line has no line break
        return len(text), len(text), f"{newline}{' ' * column}sha256: {sha}{newline}"
    return line_end + 1, line_end + 1, f"{' ' * column}sha256: {sha}{newline}"


def _check_edit(manifest: Path, old: str, new: str, hashes: dict[str, str],
                limits: Limits) -> None:
    """The edited manifest must hold the old data plus exactly the new hashes.

    Raises:
        EvidenceError: it does not (nothing is written then).
    """
    before, after = _parse(old, limits), _parse(new, limits)
    for entry in before.get("evidence") or []:
        if isinstance(entry, dict) and str(entry.get("id")) in hashes:
            entry["sha256"] = hashes[str(entry["id"])]
    if _plain(before) != _plain(after):
        raise EvidenceError(f"{manifest}: could not add the hashes without changing anything "
                            "else (an unusual layout?); nothing written: add them by hand "
                            "(`ism3 seal --check` lists them)")


def _parse(text: str, limits: Limits) -> Any:
    """`text` read as the loaders read YAML (yamlio, within `limits`), from a private
    temporary copy. Raises EvidenceError when it cannot be read."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ism3-seal-") as tmp:
        probe = Path(tmp) / "bundle.yaml"
        probe.write_text(text, encoding="utf-8", newline="")
        try:
            return load_yaml(probe, limits)
        except ValueError as exc:
            raise EvidenceError(f"could not add the hashes safely ({exc}); "
                                "nothing written") from exc


def _plain(value: Any) -> Any:
    """Data without line bookkeeping, for comparison."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
