"""Arabic orthographic normalisation and clitic-aware word analysis (pure functions, no spaCy).

News Arabic writes the same word many ways: hamza on or under alef or not at all, final yaa with or
without dots, taa marbuta as haa, optional short vowels and tatweel. Matching is done on one
normalised form, and the character offsets of the original text are kept so that evidence can be
quoted exactly.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Collection

# One-to-one letter folding (keeps offsets): alef forms -> alef, alef maqsura -> yaa,
# taa marbuta -> haa, hamza on waw/yaa -> waw/yaa, Persian/Urdu letters seen in Arabic news.
_FOLD = str.maketrans({
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي",
    "ی": "ي", "ک": "ك", "ە": "ه", "٠": "0", "١": "1", "٢": "2", "٣": "3", "٤": "4",
    "٥": "5", "٦": "6", "٧": "7", "٨": "8", "٩": "9",
})
# Removed characters: harakat, superscript alef, Quranic marks, tatweel, bidi and zero-width marks.
_DELETE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
                     "\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

# Proclitics that attach to a noun or verb in writing, longest first. Conjunction (و ف),
# prepositions (ب ل ك), the article (ال) and their combinations.
PROCLITICS: tuple[str, ...] = (
    "وبال", "فبال", "وكال", "فكال", "وال", "فال", "بال", "كال", "ولل", "فلل", "لل",
    "وب", "فب", "ول", "فل", "وك", "فك", "ال", "و", "ف", "ب", "ل", "ك",
)
# What a nisba adjective (قطري) adds for feminine, plural, dual and the accusative, normalised.
NISBA_SUFFIXES: tuple[str, ...] = ("", "ه", "ين", "ون", "ان", "ات", "ا")
# A clitic is only split off when at least this many letters remain (كما is not ك + ما).
_MIN_STEM = 3


def fold(text: str) -> str:
    """Return `text` with letter variants folded one to one (same length, same offsets)."""
    return text.translate(_FOLD)


class Normalised:
    """Normalised text plus the map from its offsets back to the original text's offsets."""

    __slots__ = ("_deleted", "text")

    def __init__(self, text: str, deleted: list[int]):
        self.text = text
        self._deleted = deleted  # original offsets of removed characters, ascending

    def original_offset(self, offset: int) -> int:
        """Return the offset in the original text of the character at `offset` in the normalised text."""
        if not self._deleted:
            return offset
        # Each removed character before the target shifts it by one; walk until stable.
        shift = 0
        while True:
            moved = bisect_right(self._deleted, offset + shift)
            if moved == shift:
                return offset + shift
            shift = moved


def normalise(text: str) -> Normalised:
    """Return the normalised form of Arabic text (diacritics and tatweel removed, letters folded)."""
    deleted = [m.start() for m in _DELETE.finditer(text)]
    stripped = _DELETE.sub("", text) if deleted else text
    return Normalised(fold(stripped), deleted)


def normalise_word(word: str) -> str:
    """Return one word normalised (for lexicon entries)."""
    return fold(_DELETE.sub("", word))


def strip_article(word: str) -> str:
    """Return `word` without the definite article, the form in which lexicon entries are stored."""
    return word[2:] if word.startswith("ال") and len(word) - 2 >= _MIN_STEM else word


def nisba_forms(base: str) -> list[str]:
    """Return the inflected forms of a normalised nisba adjective (قطري -> قطريه، قطريين …)."""
    return [base + suffix for suffix in NISBA_SUFFIXES] if base.endswith("ي") else [base]


def analyse(word: str, known: Collection[str]) -> str:
    """Return the lexicon form that a normalised word stands for, or the word itself.

    Tries the word as written, without the article, then without each proclitic. Only stems
    present in `known` count, so a word that merely starts with a clitic letter (بريطانيا,
    ليبيا) is left whole.
    """
    for candidate in _candidates(word):
        if candidate in known:
            return candidate
    return strip_article(word)


def _candidates(word: str) -> list[str]:
    found = [word, strip_article(word)]
    for clitic in PROCLITICS:
        if word.startswith(clitic) and len(word) - len(clitic) >= _MIN_STEM:
            rest = word[len(clitic):]
            # "لل" already swallowed the article's alef: لل+دولة = للدولة.
            found.append(rest if clitic.endswith("لل") else strip_article(rest))
    return found


def make_analyser(known: Collection[str]) -> Callable[[str], str]:
    """Return a memoised `analyse` bound to one lexicon vocabulary."""
    cache: dict[str, str] = {}

    def analyse_cached(word: str) -> str:
        result = cache.get(word)
        if result is None:
            result = analyse(word, known)
            if len(cache) < 500_000:
                cache[word] = result
        return result

    return analyse_cached
