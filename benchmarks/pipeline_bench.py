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
        [--workers 1] [--extract-processes 1] [--batch 64] [--batch-seconds 0.2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import fields, replace
from pathlib import Path

from elasticsearch import Elasticsearch

from ingest.produce import ArticleProducer, ensure_topics
from processors.schemas import Article
from processors.search import connect, index_name
from processors.settings import Secret, Settings
from processors.setup import apply
from processors.stack import start_stack

SAMPLES = Path("/work/shared/samples")
ROOT = Path(__file__).resolve().parents[1]
POLL_S = 0.05


def sample_articles() -> list[Article]:
    """Return the VOA samples and the seed article."""
    lines = (SAMPLES / "voa-articles-en.jsonl").read_text(encoding="utf-8").splitlines()
    articles = [Article.model_validate(json.loads(line)) for line in lines if line.strip()]
    seed = (SAMPLES / "seed-article-ar.txt").read_text(encoding="utf-8")
    return [*articles, Article(id="seed-ar", text=seed, language="ar")]


def copies(bases: list[Article], count: int, tag: str) -> list[Article]:
    """Return `count` articles cycling through the bases, each with its own id."""
    return [bases[i % len(bases)].model_copy(update={"id": f"{tag}-{i}-{bases[i % len(bases)].id}"})
            for i in range(count)]


def worker_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARSAD_")}
    for f in fields(Settings):
        value = getattr(settings, f.name)
        env[f"MARSAD_{f.name.upper()}"] = value.reveal() if isinstance(value, Secret) else str(value)
    return env


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


def wait_searchable(client: Elasticsearch, settings: Settings, sent: dict[str, float],
                    with_events: set[str], timeout_s: float) -> tuple[dict[str, float], dict[str, float]]:
    """Poll until every sent article (and the events of those in `with_events`) is searchable.

    Returns the first time each article document, and each article's events, were seen.
    """
    seen_article: dict[str, float] = {}
    seen_events: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now_sent = [a for a in sent if a not in seen_article]
        if now_sent:
            for article_id in searchable(client, settings, "articles", "id", now_sent):
                seen_article[article_id] = time.monotonic()
        pending = [a for a in sent if a in with_events and a not in seen_events]
        if pending:
            for article_id in searchable(client, settings, "events", "article_id", pending):
                seen_events[article_id] = time.monotonic()
        if len(seen_article) == len(sent) and len([a for a in sent if a in with_events]) == len(seen_events):
            return seen_article, seen_events
        time.sleep(POLL_S)
    raise TimeoutError(f"only {len(seen_article)}/{len(sent)} articles searchable after {timeout_s:.0f} s")


def warm_up(client: Elasticsearch, settings: Settings, bases: list[Article]) -> dict[str, int]:
    """Send each sample once, wait until searchable; return each sample's number of events."""
    with ArticleProducer(settings) as producer:
        warm = copies(bases, len(bases), "warm")
        sent = {}
        for article in warm:
            producer.send_article(article)
            sent[article.id] = time.monotonic()
    seen, _ = wait_searchable(client, settings, sent, set(), 300)
    client.indices.refresh(index=index_name(settings, "articles"))
    docs = client.search(index=index_name(settings, "articles"), query={"terms": {"id": list(seen)}},
                         size=len(seen), source=["id", "event_count"])["hits"]["hits"]
    return {d["_source"]["id"].split("-", 2)[2]: int(d["_source"].get("event_count", 0)) for d in docs}


def count_prefix(client: Elasticsearch, settings: Settings, kind: str, field: str, prefix: str) -> int:
    index = index_name(settings, kind)
    client.indices.refresh(index=index)
    return int(client.count(index=index, query={"prefix": {field: prefix}})["count"])


def throughput(client: Elasticsearch, settings: Settings, bases: list[Article], events_of: dict[str, int],
               count: int) -> None:
    tag = f"tp{uuid.uuid4().hex[:6]}"
    articles = copies(bases, count, tag)
    expected_events = sum(events_of[a.id.split("-", 2)[2]] for a in articles)
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


def latency(client: Elasticsearch, settings: Settings, bases: list[Article], events_of: dict[str, int],
            rate: float, seconds: float) -> None:
    articles = copies(bases, int(rate * seconds), f"lat{uuid.uuid4().hex[:6]}")
    sent: dict[str, float] = {}
    tick = 0.1
    per_tick = rate * tick
    started = time.monotonic()
    with ArticleProducer(settings) as producer:
        for i, article in enumerate(articles):
            due = started + i / per_tick * tick
            while time.monotonic() < due:
                time.sleep(min(0.005, max(0.0, due - time.monotonic())))
            producer.send_article(article)
            sent[article.id] = time.monotonic()
            if (i + 1) % max(1, int(per_tick)) == 0:
                producer.flush()
    eventful = {a for a in sent if events_of[a.split("-", 2)[2]] > 0}
    seen_article, seen_events = wait_searchable(client, settings, sent, eventful, 900)
    for label, seen in (("events searchable", seen_events), ("article searchable", seen_article)):
        values = sorted(seen[a] - sent[a] for a in seen)
        p50 = statistics.median(values)
        p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
        print(f"latency at {rate:.0f} articles/s over {seconds:.0f} s, send -> {label}: "
              f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms "
              f"(n={len(values)})" + ("   [target p99 < 2000 ms]" if label == "events searchable" else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000, help="throughput run size (default 2000)")
    parser.add_argument("--rate", type=float, default=50.0, help="latency run rate, articles/s (default 50)")
    parser.add_argument("--seconds", type=float, default=30.0, help="latency run length (default 30)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--extract-processes", type=int, default=1,
                        help="extraction processes per worker; 0 = a thread in the worker (default 1)")
    parser.add_argument("--batch", type=int, default=64, help="MARSAD_EXTRACT_BATCH_SIZE (default 64)")
    parser.add_argument("--batch-seconds", type=float, default=0.2,
                        help="MARSAD_EXTRACT_BATCH_SECONDS (default 0.2)")
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
            throughput(client, settings, bases, events_of, args.articles)
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
