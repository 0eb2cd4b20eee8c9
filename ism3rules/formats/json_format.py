"""The JSON format: the ism3-report/1 document, byte-stable."""

from __future__ import annotations

import json
from typing import Any


def render_json(document: dict[str, Any]) -> str:
    """Indented JSON with keys in the document's own fixed order and a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
