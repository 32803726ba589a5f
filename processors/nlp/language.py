"""Cheap language identification for the two languages the product reads (no model, no spaCy)."""

from __future__ import annotations

import re

_ARABIC_LETTER = re.compile(r"[\u0621-\u064A\u0671-\u06D3\u06FA-\u06FF]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_ENGLISH_WORD = re.compile(
    r"\b(?:the|of|and|to|in|is|was|for|on|that|with|said|by|as|at|from|has|have|were|are|it|its|an|be)\b",
    re.IGNORECASE,
)
_SAMPLE_CHARS = 4000


def detect_language(text: str) -> str | None:
    """Return "ar", "en", or None when the text is neither (or too short to tell)."""
    sample = text[:_SAMPLE_CHARS]
    arabic = len(_ARABIC_LETTER.findall(sample))
    latin = len(_LATIN_LETTER.findall(sample))
    if arabic + latin < 20:
        return None
    if arabic >= latin:
        return "ar" if arabic >= 20 else None
    words = max(1, len(sample.split()))
    # Latin script alone is not English: French, Spanish or Turkish news must not pass as English.
    return "en" if len(_ENGLISH_WORD.findall(sample)) / words >= 0.08 else None
