"""index.bulk_index against a real search server: retries while it is down, reports refused documents."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from processors.index import IndexUnavailable, bulk_index, to_actions
from processors.schemas import Event, Evidence, Participant
from processors.search import connect
from processors.settings import Settings
from processors.stack import free_port, launch, osmem_service, stop_process
from processors.stories import merge
from tests.integration.workers import all_docs, prepare

pytestmark = pytest.mark.integration


def make_event(n: int, **fields: object) -> Event:
    values: dict[str, object] = {
        "event_id": f"e{n}", "article_id": f"a{n}", "event_type": "cyberattack", "realis": "actual",
        "participants": [Participant(name="Saudi Aramco", canonical="Saudi Aramco", kind="company", role="target")],
        "attributes": {"method": "wiper"}, "evidence": Evidence(sentence="s", start=0, end=1, trigger="hit"),
        "confidence": 0.7, "cameo": "172", "plover": "ATTACK", "language": "en",
        "extracted_at": datetime(2015, 11, 4, tzinfo=UTC),
    }
    return Event.model_validate({**values, **fields})


def test_index_rewrites_are_idempotent_and_refusals_reported(local_stack) -> None:
    settings = local_stack.settings()
    prepare(settings)
    client = connect(settings)
    events = [make_event(n) for n in range(1, 4)]
    story = merge(merge(merge(None, events[0]), events[1]), events[2])
    bad = make_event(9, attributes={"not_in_mapping": 1})
    actions = to_actions([*events, story, bad], settings)
    refused = bulk_index(client, actions, chunk_size=2)
    assert [(r.action["_id"], r.status) for r in refused] == [("e9", 400)]
    assert refused[0].error_type in ("mapper_parsing_exception", "document_parsing_exception",
                                     "strict_dynamic_mapping_exception")
    assert bulk_index(client, actions, refresh=True) != []  # the bad one is refused again...
    assert set(all_docs(client, settings, "events")) == {"e1", "e2", "e3"}  # ...and nothing duplicated
    assert all_docs(client, settings, "stories")[story.story_id]["mention_count"] == 3


def test_index_retries_while_the_server_is_down(tmp_path: Path) -> None:
    port = free_port()
    service = osmem_service("127.0.0.1", port)
    settings = replace(Settings(), elasticsearch_url=service.address, elasticsearch_flavour="osmem",
                       index_prefix="down")
    client = connect(settings).options(request_timeout=2, max_retries=0)
    actions = to_actions([make_event(n) for n in range(50)], settings)
    waits: list[float] = []
    result: dict[str, object] = {}

    def write() -> None:
        result["refused"] = bulk_index(client, actions, initial_backoff_s=0.2, max_backoff_s=1.0,
                                       sleep=lambda s: (waits.append(s), time.sleep(s)))

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(2.0)  # the writer retries against nothing
    assert writer.is_alive() and len(waits) >= 2
    assert waits[:3] == [0.2, 0.4, 0.8] and max(waits) <= 1.0
    proc = launch(service, tmp_path / "osmem.log", detach=False)
    try:
        writer.join(30)
        assert not writer.is_alive()
        assert result["refused"] == []
        client.indices.refresh(index="down-events")
        assert client.count(index="down-events")["count"] == 50
    finally:
        stop_process(proc.pid)


def test_index_gives_up_when_told_to() -> None:
    settings = replace(Settings(), elasticsearch_url=f"http://127.0.0.1:{free_port()}",
                       elasticsearch_flavour="osmem")
    client = connect(settings).options(request_timeout=1, max_retries=0)
    started = time.monotonic()
    with pytest.raises(IndexUnavailable):
        bulk_index(client, to_actions([make_event(1)], settings), initial_backoff_s=0.1, give_up_after_s=1.0)
    assert time.monotonic() - started < 10
