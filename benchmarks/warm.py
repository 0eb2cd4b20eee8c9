"""Warm evaluation against the input floor in one process, as a batch worker sees a bundle.

Run by benchmarks/run.py with the Python of the benchmark environment (the installed
package): after a first evaluation (imports done, rulebook compiled), it alternates
`evaluate -f json` of BUNDLE (with the cyclic collector paused, as a batch worker
evaluates) and the input floor REPEATS times and prints the seconds of each as JSON,
with the engine's share where the engine module allows timing it, then the seconds
spent inside durable_rules' C core in a few more evaluations (`core`).

Usage: python benchmarks/warm.py BUNDLE REPEATS
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

from floor import input_floor  # benchmarks/ is this script's folder, first on sys.path


def main(bundle: Path, repeats: int) -> dict[str, Any]:
    """Timings of `repeats` interleaved pairs (evaluate, floor), order alternating."""
    from ism3rules import engine
    from ism3rules.api import evaluate_bundle, load_inputs, report_document
    from ism3rules.formats import FORMATS

    spent: list[tuple[float, int, int]] = []
    original = getattr(getattr(engine, "CompiledRulebook", None), "run", None)
    if original is not None:   # the engine's own time, when its entry point is still `run`
        def run(self: Any, facts: list[Any]) -> Any:
            start = time.perf_counter()
            firings = original(self, facts)
            spent.append((time.perf_counter() - start, len(facts), len(firings)))
            return firings

        engine.CompiledRulebook.run = run
    inputs = load_inputs()
    render = FORMATS["json"]

    try:   # a batch worker evaluates and renders with the collector paused (evaluate_with)
        from ism3rules.gcpause import cyclic_gc_paused as paused
    except ImportError:   # versions before it
        import contextlib

        paused = contextlib.nullcontext  # type: ignore[assignment]

    def evaluate() -> None:
        with paused():
            render(report_document(bundle, inputs))

    assert render(evaluate_bundle(bundle)) == render(report_document(bundle, inputs))
    evaluate()
    out: dict[str, Any] = {"evaluate": [], "floor": [], "engine": []}
    for i in range(repeats):
        gc.collect()
        pair = [("evaluate", evaluate), ("floor", lambda: input_floor(bundle))]
        for name, func in pair if i % 2 == 0 else reversed(pair):
            start = time.perf_counter()
            func()
            out[name].append(time.perf_counter() - start)
            if name == "evaluate" and spent:
                out["engine"].append(spent[-1][0])
    if spent:
        out["facts"], out["derived"] = spent[-1][1], spent[-1][2]
    out["core"] = engine_core_seconds(engine, evaluate, max(3, repeats // 3))
    return out


def engine_core_seconds(engine: Any, evaluate: Any, times: int) -> list[float]:
    """Seconds spent inside durable_rules' C core (every call the engine module makes to
    it) in each of `times` further evaluations: what the engine the design requires costs
    by itself, whatever the Python around it does. Measured apart from the timed pairs (the
    timing wrapper costs a little per call). Empty for versions without `engine._core`."""
    core_of = getattr(engine, "_core", None)
    if core_of is None:
        return []
    core = core_of()
    spent = [0.0]

    class Timed:
        def __getattr__(self, name: str) -> Any:
            function = getattr(core, name)

            def timed(*args: Any) -> Any:
                start = time.perf_counter()
                try:
                    return function(*args)
                finally:
                    spent[0] += time.perf_counter() - start
            return timed

    engine._core = Timed
    seconds = []
    try:
        for _ in range(times):
            spent[0] = 0.0
            evaluate()
            seconds.append(spent[0])
    finally:
        engine._core = core_of
    return seconds


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]))))
