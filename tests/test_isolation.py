"""Many evaluations in one process, failing or not, from one thread or several, never
see each other's facts, and every engine session is cleaned up."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ism3rules import engine
from ism3rules.assessment import assess, compile_rulebook
from ism3rules.errors import EngineError
from ism3rules.evidence import load_bundle
from ism3rules.rules import load_rulebook

MANAGED = ["activity", "scope", "unavailability", "effectiveness"]
# More evaluations than the engine's 1,024 live sessions per ruleset: a session left
# behind by each failure would make the engine raise MemoryError before the end.
ROUNDS = 1_100


def _doc(process: str) -> dict[str, Any]:
    return {"id": f"documentation:{process}", "t": "documentation", "process": process}


def _metric(process: str, mtype: str) -> dict[str, Any]:
    return {"id": f"metric:{process}:{mtype}", "t": "metric", "process": process,
            "metric_type": mtype}


@pytest.fixture
def poisoned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rule action about process OSP-4 fails inside the engine, midway through
    an evaluation (after other facts were asserted and other rules fired)."""
    real = engine.Firing

    def firing(rule_id: str, process: str, *args: Any) -> engine.Firing:
        if process == "OSP-4":
            raise RuntimeError("poisoned action")
        return real(rule_id, process, *args)

    monkeypatch.setattr(engine, "Firing", firing)


def test_failing_evaluations_leave_no_session_behind(poisoned: None) -> None:
    compiled = compile_rulebook(load_rulebook())
    good = [_doc("OSP-3"), *(_metric("OSP-3", t) for t in MANAGED)]
    bad = [_doc("OSP-3"), _doc("OSP-5"), _doc("OSP-4"), _metric("OSP-4", "activity")]
    expected = compiled.run(good)
    assert {f.derived_fact["capability"] for f in expected} == {"initial", "managed"}
    for _ in range(ROUNDS):
        with pytest.raises(EngineError, match="poisoned action"):
            compiled.run(bad)
        assert compiled.run(good) == expected  # nothing of the failed run is visible
    assert engine._runs == {}


def test_an_exception_between_asserts_still_deletes_the_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure outside any rule action (here: the call into the engine itself, after
    the engine stored the facts) also cleans up."""
    compiled = compile_rulebook(load_rulebook())
    real_assert = engine._assert_fact
    calls = {"n": 0}

    def flaky(core: Any, handle: int, fact: dict[str, Any]) -> Any:
        calls["n"] += 1
        result = real_assert(core, handle, fact)
        if fact.get("process") == "OSP-9":
            raise OSError("disk on fire")
        return result

    monkeypatch.setattr(engine, "_assert_fact", flaky)
    facts = [_doc("OSP-3"), _doc("OSP-9"), _doc("OSP-5")]
    for _ in range(ROUNDS):
        with pytest.raises(OSError, match="disk on fire"):
            compiled.run(facts)
    assert calls["n"] >= ROUNDS
    monkeypatch.undo()
    assert len(compiled.run([_doc("OSP-3")])) == 1
    assert engine._runs == {}


def test_threads_get_their_own_results_even_while_others_fail(
        bundle_factory: Any, poisoned: None) -> None:
    bundles = {
        "rich": load_bundle(bundle_factory(["OSP-3"], {"OSP-3": MANAGED})),
        "documented": load_bundle(bundle_factory(["OSP-5", "OSP-10"])),
        "metrics-only": load_bundle(bundle_factory([], {"OSP-3": MANAGED})),
        "poisoned": load_bundle(bundle_factory(["OSP-4"])),
    }
    book = load_rulebook()
    expected = {name: {p.id: p.capability for p in assess(b, [], book).processes}
                for name, b in bundles.items() if name != "poisoned"}
    assert expected["rich"]["OSP-3"] == "managed"
    assert expected["documented"]["OSP-10"] == "initial"
    assert set(expected["metrics-only"].values()) == {"none"}
    errors: list[str] = []

    def work(name: str) -> None:
        for _ in range(30):
            try:
                result = assess(bundles[name], [], book)
            except EngineError as exc:
                if name != "poisoned":
                    errors.append(f"{name}: {exc}")
                continue
            got = {p.id: p.capability for p in result.processes}
            if name == "poisoned" or got != expected[name]:
                errors.append(f"{name}: got {got}")

    threads = [threading.Thread(target=work, args=(name,)) for name in bundles for _ in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert engine._runs == {}


def test_firings_only_ever_name_the_evaluations_own_facts() -> None:
    compiled = compile_rulebook(load_rulebook())
    runs = [[_doc("OSP-3"), *(_metric("OSP-3", t) for t in MANAGED)],
            [_doc("OSP-3")], [_metric("OSP-3", "activity")], [_doc("OSP-5")]]
    for _ in range(50):
        for facts in runs:
            firings = compiled.run(facts)
            own = {f["id"] for f in facts} | {f.derived_fact["id"] for f in firings}
            assert all({i for _, i in firing.matched} <= own for firing in firings)
