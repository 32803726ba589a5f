"""Every changelogged table: the only state that spans messages.

Tables hold raw bytes (a record's `.to_json()`) under raw-bytes keys, exactly as they travel on the
topics. Agents update tables from batches that span partitions, so faust's default (the changelog
partition of "the current event") cannot be used: each change goes to the partition the Kafka
default partitioner (murmur2) gives its key, which is the partition the producer gave the same key
on the source topic. The changelog thus stays co-partitioned with the stream it is updated from,
and a worker that takes over a partition recovers exactly that partition's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner

from processors.settings import Settings


class KeyPartitionedTable(faust.Table):
    """A table whose changes go to the changelog partition murmur2 gives their key."""

    def partition_for_key(self, key: Any) -> int:
        """Return the changelog partition of a key (bytes), as the producer partitions the topics."""
        partitions = list(range(self.partitions or self.app.conf.topic_partitions))
        return int(DefaultPartitioner()(key, partitions, partitions))


@dataclass(frozen=True)
class Tables:
    """The pipeline's tables."""

    stories: faust.Table  # story key (bytes) -> Story JSON; updated from the events topic
    alerts_sent: faust.Table  # story id (bytes) -> what was alerted, per rule/channel (processors.alerts)


def declare(app: faust.App, settings: Settings) -> Tables:
    """Return the tables, declared on the app."""
    stories = _table(app, settings, "stories",
                     "Stories by story key, merged from every event that reports them.")
    alerts_sent = _table(app, settings, "alerts-sent",
                         "Per story: the alerts sent, by rule and channel (the alerts index is the durable "
                         "record; this saves a lookup per story update).")
    return Tables(stories=stories, alerts_sent=alerts_sent)


def _table(app: faust.App, settings: Settings, name: str, help_text: str) -> faust.Table:
    # faust picks the table's own (store and changelog) serializers from key_type/value_type alone;
    # bytes gives "raw", anything else json, which cannot read a raw key back in recovery.
    table = KeyPartitionedTable(app, name=name, key_type=bytes, value_type=bytes,
                                partitions=settings.topic_partitions, beacon=app.tables.beacon, help=help_text)
    app.tables.add(table)
    return table
