"""Where articles come from: JSON-lines files or stdin, folders of files, RSS/Atom feeds.

Readers yield RawRecords (bytes plus where they came from); nothing here parses JSON, decodes
text or touches the network, so a bad line becomes a dead letter in `article.py` with its
origin, never an exception that stops the run. Feeds are parsed from bytes that `fetch.py` got.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal

import feedparser

RecordKind = Literal["json", "text", "html"]
# File suffix -> how its content is read; anything else in a folder is ignored.
SUFFIX_KINDS: dict[str, RecordKind] = {".jsonl": "json", ".json": "json", ".txt": "text",
                                       ".html": "html", ".htm": "html"}


@dataclass(frozen=True)
class RawRecord:
    """Undecoded input for one article: a JSON object's bytes, plain text or an HTML page."""

    kind: RecordKind
    data: bytes
    origin: str  # "path:line", "path", a URL: says where a dead letter came from
    url: str | None = None
    charset: str | None = None  # declared by the HTTP response, if any
    meta: dict[str, str] = field(default_factory=dict)  # title, published_at, source from a feed


@dataclass(frozen=True)
class FeedEntry:
    """One item of an RSS/Atom feed: the page to fetch and what the feed says about it."""

    url: str
    title: str | None
    published_at: str | None
    source: str | None
    summary: str | None


def read_jsonl(stream: BinaryIO, name: str) -> Iterator[RawRecord]:
    """Yield one json record per non-blank line, its origin "name:line"."""
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield RawRecord("json", line.rstrip(b"\r\n"), f"{name}:{number}")


def read_file(path: Path) -> Iterator[RawRecord]:
    """Yield the records in one file: a line each for .jsonl, the whole file otherwise."""
    kind = SUFFIX_KINDS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: unsupported file type (expected {', '.join(sorted(SUFFIX_KINDS))})")
    if path.suffix.lower() == ".jsonl":
        with path.open("rb") as stream:
            yield from read_jsonl(stream, str(path))
    elif path.suffix.lower() == ".json":
        yield from split_json_array(path.read_bytes(), str(path))
    else:
        yield RawRecord(kind, path.read_bytes(), str(path))


def split_json_array(data: bytes, name: str) -> Iterator[RawRecord]:
    """Yield a .json file's records: one per element of a top-level array, else the whole file."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        try:
            items = json.loads(data)
        except ValueError:
            items = None  # malformed: passed on whole, so article.py reports where
        if isinstance(items, list):
            for number, item in enumerate(items, start=1):
                yield RawRecord("json", json.dumps(item, ensure_ascii=False).encode(), f"{name}[{number}]")
            return
    yield RawRecord("json", data, name)


def read_dir(root: Path) -> Iterator[RawRecord]:
    """Yield the records of every supported file under root, in a stable (sorted) order."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix.lower() in SUFFIX_KINDS and not path.name.startswith("."):
            yield from read_file(path)


def parse_feed(data: bytes, feed_url: str) -> list[FeedEntry]:
    """Return the entries of an RSS or Atom document that link to a page."""
    parsed = feedparser.parse(data, response_headers={"content-location": feed_url})
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):  # an empty real feed is fine
        why = parsed.get("bozo_exception") or "no feed element"
        raise ValueError(f"{feed_url}: not an RSS/Atom feed ({why})")
    source = parsed.feed.get("title") or None
    return [FeedEntry(url=entry.link, title=entry.get("title") or None, published_at=_entry_date(entry),
                      source=source, summary=entry.get("summary") or None)
            for entry in parsed.entries if entry.get("link")]


def _entry_date(entry: feedparser.FeedParserDict) -> str | None:
    # feedparser normalises RSS (RFC 822) and Atom (RFC 3339) dates to a UTC struct_time.
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC).isoformat() if parsed else None


def entry_meta(entry: FeedEntry) -> dict[str, str]:
    """Return what the feed says about an entry, to fill fields the page itself lacks."""
    meta = {"title": entry.title, "published_at": entry.published_at, "source": entry.source}
    return {key: value for key, value in meta.items() if value}


def page_record(entry: FeedEntry, data: bytes, charset: str | None) -> RawRecord:
    """Return the html record for a fetched feed entry."""
    return RawRecord("html", data, entry.url, url=entry.url, charset=charset, meta=entry_meta(entry))
