"""`marsad ingest` / `python -m ingest`: read sources, build articles, drop duplicates, produce.

Wiring only: sources -> (fetch) -> article -> dedup -> produce. The error policy lives in
`ingest_all`: a record that cannot become an Article (InvalidRecord, FetchError) goes to the
dead-letter topic with its reason and is counted; anything else is a bug and stops the run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ingest.article import ArticleOptions, InvalidRecord, article_id, from_raw
from ingest.dedup import Deduplicator, DedupOptions
from ingest.fetch import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_S, FetchError, fetch
from ingest.produce import ArticleProducer, ProduceError, RecordTooLarge, dead_letter, ensure_topics
from ingest.sources import SUFFIX_KINDS, RawRecord, page_record, parse_feed, read_dir, read_file, read_jsonl
from processors.schemas import utcnow
from processors.settings import Settings


@dataclass(frozen=True)
class Failed:
    """Input that failed before it became a record (a feed or page that could not be fetched)."""

    reason: str
    error: str
    origin: str


@dataclass(frozen=True)
class AlreadySeen:
    """A feed entry whose URL was ingested earlier in this run: not fetched again."""

    origin: str


Item = RawRecord | Failed | AlreadySeen


@dataclass
class Summary:
    """What one run did. read = sent + duplicates + invalid; near-duplicates are among the sent."""

    read: int = 0
    sent: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    invalid: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def line(self) -> str:
        """Return the one-line summary printed at the end of a run."""
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))
        why = f" ({', '.join(f'{r} {n}' for r, n in ranked)})" if ranked else ""
        rate = self.sent / self.seconds if self.seconds else 0.0
        return (f"ingest: read {self.read}, sent {self.sent}, duplicates {self.duplicates}, "
                f"near-duplicates {self.near_duplicates}, invalid {self.invalid}{why} "
                f"in {self.seconds:.2f} s ({rate:.0f} articles/s)")


def feed_items(feed_urls: Iterable[str], seen: Callable[[str], bool], timeout: float,
               max_bytes: int) -> Iterator[Item]:
    """Yield a record per page linked from each feed; failures and already-seen pages as markers."""
    for feed_url in feed_urls:
        try:
            entries = parse_feed(fetch(feed_url, timeout=timeout, max_bytes=max_bytes).body, feed_url)
        except FetchError as exc:
            yield Failed(exc.reason, str(exc), feed_url)
            continue
        except ValueError as exc:
            yield Failed("bad_feed", str(exc), feed_url)
            continue
        for entry in entries:
            if seen(article_id(entry.url, "")):
                yield AlreadySeen(entry.url)
                continue
            try:
                page = fetch(entry.url, timeout=timeout, max_bytes=max_bytes)
            except FetchError as exc:
                yield Failed(exc.reason, str(exc), entry.url)
                continue
            yield page_record(entry, page.body, page.charset)


def ingest_all(items: Iterable[Item], producer: ArticleProducer, dedup: Deduplicator,
               options: ArticleOptions) -> Summary:
    """Send every item's article (or dead letter) and return the counts; flushes at the end."""
    summary, started = Summary(), time.monotonic()
    for item in items:
        summary.read += 1
        if isinstance(item, AlreadySeen):
            summary.duplicates += 1
            continue
        if isinstance(item, Failed):
            _reject(summary, producer, item.reason, item.error, item.origin.encode(), item.origin)
            continue
        try:
            article = from_raw(item, options, fetched_at=utcnow() if item.kind == "html" else None)
        except InvalidRecord as exc:
            _reject(summary, producer, exc.reason, str(exc), item.data, item.origin)
            continue
        verdict, article = dedup.check(article)
        if verdict == "duplicate":
            summary.duplicates += 1
            continue
        try:
            producer.send_article(article)
        except RecordTooLarge as exc:
            _reject(summary, producer, "text_too_large", str(exc), item.data, item.origin)
            continue
        summary.sent += 1
        summary.near_duplicates += verdict == "near_duplicate"
    producer.flush()
    summary.seconds = time.monotonic() - started
    return summary


def _reject(summary: Summary, producer: ArticleProducer, reason: str, error: str, payload: bytes,
            origin: str) -> None:
    producer.send_dead_letter(dead_letter(reason, error, payload, key=origin))
    summary.invalid += 1
    summary.reasons[reason] += 1


def source_items(args: argparse.Namespace, dedup: Deduplicator) -> Iterator[Item]:
    """Yield the items of every source named on the command line, in order."""
    for path in args.file or ():
        yield from read_file(Path(path))
    for path in args.dir or ():
        yield from read_dir(Path(path))
    yield from feed_items(args.feed or (), dedup.seen_id, args.timeout or DEFAULT_TIMEOUT_S,
                          args.max_bytes or DEFAULT_MAX_BYTES)
    if args.stdin == "-":
        yield from read_jsonl(sys.stdin.buffer, "<stdin>")


def usage_problem(args: argparse.Namespace) -> str | None:
    """Return what is wrong with the sources named on the command line, before anything is sent."""
    if not (args.file or args.dir or args.feed or args.stdin):
        return "nothing to read: give --file, --dir, --feed or - (stdin)"
    for path in map(Path, args.file or ()):
        if not path.is_file():
            return f"{path}: no such file"
        if path.suffix.lower() not in SUFFIX_KINDS:
            return f"{path}: unsupported file type (expected {', '.join(sorted(SUFFIX_KINDS))})"
    missing = [d for d in args.dir or () if not Path(d).is_dir()]
    return f"{missing[0]}: no such folder" if missing else None


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ingest: create topics if missing, send everything, print the summary."""
    problem = usage_problem(args)
    if problem:
        print(f"marsad ingest: {problem}", file=sys.stderr)
        return 2
    dedup = Deduplicator(DedupOptions(threshold=args.near_duplicate_threshold or DedupOptions().threshold))
    try:
        ensure_topics(settings, ("articles", "dead_letters"))
        with ArticleProducer(settings) as producer:
            items = tqdm(source_items(args, dedup), unit=" records", file=sys.stderr,
                         disable=True if args.no_progress else None)
            summary = ingest_all(items, producer, dedup, ArticleOptions())
    except (ProduceError, OSError) as exc:
        print(f"marsad ingest: {exc}", file=sys.stderr)
        return 1
    print(summary.line())
    return 0


if __name__ == "__main__":
    # `python -m ingest ...` is `marsad ingest ...`: one argument parser, in processors/cli.py.
    from processors.cli import main

    sys.exit(main(["ingest", *sys.argv[1:]]))
