"""Language identification."""

import pytest

from processors.nlp.language import detect_language


@pytest.mark.parametrize(("text", "expected"), [
    ("وقعت بريطانيا وقطر اتفاقا أمنيا للمشاركة في المعلومات الاستخبارية", "ar"),
    ("The army said on Monday that it had shelled positions of the rebels in the north.", "en"),
    ("Le gouvernement a signé un accord avec le Qatar pour la sécurité des frontières.", None),
    ("Правительство подписало соглашение о безопасности с Катаром в понедельник вечером.", None),
    ("1234 5678 !!!", None),
    ("", None),
])
def test_language_detect(text, expected):
    assert detect_language(text) == expected
