"""Tables and text that fit a width: wrapped at spaces only, so no identifier is ever split.

Every table of the `table` format and of the listing commands goes through
`fit_table`. Each cell is made one line of inert text first (`_common.text`: control
characters dropped), then wrapped at spaces (never at a hyphen, never inside a
word), so `MET-OSP5-SCOPE`, `bundle.yaml:14` or a sha256 stays whole; a column made
only of such words keeps its width and the table may then be wider than asked.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from ._common import text

STABLE_WIDTH = 100   # output not going to a terminal (a pipe, a file): same width every time
MIN_WIDTH = 80       # a narrower terminal still gets 80 columns
_GAP = 2             # two spaces between columns, as tabulate's "simple" format
_SHORTEST_TEXT = 12  # a text column is not wrapped narrower than this (unless it is already)


def _words_width(cell: str) -> int:
    """Width of the longest word (what the cell cannot be wrapped narrower than)."""
    return max((len(w) for w in cell.split()), default=0)


def _wrap(cell: str, width: int) -> str:
    if len(cell) <= width:
        return cell
    return "\n".join(textwrap.wrap(cell, width, break_long_words=False, break_on_hyphens=False))


def _first_column(lines: list[str], width: int) -> str:
    """A first-column cell wrapped with a hanging indent: only a row's first line starts
    at the left margin, so text from an input (a path, a name) can never begin a line of
    its own that reads like the tool's output (`MATCH: ...`)."""
    out: list[str] = []
    for line in lines:
        if len(line) <= width and not out:
            out.append(line)
            continue
        out.extend(textwrap.wrap(line, width, initial_indent="  " if out else "",
                                 subsequent_indent="  ", break_long_words=False,
                                 break_on_hyphens=False) or [""])
    return "\n".join(out)


def _cell(value: Any, keep_lines: bool) -> list[str]:
    if keep_lines and isinstance(value, str):
        return [text(line) for line in value.splitlines()] or [""]
    return [text(value)]


def fit_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], width: int | None = None,
              text_columns: Sequence[int] = (), sections: dict[int, str] | None = None,
              multiline: Sequence[int] = (), keep: Sequence[int] = ()) -> str:
    """A tabulate "simple" table no wider than `width` (default STABLE_WIDTH) where it can be.

    Columns in `text_columns` (indexes: names, titles, reasons) are wrapped first,
    widest first, down to 12 characters; if the table is still too wide, every
    column is wrapped down to its longest word. `sections` maps a row index to a
    heading line printed above that row (e.g. the management level of a process).
    Cells of the `multiline` columns keep their line breaks (each line wrapped on
    its own); any other cell is made one line. Columns in `keep` are never narrowed.
    """
    limit = STABLE_WIDTH if width is None else width
    cells = [[_cell(c, i in multiline) for i, c in enumerate(row)] for row in rows]
    heads = [text(h) for h in headers]
    count = len(heads)
    natural = [max([len(heads[i]), *(len(line) for r in cells for line in r[i])])
               for i in range(count)]
    floor = [max([_words_width(heads[i]), *(_words_width(line) for r in cells for line in r[i])])
             for i in range(count)]
    if any(len(line.split()) > 1 for r in cells for line in r[0]):
        floor[0] += 2   # room for the hanging indent of the first column's continuations
    widths = list(natural)

    def total() -> int:
        return sum(widths) + _GAP * (count - 1)

    for columns, least in ((list(text_columns), _SHORTEST_TEXT), (list(range(count)), 0)):
        while total() > limit:
            shrinkable = [i for i in columns if i not in keep
                          and widths[i] > max(floor[i], min(least, natural[i]))]
            if not shrinkable:
                break
            widest = max(shrinkable, key=lambda i: (widths[i], -i))
            widths[widest] -= 1
    wrapped = [[_first_column(c, widths[0]) if i == 0
                else "\n".join(_wrap(line, widths[i]) for line in c) for i, c in enumerate(row)]
               for row in cells]
    shown_heads = [_wrap(h, widths[i]) for i, h in enumerate(heads)]
    # The header is a row of its own, underlined like tabulate's "simple" format but
    # without the two columns of padding "simple" adds to every header.
    used = [max(len(line) for cell in [shown_heads[i], *(r[i] for r in wrapped)]
                for line in cell.split("\n")) for i in range(count)]
    from tabulate import tabulate   # on first use: a JSON trend or portfolio never loads it

    table = str(tabulate([shown_heads, ["-" * w for w in used], *wrapped], tablefmt="plain",
                         disable_numparse=True))
    if not sections:
        return table
    return _with_sections(table, wrapped, shown_heads, sections)


def _with_sections(table: str, rows: list[list[str]], heads: list[str],
                   sections: dict[int, str]) -> str:
    """`table` with a heading line inserted above each row that starts a section."""
    lines = table.split("\n")
    head_lines = max(h.count("\n") for h in heads) + 2   # header lines and the dashes
    out = lines[:head_lines]
    at = head_lines
    for index, row in enumerate(rows):
        height = max(c.count("\n") for c in row) + 1
        if index in sections:
            out.append(text(sections[index]))
        out.extend(lines[at:at + height])
        at += height
    return "\n".join(out + lines[at:])


def fit_lines(lines: Sequence[str], width: int | None = None) -> list[str]:
    """Prose lines wrapped at `width` (default STABLE_WIDTH), at spaces only.

    Each line is made one line of inert text first (`_common.text`).
    A continuation is indented two more than the line's own indentation (after a
    leading "- " when there is one), so lists stay readable.
    """
    limit = STABLE_WIDTH if width is None else width
    out: list[str] = []
    for line in map(text, lines):
        if len(line) <= limit:
            out.append(line)
            continue
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        hang = indent + 2
        out.extend(textwrap.wrap(line, limit, subsequent_indent=" " * hang,
                                 break_long_words=False, break_on_hyphens=False,
                                 drop_whitespace=True) or [""])
    return out
