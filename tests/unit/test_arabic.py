"""Arabic normalisation and clitic analysis."""

import pytest

from processors.nlp import arabic


@pytest.mark.parametrize(("raw", "expected"), [
    ("أمْنِيّاً", "أمنيا"),          # harakat and tanwin go; hamza stays until lexicon_form
    ("إيران", "إيران"),
    ("مصطفى", "مصطفي"),             # alef maqsura
    ("الدولة", "الدوله"),            # taa marbuta
    ("بـ\"داعش\"", "ب\"داعش\""),     # tatweel
    ("مؤسسة", "موسسه"),
    ("٢٠١٥", "2015"),
])
def test_arabic_normalise_word(raw, expected):
    assert arabic.normalise_word(raw) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("أمنيا", "امنيا"),
    ("الإلكترونية", "الكترونيه"),   # the article goes, then the hamza: same form as إلكترونية
    ("إلكترونيه", "الكترونيه"),
    ("ألمانيا", "المانيا"),          # a hamzated alef is not the article
    ("الاتفاقيه", "اتفاقيه"),
])
def test_arabic_lexicon_form(word, expected):
    assert arabic.lexicon_form(arabic.normalise_word(word)) == expected


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
         "ليبيا", "امريكيون", "اتفاقيه", "ما", "هند", "وقعت", "ابرمت", "قوات"}


@pytest.mark.parametrize(("word", "expected"), [
    ("وقطر", "قطر"),                 # conjunction
    ("بريطانيا", "بريطانيا"),         # starts with ب but is a word of its own
    ("البريطانية", "بريطانيه"),       # article + feminine nisba
    ("والبريطانيين", "بريطانيين"),    # conjunction + article + plural nisba
    ("القطريين", "قطريين"),
    ("كما", "كما"),                   # too short to hold a clitic: not ك + ما
    ("للولايات", "ولايات"),           # لل = ل + ال
    ("والهند", "هند"),
    ("وبالاتفاقيه", "اتفاقيه"),
    ("الامريكيون", "امريكيون"),
    ("لليبيا", "ليبيا"),
    ("كتاب", "كتاب"),                 # unknown word: left as is
    ("وقعتها", "وقعت"),               # attached object pronoun: "signed it"
    ("أبرمتهما", "ابرمت"),            # "concluded the two of them"
    ("وقواتهم", "قوات"),              # conjunction + possessive: "and their forces"
    ("الدولة", "دوله"),               # a final ه is a folded taa marbuta, not a pronoun
])
def test_arabic_analyse_strips_clitics_only_to_known_words(word, expected):
    assert arabic.analyse(arabic.normalise_word(word), KNOWN) == expected


@pytest.mark.parametrize(("word", "expected"), [
    ("الهند", True), ("والهند", True), ("بالهند", True), ("للهند", True), ("وللهند", True),
    ("هند", False), ("وهند", False), ("الف", False),
])
def test_arabic_has_article_after_clitics(word, expected):
    assert arabic.has_article(word) is expected


def test_arabic_nisba_forms():
    assert arabic.nisba_forms("قطري") == ["قطري", "قطريه", "قطريين", "قطريون", "قطريان", "قطريات", "قطريا"]
    assert arabic.nisba_forms("داعش") == ["داعش"]


def test_arabic_analyser_is_memoised_and_consistent():
    analyse = arabic.make_analyser(KNOWN)
    assert analyse("وقطر") == analyse("وقطر") == "قطر"


def test_arabic_canonical_vocabulary_reduces_clitic_words_inside_long_names():
    vocabulary = arabic.canonical_vocabulary({"مملكه", "لبريطانيا", "بريطانيا", "عظمي", "بين"})
    assert "لبريطانيا" not in vocabulary and "بريطانيا" in vocabulary
    assert arabic.analyse("لبريطانيا", vocabulary) == "بريطانيا"
    assert "بين" in vocabulary  # too short to hold a clitic


def test_arabic_strip_marks_keeps_letters_as_written():
    assert arabic.strip_marks("كَتِيبَةُ الظـلام\u200f") == "كتيبة الظلام"
