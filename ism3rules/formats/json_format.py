"""The JSON format: the ism3-report/1 document, byte-stable."""

from __future__ import annotations

from typing import Any

from ..safe import json_dumps


def render_json(document: dict[str, Any]) -> str:
    """Indented JSON with keys in the document's own fixed order and a final newline.

    Strict JSON (never NaN or an infinity); the data exactly, with invisible characters
    written as escapes (`safe.json_dumps`).
    """
    return json_dumps(document)
