"""The output-neutralising layer (ism3rules.safe): each target's guarantee, on any text.

Property tests (hypothesis) over arbitrary Unicode, weighted towards the characters
that matter (controls, format characters, line separators, formula starts, quotes).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import unicodedata

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ism3rules import safe

NASTY = st.sampled_from(["\x00", "\x1b", "\x07", "\n", "\r", "\t", "\x85", "\x9b", "\u2028",
                         "\u2029", "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\u00ad",
                         "\U000e0041", "=", "+", "-", "@", "\uff1d", '"', "'", "\\", "#", ":",
                         "|", "<", "&", "`", "*", "[", "]", "\x7f", "\u3164", "\ud800"])
TEXT = st.lists(st.one_of(NASTY, st.characters(), st.text(max_size=3)), max_size=30).map(
    "".join)
EVERY_CATEGORY = ("Cc", "Cf", "Zl", "Zp", "Cs")


def test_the_invisible_class_covers_every_control_and_format_character() -> None:
    """The class is written out (no table built at import); it must cover every Cc, Cf,
    Zl, Zp and Cs character this Python's Unicode database knows."""
    missing = [f"U+{code:04X}" for code in range(sys.maxunicode + 1)
               if unicodedata.category(chr(code)) in EVERY_CATEGORY
               and not safe.has_invisible(chr(code))]
    assert missing == []


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_terminal_text_is_one_line_with_nothing_invisible(text: str) -> None:
    shown = safe.terminal(text)
    assert not safe.has_invisible(shown)
    assert len(shown.splitlines()) <= 1
    assert shown == text or "\\" in shown


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_display_lines_and_every_format_stay_on_one_line(text: str) -> None:
    for render in (safe.line, safe.html, safe.md, safe.md_code, safe.xml, safe.csv_cell,
                   safe.yaml_comment):
        out = render(text)
        assert not safe.has_invisible(out), render.__name__
        assert len(out.splitlines()) <= 1, render.__name__


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_a_csv_cell_never_starts_a_formula(text: str) -> None:
    cell = safe.csv_cell(text)
    assert not cell.startswith(safe.FORMULA_START)
    buffer = io.StringIO()
    csv.writer(buffer).writerow([cell])
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == [cell]


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_html_has_no_markup(text: str) -> None:
    out = safe.html(text)
    assert "<" not in out and ">" not in out and '"' not in out


@settings(max_examples=200, deadline=None)
@given(TEXT.filter(lambda t: "\ud800" not in t))
def test_a_yaml_string_reads_back_as_the_same_text(text: str) -> None:
    quoted = safe.yaml_string(text)
    assert yaml.safe_load(f"key: {quoted}\n") == {"key": text}
    assert len(quoted.splitlines()) == 1


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_a_yaml_comment_cannot_end_early(text: str) -> None:
    document = f"# {safe.yaml_comment(text)}\nkey: 1\n"
    assert yaml.safe_load(document) == {"key": 1}


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.one_of(TEXT.filter(lambda t: "\ud800" not in t), st.integers(),
                              st.floats(allow_nan=False, allow_infinity=False), st.none()),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(TEXT.filter(
                                                lambda t: "\ud800" not in t), inner,
                                                max_size=4)), max_leaves=20))
def test_json_keeps_the_data_exactly_and_is_inert(document: object) -> None:
    text = safe.json_dumps(document)
    assert json.loads(text) == document
    assert not safe.has_invisible(text.replace("\n", ""))


@pytest.mark.parametrize("char", ["\x7f", "\x85", "\u200b", "\U000e0041"])
def test_json_escapes_an_invisible_character_in_otherwise_ascii_text(char: str) -> None:
    # DEL is the one invisible character that is ASCII: an all-ASCII text is not
    # necessarily clean
    text = safe.json_dumps({"key": f"a{char}b", "plain": "text"})
    assert char not in text and json.loads(text)["key"] == f"a{char}b"


def test_neutral_copies_a_document_with_every_string_made_one_line() -> None:
    document = {"a\nb": ["x\x1by", {"k": "\u202e"}], "n": 1.5, "keep": "line1\nline2"}
    out = safe.neutral(document, keep=("keep",))
    assert out == {"a b": ["x\\x1by", {"k": "\\u202e"}], "n": 1.5, "keep": "line1\nline2"}
    assert document["a\nb"] == ["x\x1by", {"k": "\u202e"}]   # the original is untouched
