"""Raw record (JSON object, plain text or HTML page) -> schemas.Article, or InvalidRecord with a reason.

Pure: bytes in, an Article out. HTML goes through trafilatura; ids come from the canonical URL
(so the same story fetched twice, or with tracking parameters, gets one id) or else from a hash
of the normalised text; the language is detected when the record does not say.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import trafilatura
from courlan import normalize_url
from pydantic import ValidationError

from processors.nlp.language import detect_language
from processors.schemas import MAX_TEXT_BYTES, Article

SUPPORTED_LANGUAGES = ("ar", "en")
# Field names accepted in JSON records, first match wins (crawler exports differ).
TEXT_FIELDS = ("text", "content", "body")
URL_FIELDS = ("url", "link")
DATE_FIELDS = ("published_at", "published", "date")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_WORD = re.compile(r"\w+")
# Combining marks of the two scripts we read (Latin accents after NFKD, Arabic harakat) and tatweel.
_MARKS = re.compile("[\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")


class InvalidRecord(Exception):
    """A record that cannot become an Article; `reason` is a short code for the dead letter."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RawLike(Protocol):
    """What a reader hands over (ingest.sources.RawRecord has these fields)."""

    @property
    def kind(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def origin(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def charset(self) -> str | None: ...
    @property
    def meta(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class ArticleOptions:
    """Limits applied to every record."""

    max_text_bytes: int = MAX_TEXT_BYTES
    # HTML carries markup around the text: allow that much more raw input before giving up.
    max_raw_bytes: int = 4 * MAX_TEXT_BYTES


# --- decoding -----------------------------------------------------------------------------------------

def decode(data: bytes, declared: str | None = None) -> str:
    """Return bytes as text: BOM, UTF-16, UTF-8, the declared charset, then windows-1256 (legacy Arabic)."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return _strict(data, codec) or _undecodable(f"invalid {codec} after its byte-order mark")
    candidates: tuple[str | None, ...] = (_utf16_without_bom(data), "utf-8", declared, "cp1256")
    for candidate in candidates:
        text = _strict(data, candidate) if candidate else None
        if text is not None:
            return text
    return _undecodable("binary data or an unknown encoding (tried UTF-8, UTF-16, "
                        f"{declared + ', ' if declared else ''}windows-1256)")


def _strict(data: bytes, codec: str) -> str | None:
    # A decoding that yields control characters is wrong too (binary data, or UTF-16 read as UTF-8).
    try:
        text = data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None
    return None if _CONTROL.search(text) else text


def _utf16_without_bom(data: bytes) -> str | None:
    # ASCII spaces and digits in UTF-16 leave a NUL in every other byte; real UTF-8 text has none.
    if len(data) < 4 or len(data) % 2:
        return None
    odd, even = data[1::2].count(0), data[0::2].count(0)
    if odd > len(data) // 20 and even == 0:
        return "utf-16-le"
    if even > len(data) // 20 and odd == 0:
        return "utf-16-be"
    return None


def _undecodable(message: str) -> str:
    raise InvalidRecord("bad_encoding", message)


def html_charset(data: bytes) -> str | None:
    """Return the charset an HTML page declares in a <meta> tag, if any."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii", "replace").lower() if match else None


# --- ids -------------------------------------------------------------------------------------------------

def canonical_url(url: str) -> str:
    """Return the URL normalised: scheme/host lowercased, default port, tracking params and fragment gone."""
    url = url.strip()
    # courlan (trafilatura's URL library) drops utm_*, fbclid and the like; a URL it cannot
    # normalise is kept as it is, and its scheme and host are still lowercased below.
    with contextlib.suppress(ValueError, AttributeError):
        url = normalize_url(url)
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def normalised_text(text: str) -> str:
    """Return the text folded for comparison: case, Latin and Arabic diacritics, tatweel gone, words only."""
    folded = _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold()))
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", folded)))


def text_hash(text: str, normalised: str | None = None) -> str:
    """Return a stable hash of the normalised text (the same story with other spacing hashes alike)."""
    normalised = normalised_text(text) if normalised is None else normalised
    return hashlib.sha1(normalised.encode(), usedforsecurity=False).hexdigest()


def article_id(url: str | None, text: str) -> str:
    """Return the stable id: from the canonical URL when there is one, else from the text."""
    if url:
        digest = hashlib.sha1(canonical_url(url).encode(), usedforsecurity=False).hexdigest()
        return f"url:{digest[:16]}"
    return f"sha1:{text_hash(text)[:16]}"


