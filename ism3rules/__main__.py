"""`python -m ism3rules`: the `ism3` command, for when the script is not on PATH."""

from __future__ import annotations

import sys

if __name__ == "__main__":  # pragma: no cover - run as a program by the tests
    from cli import main

    sys.exit(main(prog_name="ism3"))
