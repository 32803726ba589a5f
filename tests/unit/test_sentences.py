"""Sentence splitting in both languages."""

from processors.nlp.knowledge import load_knowledge
from processors.nlp.sentences import split_sentences


def _split(text, abbreviations=frozenset()):
    return [text[s:e] for s, e in split_sentences(text, abbreviations)]


def test_sentences_english_abbreviations_numbers_and_quotes():
    text = ('U.S. officials said on Monday. Mr. Smith met the U.K. envoy. '
            'He said "we are happy." Then 3.5 km away, fighting.\n\nNew paragraph')
    assert _split(text, load_knowledge().abbreviations) == [
        "U.S. officials said on Monday.", "Mr. Smith met the U.K. envoy.", 'He said "we are happy."',
        "Then 3.5 km away, fighting.", "New paragraph"]


def test_sentences_arabic_line_wraps_are_not_boundaries():
    text = 'وقعت\nبريطانيا وقطر اتفاقا أمنيا؛ لمواجهة التهديد. وفق صحيفة "فايننشال تايمز". وقال 2.5 مليون؟ نعم'
    assert _split(text) == ["وقعت\nبريطانيا وقطر اتفاقا أمنيا؛ لمواجهة التهديد.", 'وفق صحيفة "فايننشال تايمز".',
                            "وقال 2.5 مليون؟", "نعم"]


def test_sentences_long_sentence_is_cut_at_a_clause_mark():
    text = ", ".join(["word " * 30] * 20)  # ~3,000 characters, no full stop
    spans = split_sentences(text, max_chars=1000)
    assert len(spans) >= 3
    assert all(e - s <= 1000 for s, e in spans)
    assert spans[0][0] == 0 and spans[-1][1] == len(text.rstrip())


def test_sentences_empty_text():
    assert split_sentences("   \n\n ") == []


def test_sentences_regex_tokens_keep_every_offset():
    import re

    from processors.nlp.components import WordSplitter

    splitter = WordSplitter(re.compile(r"\w+|[^\w\s]"))
    for text in ("  a  b\tc \n d ", "a b, c.", "a"):
        words, spaces = splitter.split(text)
        assert "".join(w + (" " if s else "") for w, s in zip(words, spaces, strict=True)) == text
