"""tables: a table change goes to the changelog partition the producers give its key on the topics."""

from __future__ import annotations

import pytest
from kafka.partitioner.default import murmur2

from processors.app import create_app
from processors.settings import Settings
from processors.stories import story_key
from processors.tables import declare
from tests.unit.test_stories import make_event


@pytest.mark.parametrize("partitions", [1, 4, 12])
def test_tables_changelog_partition_matches_the_producers(partitions: int) -> None:
    settings = Settings(topic_partitions=partitions, worker_id="test-tables", faust_web_port=0)
    tables = declare(create_app(settings), settings)
    keys = [story_key(make_event(n, participants=[])).encode() for n in range(200)]
    # kafka-python's murmur2 (what ingest and the tests produce with) is an independent implementation.
    expected = [(murmur2(key) & 0x7FFFFFFF) % partitions for key in keys]
    for table in (tables.stories, tables.alerts_sent):
        assert [table.partition_for_key(key) for key in keys] == expected
    assert len(set(expected)) == partitions  # the keys really spread over every partition
