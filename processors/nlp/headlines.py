"""Headline casing: "Hackers Infect PGA Computers With Ransomware" -> "Hackers infect PGA computers with ransomware".

Title Case hides which words are names, and a tagger trained on running text takes every capitalised
headline word for one. The article's own text says how each word is written: a word that its body
writes in lower case more often than capitalised is lower-cased; names (PGA, Atlanta), words the body
never uses and the first word keep their case; English stop words are lower-cased unless the body
capitalises them. The length never changes, so offsets still hold.
"""

from __future__ import annotations

import re

from spacy.lang.en.stop_words import STOP_WORDS

_WORD = re.compile(r"[^\W\d_][\w'’]*")
_TITLE_CASE_SHARE = 0.6  # of a headline's words capitalised: below that it is written as a sentence
_MIN_WORDS = 3
_MAX_WORDS = 40  # a longer "title" is not a headline; it is left as it is (and its cost bounded)


def truecase(headline: str, body: str) -> str:
    """Return a Title Case headline with the words its body writes in lower case lower-cased."""
    words = list(_WORD.finditer(headline))
    capitalised = [w for w in words if w.group()[0].isupper()]
    if not _MIN_WORDS <= len(words) <= _MAX_WORDS or len(capitalised) < _TITLE_CASE_SHARE * len(words):
        return headline
    chars = list(headline)
    for match in capitalised[1:] if capitalised and capitalised[0].start() == words[0].start() else capitalised:
        word = match.group()
        if word.isupper():
            continue  # an acronym, or a letter of one ("U.S.")
        if _lower_in(word, body):
            chars[match.start()] = word[0].lower()
    return "".join(chars)


def _lower_in(word: str, body: str) -> bool:
    # Substring counts (C speed): "infect" also counts "infected", so a word's forms all vote.
    lower = word[0].lower() + word[1:]
    as_lower, as_written = body.count(lower), body.count(word)
    if lower in STOP_WORDS:
        return as_written <= as_lower  # "With", "Over", "It": spaCy's English stop words
    return as_lower > as_written
