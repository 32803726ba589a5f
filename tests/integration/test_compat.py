"""compat: under Tansu, partition ends come from Fetch, so a restarted worker recovers its whole table."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from processors.compat import fetch_highwaters
from processors.schemas import Event, Evidence, Participant
from processors.search import connect
from processors.stories import story_key
from tests.integration.workers import all_docs, count, prepare, produce_raw, running_worker, wait_for

pytestmark = pytest.mark.integration


def test_compat_fetch_highwaters_counts_every_record(local_stack) -> None:
    settings = local_stack.settings()
    topic = f"{settings.topic_prefix}.highwaters"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    admin.close()
    sent = {0: 0, 1: 900, 2: 1234}

    async def produce_and_read() -> dict:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=20)
        await producer.start()
        try:
            for partition, n in sent.items():
                for i in range(n):  # many record batches per partition: the case ListOffsets gets wrong
                    await producer.send(topic, b"%d" % i, partition=partition)
                    if i % 100 == 0:
                        await producer.flush()
            await producer.flush()
        finally:
            await producer.stop()
        return await fetch_highwaters([TopicPartition(topic, p) for p in sent],
                                      bootstrap_servers=settings.kafka_bootstrap)

    highwaters = asyncio.run(produce_and_read())
    assert {tp.partition: hw for tp, hw in highwaters.items()} == sent


def make_event(n: int, round_: int) -> Event:
    party = f"party-{n}"
    return Event(event_id=f"e{n}-{round_}", article_id=f"a{n}-{round_}", event_type="military_operation",
                 realis="actual", participants=[Participant(name=party, canonical=party, kind="group",
                                                            role="actor")],
                 evidence=Evidence(sentence="struck", start=0, end=6, trigger="struck"), confidence=0.6,
                 cameo="190", plover="ATTACK", language="en",
                 published_at=datetime(2015, 11, 4, 9, round_, tzinfo=UTC))


def test_compat_restarted_worker_recovers_every_story(local_stack, tmp_path: Path) -> None:
    base = local_stack.settings(extract_batch_seconds=0.2, faust_web_port=0, bulk_chunk_size=50)
    settings = replace(base, worker_id=base.topic_prefix)
    prepare(settings)
    client = connect(settings)
    stories = 400
    first = [make_event(n, 1) for n in range(stories)]
    with running_worker(settings, tmp_path / "worker-1.log") as worker:
        produce_raw(settings, "events", [(story_key(e).encode(), e.to_json()) for e in first])
        wait_for("every story", lambda: count(client, settings, "stories"), lambda n: n == stories, 120, worker)
        worker.kill()
    # Each story's state now lives only in the changelog: a second mention must find it there.
    second = [make_event(n, 2) for n in range(stories)]
    produce_raw(settings, "events", [(story_key(e).encode(), e.to_json()) for e in second])
    with running_worker(settings, tmp_path / "worker-2.log") as worker:
        docs = wait_for("every second mention", lambda: all_docs(client, settings, "stories"),
                        lambda d: len(d) == stories and all(s["event_ids"][-1].endswith("-2") for s in d.values()),
                        180, worker)
    expected = {story_key(e): [f"e{n}-1", f"e{n}-2"] for n, e in enumerate(first)}
    recovered = {s["story_id"]: sorted(s["event_ids"]) for s in docs.values()}
    forgotten = [key for key, ids in expected.items() if recovered.get(key) != ids]
    assert forgotten == [], f"{len(forgotten)} of {stories} stories lost their first mention in recovery"
    assert {s["mention_count"] for s in docs.values()} == {2}