# --- records -> Article ------------------------------------------------------------------------------------

def from_raw(raw: RawLike, options: ArticleOptions | None = None,
             fetched_at: datetime | None = None) -> Article:
    """Return the Article in a raw record; raise InvalidRecord with the reason."""
    options = options or ArticleOptions()
    if len(raw.data) > options.max_raw_bytes:
        raise InvalidRecord("text_too_large", f"{raw.origin}: {len(raw.data)} bytes is more than the "
                                              f"{options.max_raw_bytes} byte limit")
    if raw.kind == "json":
        fields = parse_json(raw.data, raw.origin)
    elif raw.kind == "html":
        fields = html_fields(decode(raw.data, raw.charset or html_charset(raw.data)), raw.url)
    else:
        fields = {"text": decode(raw.data)}
    # What a feed says (date with time, outlet name, headline) beats what is guessed from the page.
    fields = {**fields, **raw.meta} if raw.kind == "html" else fields
    fields.setdefault("url", raw.url)
    fields.setdefault("fetched_at", fetched_at)
    return build_article(fields, raw.origin, options)


def parse_json(data: bytes, origin: str) -> dict[str, Any]:
    """Return the JSON object in data; malformed JSON says where (line and column)."""
    text = decode(data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}" if exc.lineno > 1 else f"column {exc.colno}"
        raise InvalidRecord("malformed_json", f"{origin}: {exc.msg} at {where}") from None
    if not isinstance(value, dict):
        raise InvalidRecord("not_an_object", f"{origin}: expected a JSON object, got {type(value).__name__}")
    if not any(value.get(name) for name in TEXT_FIELDS) and isinstance(value.get("html"), str):
        return {**value, **html_fields(value["html"], _first(value, URL_FIELDS)), "html": None}
    return value


def html_fields(html: str, url: str | None) -> dict[str, Any]:
    """Return text, title, date and site name that trafilatura finds in a page."""
    # No extensive date search: a date merely mentioned in the body is not the publication date.
    dates = {"extensive_search": False, "original_date": True}
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                      include_tables=False, favor_precision=True,
                                      date_extraction_params=dates)
    extracted = {} if doc is None else doc if isinstance(doc, dict) else doc.as_dict()
    if not (extracted.get("text") or "").strip():
        raise InvalidRecord("empty_text", f"{url or 'page'}: no article text found in the HTML")
    names = {"text": "text", "title": "title", "published_at": "date", "source": "sitename"}
    return {ours: extracted[theirs] for ours, theirs in names.items() if extracted.get(theirs)}


def build_article(fields: Mapping[str, Any], origin: str, options: ArticleOptions) -> Article:
    """Return the Article for already-parsed fields: text checked, language and id filled in."""
    text = _first(fields, TEXT_FIELDS)
    if not isinstance(text, str) or not text.strip():
        raise InvalidRecord("empty_text", f"{origin}: the record has no text")
    text = text.strip()
    if len(text.encode()) > options.max_text_bytes:
        raise InvalidRecord("text_too_large", f"{origin}: text of {len(text.encode())} bytes is more than "
                                              f"the {options.max_text_bytes} byte limit")
    url = _first(fields, URL_FIELDS)
    values = {"id": fields.get("id") or article_id(url, text), "text": text, "url": url,
              "language": language_of(fields, text, origin), "title": fields.get("title"),
              "published_at": _first(fields, DATE_FIELDS), "source": fields.get("source"),
              "fetched_at": fields.get("fetched_at")}
    try:
        return Article.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidRecord("invalid_field", f"{origin}: {problems}") from None


def language_of(fields: Mapping[str, Any], text: str, origin: str) -> str:
    """Return the record's language ("ar" or "en"), detected when the record does not say."""
    given = fields.get("language") or fields.get("lang")
    if isinstance(given, str) and given.strip():
        code = given.strip().lower()[:2]  # "en-US", "ara" and "English" all name a language we read
        if code in SUPPORTED_LANGUAGES:
            return code
        raise InvalidRecord("unsupported_language", f"{origin}: language {given!r} is not one of "
                                                    f"{', '.join(SUPPORTED_LANGUAGES)}")
    detected = detect_language(text)
    if detected is None:
        raise InvalidRecord("unknown_language", f"{origin}: the text is neither Arabic nor English "
                                                "(or too short to tell)")
    return detected


def _first(fields: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    return next((fields[name] for name in names if fields.get(name)), None)
