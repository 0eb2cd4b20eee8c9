"""The one way ism3rules puts handlers of its own over a program's for a few signals, for
the length of a block (removing an unpacked archive, a half-written report)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

Handler = Callable[[int, FrameType | None], Any]


class OverSignals:
    """Our handler over the program's for some signals.

    `installed(handler)` installs it for the block and restores the program's handlers
    when the block ends; `restore()` does so earlier (a handler about to pass the signal
    on). `previous` maps each signal handled to the handler it replaced. Only the main
    thread can set handlers: from another thread nothing is installed. A signal ignored
    (SIG_IGN) or handled outside Python (None) is left as it is.
    """

    def __init__(self, signals: tuple[int, ...]) -> None:
        self.signals = signals
        self.previous: dict[int, Any] = {}

    def restore(self) -> None:
        """Put the program's handlers back (again: a no-op). Raises nothing."""
        for signum, old in self.previous.items():
            signal.signal(signum, old)
        self.previous.clear()

    @contextlib.contextmanager
    def installed(self, handler: Handler) -> Iterator[None]:
        """`handler` for the signals during the block. Raises what the block raises."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        for signum in self.signals:
            old = signal.getsignal(signum)
            if old is signal.SIG_IGN or old is None:
                continue
            self.previous[signum] = old
            signal.signal(signum, handler)
        try:
            yield
        finally:
            self.restore()


def signals_named(*names: str) -> tuple[int, ...]:
    """The signals of these names that this system has (Windows has no SIGHUP)."""
    return tuple(getattr(signal, name) for name in names if hasattr(signal, name))
