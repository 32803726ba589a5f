"""Pipeline benchmark: end-to-end throughput and latency, producer -> searchable.

Starts its own local stack (Tansu + osmem-server on free ports), creates the indices with
`marsad setup`'s code, runs `marsad worker` processes, and measures two things:

1. Throughput: N articles produced as fast as ingest can send them; articles/s from the first send
   until every article and all of its events are searchable.
2. Latency at a fixed rate (50 articles/s by default): for each article, the time from its send
   until its events are searchable (the full pipeline: extraction, repartition by story key, stories
   table, bulk index). Reported as p50 / p99 / max, with the article document's own latency.

Articles are the VOA samples and the seed article under distinct ids. Figures only: there is no
pass/fail; the targets (>= 200 articles/s, p99 < 2 s) are printed next to the results.

    .venv/bin/python benchmarks/pipeline_bench.py [--articles 2000] [--rate 50] [--seconds 30]
        [--workers 1] [--extract-processes N] [--batch N] [--batch-seconds S]   (defaults: Settings')
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from elasticsearch import Elasticsearch

from ingest.produce import ArticleProducer, ensure_topics
from processors.schemas import Article
from processors.search import connect, index_name
from processors.settings import Settings, as_environment
from processors.setup import apply
from processors.stack import start_stack

SAMPLES = Path("/work/shared/samples")
ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.1
DEFAULT_PUBLISHED = datetime(2015, 11, 2, tzinfo=UTC)


def sample_articles() -> list[Article]:
    """Return the VOA samples and the seed article."""
    lines = (SAMPLES / "voa-articles-en.jsonl").read_text(encoding="utf-8").splitlines()
    articles = [Article.model_validate(json.loads(line)) for line in lines if line.strip()]
    seed = (SAMPLES / "seed-article-ar.txt").read_text(encoding="utf-8")
    return [*articles, Article(id="seed-ar", text=seed, language="ar")]


def copies(bases: list[Article], count: int, tag: str, weeks_back: int = 0) -> list[Article]:
    """Return `count` articles cycling through the bases, each with its own id.

    Each round of copies is dated one week earlier (over a year, from `weeks_back`), so the copies
    make many stories of a handful of mentions, as a real stream does, not a few huge ones.
    """
    out = []
    for i in range(count):
        base = bases[i % len(bases)]
        published = (base.published_at or DEFAULT_PUBLISHED) - timedelta(weeks=weeks_back + (i // len(bases)) % 52)
        out.append(base.model_copy(update={"id": f"{tag}-{i}-{base.id}", "published_at": published}))
    return out


def worker_env(settings: Settings) -> dict[str, str]:
    """Return the environment that makes a subprocess load exactly these settings."""
    return as_environment(settings)


def cpu_seconds(root_pids: dict[str, int]) -> dict[str, float]:
    """Return CPU seconds (user + system) used so far by each named process and its process group."""
    tick = os.sysconf("SC_CLK_TCK")
    used = dict.fromkeys(root_pids, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields_ = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, group = int(stat.parent.name), int(fields_[2])
        for name, root in root_pids.items():
            if pid == root or group == root:
                used[name] += (int(fields_[11]) + int(fields_[12])) / tick
    return used


def searchable(client: Elasticsearch, settings: Settings, kind: str, field: str, ids: list[str]) -> set[str]:
    """Return which of the ids have a document in the index (by `field`), after a refresh."""
    index = index_name(settings, kind)
    client.indices.refresh(index=index)
    found: set[str] = set()
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        body = client.search(index=index, query={"terms": {field: chunk}}, size=0,
                             aggs={"ids": {"terms": {"field": field, "size": len(chunk)}}})
        found.update(bucket["key"] for bucket in body["aggregations"]["ids"]["buckets"])
    return found


class Sent:
    """Send times by article id, shared between the sending thread and the polling one."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.lock = threading.Lock()

    def add(self, article_id: str) -> None:
        with self.lock:
            self.times[article_id] = time.monotonic()

    def snapshot(self) -> dict[str, float]:
        with self.lock:
            return dict(self.times)


