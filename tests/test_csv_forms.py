"""Metric CSVs: every way of writing the same data gives the same observations and verdict.

Plain files are read by a fast path (a few C-level passes per file), anything else by
the csv module; these cases pin the two to the same answers and the same errors.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_bundle
from ism3rules.errors import EvidenceError
from ism3rules.evidence import (Observation, _read_plain_csv, load_bundle,
                                 read_csv_observations)

EXPECTED = (Observation(date(2025, 12, 29), 7.0), Observation(date(2026, 1, 5), -3.0),
            Observation(date(2026, 1, 5), 2.5), Observation(date(2026, 2, 1), 1000.0))

FORMS = {
    "plain": "date,value\n2026-01-05,2.5\n2025-12-29,7\n2026-02-01,1e3\n2026-01-05,-3\n",
    "crlf": "date,value\r\n2026-01-05,2.5\r\n2025-12-29,7\r\n2026-02-01,1e3\r\n2026-01-05,-3\r\n",
    "no final newline": "date,value\n2026-01-05,2.5\n2025-12-29,7\n2026-02-01,1e3\n2026-01-05,-3",
    "blank lines": "date,value\n\n2026-01-05,2.5\n2025-12-29,7\n\n2026-02-01,1e3\n2026-01-05,-3\n",
    "spaces and header case": "Date, Value\n2026-01-05, 2.5\n2025-12-29 ,7\n2026-02-01,1e3\n"
                              "2026-01-05,-3\n",
    "quoted": 'date,value\n"2026-01-05","2.5"\n2025-12-29,7\n2026-02-01,1e3\n2026-01-05,-3\n',
    "other number spellings": "date,value\n2026-01-05,2.50\n2025-12-29,+7.\n2026-02-01,1000\n"
                              "2026-01-05,-3.0\n",
}


def _bundle(tmp_path: Path, text: str) -> Path:
    item = {"id": "M", "process": "OSP-5", "kind": "metric", "metric_type": "activity",
            "path": "m.csv"}
    root = write_bundle(tmp_path / "b", [item], period=("2026-01-01", "2026-01-31"))
    (root / "m.csv").write_bytes(text.encode())
    return root


@pytest.mark.parametrize("form", list(FORMS))
def test_same_data_same_observations(tmp_path: Path, form: str) -> None:
    item = load_bundle(_bundle(tmp_path, FORMS[form])).items[0]
    assert item.observations == EXPECTED
    assert item.observations_in_period == 2
    assert item.status == "accepted"


@pytest.mark.parametrize("text, message", [
    ("date,value\n2026-01-05,1\n2026-02-30,2\n", "m.csv:3: '2026-02-30' is not a valid date"),
    ("date,value\n2026-01-05,1\n2026-01-06,1e999\n", "m.csv:3: value '1e999' is not a finite"),
    ("date,value\n2026-01-05,1\n2026-01-06,abc\n", "m.csv:3: value 'abc' is not a number"),
    ("date,value\n2026-01-05,1,3\n", "m.csv:2: expected 2 columns"),
    ("when,value\n2026-01-05,1\n", "m.csv:1: header must be 'date,value'"),
    ("date,value\n26-01-05,1\n", "m.csv:2: '26-01-05' is not a date in YYYY-MM-DD form"),
])
def test_bad_rows_are_errors_with_their_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(EvidenceError, match=message.replace("(", r"\(")):
        load_bundle(_bundle(tmp_path, text))


def test_observations_outside_the_period_are_counted_out(tmp_path: Path) -> None:
    text = "date,value\n2025-12-31,1\n2026-01-01,1\n2026-01-31,1\n2026-02-01,1\n"
    item = load_bundle(_bundle(tmp_path, text)).items[0]
    assert len(item.observations) == 4 and item.observations_in_period == 2


# Pieces of lines that are plain, nearly plain or not plain at all: the fast path must
# agree with the csv module's reader on every file made of them (same observations, or
# it declines and the reader decides).
_DATES = st.sampled_from(["2026-01-05", "2025-12-29", "2026-02-30", "2026-1-05", "20260105",
                          "2026-W01-1", " 2026-01-05", "2026-01-05 ", "２０２６-01-05", ""])
_VALUES = st.one_of(
    st.floats(allow_nan=False, width=64).map(repr),
    st.sampled_from(["1", "-3", "+7.", ".5", "1e3", "1E-3", "2.50", "1_000", " 1", "1 ", "inf",
                     "nan", "1e999", "-1e999", "1e308", "1e", "1-2", "e5", ".", "+", "",
                     "١٢", "0x10", "1.2.3", "--1", "1,2", "\"3\""]))
_LINE = st.one_of(
    st.tuples(_DATES, _VALUES).map(",".join),
    st.tuples(_DATES, _VALUES).map("".join),
    st.tuples(_DATES, _VALUES, _VALUES).map(",".join),
    st.sampled_from(["", "2026-01-05", ",", "2026-01-05,", "a,b"]))
_END = st.sampled_from(["\n", "\r\n", "\r", "\n\r"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_LINE, _END), max_size=8), st.booleans(),
       st.sampled_from(["date,value\n", "date,value\r\n"]))
def test_the_fast_path_reads_what_the_csv_module_reads(
        lines: list[tuple[str, str]], final_end: bool, header: str) -> None:
    text = header + "".join(line + end for line, end in lines)
    if lines and not final_end:
        text = text[: -len(lines[-1][1])]
    raw = text.encode()
    fast = _read_plain_csv(raw)
    if fast is None:
        return   # declined: the csv module's reader decides (and names the line)
    slow = list(read_csv_observations(io.BytesIO(raw), "m.csv"))
    assert fast == slow
    assert all(type(o.value) is float and type(o.date) is date for o in fast)


def test_the_fast_path_declines_a_line_without_its_comma() -> None:
    """`2026-01-0512` reads as a date and a number if nothing counts the commas."""
    for raw in (b"date,value\n2026-01-0512\n", b"date,value\n2026-01-0512\n2026-01-06,1,2\n"):
        assert _read_plain_csv(raw) is None
        with pytest.raises(ValueError, match="expected 2 columns"):
            list(read_csv_observations(io.BytesIO(raw), "m.csv"))
