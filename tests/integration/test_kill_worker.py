"""Kill test: SIGKILL the worker mid-stream, start it again, and reconcile every count.

1,000 articles (the VOA samples and the seed article under distinct ids, spread over ten weeks so
they make many stories of many mentions) go through a real worker that is killed while it works.
After a restart, every article must be indexed, every event exactly once, and every story must hold
exactly the mentions an offline merge of the same events gives: nothing lost (the uncommitted batch
is redone, the stories table is recovered from its changelog) and nothing counted twice (replayed
events neither duplicate documents nor inflate mention counts). The scale-out case does the same
across two rebalances: a second worker joining mid-stream, then the first one killed.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from processors.extract import Extractor
from processors.schemas import Article, Event, Story
from processors.search import connect
from processors.settings import Settings
from processors.stories import merge, story_key
from tests.integration.workers import (
    Worker,
    all_docs,
    count,
    prepare,
    produce_articles,
    read_dead_letters,
    running_worker,
    seed_article,
    voa_articles,
    wait_for,
)

pytestmark = pytest.mark.integration

ARTICLES = 1000
WEEKS = 10
KILL_AFTER = 250  # articles indexed before the kill


def stream_of_articles() -> list[Article]:
    """Return ARTICLES distinct articles: copies of the samples, each copy in one of WEEKS weeks."""
    bases = [*voa_articles(), seed_article(published_at=datetime(2015, 11, 2, tzinfo=UTC))]
    articles = []
    for i in range(ARTICLES):
        base = bases[i % len(bases)]
        assert base.published_at is not None
        published = base.published_at + timedelta(weeks=(i // len(bases)) % WEEKS, hours=i % 24)
        articles.append(base.model_copy(update={"id": f"{base.id}~{i}", "published_at": published}))
    return articles


def expected_outcome(articles: list[Article]) -> tuple[dict[str, Event], dict[str, Story]]:
    """Return the events and stories an uninterrupted run gives, computed offline by the same stages."""
    extractor = Extractor.load()
    events: dict[str, Event] = {}
    for start in range(0, len(articles), 64):
        for found in extractor.extract_many(articles[start:start + 64]):
            assert isinstance(found, list), found
            events.update((e.event_id, e) for e in found)
    stories: dict[str, Story | None] = {}
    for event in events.values():
        key = story_key(event)
        stories[key] = merge(stories.get(key), event)
    return events, {k: s for k, s in stories.items() if s is not None}


def prepared_stream(local_stack: Any) -> tuple[Settings, Elasticsearch, list[Article], dict[str, Event],
                                                dict[str, Story]]:
    """Return fresh settings (indices created), a search client, the stream and its expected outcome."""
    base = local_stack.settings(faust_web_port=0)
    settings = replace(base, worker_id=base.topic_prefix)
    prepare(settings)
    articles = stream_of_articles()
    return settings, connect(settings), articles, *expected_outcome(articles)


def test_kill_worker_mid_stream_then_reconcile(local_stack, tmp_path: Path) -> None:
    settings, client, articles, expected_events, expected_stories = prepared_stream(local_stack)
    assert len(expected_events) > ARTICLES and len(expected_stories) > WEEKS  # a stream worth reconciling

    first = Worker(settings, tmp_path / "worker-1.log")
    try:
        produce_articles(settings, articles)
        killed_at = wait_for(f"{KILL_AFTER} articles", lambda: count(client, settings, "articles"),
                             lambda n: n >= KILL_AFTER, 240, first)
        first.kill()
        assert killed_at < ARTICLES, "the worker finished before the kill: nothing was tested"
        # Its extraction processes notice the dead parent and exit on their own: no orphans.
        deadline = time.monotonic() + 15
        while first.group_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not first.group_alive(), "extraction processes outlived the killed worker"
    finally:
        first.stop()
    print(f"killed the worker with {killed_at} of {ARTICLES} articles indexed")

    with running_worker(settings, tmp_path / "worker-2.log") as second:
        reconcile(settings, articles, expected_events, expected_stories, second)


def test_scale_out_then_kill_mid_stream_then_reconcile(local_stack, tmp_path: Path) -> None:
    """A second worker joins mid-stream (a rebalance), then the first one is killed (another)."""
    settings, client, articles, expected_events, expected_stories = prepared_stream(local_stack)
    first_part, rest = articles[:400], articles[400:]

    first = Worker(settings, tmp_path / "worker-1.log")
    try:
        produce_articles(settings, first_part)
        wait_for("the first articles", lambda: count(client, settings, "articles"), lambda n: n >= 150, 240, first)
        with running_worker(settings, tmp_path / "worker-2.log") as second:
            wait_for("both workers in one generation of the group", lambda: (generation(first), generation(second)),
                     lambda g: g[0] is not None and g[0] == g[1], 120, second)
            # Both workers now hold partitions of the rest of the stream; the first dies in its middle.
            produce_articles(settings, rest)
            killed_at = wait_for("more articles", lambda: count(client, settings, "articles"),
                                 lambda n: n >= 600, 240, second)
            first.kill()
            assert killed_at < ARTICLES, "the stream ended before the kill: nothing was tested"
            reconcile(settings, articles, expected_events, expected_stories, second)
    finally:
        first.stop()


def generation(worker: Worker) -> int | None:
    """Return the last consumer-group generation the worker was assigned partitions in (from its log)."""
    found = re.findall(r"generation id (\d+) app consumers id", worker.log_path.read_text(errors="replace"))
    return int(found[-1]) if found else None


def reconcile(settings: Settings, articles: list[Article], expected_events: dict[str, Event],
              expected_stories: dict[str, Story], worker: Worker) -> None:
    """Wait until every article, event and mention is indexed, then check each one is there exactly once."""
    client = connect(settings)
    wait_for("every article, event and mention",
             lambda: (count(client, settings, "articles"), count(client, settings, "events"),
                      sum(len(s["event_ids"]) for s in all_docs(client, settings, "stories").values())),
             lambda n: n == (ARTICLES, len(expected_events), len(expected_events)), 300, worker)
    time.sleep(3)  # anything still in flight would show up as an extra below
    articles_indexed = all_docs(client, settings, "articles")
    events_indexed = all_docs(client, settings, "events")
    stories_indexed = all_docs(client, settings, "stories")

    assert set(articles_indexed) == {a.id for a in articles}
    assert set(events_indexed) == set(expected_events)
    assert sum(doc["event_count"] for doc in articles_indexed.values()) == len(expected_events)
    assert set(stories_indexed) == set(expected_stories)
    wrong = {key: (doc["mention_count"], expected_stories[key].mention_count)
             for key, doc in stories_indexed.items()
             if doc["mention_count"] != expected_stories[key].mention_count
             or sorted(doc["event_ids"]) != sorted(expected_stories[key].event_ids)}
    assert wrong == {}, f"{len(wrong)} stories differ from the offline merge: {list(wrong.items())[:5]}"
    assert read_dead_letters(settings, lambda letters: False, timeout_s=3) == []
    print(f"reconciled: {len(articles_indexed)} articles, {len(events_indexed)} events, "
          f"{len(stories_indexed)} stories (max {max(d['mention_count'] for d in stories_indexed.values())} "
          "mentions)")
