"""At-least-once delivery: buffers emptied only after a suspension; no commit over unseen offsets."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from processors.app import create_app
from processors.delivery import ContiguousConsumer, KeepingFlowControl
from processors.settings import Settings

TOPIC = TP("marsad.articles", 0)


def _app_queue() -> tuple[FlowControlEvent, FlowControlQueue[Any]]:
    app = create_app(Settings())
    # The queue type faust gives every stream's channel, managed by the app's flow control.
    return app.flow_control, app.FlowControlQueue(maxsize=10, clear_on_resume=True)


@pytest.mark.parametrize("flavour", ["kafka", "tansu"])
def test_every_flavour_uses_the_delivery_fixes(flavour: str) -> None:
    app = create_app(replace(Settings(), kafka_flavour=flavour))
    assert isinstance(app.flow_control, KeepingFlowControl)
    assert isinstance(app.consumer, ContiguousConsumer)


def test_resuming_after_a_suspension_drops_the_buffered_messages() -> None:
    flow, queue = _app_queue()
    flow.resume()
    queue.put_nowait("fetched before the rebalance")
    flow.suspend()
    flow.resume()
    assert queue.qsize() == 0


def test_resuming_while_flowing_keeps_the_buffered_messages() -> None:
    # Recovery resumes twice; what the stream partitions delivered in between must be processed.
    flow, queue = _app_queue()
    flow.resume()
    queue.put_nowait("offset 64")
    queue.put_nowait("offset 65")
    flow.resume()
    assert flow.is_active()
    assert [queue.get_nowait(), queue.get_nowait()] == ["offset 64", "offset 65"]


def _commits_after_gap(consumer: Any) -> list[int | None]:
    """Committed at 16, the read position jumped to 64 (a recovery seek) while 16-63 wait in the
    buffer; then batches of ten are processed and acknowledged, a commit after each."""
    consumer._committed_offset[TOPIC] = 16
    asyncio.run(consumer._add_gap(TOPIC, 17, 63))
    commits = []
    for start in range(16, 126, 10):
        for offset in range(start, start + 10):
            consumer._acked[TOPIC].append(offset)
            consumer._acked_index[TOPIC].add(offset)
        commits.append(new := consumer._new_offset(TOPIC))
        if new is not None:
            consumer._committed_offset[TOPIC] = new
    return commits


def test_commits_follow_the_acknowledged_offsets_after_a_jump_in_read_position() -> None:
    assert _commits_after_gap(create_app(Settings()).consumer) == list(range(26, 136, 10))


def test_faust_itself_lets_commits_crawl_after_such_a_jump() -> None:
    # What ContiguousConsumer replaces (drop it when faust changes): one offset per commit.
    ours: Any = create_app(Settings()).consumer
    stock = faust_aiokafka.Consumer(ours.transport, callback=ours.callback,
                                    on_partitions_revoked=ours._on_partitions_revoked,
                                    on_partitions_assigned=ours._on_partitions_assigned)
    assert _commits_after_gap(stock)[-1] == 28
