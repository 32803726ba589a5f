"""`marsad ingest` against the real local broker, with feeds and pages served over loopback HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from ingest.article import article_id
from ingest.produce import ArticleProducer, ensure_topics
from processors.schemas import Article, DeadLetter
from processors.settings import Settings

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
VOA = [json.loads(line) for line in (SAMPLES / "voa-articles-en.jsonl").read_text().splitlines()]
SEED_AR = (SAMPLES / "seed-article-ar.txt").read_text(encoding="utf-8")
SUMMARY = re.compile(r"ingest: read (\d+), sent (\d+), duplicates (\d+), near-duplicates (\d+), invalid (\d+)")


# --- helpers: a loopback web server, the CLI, and reading topics back ------------------------------------

class Site:
    """Pages served by a ThreadingHTTPServer on a free loopback port; counts the requests per path."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[int, str, bytes]] = {}
        self.hits: Counter[str] = Counter()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                site.hits[path] += 1
                status, content_type, body = site.pages.get(path, (404, "text/plain", b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> str:
        self.pages[path] = (200, content_type, body.encode() if isinstance(body, str) else body)
        return self.url + path


@pytest.fixture
def site() -> Iterator[Site]:
    served = Site()
    yield served
    served.server.shutdown()
    served.server.server_close()


def page(title: str, text: str, head: str = "") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in re.split(r"(?<=[.!?؟])\s+", text) if p)
    return (f"<html><head><title>{title}</title>{head}</head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>{title}</h1>{paragraphs}</article><footer>© Example</footer></body></html>")


def rss(items: list[tuple[str, str, str]]) -> str:
    entries = "".join(f"<item><title>{t}</title><link>{link}</link><pubDate>{d}</pubDate></item>"
                      for t, link, d in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback News</title>{entries}</channel></rss>'


def atom(entries: list[tuple[str, str]]) -> str:
    body = "".join(f'<entry><title>{t}</title><link href="{link}"/><id>{link}</id>'
                   f"<updated>2017-02-23T12:00:00Z</updated></entry>" for t, link in entries)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Loopback Atom</title><id>urn:loop</id><updated>2017-02-23T12:00:00Z</updated>{body}</feed>")


def marsad_ingest(settings: Settings, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARSAD_")}
    env.update({"MARSAD_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "MARSAD_TOPIC_PREFIX": settings.topic_prefix,
                "MARSAD_TOPIC_PARTITIONS": str(settings.topic_partitions), "MARSAD_KAFKA_FLAVOUR": "tansu"})
    return subprocess.run([sys.executable, "-m", "processors.cli", "ingest", "--no-progress", *args], env=env,
                          input=stdin.decode() if stdin is not None else None, capture_output=True, text=True,
                          timeout=120, check=False)


def summary_of(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    match = SUMMARY.search(result.stdout)
    assert result.returncode == 0 and match, (result.returncode, result.stdout, result.stderr)
    return dict(zip(("read", "sent", "duplicates", "near_duplicates", "invalid"), map(int, match.groups()),
                    strict=True))


def consume(settings: Settings, role: str, expected: int, timeout_s: float = 30) -> list[tuple[str, bytes]]:
    """Return (key, value) of every record on a topic: waits for `expected`, then 1 s more for extras."""
    topic = settings.topics[role]
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(settings.topic_partitions)])
        records: list[tuple[str, bytes]] = []
        deadline, quiet_until = time.monotonic() + timeout_s, None
        while time.monotonic() < deadline and (quiet_until is None or time.monotonic() < quiet_until):
            for batch in consumer.poll(timeout_ms=200).values():
                records += [(r.key.decode() if r.key else "", r.value) for r in batch]
            if len(records) >= expected and quiet_until is None:
                quiet_until = time.monotonic() + 1.0
        return records
    finally:
        consumer.close()


# --- tests ------------------------------------------------------------------------------------------------

def test_ingest_feeds_to_broker(local_stack, site: Site) -> None:
    settings = local_stack.settings()
    a1 = site.add("/a1.html", page(VOA[0]["title"], VOA[0]["text"]))
    a2 = site.add("/a2.html", page("اتفاق أمني بين بريطانيا وقطر", SEED_AR).encode("cp1256"),
                  "text/html; charset=windows-1256")  # legacy Arabic page, charset only in the header
    sentences = re.split(r"(?<=[.!?])\s+", VOA[0]["text"])
    sentences[4] = "A sentence the second outlet rewrote."
    copy = site.add("/copy.html", page("Turkey shells Kurds (Wire)", "ISTANBUL (Wire) — " + " ".join(sentences)))
    a3 = site.add("/a3.html", page(VOA[5]["title"], VOA[5]["text"]))
    mirror = site.add("/mirror.html", page(VOA[5]["title"], VOA[5]["text"]))  # same text, other URL
    empty = site.add("/empty.html", "<html><head><title>Live</title></head><body><div></div></body></html>")
    day = "Sun, 14 Feb 2016 09:30:00 +0000"
    site.add("/rss.xml", rss([("Turkey shells Kurds", f"{a1}?utm_source=rss&utm_medium=feed", day),
                              ("اتفاق أمني", a2, day), ("Again", a1, day),
                              ("Gone", f"{site.url}/missing.html", day), ("Copy", copy, day)]),
             "application/rss+xml")
    site.add("/atom.xml", atom([("Mosul airport", a3), ("Live blog", empty), ("Mirror", mirror)]),
             "application/atom+xml")

    result = marsad_ingest(settings, "--feed", f"{site.url}/rss.xml", "--feed", f"{site.url}/atom.xml",
                           "--feed", f"{site.url}/no-feed.xml")

    counts = summary_of(result)
    assert counts == {"read": 9, "sent": 4, "duplicates": 2, "near_duplicates": 1, "invalid": 3}
    assert counts["read"] == counts["sent"] + counts["duplicates"] + counts["invalid"]
    assert site.hits["/a1.html"] == 1  # the repeated link was recognised before fetching
    articles = {key: Article.model_validate_json(value) for key, value in consume(settings, "articles", 4)}
    assert len(articles) == 4 and all(key == a.id for key, a in articles.items())
    first = articles[article_id(a1, "")]
    assert first.language == "en" and first.url == f"{a1}?utm_source=rss&utm_medium=feed"
    assert sentences[1] in first.text and first.source == "Loopback News" and first.fetched_at is not None
    assert first.published_at is not None and first.published_at.isoformat() == "2016-02-14T09:30:00+00:00"
    arabic = articles[article_id(a2, "")]
    assert arabic.language == "ar" and "مذكرة التفاهم" in arabic.text
    assert articles[article_id(copy, "")].near_duplicate_of == first.id
    assert articles[article_id(a3, "")].near_duplicate_of is None
    letters = [DeadLetter.model_validate_json(value) for _, value in consume(settings, "dead_letters", 3)]
    assert sorted((d.reason, d.key) for d in letters) == sorted([
        ("http_error", f"{site.url}/missing.html"), ("empty_text", empty), ("http_error", f"{site.url}/no-feed.xml")])
    assert all(d.stage == "ingest" and d.error for d in letters)
    assert any("HTTP 404" in d.error for d in letters)


def test_ingest_jsonl_stdin_duplicates_and_dead_letters(local_stack) -> None:
    settings = local_stack.settings(topic_partitions=2)
    lines = [json.dumps(v) for v in VOA]
    lines += [json.dumps(VOA[0]),  # same id again
              json.dumps({**VOA[1], "id": "other-outlet"}),  # same text, another id
              "{this is not json",
              json.dumps({"id": "no-text", "text": "  "}),
              json.dumps({"id": "fr", "text": "Bonjour tout le monde", "language": "fr"}),
              json.dumps({"text": SEED_AR, "url": "https://ar.example/qatar?utm_source=x"}),
              json.dumps({"id": "huge", "text": " ".join(VOA[2]["text"] for _ in range(200))})]  # > 1 MB
    result = marsad_ingest(settings, "-", stdin=("\n".join(lines) + "\n").encode())

    assert summary_of(result) == {"read": 14, "sent": 8, "duplicates": 2, "near_duplicates": 0, "invalid": 4}
    assert "(empty_text 1, malformed_json 1, text_too_large 1, unsupported_language 1)" in result.stdout
    articles = consume(settings, "articles", 8)
    assert sorted(key for key, _ in articles) == sorted([v["id"] for v in VOA] + [
        article_id("https://ar.example/qatar", "")])
    letters = {d.reason: d for d in (DeadLetter.model_validate_json(value)
                                     for _, value in consume(settings, "dead_letters", 4))}
    assert set(letters) == {"malformed_json", "empty_text", "unsupported_language", "text_too_large"}
    huge = letters["text_too_large"]
    assert huge.key == "<stdin>:14" and "a Kafka message may hold" in huge.error
    assert len(huge.payload) < 70_000 and huge.payload.endswith("characters cut]")  # the start of it, not all
    assert letters["malformed_json"].key == "<stdin>:10" and letters["malformed_json"].payload == "{this is not json"
    assert "<stdin>:10" in letters["malformed_json"].error and "column 2" in letters["malformed_json"].error
    assert letters["unsupported_language"].key == "<stdin>:12"


def test_ingest_dir_and_files(local_stack, tmp_path: Path) -> None:
    settings = local_stack.settings()
    (tmp_path / "seed.txt").write_bytes(SEED_AR.encode("utf-16"))
    (tmp_path / "voa.json").write_text(json.dumps(VOA[:2]))
    (tmp_path / "page.html").write_text(page(VOA[6]["title"], VOA[6]["text"]))
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)))
    result = marsad_ingest(settings, "--dir", str(tmp_path), "--file", str(SAMPLES / "voa-articles-en.jsonl"))
    # 5 files' records + 7 lines: the first 2 repeat voa.json (dropped); the 7th is the story of
    # page.html as extracted from HTML (not byte-identical: marked near duplicate); binary.txt is undecodable.
    assert summary_of(result) == {"read": 12, "sent": 9, "duplicates": 2, "near_duplicates": 1, "invalid": 1}
    (letter,) = (DeadLetter.model_validate_json(v) for _, v in consume(settings, "dead_letters", 1))
    assert letter.reason == "bad_encoding" and letter.key == str(tmp_path / "binary.txt")


