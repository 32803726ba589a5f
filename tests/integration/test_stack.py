"""The local stack: the fixture's servers work with the real clients; `marsad stack` starts and stops them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from processors.search import connect
from processors.stack import free_port, kafka_ready, port_in_use, search_ready

pytestmark = pytest.mark.integration


def test_stack_broker_round_trip(local_stack) -> None:
    settings = local_stack.settings()
    topic = settings.topics["articles"]
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    sent = {f"k{i}".encode(): f"v{i}".encode() for i in range(50)}
    for key, value in sent.items():
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
    received: dict[bytes, bytes] = {}
    deadline = time.monotonic() + 20
    while len(received) < len(sent) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            received.update((r.key, r.value) for r in records)
    consumer.close()
    assert received == sent


def test_stack_search_answers_official_client(local_stack) -> None:
    settings = local_stack.settings()
    client = connect(settings)
    assert client.info()["version"]["number"]
    index = f"{settings.index_prefix}-probe"
    client.indices.create(index=index, mappings={"properties": {"name": {"type": "keyword"}}})
    client.index(index=index, id="1", document={"name": "tansu"})
    client.indices.refresh(index=index)
    hits = client.search(index=index, query={"term": {"name": "tansu"}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["1"]
    client.indices.delete(index=index)


def test_stack_settings_are_unique_per_call(local_stack) -> None:
    first, second = local_stack.settings(), local_stack.settings(topic_partitions=2)
    assert first.topic_prefix != second.topic_prefix and first.index_prefix != second.index_prefix
    assert (first.kafka_flavour, first.elasticsearch_flavour) == ("tansu", "osmem")
    assert first.consumer_session_timeout_s == 6 and second.topic_partitions == 2


# --- `marsad stack up | status | down` in a scratch directory -------------------------------------------

def _marsad(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "processors.cli", "stack", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def stack_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for `marsad stack` on free ports; whatever it started is stopped afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARSAD_", "OSMEM_"))}
    env["MARSAD_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{free_port()}"
    env["MARSAD_ELASTICSEARCH_URL"] = f"http://127.0.0.1:{free_port()}"
    yield env
    _marsad(tmp_path, env, "down")


def test_stack_cli_up_status_down(tmp_path: Path, stack_env: dict[str, str]) -> None:
    bootstrap, url = stack_env["MARSAD_KAFKA_BOOTSTRAP"], stack_env["MARSAD_ELASTICSEARCH_URL"]
    up = _marsad(tmp_path, stack_env, "up")
    assert up.returncode == 0, up.stderr
    assert f"export MARSAD_KAFKA_BOOTSTRAP={bootstrap}" in up.stdout
    assert f"export MARSAD_ELASTICSEARCH_URL={url}" in up.stdout
    assert "export MARSAD_KAFKA_FLAVOUR=tansu" in up.stdout
    assert "export MARSAD_ELASTICSEARCH_FLAVOUR=osmem" in up.stdout
    assert kafka_ready(bootstrap) and search_ready(url)
    assert (tmp_path / ".stack" / "tansu.pid").exists() and (tmp_path / ".stack" / "osmem.log").exists()

    status = _marsad(tmp_path, stack_env, "status")
    assert status.returncode == 0 and status.stdout.count("answering") == 2, status.stdout
    again = _marsad(tmp_path, stack_env, "up")  # idempotent: reports the running stack
    assert again.returncode == 0 and "already running" in again.stderr and up.stdout == again.stdout

    down = _marsad(tmp_path, stack_env, "down")
    assert down.returncode == 0 and "stopped tansu" in down.stderr and "stopped osmem" in down.stderr
    assert not kafka_ready(bootstrap) and not search_ready(url)
    after = _marsad(tmp_path, stack_env, "status")
    assert after.returncode == 1 and after.stdout.count("not running") == 2


@pytest.mark.parametrize("variable", ["MARSAD_KAFKA_BOOTSTRAP", "MARSAD_ELASTICSEARCH_URL"])
def test_stack_cli_reports_taken_port(tmp_path: Path, stack_env: dict[str, str], variable: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        prefix = "http://" if variable == "MARSAD_ELASTICSEARCH_URL" else ""
        stack_env[variable] = f"{prefix}127.0.0.1:{port}"
        up = _marsad(tmp_path, stack_env, "up")
    assert up.returncode == 1
    assert f"port {port} is already in use: is another stack running? `marsad stack down` or set {variable}" \
        in up.stderr
    # Nothing is left half-started: the other server was stopped again.
    other = "MARSAD_ELASTICSEARCH_URL" if variable == "MARSAD_KAFKA_BOOTSTRAP" else "MARSAD_KAFKA_BOOTSTRAP"
    other_port = int(stack_env[other].rsplit(":", 1)[1])
    assert not port_in_use("127.0.0.1", other_port)
    assert _marsad(tmp_path, stack_env, "status").stdout.count("not running") == 2


def test_stack_cli_reports_missing_binary(tmp_path: Path, stack_env: dict[str, str]) -> None:
    stack_env["OSMEM_SERVER_BIN"] = str(tmp_path / "no-such-osmem-server")
    up = _marsad(tmp_path, stack_env, "up")
    assert up.returncode == 1
    assert "install the local extra: pip install 'marsad[local]'" in up.stderr
    assert not port_in_use("127.0.0.1", int(stack_env["MARSAD_KAFKA_BOOTSTRAP"].rsplit(":", 1)[1]))
