"""Arabic orthographic normalisation and clitic-aware word analysis (pure functions, no spaCy).

News Arabic writes the same word many ways: hamza on or under alef or not at all, final yaa with or
without dots, taa marbuta as haa, optional short vowels and tatweel. Matching is done on one
normalised form, and the character offsets of the original text are kept so that evidence can be
quoted exactly.

Two steps: `normalise` removes marks and folds the letters that never change how a word splits;
`lexicon_form` then removes clitics and the article and folds the alef forms last, because a
hamzated alef is part of the word (إلكتروني, ألمانيا) while a plain one may start the article.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Collection

# One-to-one letter folding (keeps offsets): alef maqsura -> yaa, taa marbuta -> haa, hamza on
# waw/yaa -> waw/yaa, Persian/Urdu letters seen in Arabic news, Arabic-Indic digits.
_FOLD_LETTERS = {
    "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي", "ی": "ي", "ک": "ك", "ە": "ه", "٠": "0", "١": "1",
    "٢": "2", "٣": "3", "٤": "4", "٥": "5", "٦": "6", "٧": "7", "٨": "8", "٩": "9",
}
_FOLD_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})
_FOLD_LETTERS_ONLY = str.maketrans(_FOLD_LETTERS)
_FOLD_ALL = str.maketrans(_FOLD_LETTERS | {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"})
# Removed characters: harakat, superscript alef, Quranic marks, tatweel, bidi and zero-width marks.
_DELETE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
                     "\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

# Proclitics written attached to the next word: conjunctions, then prepositions, then the article.
CONJUNCTIONS: tuple[str, ...] = ("و", "ف")
PREPOSITIONS: tuple[str, ...] = ("ب", "ل", "ك")
ARTICLE = "ال"
# Object and possessive pronouns written attached to the end of a word: وقعتها ("signed it"),
# أبرمتهما ("concluded the two of them"), قواتهم ("their forces"). A bare ه is left alone: it is
# also a folded taa marbuta (الدوله).
ENCLITICS: tuple[str, ...] = ("هما", "ها", "هم", "هن")
# What a nisba adjective (قطري) adds for feminine, plural, dual and the accusative, normalised.
NISBA_SUFFIXES: tuple[str, ...] = ("", "ه", "ين", "ون", "ان", "ات", "ا")
# A clitic is only split off when at least this many letters remain (كما is not ك + ما).
_MIN_STEM = 3


def fold(text: str) -> str:
    """Return `text` with every letter variant folded, alef forms included (same length and offsets)."""
    return text.translate(_FOLD_ALL)


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
    """Return the normalised form of Arabic text (marks and tatweel removed, letters but alef folded)."""
    deleted = [m.start() for m in _DELETE.finditer(text)]
    stripped = _DELETE.sub("", text) if deleted else text
    return Normalised(stripped.translate(_FOLD_LETTERS_ONLY), deleted)


def normalise_word(word: str) -> str:
    """Return one word or phrase normalised like `normalise` (for lexicon entries)."""
    return _DELETE.sub("", word).translate(_FOLD_LETTERS_ONLY)


def strip_marks(text: str) -> str:
    """Return `text` without harakat, tatweel and invisible marks, its letters as written."""
    return _DELETE.sub("", text)


def lexicon_form(word: str) -> str:
    """Return the form in which a normalised lexicon word is stored: no article, alef folded."""
    return strip_article(word).translate(_FOLD_ALEF)


def strip_article(word: str) -> str:
    """Return `word` without the definite article (when enough of it remains)."""
    return word[2:] if word.startswith(ARTICLE) and len(word) - 2 >= _MIN_STEM else word


def nisba_forms(base: str) -> list[str]:
    """Return the inflected forms of a nisba adjective (قطري -> قطريه، قطريين …)."""
    return [base + suffix for suffix in NISBA_SUFFIXES] if base.endswith("ي") else [base]


def analyse(word: str, known: Collection[str]) -> str:
    """Return the lexicon form (article removed) that a normalised word stands for, or its bare form.

    Tries the word as written, then without its conjunction and preposition (للهند = ل + الهند),
    then without the article, then without an attached pronoun (وقعتها = وقعت + ها). Only forms
    present in `known` count, so a word that merely starts with a clitic letter (بريطانيا) is left
    whole. Whether the word carried the article is told by `has_article`: a name written with it
    (الهند) must not match a bare word (هند, a given name).
    """
    for candidate in _with_enclitics_off(_candidates(word)):
        form = candidate.translate(_FOLD_ALEF)
        if form in known:
            return form
    return lexicon_form(word)


def canonical_vocabulary(words: Collection[str]) -> frozenset[str]:
    """Return lexicon words with those that are a clitic plus another lexicon word reduced to it.

    A long name can carry a clitic inside (المملكة المتحدة لبريطانيا العظمى): its لبريطانيا must
    be stored as بريطانيا, or the text's لبريطانيا would stop there instead of reaching Britain.
    """
    known = frozenset(words)
    return frozenset(next((form for c in _candidates(w)[1:] if (form := c.translate(_FOLD_ALEF)) in known), w)
                     for w in known)


def has_article(word: str) -> bool:
    """Return whether a normalised word carries the definite article, after any conjunction/preposition."""
    return any(c.startswith(ARTICLE) and len(c) - 2 >= _MIN_STEM for c in _candidates(word))


def has_purpose_prefix(word: str, lexicon_word: str) -> bool:
    """Return whether a word carries the preposition ل ("to", "for") before the lexicon word it stands
    for: لتوقيع، للتوقيع، ولإبرام ("to sign", "for the signing"), not التوقيع or a word whose own first
    letter is ل."""
    text = normalise_word(word).translate(_FOLD_ALEF)
    if text[:1] in ("و", "ف") and len(text) > len(lexicon_word) + 1:
        text = text[1:]
    return text.startswith("لل") or (text.startswith("ل") and not text.startswith(ARTICLE)
                                     and not lexicon_word.startswith("ل"))


def _strip(words: list[str], clitics: tuple[str, ...]) -> list[str]:
    return [w[len(c):] for w in words for c in clitics if w.startswith(c) and len(w) - len(c) >= _MIN_STEM]


def _candidates(word: str) -> list[str]:
    found = [word, *_strip([word], CONJUNCTIONS)]
    # "لل" is ل + ال with the article's alef dropped: للهند = ل + الهند.
    found += _strip(found, PREPOSITIONS) + [ARTICLE + w[2:] for w in found if w.startswith("لل")]
    return found + [w[2:] for w in found if w.startswith(ARTICLE) and len(w) - 2 >= _MIN_STEM]


def _with_enclitics_off(candidates: list[str]) -> list[str]:
    return candidates + [w[:-len(e)] for w in candidates for e in ENCLITICS
                         if w.endswith(e) and len(w) - len(e) >= _MIN_STEM]


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