def test_ingest_producer_against_tansu(local_stack) -> None:
    """ensure_topics is idempotent; the idempotent, gzip-compressed producer delivers each record once."""
    settings = local_stack.settings(topic_partitions=3)
    assert sorted(ensure_topics(settings)) == sorted(settings.topics.values())
    assert ensure_topics(settings) == []
    base = VOA[0]["text"]
    articles = [Article(id=f"gen:{i}", text=f"{i} {base}", language="en") for i in range(2000)]
    started = time.monotonic()
    with ArticleProducer(settings) as producer:
        for article in articles:
            producer.send_article(article)
    elapsed = time.monotonic() - started
    assert producer.acknowledged == 2000 and producer.failures == []
    records = consume(settings, "articles", 2000)
    assert len(records) == 2000 and {k for k, _ in records} == {a.id for a in articles}
    print(f"produced 2000 articles of {len(base)} chars in {elapsed:.2f} s: {2000 / elapsed:.0f} articles/s")


def test_ingest_unreachable_broker_is_reported(tmp_path: Path) -> None:
    from processors.stack import free_port

    settings = Settings(kafka_bootstrap=f"127.0.0.1:{free_port()}")
    (tmp_path / "a.jsonl").write_text(json.dumps(VOA[0]) + "\n")
    result = marsad_ingest(settings, "--file", str(tmp_path / "a.jsonl"))
    assert result.returncode == 1
    assert f"cannot reach the broker at {settings.kafka_bootstrap}" in result.stderr
    assert "MARSAD_KAFKA_BOOTSTRAP" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    ((), "nothing to read"),
    (("--file", "/no/such/file.jsonl"), "/no/such/file.jsonl: no such file"),
    (("--file", str(SAMPLES.parent / "README.md")), "README.md: unsupported file type"),
    (("--dir", "/no/such/folder"), "/no/such/folder: no such folder"),
])
def test_ingest_usage_errors(local_stack, args: tuple[str, ...], message: str) -> None:
    result = marsad_ingest(local_stack.settings(), *args)
    assert result.returncode == 2 and message in result.stderr


def test_ingest_fetch_limits(site: Site) -> None:
    from ingest.fetch import FetchError, fetch

    big = site.add("/big.html", b"x" * 5000, "text/html; charset=windows-1256")
    fetched = fetch(big, max_bytes=5000)
    assert (len(fetched.body), fetched.charset, fetched.content_type) == (5000, "windows-1256", "text/html")
    cases = [(big, {"max_bytes": 4999}, "too_large"), ("file:///etc/hostname", {}, "unsupported_url"),
             (f"{site.url}/missing", {}, "http_error")]
    for url, kwargs, reason in cases:
        with pytest.raises(FetchError) as caught:
            fetch(url, **kwargs)
        assert caught.value.reason == reason, caught.value
