"""Safe YAML reading with line numbers and explicit limits, for untrusted files.

Only plain YAML data is built: any tag other than the core schema's (`!!python/...`,
custom `!tags`, `!!binary`, ...) is refused before anything is constructed. Size,
nesting, alias count and alias expansion are bounded (see `Limits`), checked while
the document is parsed, so a hostile document is refused early, in bounded time and
memory. Every mapping remembers the line of each key so errors can say where they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from .bundlefs import Refused, TooLarge, read_regular
from .limits import DEFAULT_LIMITS, FLAGS, Limits
from .safe import yaml_string

if yaml.__with_libyaml__:  # libyaml parses several times faster; composing stays in Python
    from yaml._yaml import CParser

    class _Parsing(CParser):
        """Events from libyaml."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)

else:  # pragma: no cover - depends on how PyYAML was built
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parsing(Reader, Scanner, Parser):  # type: ignore[no-redef]
        """Events from PyYAML's pure-Python parser."""

        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)

class _EventsOnly(_Parsing):
    """Parse events only (nothing composed or built): to check that a fix parses."""


__all__ = ["DEFAULT_LIMITS", "Limits", "Node", "YamlLimitError", "load_yaml", "load_yaml_digest",
           "parse_yaml"]

# Tags of plain data (the YAML core schema, plus timestamps, which stay text).
# Anything else could build objects or surprise a reader; it is refused.
_CORE = "tag:yaml.org,2002:"
ALLOWED_TAGS = frozenset({"!", *(_CORE + t for t in (
    "str", "int", "float", "bool", "null", "seq", "map", "timestamp", "merge"))})
# Python refuses to read integers of more digits (sys.get_int_max_str_digits), and
# sexagesimal integers (`1:0:0`) cost quadratic time in their length: refused from it.
MAX_INT_CHARS = 4300


class Node(dict):  # type: ignore[type-arg]
    """A mapping read from YAML that knows its own line and each key's line (1-based)."""

    line: int = 0
    key_lines: dict[str, int]
    # For a value YAML read as something other than text (a number, a boolean, null):
    # the plain scalar exactly as written, so a loader can refuse `id: 0x1F` (read as
    # 31) with the text the user wrote, instead of renaming it.
    written: dict[str, str]

    def line_of(self, key: str) -> int:
        """Line of `key`'s value, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)

    def written_as(self, key: str) -> str | None:
        """The plain scalar text of `key`'s value when YAML did not read it as text."""
        return getattr(self, "written", {}).get(key)


class YamlLimitError(Exception):
    """A document exceeded one of the Limits or used a refused tag; says which, and where."""


def _line(mark: Any) -> int:
    return int(mark.line) + 1 if mark is not None else 0


def _over(limit: str, limits: Limits, what: str, mark: Any,
          flags: Mapping[str, str] = FLAGS) -> YamlLimitError:
    value = getattr(limits, limit)
    changes = (f"{flags[limit]} changes it for a trusted file" if limit in flags
               else "a fixed limit for this file")
    return YamlLimitError(f"line {_line(mark)}: {what} (limit {value}; {changes})")


