"""The output-neutralising layer: text from an input, made inert wherever it is shown.

Every string that comes from a bundle, a profile, a rule file, a report or a review
file (organization name, item id, title, path, reason, rationale, ...) is untrusted.
It reaches a terminal, a browser, a spreadsheet, an XML parser, a Markdown renderer
or a YAML file only through the one function of this module made for that target:

| target | function | what it does |
|---|---|---|
| a terminal: an identifier, a message line | `terminal` | every invisible character escaped |
| a terminal: rendered lines (a table) | `terminal_block` | newlines kept, the rest escaped |
| one line of display text in a report | `line` | line breaks become spaces, the rest escaped |
| HTML text or attribute | `html` | `line`, then HTML escaping |
| Markdown (inline) | `md`, `md_code` | `line`, then no HTML, emphasis, links or table breaks |
| XML text or attribute | `xml` | `line`, then characters XML 1.0 cannot carry replaced |
| a CSV cell | `csv_cell` | `line`, then a leading formula character neutralised with `'` |
| a YAML comment | `yaml_comment` | `line`: nothing can end the comment |
| a YAML string | `yaml_string` | a double-quoted scalar that reads back as the same text |
| JSON | `json_dumps` | the data exactly; invisible characters as `\\uXXXX`; no NaN or infinity |
| a whole document, before laying it out | `neutral` | a copy with every string through `line` |

"Invisible" means control characters (C0, DEL, C1), format characters (Unicode
category Cf: bidirectional overrides and isolates U+202A-U+202E and U+2066-U+2069,
zero-width spaces and joiners, the byte order mark, tag characters), line and
paragraph separators, lone surrogates and a few blank letters (Hangul fillers,
the braille blank). Escapes follow Python's: `\\x1b`, `\\n`, `\\u202e`, `\\U000e0041`.
"""

from __future__ import annotations

import html as _html
import json
import re
from typing import Any

from .jsontext import dumps_indented

