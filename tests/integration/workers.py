"""Helpers for the pipeline tests: run `marsad worker` as a real subprocess, produce, wait, read back."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from processors.schemas import Article, DeadLetter
from processors.search import index_name
from processors.settings import Settings, as_environment
from processors.setup import apply

SAMPLES = Path("/work/shared/samples")
ROOT = Path(__file__).resolve().parents[2]


def settings_env(settings: Settings) -> dict[str, str]:
    """Return the environment that makes a subprocess load exactly these settings."""
    return as_environment(settings)


def prepare(settings: Settings) -> None:
    """Create the indices from deploy/ (templates, aliases) as `marsad setup` does."""
    report = apply(settings, kibana=False)
    assert report.ok, report.render()


class Worker:
    """A `marsad worker` subprocess in its own process group (its extraction processes included)."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "worker", "--loglevel", "info"], cwd=ROOT,
            env=settings_env(settings), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL the worker's main process only, as a crash or an OOM kill would."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def group_alive(self) -> bool:
        """Return True while any process of the worker's group (extraction processes too) lives."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        """End the whole group (SIGTERM, then SIGKILL)."""
        for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            deadline = time.monotonic() + grace
            while self.group_alive() and time.monotonic() < deadline:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(0.1)
            if not self.group_alive():
                break
        self._log.close()

    def dump_stacks(self) -> None:
        """Ask the worker to log every task's and thread's stack (mode's SIGUSR1 handler)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGUSR1)
            time.sleep(3)

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_worker(settings: Settings, log_path: Path) -> Iterator[Worker]:
    """Run a worker for the duration of the block; print its log tail when the block fails."""
    worker = Worker(settings, log_path)
    try:
        yield worker
    except BaseException:
        print(f"--- worker log ({log_path}) ---\n{worker.log_tail()}")
        raise
    finally:
        worker.stop()


def produce_raw(settings: Settings, topic_role: str, records: Iterable[tuple[bytes | None, bytes]]) -> int:
    """Send (key, value) byte pairs to a topic as they are, malformed or not; return how many."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5)
    count = 0
    for key, value in records:
        producer.send(settings.topics[topic_role], key=key, value=value)
        count += 1
    producer.flush()
    producer.close()
    return count


def produce_articles(settings: Settings, articles: Iterable[Article]) -> int:
    """Send articles to the articles topic (key = id, value = JSON) as ingest does; return how many."""
    return produce_raw(settings, "articles", ((a.id.encode(), a.to_json()) for a in articles))


def wait_for(what: str, probe: Callable[[], Any], done: Callable[[Any], bool], timeout_s: float,
             worker: Worker | None = None) -> Any:
    """Poll `probe` until `done(value)`; fail with the last value (and the worker's state) otherwise."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = probe()
        if done(value):
            return value
        if worker is not None and worker.proc.poll() is not None:
            raise AssertionError(f"worker exited with {worker.proc.returncode} while waiting for {what}")
        time.sleep(0.5)
    if worker is not None:
        worker.dump_stacks()
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; last value: {repr(value)[:1500]}")


def count(client: Elasticsearch, settings: Settings, kind: str, query: dict | None = None) -> int:
    """Return the number of documents of a kind (0 while the index does not exist)."""
    try:
        client.indices.refresh(index=index_name(settings, kind))
        return int(client.count(index=index_name(settings, kind), query=query or {"match_all": {}})["count"])
    except NotFoundError:
        return 0


def all_docs(client: Elasticsearch, settings: Settings, kind: str) -> dict[str, dict[str, Any]]:
    """Return every document of a kind by _id (scrolls, so any size)."""
    client.indices.refresh(index=index_name(settings, kind))
    docs: dict[str, dict[str, Any]] = {}
    page = client.search(index=index_name(settings, kind), query={"match_all": {}}, size=1000, scroll="1m")
    while page["hits"]["hits"]:
        for hit in page["hits"]["hits"]:
            assert hit["_id"] not in docs, f"duplicate _id {hit['_id']}"
            docs[hit["_id"]] = hit["_source"]
        page = client.scroll(scroll_id=page["_scroll_id"], scroll="1m")
    return docs


def read_dead_letters(settings: Settings, until: Callable[[list[DeadLetter]], bool],
                      timeout_s: float = 60.0) -> list[DeadLetter]:
    """Read the dead-letter topic from the start until `until(letters)` holds."""
    topic = settings.topics["dead_letters"]
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, p) for p in range(settings.topic_partitions)])
    consumer.seek_to_beginning()
    letters: list[DeadLetter] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not until(letters) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                letters += [DeadLetter.model_validate_json(r.value) for r in records]
    finally:
        consumer.close()
    return letters


def voa_articles() -> list[Article]:
    """Return the VOA sample articles."""
    lines = (SAMPLES / "voa-articles-en.jsonl").read_text(encoding="utf-8").splitlines()
    return [Article.model_validate(json.loads(line)) for line in lines if line.strip()]


def seed_article(article_id: str = "seed-ar", **fields: Any) -> Article:
    """Return the seed Arabic article (a report of the UK-Qatar security agreement)."""
    text = (SAMPLES / "seed-article-ar.txt").read_text(encoding="utf-8")
    return Article(id=article_id, text=text, language="ar", **fields)
