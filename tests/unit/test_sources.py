"""ingest/sources.py: JSON lines, folders, RSS and Atom feeds -> raw records and page URLs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ingest.sources import parse_feed, read_dir, read_file, read_jsonl

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Example News</title><link>https://news.example/</link>
<item><title>Turkey shells Kurdish positions</title><link>https://news.example/a1?utm_source=rss</link>
  <pubDate>Sun, 14 Feb 2016 09:30:00 +0100</pubDate><description>Summary one</description></item>
<item><title>No link here</title><description>dropped</description></item>
<item><title>Second</title><link>https://news.example/a2</link></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>أخبار</title><id>urn:x</id><updated>2024-01-02T00:00:00Z</updated>
<entry><title>اتفاق أمني</title><link href="https://ar.example/qatar"/><id>urn:1</id>
  <updated>2024-01-02T10:00:00+03:00</updated></entry>
</feed>""".encode()


def test_sources_read_jsonl_numbers_lines_and_skips_blank() -> None:
    stream = io.BytesIO(b'{"text": "a"}\n\n  \n{"text": "b"}\r\n{broken\n')
    records = list(read_jsonl(stream, "in.jsonl"))
    assert [r.origin for r in records] == ["in.jsonl:1", "in.jsonl:4", "in.jsonl:5"]
    assert [r.data for r in records] == [b'{"text": "a"}', b'{"text": "b"}', b"{broken"]
    assert {r.kind for r in records} == {"json"}


def test_sources_read_dir_sorted_by_kind(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "page.HTML").write_text("<html></html>")
    (tmp_path / "a.txt").write_text("text")
    (tmp_path / "c.jsonl").write_text('{"text": "1"}\n{"text": "2"}\n')
    (tmp_path / "d.json").write_text('{"text": "one object"}')
    (tmp_path / "e.json").write_text(json.dumps([{"text": "x"}, {"text": "y"}]))
    (tmp_path / "notes.md").write_text("ignored")
    (tmp_path / ".hidden.txt").write_text("ignored")
    records = list(read_dir(tmp_path))
    assert [(r.kind, Path(r.origin).name) for r in records] == [
        ("text", "a.txt"), ("html", "page.HTML"), ("json", "c.jsonl:1"), ("json", "c.jsonl:2"),
        ("json", "d.json"), ("json", "e.json[1]"), ("json", "e.json[2]")]
    assert json.loads(records[-1].data) == {"text": "y"}


def test_sources_malformed_json_array_passed_whole(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'[{"text": "x"}, {oops]')
    assert [r.data for r in read_file(path)] == [b'[{"text": "x"}, {oops]']


def test_sources_read_file_rejects_unknown_type(tmp_path: Path) -> None:
    path = tmp_path / "article.pdf"
    path.write_bytes(b"%PDF")
    with pytest.raises(ValueError, match="unsupported file type"):
        list(read_file(path))


def test_sources_parse_rss() -> None:
    entries = parse_feed(RSS, "https://news.example/rss.xml")
    assert [e.url for e in entries] == ["https://news.example/a1?utm_source=rss", "https://news.example/a2"]
    first = entries[0]
    assert first.title == "Turkey shells Kurdish positions" and first.source == "Example News"
    assert first.published_at == "2016-02-14T08:30:00+00:00"  # normalised to UTC
    assert first.summary == "Summary one" and entries[1].published_at is None


def test_sources_parse_atom_relative_links() -> None:
    atom = ATOM.replace(b'href="https://ar.example/qatar"', b'href="/qatar"')
    entries = parse_feed(atom, "https://ar.example/feed.atom")
    assert [(e.url, e.title, e.source) for e in entries] == [
        ("https://ar.example/qatar", "اتفاق أمني", "أخبار")]
    assert entries[0].published_at == "2024-01-02T07:00:00+00:00"


@pytest.mark.parametrize("data", [b"<html><body>not a feed</body></html>", b"\x00\x01", b""])
def test_sources_parse_feed_rejects_non_feeds(data: bytes) -> None:
    with pytest.raises(ValueError, match="not an RSS/Atom feed"):
        parse_feed(data, "https://news.example/feed")
