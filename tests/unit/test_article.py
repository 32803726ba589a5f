"""ingest/article.py: ids, canonical URLs, decoding, validation reasons, HTML extraction."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.article import (
    ArticleOptions,
    InvalidRecord,
    article_id,
    canonical_url,
    decode,
    from_raw,
    html_charset,
    text_hash,
)
from ingest.sources import RawRecord

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
SEED_AR = (SAMPLES / "seed-article-ar.txt").read_text(encoding="utf-8")
VOA = [json.loads(line) for line in (SAMPLES / "voa-articles-en.jsonl").read_text().splitlines()]


def page(title: str, text: str, charset: str = "utf-8", date: str = "2016-02-14") -> str:
    paragraphs = "".join(f"<p>{p}.</p>" for p in text.split(". ") if p)
    return (f'<html><head><meta charset="{charset}"><title>{title}</title>'
            f'<meta property="article:published_time" content="{date}"></head>'
            f"<body><nav><a href='/'>Home</a> | <a href='/world'>World</a></nav>"
            f"<article><h1>{title}</h1>{paragraphs}</article><footer>© Example News</footer></body></html>")


def record(kind: str, data: bytes | str, **kw: object) -> RawRecord:
    raw = data.encode() if isinstance(data, str) else data
    return RawRecord(kind, raw, kw.pop("origin", "test:1"), **kw)  # type: ignore[arg-type]


# --- canonical URLs and ids ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "expected"), [
    ("HTTPS://Example.COM/News/1", "https://example.com/News/1"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com/a#comments", "https://example.com/a"),
    ("https://example.com/a?utm_source=rss&utm_medium=feed&id=7", "https://example.com/a?id=7"),
    ("https://example.com/a?fbclid=XYZ&gclid=abc", "https://example.com/a"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
    ("http://example.com", "http://example.com/"),
    ("https://www.aljazeera.net/news/2024/1/1/%D8%A7%D8%AA%D9%81%D8%A7%D9%82",
     "https://www.aljazeera.net/news/2024/1/1/%D8%A7%D8%AA%D9%81%D8%A7%D9%82"),
])
def test_article_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_article_id_same_story_same_id() -> None:
    first = article_id("https://Example.com/story?utm_campaign=x#top", "whatever")
    assert first == article_id("https://example.com/story", "other text")
    assert re.fullmatch(r"url:[0-9a-f]{16}", first)
    assert first != article_id("https://example.com/story?id=2", "whatever")


def test_article_id_from_text_ignores_spacing_and_case() -> None:
    one = article_id(None, "Turkey  shells\nKurdish positions.")
    assert re.fullmatch(r"sha1:[0-9a-f]{16}", one)
    assert one == article_id(None, "turkey shells kurdish positions")
    assert one != article_id(None, "Turkey shells Kurdish positions again")


def test_article_text_hash_folds_arabic_diacritics_and_tatweel() -> None:
    assert text_hash("وقَّعت بريطانيـــا اتفاقاً") == text_hash("وقعت بريطانيا اتفاقا")


# --- decoding -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("encode", [
    lambda t: t.encode("utf-8"),
    lambda t: t.encode("utf-8-sig"),
    lambda t: t.encode("utf-16"),  # with a byte-order mark
    lambda t: t.encode("utf-16-le"),
    lambda t: t.encode("utf-16-be"),
    lambda t: t.encode("cp1256"),  # legacy Arabic pages
], ids=["utf8", "utf8-bom", "utf16-bom", "utf16le", "utf16be", "cp1256"])
def test_article_decode_arabic(encode) -> None:
    text = SEED_AR[:600]
    assert decode(encode(text)) == text


def test_article_decode_uses_declared_charset() -> None:
    text = "وقعت بريطانيا وقطر اتفاقا أمنيا"
    assert decode(text.encode("iso-8859-6"), "iso-8859-6") == text


@pytest.mark.parametrize("data", [bytes(range(256)), b"\x00\x01\x02binary\xff\xfe\x00"])
def test_article_decode_rejects_binary(data: bytes) -> None:
    with pytest.raises(InvalidRecord) as caught:
        decode(data)
    assert caught.value.reason == "bad_encoding"


def test_article_html_charset_from_meta() -> None:
    assert html_charset(b'<html><head><meta charset="windows-1256">') == "windows-1256"
    legacy = b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-6">'
    assert html_charset(legacy) == "iso-8859-6"
    assert html_charset(b"<html><head><title>x</title>") is None


# --- records -> Article -------------------------------------------------------------------------------------

def test_article_from_jsonl_record_keeps_given_fields() -> None:
    article = from_raw(record("json", json.dumps(VOA[0])))
    assert article.id == VOA[0]["id"] and article.language == "en" and article.title == VOA[0]["title"]
    assert article.published_at == datetime(2016, 2, 14, tzinfo=UTC)
    assert article.text == VOA[0]["text"].strip()


def test_article_language_detected_when_missing() -> None:
    arabic = from_raw(record("text", SEED_AR))
    english = from_raw(record("json", json.dumps({"text": VOA[1]["text"]})))
    assert (arabic.language, english.language) == ("ar", "en")
    assert arabic.id.startswith("sha1:") and english.id.startswith("sha1:")


@pytest.mark.parametrize(("fields", "alias"), [({"content": "x"}, "content"), ({"body": "x"}, "body")])
def test_article_accepts_other_text_fields(fields: dict, alias: str) -> None:
    text = VOA[2]["text"]
    article = from_raw(record("json", json.dumps({alias: text, "link": "https://example.com/a?utm_source=x"})))
    assert article.text == text.strip() and article.url == "https://example.com/a?utm_source=x"
    assert article.id == article_id("https://example.com/a", text)


@pytest.mark.parametrize(("kind", "data", "reason", "message"), [
    ("json", '{"id": "a", "text": ""}', "empty_text", "test:1: the record has no text"),
    ("json", '{"id": "a", "text": "   \\n "}', "empty_text", "no text"),
    ("json", '{"id": "a", "title": "no text at all"}', "empty_text", "no text"),
    ("json", '{"id": "a", "text": "x"', "malformed_json", "test:1: Expecting ',' delimiter at column 24"),
    ("json", '{"id": "a",\n "text": }', "malformed_json", "at line 2 column 10"),
    ("json", '["a", "b"]', "not_an_object", "expected a JSON object, got list"),
    ("json", '{"text": "Bonjour", "language": "fr"}', "unsupported_language", "language 'fr'"),
    ("json", '{"text": "Le gouvernement a signé un accord de sécurité avec le Qatar."}',
     "unknown_language", "neither Arabic nor English"),
    ("json", '{"text": "12345 67890 !!!"}', "unknown_language", "too short to tell"),
    ("json", json.dumps({"text": VOA[0]["text"], "published_at": "last tuesday"}), "invalid_field",
     "published_at"),
    ("text", b"\x00\x01\x02\x03\xff\xfe\x00\x00", "bad_encoding", "binary data"),
    ("html", "<html><head><title>Live</title></head><body><div></div></body></html>", "empty_text",
     "no article text"),
])
def test_article_invalid_records_say_why(kind: str, data: str | bytes, reason: str, message: str) -> None:
    with pytest.raises(InvalidRecord) as caught:
        from_raw(record(kind, data))
    assert caught.value.reason == reason
    assert message in str(caught.value)


def test_article_text_too_large() -> None:
    options = ArticleOptions(max_text_bytes=1000, max_raw_bytes=100_000)
    with pytest.raises(InvalidRecord) as caught:
        from_raw(record("json", json.dumps(VOA[0])), options)
    assert caught.value.reason == "text_too_large" and "more than the 1000 byte limit" in str(caught.value)
    with pytest.raises(InvalidRecord) as raw:
        from_raw(record("text", "word " * 30_000), options)
    assert raw.value.reason == "text_too_large" and "150000 bytes" in str(raw.value)


def test_article_from_html_page() -> None:
    voa = VOA[3]
    article = from_raw(record("html", page(voa["title"], voa["text"]), url="https://news.example/a1?utm_source=rss"))
    assert article.title == voa["title"]
    assert article.language == "en" and article.url == "https://news.example/a1?utm_source=rss"
    assert article.id == article_id("https://news.example/a1", "")
    assert voa["text"].split(". ")[1] in article.text
    assert "Home" not in article.text and "©" not in article.text  # navigation and footer left out
    assert article.published_at == datetime(2016, 2, 14, tzinfo=UTC)


def test_article_from_legacy_arabic_page() -> None:
    html = page("اتفاق أمني بين بريطانيا وقطر", SEED_AR.replace("\n", " "), charset="windows-1256")
    article = from_raw(record("html", html.encode("cp1256"), url="https://ar.example/qatar"))
    assert article.language == "ar" and "مذكرة التفاهم" in article.text


def test_article_feed_metadata_beats_page_guesses() -> None:
    voa = VOA[4]
    meta = {"title": "Feed title", "published_at": "2016-04-01T08:30:00+00:00", "source": "VOA feed"}
    html = page(voa["title"], voa["text"])
    article = from_raw(record("html", html, url="https://news.example/a2", meta=meta))
    assert article.title == "Feed title" and article.source == "VOA feed"
    assert article.published_at == datetime(2016, 4, 1, 8, 30, tzinfo=UTC)


def test_article_page_date_not_guessed_from_body() -> None:
    voa = VOA[4]  # its text mentions dates; without a date in the page's metadata there is none
    html = re.sub(r'<meta property="article:published_time"[^>]*>', "", page(voa["title"], voa["text"]))
    assert from_raw(record("html", html, url="https://news.example/a2")).published_at is None


def test_article_json_record_with_html_field() -> None:
    voa = VOA[5]
    article = from_raw(record("json", json.dumps({"html": page(voa["title"], voa["text"]),
                                                  "url": "https://news.example/a3"})))
    assert article.title == voa["title"] and article.id == article_id("https://news.example/a3", "")
