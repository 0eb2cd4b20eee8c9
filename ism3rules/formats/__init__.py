"""Output formats: each turns the report document into text. Registered explicitly, loaded on use."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Protocol


class Renderer(Protocol):
    """A formatter: the report document in, the text to write out."""

    def __call__(self, document: dict[str, Any]) -> str: ...


# Format name -> (module of this package, renderer in it). A renderer's module, and
# what it needs (tabulate for the table), is imported only when its format is used:
# `ism3 evaluate -f json` loads neither the other renderers nor tabulate.
_REGISTRY: dict[str, tuple[str, str]] = {
    "table": ("table", "render_table"),
    "json": ("json_format", "render_json"),
    "markdown": ("markdown", "render_markdown"),
    "html": ("html", "render_html"),
    "csv": ("csv_format", "render_csv"),
    "csv-evidence": ("csv_format", "render_csv_evidence"),
    "junit": ("junit", "render_junit"),
    "oscal": ("oscal", "render_oscal"),
}


class _Formats(Mapping[str, Renderer]):
    """The registry as a read-only mapping of format name to renderer, imported on use."""

    def __getitem__(self, name: str) -> Renderer:
        module, function = _REGISTRY[name]
        renderer: Renderer = getattr(importlib.import_module(f".{module}", __name__), function)
        return renderer

    def __iter__(self) -> Iterator[str]:
        return iter(_REGISTRY)

    def __len__(self) -> int:
        return len(_REGISTRY)


FORMATS: Mapping[str, Renderer] = _Formats()
