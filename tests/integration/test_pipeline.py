"""The pipeline end to end: a real `marsad worker`, the local broker and search server.

articles -> extraction -> events (keyed by story key) -> stories table -> index; anything malformed or
refused -> dead letters, and the stream goes on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from processors.schemas import Article, Event, Evidence, Participant
from processors.search import connect, index_name
from processors.stories import story_key
from tests.integration.workers import (
    all_docs,
    count,
    prepare,
    produce_articles,
    produce_raw,
    read_dead_letters,
    running_worker,
    seed_article,
    voa_articles,
    wait_for,
)

pytestmark = pytest.mark.integration

PUBLISHED = datetime(2015, 11, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(local_stack):
    base = local_stack.settings(extract_batch_seconds=0.2, faust_web_port=0)
    settings = replace(base, worker_id=base.topic_prefix)  # a consumer group of its own
    prepare(settings)
    return settings


def search_ids(client, settings, kind: str, query: dict) -> set[str]:
    client.indices.refresh(index=index_name(settings, kind))
    hits = client.search(index=index_name(settings, kind), query=query, size=100)["hits"]["hits"]
    return {hit["_id"] for hit in hits}


def test_pipeline_seed_article_end_to_end(settings, tmp_path: Path) -> None:
    client = connect(settings)
    with running_worker(settings, tmp_path / "worker.log") as worker:
        produce_articles(settings, [seed_article(published_at=PUBLISHED)])
        wait_for("3 events and 3 stories", lambda: (count(client, settings, "events"),
                                                     count(client, settings, "stories")),
                 lambda n: n == (3, 3), 120, worker)
        events = {doc["event_type"]: doc for doc in all_docs(client, settings, "events").values()}
        stories = all_docs(client, settings, "stories")

        agreement, cyber, military = (events["agreement_signed"], events["cyberattack"],
                                      events["military_operation"])
        assert {"GB", "QA"} <= set(agreement["participant_ids"])
        assert agreement["attributes"]["security"] is True
        assert "Saudi Aramco" in cyber["target_ids"]
        assert {"US", "GB"} <= set(military["actor_ids"]) and "Islamic State" in military["target_ids"]
        # searchable by participant: a term query on the flat participant_ids field
        assert search_ids(client, settings, "events", {"term": {"participant_ids": "QA"}}) >= {
            agreement["event_id"]}
        assert search_ids(client, settings, "events", {"term": {"participant_ids": "Saudi Aramco"}}) == {
            cyber["event_id"]}
        agreement_story = search_ids(client, settings, "stories", {"bool": {"filter": [
            {"term": {"participant_ids": "GB"}}, {"term": {"participant_ids": "QA"}},
            {"term": {"event_type": "agreement_signed"}}]}})
        assert len(agreement_story) == 1
        assert {s["mention_count"] for s in stories.values()} == {1}
        assert sorted(e for s in stories.values() for e in s["event_ids"]) == sorted(
            e["event_id"] for e in events.values())
        assert count(client, settings, "articles") == 1

        # A syndicated copy joins the same stories without counting as a second source.
        copy = seed_article("seed-ar-copy", published_at=PUBLISHED, near_duplicate_of="seed-ar")
        produce_articles(settings, [copy])
        wait_for("the copy's events", lambda: count(client, settings, "events"), lambda n: n == 6, 60, worker)
        stories = wait_for("stories with both articles", lambda: all_docs(client, settings, "stories"),
                           lambda docs: all(len(s["article_ids"]) == 2 for s in docs.values()), 30, worker)
        assert len(stories) == 3
        assert {s["mention_count"] for s in stories.values()} == {1}


def test_pipeline_malformed_and_rejected_go_to_dead_letters(settings, tmp_path: Path) -> None:
    client = connect(settings)
    good = voa_articles()[0]
    with running_worker(settings, tmp_path / "worker.log") as worker:
        produce_raw(settings, "articles", [
            (b"bad-1", b"\x00\x01 this is not JSON {"),
            (b"bad-2", b'{"id": "no-text"}'),
        ])
        produce_articles(settings, [Article(id="empty-1", text="   ")])
        produce_raw(settings, "events", [(b"bad-3", b"[not an event")])
        produce_articles(settings, [good])
        letters = read_dead_letters(settings, lambda found: len(found) >= 4)
        wait_for("the good article after the bad ones", lambda: count(client, settings, "articles"),
                 lambda n: n == 1, 60, worker)
        assert worker.proc.poll() is None

    by_key = {letter.key: letter for letter in letters}
    assert {k: (v.reason, v.stage) for k, v in by_key.items()} == {
        "bad-1": ("malformed_json", "extract"),
        "bad-2": ("invalid_schema", "extract"),
        "empty-1": ("empty_text", "extract"),
        "bad-3": ("malformed_json", "stories"),
    }
    assert by_key["bad-3"].topic == settings.topics["events"]
    for letter in letters:
        assert letter.partition is not None and letter.offset is not None and letter.error
    assert by_key["empty-1"].topic == settings.topics["articles"]
    assert Article.model_validate_json(by_key["empty-1"].payload).id == "empty-1"
    assert all_docs(client, settings, "articles").keys() == {good.id}


def make_event(n: int, parties: tuple[str, ...] = ("GB", "QA"), **fields: object) -> Event:
    values: dict[str, object] = {
        "event_id": f"{parties[0]}-e{n}", "article_id": f"{parties[0]}-a{n}", "event_type": "agreement_signed",
        "realis": "actual", "attributes": {"security": n % 2 == 0},
        "participants": [Participant(name=p, canonical=p, kind="country", role="signatory") for p in parties],
        "evidence": Evidence(sentence=f"signed {n}", start=0, end=8, trigger="signed"),
        "confidence": 0.5 + n / 100, "cameo": "057", "plover": "AGREE", "language": "en",
        "source": f"outlet{n}", "published_at": PUBLISHED + timedelta(hours=n),
    }
    return Event.model_validate({**values, **fields})


def test_pipeline_events_merge_into_one_story_and_replays_change_nothing(settings, tmp_path: Path) -> None:
    client = connect(settings)
    events = [make_event(n) for n in range(1, 6)]
    key = story_key(events[0]).encode()
    with running_worker(settings, tmp_path / "worker.log") as worker:
        produce_raw(settings, "events", [(key, e.to_json()) for e in events])
        produce_raw(settings, "events", [(key, events[1].to_json()), (key, events[3].to_json())])  # replays
        story = wait_for("the merged story", lambda: all_docs(client, settings, "stories"),
                         lambda docs: any(len(s["event_ids"]) == 5 for s in docs.values()), 90, worker)
        wait_for("the events", lambda: count(client, settings, "events"), lambda n: n == 5, 30, worker)
    assert len(story) == 1
    (doc,) = story.values()
    assert doc["story_id"] == key.decode()
    assert doc["mention_count"] == 5
    assert sorted(doc["event_ids"]) == sorted(e.event_id for e in events)
    assert doc["best_article_id"] == "GB-a5" and doc["attributes"]["security"] is True
    assert doc["first_seen"].startswith("2015-11-04T10:00") and doc["last_seen"].startswith("2015-11-04T14:00")
    assert set(all_docs(client, settings, "events")) == {e.event_id for e in events}


def test_pipeline_refused_documents_are_dead_lettered(settings, tmp_path: Path) -> None:
    client = connect(settings)
    good = make_event(1)
    # `attributes` is mapped strict in deploy/: an unknown key is a document the index refuses.
    bad = make_event(2, parties=("SA", "AE"), attributes={"not_in_mapping": "x"})
    with running_worker(settings, tmp_path / "worker.log") as worker:
        produce_raw(settings, "events", [(story_key(e).encode(), e.to_json()) for e in (bad, good)])
        letters = read_dead_letters(settings, lambda found: len(found) >= 2)
        wait_for("the good event and story", lambda: (count(client, settings, "events"),
                                                       count(client, settings, "stories")),
                 lambda n: n == (1, 1), 60, worker)
        assert worker.proc.poll() is None
    assert {(letter.reason, letter.stage) for letter in letters} == {("index_rejected", "index")}
    assert {letter.key for letter in letters} == {story_key(bad)}
    assert {letter.topic for letter in letters} == {settings.topics["events"]}
    assert any("SA-e2" in letter.payload for letter in letters)
