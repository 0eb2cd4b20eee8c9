"""Output formats: each turns the report document into text. Registered explicitly."""

from __future__ import annotations

from typing import Any, Protocol

from .json_format import render_json
from .table import render_table


class Renderer(Protocol):
    """A formatter: the report document in, the text to write out."""

    def __call__(self, document: dict[str, Any]) -> str: ...


FORMATS: dict[str, Renderer] = {
    "table": render_table,
    "json": render_json,
}
