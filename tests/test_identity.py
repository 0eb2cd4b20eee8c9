"""Identity of items: ids, processes, names and persons are the text written, one per look.

YAML 1.1 reads some plain scalars as numbers, booleans or null (`0x1F` is 31, `012` is
10, `190:20:30` is 685230, `.nan` is nan, `yes` is true): where text is expected,
such a scalar is refused with its line and a hint to quote it, unless it reads back
as exactly the text written (`2026`). Ids are NFC; an id holding an invisible
character, mixing look-alike scripts, or looking like another id of the bundle is
refused; so is a person written two ways that print alike.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from ism3rules.errors import EvidenceError
from ism3rules.evidence import load_bundle

HEAD = "schema: ism3-evidence/1\norganization: {id: a, name: A}\n"


def _root(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "b"
    root.mkdir(exist_ok=True)
    (root / "bundle.yaml").write_text(text, encoding="utf-8")
    (root / "d.md").write_text("x\n")
    return root


def _error(root: Path, expected: str) -> None:
    with pytest.raises(EvidenceError) as info:
        load_bundle(root)
    assert expected in str(info.value), str(info.value)
    result = CliRunner().invoke(main, ["validate", str(root)])
    assert result.exit_code == 2 and expected in result.output, result.output


ITEMS = {
    "id": "  - {{id: {v}, process: OSP-3, kind: documentation, path: d.md}}",
    "title": "  - {{id: D1, process: OSP-3, kind: documentation, path: d.md, title: {v}}}",
    "name": "  - {{id: M1, process: OSP-3, kind: metric, metric_type: scope, name: {v}, "
            "observations: [{{date: 2026-01-01, value: 1}}]}}",
    "person": "  - {{id: R1, process: OSP-3, kind: role, role: owner, person: {v}}}",
    "approver": "  - {{id: X1, process: OSP-3, kind: exclusion, justification: j, "
                "approver: {v}}}",
    "justification": "  - {{id: X1, process: OSP-3, kind: exclusion, approver: a, "
                     "justification: {v}}}",
    "process": "  - {{id: D1, process: {v}, kind: documentation, path: d.md}}",
}


@pytest.mark.parametrize("written, read", [
    ("0x1F", "a number (31)"), ("012", "a number (10)"), ("190:20:30", "a number (685230)"),
    (".nan", "a number (nan)"), ("1_000", "a number (1000)"), ("+12", "a number (12)"),
    ("1.0e+3", "a number (1000.0)"), ("1.50", "a number (1.5)"), ("yes", "a boolean (True)"),
    ("off", "a boolean (False)"),
])
@pytest.mark.parametrize("field", sorted(ITEMS))
def test_a_coerced_scalar_is_refused_with_a_hint_to_quote_it(tmp_path: Path, field: str,
                                                            written: str, read: str) -> None:
    root = _root(tmp_path, f"{HEAD}evidence:\n{ITEMS[field].format(v=written)}\n")
    _error(root, "bundle.yaml:4: item ")
    _error(root, f"'{field}' must be text, but YAML reads {written} as {read}; quote it: "
                 f"{field}: \"{written}\"")


@pytest.mark.parametrize("where", ["organization: {{id: {v}, name: A}}",
                                   "organization: {{id: a, name: {v}}}"])
def test_the_organization_is_not_renamed_either(tmp_path: Path, where: str) -> None:
    root = _root(tmp_path, "schema: ism3-evidence/1\n" + where.format(v="0x1F")
                 + "\nevidence: []\n")
    _error(root, "bundle.yaml:2: 'id' must be text" if "id: 0x" in where.format(v="0x1F")
           else "bundle.yaml:2: 'name' must be text")


def test_numbers_that_read_back_as_written_keep_working(tmp_path: Path) -> None:
    """A version-1 bundle with `id: 2026` or `title: 12.5` keeps its meaning."""
    root = _root(tmp_path, HEAD + "evidence:\n"
                 "  - {id: 2026, process: OSP-3, kind: documentation, path: d.md, title: 12.5}\n")
    item = load_bundle(root).items[0]
    assert (item.id, item.title, item.status) == ("2026", "12.5", "accepted")


def test_a_metric_specification_text_is_not_renamed(tmp_path: Path) -> None:
    root = _root(tmp_path, HEAD + "evidence:\n  - {id: M1, process: OSP-3, kind: metric, "
                 "metric_type: scope, observations: [{date: 2026-01-01, value: 1}], "
                 "specification: {units: 0x10}}\n")
    _error(root, "specification: 'units' must be text, but YAML reads '0x10' as a number (16)")


def test_composed_and_decomposed_forms_are_one_id(tmp_path: Path) -> None:
    nfc, nfd = "DOC-caf\u00e9", "DOC-cafe\u0301"
    assert unicodedata.normalize("NFC", nfd) == nfc and nfc != nfd
    root = _root(tmp_path, HEAD + "evidence:\n"
                 f"  - {{id: {nfc}, process: OSP-3, kind: documentation, path: d.md}}\n"
                 f"  - {{id: {nfd}, process: OSP-4, kind: documentation, path: d.md}}\n")
    _error(root, f"bundle.yaml:5: item {nfc}: duplicate id (first used at line 4)")
    root = _root(tmp_path, HEAD + "evidence:\n"
                 f"  - {{id: {nfd}, process: OSP-3, kind: documentation, path: d.md}}\n")
    assert load_bundle(root).items[0].id == nfc


@pytest.mark.parametrize("char, name", [
    ("\u200b", "U+200B ZERO WIDTH SPACE"), ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"), ("\u00a0", "U+00A0 NO-BREAK SPACE"),
    ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"), ("\u00ad", "U+00AD SOFT HYPHEN"),
    ("\ufe0f", "U+FE0F VARIATION SELECTOR-16"), ("\u3164", "U+3164 HANGUL FILLER"),
    ("\U000e0041", "U+E0041 TAG LATIN CAPITAL LETTER A"), ("\x7f", "U+007F"),
])
def test_an_id_with_an_invisible_character_is_refused(tmp_path: Path, char: str,
                                                      name: str) -> None:
    written = char if char.isprintable() or ord(char) > 0xff else f"\\x{ord(char):02x}"
    root = _root(tmp_path, HEAD + "evidence:\n"   # a control character as a YAML escape
                 f"  - {{id: \"DOC{written}1\", process: OSP-3, kind: documentation, "
                 "path: d.md}\n")
    _error(root, f"'id' holds an invisible character ({name}); an id must be written with "
                 "visible characters only")


def test_an_id_mixing_look_alike_scripts_is_refused(tmp_path: Path) -> None:
    root = _root(tmp_path, HEAD + "evidence:\n"   # a Cyrillic O in a Latin id
                 "  - {id: D\u041eC-1, process: OSP-3, kind: documentation, path: d.md}\n")
    _error(root, "'id' mixes the scripts CYRILLIC, LATIN")


def test_japanese_ids_may_mix_their_scripts_with_latin(tmp_path: Path) -> None:
    root = _root(tmp_path, HEAD + "evidence:\n"
                 "  - {id: DOC-\u6587\u66f8-\u30c6\u30b9\u30c8-\u3072, process: OSP-3, "
                 "kind: documentation, path: d.md}\n")
    assert load_bundle(root).items[0].accepted


@pytest.mark.parametrize("first, second", [
    ("ABC-1", "\u0410\u0412\u0421-1"),             # Cyrillic A, V, S look like Latin A, B, C
    ("DOC-1", "\uff24\uff2f\uff23-1"),             # full-width letters
    ("\u03a4\u039f-1", "TO-1"),                   # Greek Tau, Omicron
])
def test_ids_that_print_alike_are_refused(tmp_path: Path, first: str, second: str) -> None:
    root = _root(tmp_path, HEAD + "evidence:\n"
                 f"  - {{id: {first}, process: OSP-3, kind: documentation, path: d.md}}\n"
                 f"  - {{id: {second}, process: OSP-4, kind: documentation, path: d.md}}\n")
    _error(root, f"bundle.yaml:5: item {second}: id looks the same as id '{first}' (line 4) "
                 "but is written with other characters")


def test_persons_that_print_alike_are_refused(tmp_path: Path) -> None:
    """The division-of-duties rules compare persons: a Cyrillic С would evade them."""
    root = _root(tmp_path, HEAD + "evidence:\n"
                 "  - {id: R1, process: OSP-3, kind: role, role: operator, person: Dr. Chen}\n"
                 "  - {id: R2, process: OSP-3, kind: role, role: auditor, "
                 "person: Dr. \u0421hen}\n")
    _error(root, "bundle.yaml:5: item R2: person 'Dr. \u0421hen' looks the same as 'Dr. Chen' "
                 "(line 4)")
    root = _root(tmp_path, HEAD + "evidence:\n"
                 "  - {id: R1, process: OSP-3, kind: role, role: operator, "
                 "person: \"Dr.\u200bChen\"}\n")
    _error(root, "'person' holds an invisible character (U+200B ZERO WIDTH SPACE)")


def test_a_person_written_in_both_normal_forms_is_one_person(tmp_path: Path) -> None:
    root = _root(tmp_path, HEAD + "evidence:\n"
                 "  - {id: R1, process: OSP-3, kind: role, role: operator, person: Jos\u00e9}\n"
                 "  - {id: R2, process: OSP-3, kind: role, role: auditor, person: Jose\u0301}\n")
    result = CliRunner().invoke(main, ["evaluate", str(root), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert "division-of-duties" in result.output   # the rule saw one person


def test_a_service_level_names_a_metric_in_either_normal_form(tmp_path: Path) -> None:
    root = _root(tmp_path, HEAD + "evidence:\n"
                 "  - {id: M-caf\u00e9, process: OSP-3, kind: metric, metric_type: activity, "
                 "observations: [{date: 2026-01-01, value: 1}]}\n"
                 "service_levels:\n  - {id: S1, process: OSP-3, metric: M-cafe\u0301, "
                 "target: '>= 0'}\n")
    assert load_bundle(root).service_levels[0].metric == "M-caf\u00e9"
