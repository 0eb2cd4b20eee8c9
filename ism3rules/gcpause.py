"""The one way ism3rules pauses Python's cyclic garbage collector around a burst of allocation."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block, then restore its previous state.

    Loading a bundle and evaluating it allocate hundreds of thousands of small acyclic
    objects (a year of daily data is that many tuples) which reference counting frees;
    the collections their allocation triggers can free nothing and cost about a third of
    the loading time and a tenth of a one-shot `ism3 evaluate` (benchmarks/ANALYSIS.md).
    Nested use is safe: an inner block leaves the collector as the outer one set it.
    Raises nothing of its own; an exception from the block propagates after the restore.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
