"""`python -m ism3rules`: the `ism3` command, for when the script is not on PATH."""

from __future__ import annotations

if __name__ == "__main__":  # pragma: no cover - run as a program by the tests
    from cli import main

    main(prog_name="ism3")   # click ends the process with the command's exit code