def wait_searchable(client: Elasticsearch, settings: Settings, sent: Sent, total: int,
                    has_events: Callable[[str], bool], timeout_s: float) -> tuple[dict[str, float], dict[str, float]]:
    """Poll, while articles are being sent, until all `total` (and the events of those that have
    events) are searchable; return when each article document, and each article's events, were first seen.
    """
    seen_article: dict[str, float] = {}
    seen_events: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now_sent = sent.snapshot()
        waiting = [a for a in now_sent if a not in seen_article]
        if waiting:
            for article_id in searchable(client, settings, "articles", "id", waiting):
                seen_article[article_id] = time.monotonic()
        eventful = [a for a in now_sent if has_events(a)]
        waiting = [a for a in eventful if a not in seen_events]
        if waiting:
            for article_id in searchable(client, settings, "events", "article_id", waiting):
                seen_events[article_id] = time.monotonic()
        if len(now_sent) == total and len(seen_article) == total and len(seen_events) == len(eventful):
            return seen_article, seen_events
        time.sleep(POLL_S)
    raise TimeoutError(f"only {len(seen_article)}/{total} articles searchable after {timeout_s:.0f} s")


def warm_up(client: Elasticsearch, settings: Settings, bases: list[Article]) -> dict[str, int]:
    """Send each sample once, wait until searchable; return each sample's number of events."""
    sent = Sent()
    with ArticleProducer(settings) as producer:
        for article in copies(bases, len(bases), "warm"):
            producer.send_article(article)
            sent.add(article.id)
    seen, _ = wait_searchable(client, settings, sent, len(bases), lambda _: False, 300)
    client.indices.refresh(index=index_name(settings, "articles"))
    docs = client.search(index=index_name(settings, "articles"), query={"terms": {"id": list(seen)}},
                         size=len(seen), source=["id", "event_count"])["hits"]["hits"]
    return {d["_source"]["id"].split("-", 2)[2]: int(d["_source"].get("event_count", 0)) for d in docs}


def count_prefix(client: Elasticsearch, settings: Settings, kind: str, field: str, prefix: str) -> int:
    index = index_name(settings, kind)
    client.indices.refresh(index=index)
    return int(client.count(index=index, query={"prefix": {field: prefix}})["count"])


def throughput(client: Elasticsearch, settings: Settings, bases: list[Article], events_of: dict[str, int],
               count: int, processes: dict[str, int]) -> None:
    tag = f"tp{uuid.uuid4().hex[:6]}"
    articles = copies(bases, count, tag)
    expected_events = sum(events_of[a.id.split("-", 2)[2]] for a in articles)
    cpu_before = cpu_seconds(processes)
    started = time.monotonic()
    with ArticleProducer(settings) as producer:
        for article in articles:
            producer.send_article(article)
    produced = time.monotonic() - started
    deadline = started + 900
    while time.monotonic() < deadline:
        done = (count_prefix(client, settings, "articles", "id", tag + "-"),
                count_prefix(client, settings, "events", "article_id", tag + "-"))
        if done == (count, expected_events):
            break
        time.sleep(0.25)
    else:
        raise TimeoutError(f"throughput run: {done} of {(count, expected_events)} searchable after 900 s")
    elapsed = time.monotonic() - started
    print(f"throughput: {count} articles ({expected_events} events) produced in {produced:.1f} s, all "
          f"searchable after {elapsed:.1f} s -> {count / elapsed:.1f} articles/s, "
          f"{expected_events / elapsed:.0f} events/s   [target >= 200 articles/s]")
    cpu = {name: used - cpu_before[name] for name, used in cpu_seconds(processes).items()}
    print("  CPU used meanwhile: " + ", ".join(f"{name} {secs:.0f} s ({secs / elapsed:.0%} of one core)"
                                                for name, secs in cpu.items()))


