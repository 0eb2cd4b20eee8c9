"""Where the shipped rule files and profiles live, in a checkout or an installed copy."""

from __future__ import annotations

import sys
from pathlib import Path


def shipped_dir(name: str) -> Path:
    """The shipped `rules` or `profiles` folder.

    A source checkout (or editable install) keeps them beside the package; a regular
    install puts them under `<prefix>/share/ism3rules/`.
    """
    top = Path(__file__).resolve().parent.parent
    if (top / "setup.cfg").is_file() and (top / name).is_dir():  # a checkout, not site-packages
        return top / name
    return Path(sys.prefix) / "share" / "ism3rules" / name
