"""Workarounds for the local stand-in broker (Tansu), applied only when MARSAD_KAFKA_FLAVOUR=tansu.

1. Table recovery. Tansu answers ListOffsets(LATEST) with the base offset of the newest record batch + 1 instead of
the high watermark, so `end_offsets()` is short by the size of the last batch. Faust's table
recovery reads the changelog up to `end_offsets()` and then declares the table recovered: the
tail of the changelog is silently dropped (records lost in 3 of 5 restarts; without this
workaround tests/integration/test_compat.py failed 2 runs in 3). The high
watermark that Tansu returns in Fetch responses is right, so under Tansu the consumer takes each
partition's end from a Fetch instead.

2. Fetch latency. Tansu holds every Fetch for the whole `fetch_max_wait_ms` even when records
arrive meanwhile (Kafka answers as soon as `fetch_min_bytes` is there). Faust asks for 1.5 s, so
each hop of the pipeline waited 0.75 s on average (measured: median 722 ms per hop at 1500 ms,
22 ms at 100 ms). Under Tansu the worker's consumer waits at most FETCH_MAX_WAIT_MS.

Production Kafka keeps faust's own code paths untouched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any, cast

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from processors import delivery
from processors.settings import Settings

log = logging.getLogger(__name__)

_FETCH_DEADLINE_S = 30.0
# A short long-poll: an idle worker sends ten Fetch requests a second to the local broker, cheap.
FETCH_MAX_WAIT_MS = 100


async def fetch_highwaters(partitions: Iterable[Any], **consumer_options: Any) -> dict[Any, int]:
    """Return each partition's high watermark as reported by a Fetch response (not ListOffsets).

    A throwaway consumer without a group reads each partition from its start; the first Fetch
    response for a partition carries its high watermark, empty partitions included.
    """
    # aiokafka wants its own TopicPartition type; faust passes its TP tuples: map both ways.
    tps = {aiokafka.TopicPartition(tp.topic, tp.partition): tp for tp in partitions}
    if not tps:
        return {}
    consumer = aiokafka.AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest",
                                         fetch_max_wait_ms=10, max_partition_fetch_bytes=1024,
                                         **consumer_options)
    await consumer.start()
    try:
        consumer.assign(list(tps))
        deadline = asyncio.get_running_loop().time() + _FETCH_DEADLINE_S
        while (missing := [tp for tp in tps if consumer.highwater(tp) is None]):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no Fetch response for {missing} within {_FETCH_DEADLINE_S:.0f} s")
            await consumer.getmany(*missing, timeout_ms=100, max_records=1)
        return {original: int(consumer.highwater(tp)) for tp, original in tps.items()}
    finally:
        await consumer.stop()


class TansuConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, with partition ends taken from Fetch responses and short fetches."""

    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # faust hard-codes fetch_max_wait_ms=1500; the fetcher reads it at start(), which comes later.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        if self.consumer.in_transaction:
            return await super()._highwaters(partitions)
        transport = cast(faust_aiokafka.Transport, self.transport)
        conf = self.app.conf
        try:
            return await fetch_highwaters(
                partitions,
                bootstrap_servers=faust_aiokafka.server_list(transport.url, transport.default_port),
                client_id=f"{conf.broker_client_id}-highwaters",
                request_timeout_ms=int(conf.broker_request_timeout * 1000.0),
                **faust_aiokafka.credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context),
            )
        except Exception:
            # Faust's recovery swallows this and waits forever: say loudly why the worker is stuck.
            log.exception("could not read the changelog high watermarks; table recovery cannot finish")
            raise


class TansuConsumer(delivery.ContiguousConsumer):
    """The pipeline's consumer running a TansuConsumerThread."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return TansuConsumerThread(self, loop=self.loop, beacon=self.beacon)


class TansuTransport(delivery.Transport):
    """The pipeline's transport whose consumers use TansuConsumer."""

    Consumer = TansuConsumer


def apply(app: faust.App, settings: Settings) -> None:
    """Install the broker workarounds on a new app, only for the flavour that needs them."""
    if settings.kafka_flavour == "tansu":
        app.transport = TansuTransport(app.conf.broker_consumer, app)
