"""Article -> the `articles` topic, keyed by article id; bad records -> the dead-letter topic.

The only module that imports kafka-python. Sends are asynchronous and batched; every send is
acknowledged by all in-sync replicas, retried, and idempotent (measured: Tansu accepts
InitProducerId, so the broker drops a retried duplicate batch). A failed send is counted and
raised at `flush()`, never dropped. `ensure_topics` creates the project's topics once, for the
`marsad ingest` command and for tests (Faust workers declare their own).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from processors.schemas import Article, DeadLetter
from processors.settings import Settings

CLIENT_ID = "marsad-ingest"
# gzip needs no extra library; lz4/zstd/snappy need python packages that are not dependencies.
COMPRESSION = "gzip"
# A dead letter keeps the start of the bad input, enough to see what was wrong with it.
MAX_DEAD_LETTER_PAYLOAD = 64 * 1024
# Kafka's default message.max.bytes is ~1 MiB; leave room for the record batch overhead.
MAX_RECORD_BYTES = 1_000_000
# How long to wait for the first broker connection before telling the user it is unreachable.
BOOTSTRAP_TIMEOUT_MS = 10_000


class ProduceError(RuntimeError):
    """Some records were not acknowledged by the broker."""


class RecordTooLarge(ValueError):
    """A record is larger than one Kafka message may be; it is dead-lettered, not sent."""


def producer_config(settings: Settings) -> dict[str, Any]:
    """Return the KafkaProducer settings: durable, idempotent, batched and compressed."""
    return {"bootstrap_servers": settings.kafka_bootstrap.split(","), "client_id": CLIENT_ID,
            "acks": "all", "enable_idempotence": True, "retries": 10, "delivery_timeout_ms": 120_000,
            "max_in_flight_requests_per_connection": 5, "compression_type": COMPRESSION,
            "linger_ms": 20, "batch_size": 256 * 1024, "max_request_size": 1_048_576,
            "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS}


def ensure_topics(settings: Settings, roles: Iterable[str] | None = None) -> list[str]:
    """Create the project's topics (all roles, or those given) that do not exist; return the new ones."""
    names = [settings.topics[role] for role in (roles or settings.topics)]
    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap.split(","), client_id=CLIENT_ID,
                                 bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
    except KafkaError as exc:
        raise unreachable(settings, exc) from None
    try:
        missing = [name for name in names if name not in set(admin.list_topics())]
        created = []
        for name in missing:
            try:  # one at a time: another process may create the same topic concurrently
                admin.create_topics([NewTopic(name, settings.topic_partitions, settings.topic_replicas)],
                                    wait_for_metadata=True)
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def unreachable(settings: Settings, exc: Exception) -> ProduceError:
    """Return the error that says which broker did not answer and what to check."""
    return ProduceError(f"cannot reach the broker at {settings.kafka_bootstrap} ({type(exc).__name__}: {exc}); "
                        "is it running? `marsad stack up` starts a local one, MARSAD_KAFKA_BOOTSTRAP names it")


def dead_letter(reason: str, error: str, payload: bytes | str, key: str | None = None) -> DeadLetter:
    """Return the DeadLetter for a record that ingest could not turn into an Article."""
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    if len(text) > MAX_DEAD_LETTER_PAYLOAD:
        text = text[:MAX_DEAD_LETTER_PAYLOAD] + f"… [{len(text) - MAX_DEAD_LETTER_PAYLOAD} characters cut]"
    return DeadLetter(reason=reason, error=error, stage="ingest", key=key, payload=text)


class ArticleProducer:
    """Sends Articles and DeadLetters; use as a context manager so the buffer is flushed on exit."""

    def __init__(self, settings: Settings, producer: KafkaProducer | None = None) -> None:
        self.topics = settings.topics
        try:
            self.producer = producer or KafkaProducer(**producer_config(settings))
        except KafkaError as exc:
            raise unreachable(settings, exc) from None
        self.acknowledged = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()  # callbacks run on the producer's I/O thread

    def send_article(self, article: Article) -> None:
        """Queue an article for the `articles` topic, keyed by its id; RecordTooLarge if it cannot fit."""
        value = article.to_json()
        if len(value) > MAX_RECORD_BYTES:
            raise RecordTooLarge(f"article {article.id}: {len(value)} bytes of JSON is more than the "
                                 f"{MAX_RECORD_BYTES} bytes a Kafka message may hold")
        self._send(self.topics["articles"], article.id, value)

    def send_dead_letter(self, letter: DeadLetter) -> None:
        """Queue a dead letter, keyed by its origin (file:line or URL) when known."""
        self._send(self.topics["dead_letters"], letter.key, letter.to_json())

    def _send(self, topic: str, key: str | None, value: bytes) -> None:
        try:
            future = self.producer.send(topic, key=key.encode() if key else None, value=value)
        except KafkaError as exc:  # no metadata in time, record too large: counted, raised at flush
            self._on_error(f"{topic} key={key}", exc)
            return
        future.add_callback(self._on_ack)
        future.add_errback(self._on_error, f"{topic} key={key}")

    def _on_ack(self, _metadata: object) -> None:
        with self._lock:
            self.acknowledged += 1

    def _on_error(self, where: str, exc: BaseException) -> None:
        with self._lock:
            self.failures.append(f"{where}: {type(exc).__name__}: {exc}")

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every queued record is acknowledged; raise ProduceError if any failed."""
        self.producer.flush(timeout=timeout_s)
        if self.failures:
            raise ProduceError(f"{len(self.failures)} records were not acknowledged; "
                               f"the first: {self.failures[0]}")

    def close(self) -> None:
        """Flush what is buffered, then close the connection."""
        self.producer.close()

    def __enter__(self) -> ArticleProducer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.flush()
        finally:
            self.close()
