"""The integer standard deviation used for control limits is `statistics.stdev`, bit for bit."""

from __future__ import annotations

import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from ism3rules.metrics import stdev

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@settings(max_examples=400, deadline=None)
@given(st.lists(finite | st.floats(min_value=-1e-6, max_value=1e-6), min_size=2, max_size=60))
def test_same_float_as_the_standard_library(values: list[float]) -> None:
    assert stdev(values) == statistics.stdev(values)


def test_constant_and_tiny_series() -> None:
    for values in ([5.0, 5.0, 5.0], [0.1, 0.2], [1e-300, 2e-300, 3e-300], [-0.0, 0.0],
                   [1e15, 1e15 + 2.0, 1e15 + 4.0]):
        assert stdev(values) == statistics.stdev(values)
