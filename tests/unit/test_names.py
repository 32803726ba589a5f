"""Names that an article introduces itself ("a group calling itself “X”"): the span finder, on real text."""

import pytest

from processors.nlp.components import WordSplitter
from processors.nlp.names import name_after

_SPLITTER = WordSplitter(r"\w+|[^\w\s]")


def _name(text: str, phrase_end_word: str) -> str | None:
    words, _ = _SPLITTER.split(text)
    span = name_after(words, words.index(phrase_end_word) + 1, 6)
    return " ".join(words[span[0]:span[1]]) if span else None


@pytest.mark.parametrize(("text", "after", "expected"), [
    # quoted or bracketed, Arabic or Latin script, with or without the word "name"
    ("مجموعة تطلق على نفسها «فرسان الظلام» اخترقت الموقع", "نفسها", "فرسان الظلام"),
    ("هكرز أطلقوا على مجموعتهم اسم (Team_Ghost) الموقع", "مجموعتهم", "Team_Ghost"),
    ("مجموعة قراصنة تدعى “الفرقة 13” نشرت البيانات", "تدعى", "الفرقة 13"),
    ("a group calling itself \"Guardians of Peace\" said", "itself", "Guardians of Peace"),
    # an unquoted Latin name: capitalised words, lower case only after a joiner
    ("هكرز يطلقون على أنفسهم اسم Team Poison حساب الوزارة", "أنفسهم", "Team Poison"),
    ("a group calling itself Stealth Ravens launched attacks", "itself", "Stealth Ravens"),
    ("a crew known as Snapsaved.com leaked photos", "as", "Snapsaved . com"),
    # no quoted and no Latin name: nothing (an unquoted Arabic name has no clear end)
    ("مجموعة تطلق على نفسها فرسان الظلام اخترقت الموقع", "نفسها", None),
    ("a group calling itself hackers for hire", "itself", None),
    ("مجموعة تدعى «» نشرت", "تدعى", None),
])
def test_name_after_a_naming_phrase(text, after, expected):
    assert _name(text, after) == expected

