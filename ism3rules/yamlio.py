"""Safe YAML reading with line numbers and explicit limits, for untrusted files.

Only plain YAML data is built (no tags that construct objects); every mapping
remembers the line of each key so that errors can say where they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

try:  # the C parser is several times faster; the constructor stays the safe one
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader


@dataclass(frozen=True)
class Limits:
    """Bounds on what one YAML document may cost to read."""

    max_bytes: int = 16 * 1024 * 1024
    max_depth: int = 64
    max_aliases: int = 100


DEFAULT_LIMITS = Limits()


class Node(dict):  # type: ignore[type-arg]
    """A mapping read from YAML that knows its own line and each key's line (1-based)."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """Line of `key`'s value, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


class YamlLimitError(Exception):
    """A document exceeded one of the Limits; the message says which."""


def _make_loader(limits: Limits) -> type:
    class _Loader(_BaseLoader):  # type: ignore[misc]
        _aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self._aliases += 1
                if self._aliases > limits.max_aliases:
                    mark = self.peek_event().start_mark
                    raise YamlLimitError(
                        f"line {mark.line + 1}: more than {limits.max_aliases} YAML aliases"
                    )
            return super().compose_node(parent, index)

        def construct_document(self, node: Any) -> Any:
            _check_depth(node, limits.max_depth)
            return super().construct_document(node)

    def construct_mapping(loader: Any, node: yaml.MappingNode) -> Node:
        loader.flatten_mapping(node)
        result = Node()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError as exc:
                raise yaml.constructor.ConstructorError(
                    None, None, "found an unhashable key", key_node.start_mark
                ) from exc
            if key in result:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            result[key] = loader.construct_object(value_node, deep=True)
            result.key_lines[str(key)] = key_node.start_mark.line + 1
        return result

    def construct_timestamp_as_text(loader: Any, node: yaml.ScalarNode) -> str:
        # Dates stay text: the loaders parse them and can then say where a bad one is.
        return str(loader.construct_scalar(node))

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    _Loader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp_as_text)
    return _Loader


def _check_depth(root: Any, max_depth: int) -> None:
    stack = [(root, 1)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if depth > max_depth:
            raise YamlLimitError(
                f"line {node.start_mark.line + 1}: nesting deeper than {max_depth} levels"
            )
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((v, depth + 1) for v in node.value)


def load_yaml(path: Path, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Read one YAML document from `path` safely.

    Raises:
        ValueError: with a message that starts with the file name and, where the
            parser knows it, the line; for unreadable files, YAML syntax errors,
            non-UTF-8 bytes, object-building tags and exceeded limits.
    """
    try:
        if not path.is_file():
            raise ValueError(f"{path}: not a file")
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise ValueError(
                f"{path}: {size} bytes is larger than the limit of {limits.max_bytes} bytes"
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte {exc.start})") from exc
    try:
        return yaml.load(text, Loader=_make_loader(limits))  # noqa: S506 - safe loader subclass
    except YamlLimitError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        if "could not determine a constructor" in str(exc):
            problem = "YAML tags that build objects are not allowed: " + problem
        raise ValueError(f"{where}: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ValueError(f"{path}: document nested too deeply") from exc