def latency(client: Elasticsearch, settings: Settings, bases: list[Article], events_of: dict[str, int],
            rate: float, seconds: float) -> None:
    articles = copies(bases, int(rate * seconds), f"lat{uuid.uuid4().hex[:6]}", weeks_back=60)
    sent = Sent()

    def send_at_rate() -> None:
        per_flush = max(1, int(rate / 10))  # flush ten times a second: the producer's linger stays out
        started = time.monotonic()
        with ArticleProducer(settings) as producer:
            for i, article in enumerate(articles):
                due = started + i / rate
                while (late := due - time.monotonic()) > 0:
                    time.sleep(min(0.005, late))
                producer.send_article(article)
                sent.add(article.id)
                if (i + 1) % per_flush == 0:
                    producer.flush()

    sender = threading.Thread(target=send_at_rate, name="sender")
    sender.start()
    try:
        seen_article, seen_events = wait_searchable(client, settings, sent, len(articles),
                                                    lambda a: events_of[a.split("-", 2)[2]] > 0, 900)
    finally:
        sender.join()
    times = sent.snapshot()
    for label, seen in (("events searchable", seen_events), ("article searchable", seen_article)):
        values = sorted(seen[a] - times[a] for a in seen)
        p50 = statistics.median(values)
        p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
        print(f"latency at {rate:.0f} articles/s over {seconds:.0f} s, send -> {label}: "
              f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms "
              f"(n={len(values)}, polled every {POLL_S * 1000:.0f} ms)"
              + ("   [target p99 < 2000 ms]" if label == "events searchable" else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000, help="throughput run size (default 2000)")
    parser.add_argument("--rate", type=float, default=50.0, help="latency run rate, articles/s (default 50)")
    parser.add_argument("--seconds", type=float, default=30.0, help="latency run length (default 30)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    defaults = Settings()
    parser.add_argument("--extract-processes", type=int, default=defaults.extract_processes,
                        help="extraction processes per worker; 0 = a thread in the worker (default: "
                             "MARSAD_EXTRACT_PROCESSES's default)")
    parser.add_argument("--batch", type=int, default=defaults.extract_batch_size,
                        help="MARSAD_EXTRACT_BATCH_SIZE (default: its default)")
    parser.add_argument("--batch-seconds", type=float, default=defaults.extract_batch_seconds,
                        help="MARSAD_EXTRACT_BATCH_SECONDS (default: its default)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="marsad-bench-"))
    stack = start_stack(work)
    tag = f"bench{uuid.uuid4().hex[:6]}"
    settings = replace(stack.settings(), topic_prefix=tag, index_prefix=tag, worker_id=tag,
                       consumer_session_timeout_s=6.0, faust_web_port=0, extract_processes=args.extract_processes,
                       extract_batch_size=args.batch, extract_batch_seconds=args.batch_seconds)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        report = apply(settings, kibana=False)
        if not report.ok:
            print(report.render(), file=sys.stderr)
            return 1
        ensure_topics(settings)
        for n in range(args.workers):
            log = (work / f"worker-{n}.log").open("wb")
            workers.append(subprocess.Popen([sys.executable, "-m", "processors.cli", "worker"], cwd=ROOT,
                                            env=worker_env(settings), stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True))
        client = connect(settings)
        print(f"pipeline bench: {os.cpu_count()} CPUs, {args.workers} worker(s) x {args.extract_processes} "
              f"extraction process(es), batch {args.batch} / {args.batch_seconds} s, "
              f"{settings.topic_partitions} partitions; logs in {work}")
        bases = sample_articles()
        started = time.monotonic()
        events_of = warm_up(client, settings, bases)
        print(f"warm-up: workers ready and {len(bases)} samples searchable after "
              f"{time.monotonic() - started:.1f} s; events per sample: {sorted(events_of.values())}")
        if not args.skip_throughput:
            processes = {"search server": stack.pids["osmem"], "broker": stack.pids["tansu"],
                         **{f"worker {n}": proc.pid for n, proc in enumerate(workers)}}
            throughput(client, settings, bases, events_of, args.articles, processes)
        if not args.skip_latency:
            latency(client, settings, bases, events_of, args.rate, args.seconds)
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
