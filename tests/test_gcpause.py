"""Evaluating pauses the cyclic garbage collector and always gives the caller's setting back."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from ism3rules.api import evaluate_bundle
from ism3rules.errors import Ism3Error
from ism3rules.gcpause import cyclic_gc_paused

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "evidence" / "harbor-clinic"


@pytest.fixture
def gc_state() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_a_library_caller_gets_the_collector_back_after_an_evaluation(gc_state: None) -> None:
    gc.enable()
    evaluate_bundle(SAMPLE)
    assert gc.isenabled()


def test_a_caller_that_disabled_the_collector_keeps_it_disabled(gc_state: None) -> None:
    gc.disable()
    evaluate_bundle(SAMPLE)
    assert not gc.isenabled()


def test_a_failed_evaluation_gives_the_collector_back(tmp_path: Path, gc_state: None) -> None:
    (tmp_path / "bundle.yaml").write_text("organization: [unclosed\n", encoding="utf-8")
    gc.enable()
    with pytest.raises(Ism3Error):
        evaluate_bundle(tmp_path)
    assert gc.isenabled()


def test_the_collector_is_paused_inside_and_nesting_keeps_the_outer_state(gc_state: None) -> None:
    gc.enable()
    with cyclic_gc_paused():
        assert not gc.isenabled()
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()   # the inner block does not re-enable it early
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), cyclic_gc_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()
