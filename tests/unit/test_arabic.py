"""Arabic normalisation and clitic analysis."""

import pytest

from processors.nlp import arabic


@pytest.mark.parametrize(("raw", "expected"), [
    ("أمْنِيّاً", "امنيا"),          # hamza on alef, harakat, tanwin
    ("إيران", "ايران"),
    ("آلاف", "الاف"),
    ("مصطفى", "مصطفي"),             # alef maqsura
    ("الدولة", "الدوله"),            # taa marbuta
    ("بـ\"داعش\"", "ب\"داعش\""),     # tatweel
    ("مؤسسة", "موسسه"),
    ("٢٠١٥", "2015"),
])
def test_arabic_normalise_word(raw, expected):
    assert arabic.normalise_word(raw) == expected


def test_arabic_normalise_keeps_original_offsets():
    text = "وقّعت بريطانيـا اتفاقاً"
    norm = arabic.normalise(text)
    assert norm.text == "وقعت بريطانيا اتفاقا"
    start = norm.text.index("بريطانيا")
    end = start + len("بريطانيا")
    original = text[norm.original_offset(start):norm.original_offset(end - 1) + 1]
    assert original == "بريطانيـا"
    assert text[norm.original_offset(norm.text.index("اتفاقا")):] == "اتفاقاً"


KNOWN = {"قطر", "قطري", "قطريين", "بريطاني", "بريطانيه", "بريطانيين", "بريطانيا", "ولايات", "متحده", "دوله",
         "ليبيا", "امريكيون", "اتفاقيه", "ما"}


@pytest.mark.parametrize(("word", "expected"), [
    ("وقطر", "قطر"),                 # conjunction
    ("بريطانيا", "بريطانيا"),         # starts with ب but is a word of its own
    ("البريطانية", "بريطانيه"),       # article + feminine nisba
    ("والبريطانيين", "بريطانيين"),    # conjunction + article + plural nisba
    ("القطريين", "قطريين"),
    ("كما", "كما"),                   # too short to hold a clitic: not ك + ما
    ("للولايات", "ولايات"),           # لل = ل + ال
    ("وبالاتفاقيه", "اتفاقيه"),
    ("الامريكيون", "امريكيون"),
    ("لليبيا", "ليبيا"),
    ("كتاب", "كتاب"),                 # unknown word: left as is
])
def test_arabic_analyse_strips_clitics_only_to_known_words(word, expected):
    assert arabic.analyse(arabic.normalise_word(word), KNOWN) == expected


def test_arabic_nisba_forms():
    assert arabic.nisba_forms("قطري") == ["قطري", "قطريه", "قطريين", "قطريون", "قطريان", "قطريات", "قطريا"]
    assert arabic.nisba_forms("داعش") == ["داعش"]


def test_arabic_analyser_is_memoised_and_consistent():
    analyse = arabic.make_analyser(KNOWN)
    assert analyse("وقطر") == analyse("وقطر") == "قطر"
