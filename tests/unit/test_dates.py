"""Event dates resolved against the publication date."""

from datetime import datetime

import pytest

from processors.nlp import arabic
from processors.nlp.dates import compile_date_rules, resolve_event_date
from processors.nlp.knowledge import load_knowledge

PUBLISHED = datetime(2022, 6, 22)  # a Wednesday


@pytest.mark.parametrize(("lang", "sentence", "expected"), [
    ("en", "On 19 June 2022, Turkish army warplanes carried out airstrikes", "2022-06-19"),
    ("en", "Libya signed the treaty on September 24, 1996.", "1996-09-24"),
    ("en", "Libya signed the treaty in November 2001", "2001-11"),
    ("en", "Jets struck the town yesterday", "2022-06-21"),
    ("en", "Rebels attacked the base on Monday", "2022-06-20"),
    ("en", "The deal was signed last week", "2022-06-15"),
    ("en", "Troops clashed with militants", "2022-06-22"),
    ("ar", "شنت الطائرات غارات أمس", "2022-06-21"),
    ("ar", "وقعت قطر الاتفاق يوم الاثنين", "2022-06-20"),
    ("ar", "في 19 يونيو 2022 قصفت", "2022-06-19"),
    ("ar", "في الأسبوع الماضي", "2022-06-15"),
    ("ar", "وقع في 3 حزيران 2015", "2015-06-03"),
])
def test_dates_resolve(lang, sentence, expected):
    rules = compile_date_rules(load_knowledge().dates[lang], lang)
    text = arabic.fold(arabic.normalise_word(sentence)) if lang == "ar" else sentence
    assert resolve_event_date(text, rules, PUBLISHED) == expected


def test_dates_without_publication_date_or_expression():
    rules = compile_date_rules(load_knowledge().dates["en"], "en")
    assert resolve_event_date("Troops clashed with militants", rules, None) is None
    assert resolve_event_date("on 31 February 2020 they struck", rules, None) is None