class _SafeLoader(_Parsing, Composer, SafeConstructor, Resolver):
    """libyaml (or pure-Python) parser, Python composer with limits, safe constructor."""

    limits: Limits = DEFAULT_LIMITS
    flags: Mapping[str, str] = FLAGS     # the flag that changes each limit, for messages

    def __init__(self, stream: str) -> None:
        _Parsing.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._aliases = 0
        self._nodes = 0

    # The C parser brings its own composer; use the Python one, whose steps can be checked.
    check_node = Composer.check_node
    get_node = Composer.get_node
    get_single_node = Composer.get_single_node

    def compose_node(self, parent: Any, index: Any) -> Any:
        event: Any = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > self.limits.max_aliases:
                raise _over("max_aliases", self.limits,
                            f"more than {self.limits.max_aliases} YAML aliases", event.start_mark,
                            self.flags)
            return super().compose_node(parent, index)
        self._nodes += 1
        if self._nodes > self.limits.max_nodes:
            raise _over("max_nodes", self.limits, f"more than {self.limits.max_nodes} YAML "
                        "nodes (values, lists and mappings)", event.start_mark, self.flags)
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in ALLOWED_TAGS:
            shown = "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag
            raise YamlLimitError(
                f"line {_line(event.start_mark)}: YAML tags that build objects are not allowed: "
                f"'{shown}'; write plain values (text, numbers, lists, mappings)")
        if not isinstance(event, yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > self.limits.max_depth:
                raise _over("max_depth", self.limits,
                            f"nesting deeper than {self.limits.max_depth} levels", event.start_mark,
                            self.flags)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_document(self, node: Any) -> Any:
        if self._aliases:  # without aliases the nodes form a tree, checked while composed
            _check_graph(node, self.limits, self.flags)
        return super().construct_document(node)

    def construct_yaml_map_lines(self, node: yaml.MappingNode) -> Node:
        self.flatten_mapping(node)
        result = Node()
        result.line = _line(node.start_mark)
        result.key_lines = {}
        result.written = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
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
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[str(key)] = _line(key_node.start_mark)
            if isinstance(value_node, yaml.ScalarNode) and value_node.tag != _CORE + "str":
                result.written[str(key)] = str(value_node.value)
        return result

    def construct_yaml_int_bounded(self, node: yaml.ScalarNode) -> int:
        if len(node.value) > MAX_INT_CHARS:
            raise yaml.constructor.ConstructorError(
                None, None, f"a number of {len(node.value)} characters is longer than "
                f"{MAX_INT_CHARS}; quote it if it is text", node.start_mark)
        return int(SafeConstructor.construct_yaml_int(self, node))

    def construct_timestamp_as_text(self, node: yaml.ScalarNode) -> str:
        # Dates stay text: the loaders parse them and can then say where a bad one is.
        return str(self.construct_scalar(node))


_SafeLoader.add_constructor(  # type: ignore[type-var]
    Resolver.DEFAULT_MAPPING_TAG, _SafeLoader.construct_yaml_map_lines)
_SafeLoader.add_constructor(  # type: ignore[type-var]
    _CORE + "timestamp", _SafeLoader.construct_timestamp_as_text)
_SafeLoader.add_constructor(  # type: ignore[type-var]
    _CORE + "int", _SafeLoader.construct_yaml_int_bounded)


def _check_graph(root: Any, limits: Limits, flags: Mapping[str, str] = FLAGS) -> None:
    """Refuse recursive aliases, nesting too deep through aliases, and alias bombs.

    One pass over the distinct nodes (never over the expansion), computing for each
    its nesting height, its size and the bytes of its scalars with every alias
    expanded. Both what aliases add in nodes and what they add in bytes of text are
    bounded: a short document cannot stand for a huge one.
    """
    height: dict[int, int] = {}
    size: dict[int, int] = {}
    text: dict[int, int] = {}
    cap = limits.max_alias_expansion + 1
    own_bytes = 0
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        kids = _children(node)
        if children_done:
            height[key] = (1 + max((height[id(k)] for k in kids), default=0)) if kids is not None else 0
            size[key] = min(1 + sum(size[id(k)] for k in kids or ()), cap * 2)
            if kids is None:  # exact sums: at most a few hundred bits, however deep
                text[key] = len(str(node.value).encode("utf-8", "surrogatepass"))
                own_bytes += text[key]
            else:
                text[key] = sum(text[id(k)] for k in kids)
            continue
        if key in height:
            continue
        if key in size:  # entered but not finished: the node contains itself
            raise YamlLimitError(f"line {_line(node.start_mark)}: an alias refers to a "
                                 "node that contains it (recursive data is not allowed)")
        size[key] = -1
        stack.append((node, True))
        for kid in kids or ():
            if id(kid) not in height:
                if size.get(id(kid)) == -1:
                    raise YamlLimitError(f"line {_line(kid.start_mark)}: an alias refers to "
                                         "a node that contains it (recursive data is not allowed)")
                stack.append((kid, False))
    if height[id(root)] > limits.max_depth:
        raise _over("max_depth", limits, f"nesting deeper than {limits.max_depth} levels "
                    "once aliases are followed", root.start_mark, flags)
    added = size[id(root)] - len(size)
    if added > limits.max_alias_expansion:
        raise _over("max_alias_expansion", limits, "aliases expand to more than "
                    f"{limits.max_alias_expansion} extra nodes (an alias bomb?)", root.start_mark,
                    flags)
    added_bytes = text[id(root)] - own_bytes
    if added_bytes > limits.max_alias_bytes:
        raise _over("max_alias_bytes", limits, "aliases expand to more than "
                    f"{limits.max_alias_bytes} extra bytes of text (an alias bomb?)",
                    root.start_mark, flags)


# -- syntax errors that teach ---------------------------------------------------------------
# A hint is given only when it is right: the fix it proposes is applied to a copy of the
# text, which is parsed again (events only: nothing is built); the hint is given when the
# error is gone, or has moved past the line fixed.
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<dash>- +)?(?P<key>[^\s#'\"{\[&*!|>%@`-][^:#]*?):"
                       r"(?P<gap>[ \t]+)(?P<value>\S.*?)?(?P<comment>[ \t]+#.*)?$")


def teach(text: str, exc: yaml.MarkedYAMLError) -> str | None:
    """What to do about a YAML syntax error, when it can be said for sure (else None):
    quote a value holding ': ', line a key up with its neighbours, indent with spaces."""
    mark = exc.problem_mark
    if mark is None:
        return None
    lines = text.split("\n")
    number = int(mark.line)
    if not 0 <= number < len(lines):
        return None
    line = lines[number]
    if "\t" in line[: len(line) - len(line.lstrip(" \t"))] or "'\\t'" in str(exc.problem):
        return (f"line {number + 1} is indented with a tab; YAML indents with spaces only: "
                "replace the tab with spaces")
    problem = str(exc.problem or "")
    if "mapping values are not allowed" in problem:
        said = _quote_value(text, lines, number, int(mark.column))
        if said:
            return said
    return _line_up(text, lines, number)


def _parses_past(text: str, number: int) -> bool:
    """Whether `text` parses (as events) without an error at or before line `number`."""
    parser = _EventsOnly(text)
    try:
        while parser.check_event():
            parser.get_event()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return mark is not None and int(mark.line) > number
    except yaml.YAMLError:
        return False
    finally:
        parser.dispose()
    return True


def _replaced(lines: list[str], number: int, new: str) -> str:
    return "\n".join([*lines[:number], new, *lines[number + 1:]])


def _quote_value(text: str, lines: list[str], number: int, column: int) -> str | None:
    """`key: some: text`: the value holds ': ' (YAML reads a new mapping): quote it."""
    found = _KEY_LINE.match(lines[number])
    if not found or not found.group("value") or column < found.start("value"):
        return None
    value = found.group("value")
    if value[0] in "\"'{[|>&*!" or not re.search(r":[ \t]", value):
        return None
    quoted = f"'{value}'" if "'" not in value else yaml_string(value)
    fixed = (lines[number][: found.start("value")] + quoted + (found.group("comment") or ""))
    if not _parses_past(_replaced(lines, number, fixed), number):
        return None
    key = found.group("key").strip()
    item = _item_of(lines, number)
    return (f"{item}the value of '{key}' holds ': ', which YAML reads as the start of a "
            f"mapping; put the text in quotes: {key}: {quoted}")


def _indent_of(line: str) -> tuple[int, int, bool]:
    """(spaces before the line's text, column of its key, whether it starts with '- ')."""
    spaces = len(line) - len(line.lstrip(" "))
    rest = line[spaces:]
    if rest.startswith("- ") or rest == "-":
        return spaces, spaces + len(rest) - len(rest[1:].lstrip(" ")) , True
    return spaces, spaces, False


def _significant(lines: list[str], start: int, step: int) -> int | None:
    """The nearest line from `start` (going by `step`) holding more than a comment."""
    number = start
    while 0 <= number < len(lines):
        stripped = lines[number].strip()
        if stripped and not stripped.startswith("#"):
            return number
        number += step
    return None


def _line_up(text: str, lines: list[str], number: int) -> str | None:
    """A line indented unlike its neighbours: the indentation that makes it parse, said
    with the neighbour it lines up with."""
    line = lines[number]
    spaces, _, dash = _indent_of(line)
    above = _significant(lines, number - 1, -1)
    below = _significant(lines, number + 1, 1)
    candidates: list[tuple[int, str]] = []
    for other in (above, below):
        if other is None:
            continue
        o_spaces, o_key, o_dash = _indent_of(lines[other])
        if dash and o_dash:
            candidates.append((o_spaces, f"as the '- ' of line {other + 1}"))
        elif not dash:
            name = _KEY_LINE.match(lines[other])
            what = f"'{name.group('key').strip()}'" if name else "the text"
            candidates.append((o_key, f"as {what} on line {other + 1}"))
    if dash and above is not None:   # a list item: as the items above it
        for other in range(above, -1, -1):
            o_spaces, _, o_dash = _indent_of(lines[other])
            if o_dash and o_spaces < spaces and lines[other].strip():
                candidates.append((o_spaces, f"as the '- ' of line {other + 1}"))
                break
    seen: set[int] = set()
    for indent, why in candidates:
        if indent == spaces or indent in seen:
            continue
        seen.add(indent)
        if _parses_past(_replaced(lines, number, " " * indent + line.lstrip(" ")), number):
            item = _item_of(lines, number)
            shown = line.strip()
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            return (f"{item}line {number + 1} ('{shown}') is indented {spaces} space(s); "
                    f"indent it by {indent}, {why}")
    return None


def _item_of(lines: list[str], number: int) -> str:
    """'item ID: ' for the list item holding line `number` (its `id:`), or ''."""
    _, key_column, _ = _indent_of(lines[number])
    for other in range(number, -1, -1):
        line = lines[other]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spaces, column, dash = _indent_of(line)
        flow = re.search(r"[{,]\s*id:\s*([^,}\s]+)", line) if other == number else None
        if flow:
            return f"item {flow.group(1)}: "
        found = _KEY_LINE.match(line)
        if found and found.group("key").strip() == "id" and abs(column - key_column) <= 2:
            value = (found.group("value") or "").strip()
            return f"item {value}: " if value else ""
        if dash and column <= key_column:
            return ""
        if not dash and spaces < key_column - 2:
            return ""
    return ""


def _children(node: Any) -> list[Any] | None:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return None


def read_limited(path: Path, limit: int, flag: str | None = None) -> bytes:
    """All bytes of the regular file `path`, at most `limit` (checked on the open file).

    Raises:
        ValueError: starting with the file name: not a regular file (a folder, a pipe,
            a device: never waited on), larger than `limit`, or unreadable.
    """
    changes = f" ({flag} changes it)" if flag else ""
    try:
        return read_regular(path, limit)
    except Refused as exc:
        raise ValueError(f"{path}: expected a YAML file, found {exc}") from None
    except TooLarge as exc:
        raise ValueError(f"{path}: {exc}{changes}") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def load_yaml(path: Path, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Read one YAML document from `path` safely, within `limits`.

    Raises:
        ValueError: with a message that starts with the file name and, where the
            parser knows it, the line; for unreadable files, YAML syntax errors,
            non-UTF-8 bytes, refused tags and exceeded limits.
    """
    return load_yaml_digest(path, limits)[0]


def load_yaml_digest(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, str]:
    """`load_yaml`, with the sha256 of the very bytes parsed. Raises as `load_yaml`."""
    raw = read_limited(path, limits.max_bytes, FLAGS["max_bytes"])
    return parse_yaml(raw, path, limits), hashlib.sha256(raw).hexdigest()


def parse_yaml(raw: bytes, path: Path | str, limits: Limits = DEFAULT_LIMITS,
               flags: Mapping[str, str] = FLAGS) -> Any:
    """One YAML document from the bytes `raw` (read from `path`), within `limits`.

    `flags` names the flag that changes each limit in messages: those of the bundle
    commands by default; a limit missing from it is said to be fixed (a file read by
    a command that has no such flag). The size of `raw` is the caller's to bound when
    `flags` is not the default (its own reader did).

    Raises:
        ValueError: as `load_yaml`, naming `path`.
    """
    if flags is FLAGS and len(raw) > limits.max_bytes:
        raise ValueError(f"{path}: {len(raw)} bytes is larger than the limit of "
                         f"{limits.max_bytes} bytes ({FLAGS['max_bytes']} changes it)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte {exc.start}); "
                         "save the file as UTF-8") from exc
    loader = _SafeLoader(text)
    loader.limits = limits
    loader.flags = flags
    try:
        return loader.get_single_data()
    except YamlLimitError as exc:
        text_ = str(exc)
        if text_.startswith("line "):
            number, _, rest = text_[5:].partition(": ")
            raise ValueError(f"{path}:{number}: {rest}") from exc
        raise ValueError(f"{path}: {exc}") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.problem and exc.context:
            at = f", line {exc.context_mark.line + 1}" if exc.context_mark else ""
            problem = f"{exc.problem} ({exc.context}{at})"
        hint = teach(text, exc) if isinstance(exc, (yaml.scanner.ScannerError,
                                                    yaml.parser.ParserError)) else None
        raise ValueError(f"{where}: {problem}" + (f": {hint}" if hint else "")) from exc
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, by position
        line = text[: exc.position].count("\n") + 1
        raise ValueError(f"{path}:{line}: character #x{exc.character:04x} is not allowed in "
                         f"YAML ({exc.reason})") from exc
    except yaml.YAMLError as exc:
        shown = " ".join(str(exc).split())
        raise ValueError(f"{path}: invalid YAML: {shown}") from exc
    except RecursionError as exc:  # only when the depth limit is raised very high
        raise ValueError(f"{path}: document nested too deeply") from exc
    finally:
        loader.dispose()
