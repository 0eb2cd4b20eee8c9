"""Metric CSVs: every way of writing the same data gives the same observations and verdict.

Plain files are read by a fast path (one regular expression per file), anything else by
the csv module; these cases pin the two to the same answers and the same errors.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from conftest import write_bundle
from ism3rules.errors import EvidenceError
from ism3rules.evidence import Observation, load_bundle

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
