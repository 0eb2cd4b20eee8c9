"""Identifiers from a bundle (item ids, persons): one spelling per name, nothing hidden.

Two identifiers that print the same must be the same identifier, or the bundle is
refused: an id is normalised to Unicode NFC (so the composed and decomposed forms
of `é` are one id); an id or a person holding an invisible character (a control or
format character such as a zero-width space or a bidi override, a line separator, a
space other than U+0020, a variation selector) is refused; an id that mixes
scripts whose letters look alike (Latin `a` and Cyrillic `а`) is refused; and two
ids (or two persons) of one bundle whose look-alike skeletons are equal (`АВС` in
Cyrillic and `ABC` in Latin, full-width `ＤＯＣ` and `DOC`) are refused.
"""

from __future__ import annotations

import unicodedata

# Letters of Cyrillic and Greek that print as a Latin letter in common fonts, mapped
# to it (a subset of Unicode's confusables, the letters an id or a name would use).
_LOOK_ALIKE = str.maketrans({
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ү": "Y", "Ԛ": "Q",
    "Ԝ": "W", "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
    "ѕ": "s", "і": "i", "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ν": "v",
})
_INVISIBLE_CATEGORIES = ("Cc", "Cf", "Cs", "Zl", "Zp")
_BLANK_LETTERS = frozenset("\u034f\u115f\u1160\u2800\u3164\uffa0")
# Scripts an identifier may mix (UTS #39 "highly restrictive"): Japanese, Chinese
# and Korean writing mix with each other's Han and with Latin; no other script mixes.
_MIXES = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
          frozenset({"LATIN", "HAN", "BOPOMOFO"}),
          frozenset({"LATIN", "HAN", "HANGUL"}))


def normalise(text: str) -> str:
    """`text` in Unicode normal form C."""
    return unicodedata.normalize("NFC", text)


def invisible_char(text: str) -> str | None:
    """A description of the first invisible character of `text` (None: there is none)."""
    for char in text:
        code = ord(char)
        category = unicodedata.category(char)
        if (category in _INVISIBLE_CATEGORIES or (category == "Zs" and char != " ")
                or char in _BLANK_LETTERS or 0xFE00 <= code <= 0xFE0F
                or 0xE0100 <= code <= 0xE01EF):
            name = unicodedata.name(char, "")
            return f"U+{code:04X} {name}" if name else f"U+{code:04X}"
    return None


def _script(char: str) -> str | None:
    if not unicodedata.category(char).startswith("L"):
        return None
    word = unicodedata.name(char, "UNKNOWN").split(" ")[0]
    if word == "CJK":
        return "HAN"
    return "KATAKANA" if word == "KATAKANA-HIRAGANA" else word


def scripts(text: str) -> frozenset[str]:
    """The scripts of the letters of `text` (compatibility forms folded first)."""
    return frozenset(s for s in map(_script, unicodedata.normalize("NFKC", text)) if s)


def id_problem(text: str) -> str | None:
    """Why `text` (already NFC) cannot be an identifier, or None when it can."""
    hidden = invisible_char(text)
    if hidden is not None:
        return (f"holds an invisible character ({hidden}); an id must be written with "
                "visible characters only")
    found = scripts(text)
    if len(found) > 1 and not any(found <= allowed for allowed in _MIXES):
        return (f"mixes the scripts {', '.join(sorted(found))}: letters that look alike "
                "(Latin 'a', Cyrillic 'а') would give ids that print the same; write it in "
                "one script")
    return None


def name_problem(text: str) -> str | None:
    """Why `text` (already NFC) cannot name a person, or None when it can."""
    hidden = invisible_char(text)
    if hidden is not None:
        return (f"holds an invisible character ({hidden}); write the name with visible "
                "characters only")
    return None


def skeleton(text: str) -> str:
    """What `text` looks like: compatibility forms folded (NFKC) and Cyrillic and
    Greek look-alikes of Latin letters replaced by them. Equal skeletons print alike."""
    return unicodedata.normalize("NFKC", text).translate(_LOOK_ALIKE)
