"""The durable_rules wrapper: isolation, cleanup, and the quirks it must contain."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ism3rules.assessment import assess, compile_rulebook
from ism3rules.errors import EngineError
from ism3rules.evidence import load_bundle
from ism3rules.rules import load_rulebook


def test_many_evaluations_stay_isolated(bundle_factory) -> None:
    """More than the engine's 1,024 live sessions, alternating two bundles."""
    rich = load_bundle(bundle_factory(["OSP-3"], {"OSP-3": ["activity", "scope",
                                                            "unavailability", "effectiveness"]}))
    poor = load_bundle(bundle_factory([], {"OSP-3": ["activity"]}))
    book = load_rulebook()
    for n in range(1100):
        result = assess(rich if n % 2 else poor, [], book)
        osp3 = next(p for p in result.processes if p.id == "OSP-3")
        assert osp3.capability == ("managed" if n % 2 else "none")


def test_a_session_with_only_waiting_facts_is_cleaned_up_without_crashing() -> None:
    """durable_rules 2.0.28 crashed deleting a session in which no action had run."""
    compiled = compile_rulebook(load_rulebook())
    fact = {"id": "requirement:x:1:GP-1", "t": "requirement", "process": "GP-1",
            "profile": "x", "level": 1, "min_rank": 1}
    for _ in range(50):
        assert compiled.run([fact]) == ()


def test_threads_are_serialized(bundle_factory) -> None:
    bundles = [load_bundle(bundle_factory(["OSP-5"], {"OSP-5": ["activity"] * (i % 2)}))
               for i in range(4)]
    book = load_rulebook()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(25):
                result = assess(bundles[n], [], book)
                assert next(p for p in result.processes if p.id == "OSP-5").capability == "initial"
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_action_failure_surfaces_as_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = compile_rulebook(load_rulebook())
    from ism3rules import engine

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "Firing", broken)  # every action now fails inside the engine
    with pytest.raises(EngineError, match="boom"):
        compiled.run([{"id": "documentation:OSP-3", "t": "documentation", "process": "OSP-3"}])
    # and the engine still works afterwards
    monkeypatch.undo()
    assert len(compiled.run([{"id": "documentation:OSP-3", "t": "documentation",
                              "process": "OSP-3"}])) == 1


def test_duplicate_fact_ids_are_refused() -> None:
    compiled = compile_rulebook(load_rulebook())
    fact = {"id": "documentation:OSP-3", "t": "documentation", "process": "OSP-3"}
    with pytest.raises(EngineError, match="duplicate fact ids"):
        compiled.run([fact, dict(fact)])


def test_compiling_twice_reuses_the_registered_ruleset(tmp_path: Path) -> None:
    book = load_rulebook()
    from ism3rules.engine import CompiledRulebook

    assert CompiledRulebook(book).name == CompiledRulebook(book).name


def test_rulebooks_differing_only_in_aliases_or_then_do_not_share_a_ruleset(
        tmp_path: Path) -> None:
    """A ruleset is registered once per host, by name: the name must cover what the
    actions record and derive, or a second rulebook runs the first one's actions."""
    fact = {"id": "m", "t": "metric_report", "process": "P", "metric_type": "load", "item": "i",
            "frequency": "none", "has_frequency": 0, "coverage": 1.0, "periods_expected": 0,
            "periods_reported": 0, "outside_thresholds": 0, "outside_control_limits": 0}
    seen = []
    for name, alias, then in (("a", "x", "metric_type: load"), ("b", "y", "metric_type: load"),
                              ("c", "y", "metric_type: scope")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "r.yaml").write_text(
            "schema: ism3-rules/1\nid: r\ntitle: r\nrules:\n  - id: R-1\n    title: t\n"
            "    section: s\n    rationale: r\n    when:\n"
            f"      - {{fact: metric_report, as: {alias}}}\n"
            f"    then: {{fact: metric, {then}}}\n")
        firing = compile_rulebook(load_rulebook(tmp_path / name)).run([fact])[0]
        seen.append((firing.matched, firing.derived_fact["metric_type"]))
    assert seen == [((("x", "m"),), "load"), ((("y", "m"),), "load"), ((("y", "m"),), "scope")]