# Cc, Cf, Zl, Zp and Cs of Unicode 15 (tests/test_safe.py checks this against the
# running Python's unicodedata), plus the combining grapheme joiner, the Hangul
# fillers and the braille blank, which show as nothing.
_INVISIBLE_CLASS = (
    "\x00-\x1f\x7f-\x9f\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    "\u115f-\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u2800\u3164"
    "\ud800-\udfff\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
_INVISIBLE = re.compile(f"[{_INVISIBLE_CLASS}]")
# In JSON text: json.dumps already escapes C0 controls inside strings, so any left are
# the indentation's own newlines; the rest can only be inside strings.
_JSON_RAW = re.compile(f"[{_INVISIBLE_CLASS[len(chr(0) + '-' + chr(0x1f)):]}]")
# What str.splitlines() breaks at: one line of display text joins them with a space.
_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# XML 1.0 forbids most control characters even when escaped, and two noncharacters.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Markdown: every ASCII punctuation character may be backslash-escaped (CommonMark);
# these are the ones with meaning inside a line (`|` ends a table cell). `<`, `>` and
# `&` become entities so no renderer sees raw HTML. A value starting like a heading,
# list item or quote is escaped at its start too.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MD_LEADING_MARK = re.compile(r"^([#+\-=>])")
_MD_LEADING_NUMBER = re.compile(r"^(\d+)([.)])")
# A spreadsheet treats a cell starting with one of these as a formula (the full-width
# forms too, in some locales).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def has_invisible(value: str) -> bool:
    """Whether `value` holds a character this module would show escaped."""
    return _INVISIBLE.search(value) is not None


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def terminal(value: Any) -> str:
    """`value` as one line for a terminal: every invisible character (newline, escape,
    bidi override, zero-width space, ...) shown as its escape, so nothing from an input
    can move the cursor, recolour, reorder, hide or start a line."""
    text = _str(value)
    return _INVISIBLE.sub(_escape, text) if _INVISIBLE.search(text) else text


def terminal_block(text: str) -> str:
    """Several lines for a terminal (a rendered table): newlines kept, every other
    invisible character shown as its escape."""
    return "\n".join(terminal(part) for part in text.split("\n"))


def line(value: Any) -> str:
    """`value` as one line of display text: line breaks become spaces, every other
    invisible character is shown as its escape. None is '', lists are joined with ', '."""
    text = _str(value)
    if not _INVISIBLE.search(text):
        return text
    return _INVISIBLE.sub(_escape, _LINE_BREAK.sub(" ", text))


def html(value: Any) -> str:
    """`value` escaped for HTML text and attribute values (bidi controls shown escaped)."""
    return _html.escape(line(value), quote=True)


def md(value: Any) -> str:
    """`value` as inert inline Markdown: no HTML, no emphasis, links or table breaks."""
    escaped = _MD_SPECIAL.sub(r"\\\1", _html.escape(line(value), quote=False))
    escaped = _MD_LEADING_MARK.sub(r"\\\1", escaped)
    return _MD_LEADING_NUMBER.sub(r"\1\\\2", escaped)


def md_code(value: Any) -> str:
    """`value` as a Markdown code span (ids, digests); backticks and pipes kept inert."""
    raw = line(value)
    if not raw:
        return ""
    if "`" in raw or "|" in raw or "<" in raw:
        return md(raw)
    return f"`{raw}`"


def xml(value: Any) -> str:
    """`value` as XML 1.0 text (the serializer escapes markup; this removes what XML
    cannot carry at all)."""
    return _XML_INVALID.sub("\ufffd", line(value))


def csv_cell(value: Any) -> str:
    """`value` for a CSV cell, neutralised against formula injection (a leading `'`)."""
    out = line(value)
    return "'" + out if out.startswith(FORMULA_START) else out


def yaml_comment(value: Any) -> str:
    """`value` for the text of a YAML comment: one line that nothing can end early."""
    return line(value)


_YAML_DQ = re.compile(f'[\\\\"{_INVISIBLE_CLASS}]')


def _yaml_escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in ('"', "\\"):
        return "\\" + char
    return _escape(match)


def yaml_string(value: Any) -> str:
    """`value` as a double-quoted YAML scalar that reads back as exactly the same text."""
    return '"' + _YAML_DQ.sub(_yaml_escape, _str(value)) + '"'


def neutral(document: Any, keep: tuple[str, ...] = ()) -> Any:
    """A copy of a JSON-like document (dicts, lists, scalars) in which every string, keys
    included, went through `line`; values under a key named in `keep` stay as they are
    (text the caller makes safe itself, such as a multi-line message).

    For renderings that lay text out themselves (terminal tables): applied once at the
    start, nothing from an input can reach their layout raw.
    """
    if isinstance(document, str):
        return line(document)
    if isinstance(document, dict):
        return {(line(k) if isinstance(k, str) else k):
                (v if k in keep else neutral(v, keep)) for k, v in document.items()}
    if isinstance(document, (list, tuple)):
        return [neutral(v, keep) for v in document]
    return document


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xd800 + (code >> 10):04x}\\u{0xdc00 + (code & 0x3ff):04x}"


def json_dumps(document: Any, indent: int | None = 2) -> str:
    """`document` as JSON text (UTF-8 characters kept), with a final newline.

    The data is kept exactly; invisible characters inside strings are written as
    `\\uXXXX` escapes, so the file is inert when shown on a terminal.

    Raises:
        ValueError: the document holds NaN or an infinity (strict JSON has neither).
    """
    if indent is None:
        text = json.dumps(document, ensure_ascii=False, allow_nan=False)
    else:   # what json.dumps(indent=...) writes, without its slow pure-Python encoder
        text = dumps_indented(document, indent)
    # JSON's own syntax is ASCII: these can only be inside strings. Of them only DEL is
    # ASCII, so ASCII text without it (most reports) needs no scan by the expression
    # (a fortieth of a second on a megabyte).
    if (not text.isascii() or "\x7f" in text) and _JSON_RAW.search(text):
        text = _JSON_RAW.sub(_json_escape, text)
    return text + "\n"


__all__ = ["FORMULA_START", "csv_cell", "has_invisible", "html", "json_dumps", "line", "md",
           "md_code", "neutral", "terminal", "terminal_block", "xml", "yaml_comment",
           "yaml_string"]
