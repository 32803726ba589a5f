"""Sentence splitting for news text in Arabic and English (pure, regex based, offsets kept).

Rules: a sentence ends at . ! ? ؟ (plus any closing quotes or brackets) followed by white space,
unless the period closes a known abbreviation or an initialism followed by a lower-case word
("U.S. officials"); a blank line always ends a sentence; a single line break is only a wrap. Very
long sentences are cut at the last clause mark before the limit so that work stays bounded.
"""

from __future__ import annotations

import re
from collections.abc import Collection

_END = re.compile(r"[.!?؟…]+[\"'”’»)\]]*(?=\s)|\n[ \t]*\n")
_INITIALISM = re.compile(r"(?:\b[A-Za-z]\.)+$")
_CLAUSE = re.compile(r"[;؛،,:]\s")
MAX_SENTENCE_CHARS = 1000


def split_sentences(text: str, abbreviations: Collection[str] = frozenset(),
                    max_chars: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """Return (start, end) character spans of the sentences of `text`, stripped of white space."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _END.finditer(text):
        end = match.end()
        if not match.group().startswith("\n") and _is_abbreviation(text, match.start(), end, abbreviations):
            continue
        _add(text, start, end, spans, max_chars)
        start = end
    _add(text, start, len(text), spans, max_chars)
    return spans


def _is_abbreviation(text: str, dot: int, end: int, abbreviations: Collection[str]) -> bool:
    if text[dot] != ".":
        return False
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot + 1]
    following = text[end:end + 40].lstrip()[:1]
    if word.lower().lstrip("(\"'") in abbreviations:
        return True
    # "U.S. officials": an initialism followed by a lower-case word or a digit does not end a sentence.
    return bool(_INITIALISM.search(word)) and (following.islower() or following.isdigit())


def _add(text: str, start: int, end: int, spans: list[tuple[int, int]], max_chars: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while end - start > max_chars:
        cut = _last_clause_break(text, start, start + max_chars)
        spans.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        spans.append((start, end))


def _last_clause_break(text: str, start: int, limit: int) -> int:
    breaks = [m.end() for m in _CLAUSE.finditer(text, start + max(1, (limit - start) // 2), limit)]
    if breaks:
        return breaks[-1]
    space = text.rfind(" ", start + 1, limit)
    return space if space > start else limit
