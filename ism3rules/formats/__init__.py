"""Output formats: each turns the report document into text. Registered explicitly."""

from __future__ import annotations

from typing import Any, Protocol

from .csv_format import render_csv, render_csv_evidence
from .html import render_html
from .json_format import render_json
from .junit import render_junit
from .markdown import render_markdown
from .oscal import render_oscal
from .table import render_table


class Renderer(Protocol):
    """A formatter: the report document in, the text to write out."""

    def __call__(self, document: dict[str, Any]) -> str: ...


FORMATS: dict[str, Renderer] = {
    "table": render_table,
    "json": render_json,
    "markdown": render_markdown,
    "html": render_html,
    "csv": render_csv,
    "csv-evidence": render_csv_evidence,
    "junit": render_junit,
    "oscal": render_oscal,
}
