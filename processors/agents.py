"""The agents: the only module that wires the app, topics and tables to the stages.

    articles --extract (process pool)--> events (key = story key) --stories table--> index
                    \\-> articles index                  \\-> stories topic (for alerts, after indexing)
    anything malformed or refused --> dead-letters

Commit comes last. Each agent takes a batch of events from its stream, holds a reference on every
message of the batch, does all of its writes (topic sends, table updates, bulk index) and only then
lets go; faust commits an offset once every stream has let go of its message, after flushing the
producer. A batch that fails, or a worker killed in the middle of one, leaves its offsets
uncommitted, and the restarted worker does it again: writes are idempotent (deterministic
document ids, `stories.merge` ignores an event it already has).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, cast

import faust
from elasticsearch import Elasticsearch
from pydantic import ValidationError

from processors import alerts, errors, index, stories
from processors import tables as tables_module
from processors import topics as topics_module
from processors.app import create_app
from processors.extract import Extractor, with_language
from processors.schemas import Article, DeadLetter, Event, Story, utcnow
from processors.search import connect
from processors.settings import Settings

log = logging.getLogger(__name__)

EX_SOFTWARE = 70  # exit status of a worker that crashed on purpose (sysexits.h)


@dataclass(frozen=True)
class Message:
    """A consumed message's coordinates and bytes, as the stage functions need them."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class Extracted:
    """What the extraction process returns for one article message."""

    article: Article | None = None
    events: list[Event] = field(default_factory=list)
    dead_letter: DeadLetter | None = None


@dataclass(frozen=True)
class Runtime:
    """What the agents share: settings, topics, tables, the extraction executor, the search client."""

    settings: Settings
    topics: topics_module.Topics
    tables: tables_module.Tables
    executor: concurrent.futures.Executor
    search: Elasticsearch


# --- wiring -----------------------------------------------------------------------------------------

def build(settings: Settings) -> faust.App:
    """Return the app with the topics, tables and agents of the pipeline declared on it."""
    app = create_app(settings)
    rt = Runtime(settings, topics_module.declare(app, settings), tables_module.declare(app, settings),
                 _executor(settings), connect(settings))

    async def extract(stream: faust.StreamT) -> None:
        async for batch in _batches(stream, settings.extract_batch_size, settings.extract_batch_seconds):
            await _holding(app, batch, extract_batch(rt, [_message(e) for e in batch]))

    async def merge_and_index(stream: faust.StreamT) -> None:
        async for batch in _batches(stream, settings.bulk_chunk_size, settings.extract_batch_seconds):
            await _holding(app, batch, merge_batch(rt, [_message(e) for e in batch]))

    app.agent(rt.topics.articles, name="marsad.extract")(extract)
    app.agent(rt.topics.events, name="marsad.stories")(merge_and_index)
    _declare_alerts(app, rt)
    app.task(lambda: warm_up(rt))
    return app


def _declare_alerts(app: faust.App, rt: Runtime) -> None:
    """Add the alert agent (stories topic) and the leader's retry timer, when channels are configured."""
    art = alerts.from_settings(rt.settings, rt.search)
    if art is None:
        log.warning("MARSAD_ALERT_CHANNELS_FILE is not set: no alerts will be sent")
        return

    async def alert(stream: faust.StreamT) -> None:
        async for batch in _batches(stream, 100, rt.settings.extract_batch_seconds):
            await _holding(app, batch, alert_batch(rt, art, [_message(e) for e in batch]))

    async def retry_alerts() -> None:
        try:
            await alerts.redeliver(art)
        except Exception:  # the search server is down: the alerts wait in the index for the next tick
            log.exception("alert redelivery failed; trying again in 60 s")

    app.agent(rt.topics.stories, name="marsad.alerts")(alert)
    # One sweeper for the whole cluster: failed, held (quiet hours) and abandoned alerts.
    app.timer(60.0, on_leader=True)(retry_alerts)


async def _holding(app: faust.App, batch: Sequence[faust.EventT], work: Awaitable[None]) -> None:
    """Run the batch's work, keeping its offsets uncommitted unless the work completes."""
    for event in batch:
        event.message.incref()  # `take_events` acks the batch when the loop resumes, even after a failure
    try:
        await work
    except Exception as exc:  # the error policy already dead-lettered what it could: the rest crashes
        _crash(exc)
    for event in batch:
        event.message.ack(app.consumer)


def _crash(exc: BaseException) -> NoReturn:
    """Stop the process now, without committing the batch in hand; the restarted worker redoes it."""
    log.critical("crashing the worker, the batch in hand will be redone after a restart: %r", exc,
                 exc_info=exc)
    logging.shutdown()
    # A hard exit: faust would restart the crashed agent, which would go on past the failed batch.
    os._exit(EX_SOFTWARE)


def _batches(stream: faust.StreamT, size: int, seconds: float) -> AsyncIterator[Sequence[faust.EventT]]:
    """Return the stream's events in batches of at most `size`, waiting at most `seconds` for one."""
    return cast(faust.Stream, stream).take_events(size, seconds)


def _message(event: faust.EventT) -> Message:
    m = event.message
    return Message(m.topic, m.partition, m.offset, m.key, m.value)


# --- batches (called by the agents; plain coroutines over Runtime) ----------------------------------

async def extract_batch(rt: Runtime, messages: list[Message]) -> None:
    """Extract events from article messages; send events, dead letters; index the articles."""
    loop = asyncio.get_running_loop()
    results: list[Extracted] = await loop.run_in_executor(rt.executor, extract_messages, messages)
    for result in results:
        for event in result.events:
            await rt.topics.events.send(key=stories.story_key(event).encode(), value=event.to_json(),
                                        force=True)
    now = utcnow()
    processed = {r.article.id: index.ProcessedArticle(r.article, len(r.events), now)
                 for r in results if r.article is not None}
    sources = {r.article.id: m for m, r in zip(messages, results, strict=True) if r.article is not None}
    await _index(rt, list(processed.values()), sources, "index")
    await _send_dead_letters(rt, [r.dead_letter for r in results if r.dead_letter])


async def merge_batch(rt: Runtime, messages: list[Message]) -> None:
    """Merge event messages into their stories; index events and stories; then publish the stories."""
    table = rt.tables.stories
    changed: dict[bytes, Story] = {}
    events: list[Event] = []
    sources: dict[str, Message] = {}
    dead: list[DeadLetter] = []
    for message in messages:
        try:
            event = Event.model_validate_json(message.value or b"")
        except ValidationError as exc:
            dead.append(_dead_letter(exc, "stories", message))
            continue
        key = message.key or stories.story_key(event).encode()
        story = stories.merge(changed.get(key) or _story(table.get(key)), event)
        changed[key] = story
        events.append(event)
        sources[event.event_id] = sources[story.story_id] = message
    for key, story in changed.items():
        table[key] = story.to_json()
    await _index(rt, [*events, *changed.values()], sources, "index")
    for story in changed.values():
        await rt.topics.stories.send(key=story.story_id.encode(), value=story.to_json(), force=True)
    await _send_dead_letters(rt, dead)


async def alert_batch(rt: Runtime, art: alerts.AlertRuntime, messages: list[Message]) -> None:
    """Send the alerts the stories call for (once per rule and channel); publish how each went."""
    found: list[Story] = []
    dead: list[DeadLetter] = []
    for message in messages:
        try:
            found.append(Story.model_validate_json(message.value or b""))
        except ValidationError as exc:
            dead.append(_dead_letter(exc, "alerts", message))
    for alert in await alerts.process_stories(found, art, rt.tables.alerts_sent):
        await rt.topics.alerts.send(key=alert.alert_id.encode(), value=alert.to_json(), force=True)
    await _send_dead_letters(rt, dead)


async def warm_up(rt: Runtime) -> None:
    """Load the extractor in the executor now, not on the first article."""
    loop = asyncio.get_running_loop()
    workers = max(1, rt.settings.extract_processes)
    await asyncio.gather(*(loop.run_in_executor(rt.executor, _ready) for _ in range(workers)))
    log.info("extraction ready (%d %s)", workers, "processes" if rt.settings.extract_processes else "thread")


async def _index(rt: Runtime, records: Sequence[index.Record], sources: dict[str, Message],
                 stage: str) -> None:
    """Bulk-write the records in a thread; dead-letter refused documents, crash on anything else."""
    if not records:
        return
    actions = index.to_actions(records, rt.settings)
    refused = await asyncio.to_thread(index.bulk_index, rt.search, actions,
                                      chunk_size=rt.settings.bulk_chunk_size)
    dead = []
    for failure in refused:
        if errors.dead_letter_reason(failure, stage) is None:
            raise failure
        source = sources.get(str(failure.action["_id"]))
        dead.append(_dead_letter(failure, stage, source,
                                 payload=json.dumps(failure.action["_source"], ensure_ascii=False)))
    await _send_dead_letters(rt, dead)


async def _send_dead_letters(rt: Runtime, letters: Sequence[DeadLetter]) -> None:
    for letter in letters:
        log.warning("dead letter (%s, %s) from %s/%s@%s: %s", letter.stage, letter.reason, letter.topic,
                    letter.partition, letter.offset, letter.error)
        await rt.topics.dead_letters.send(key=letter.key.encode() if letter.key else None,
                                          value=letter.to_json(), force=True)


def _dead_letter(exc: BaseException, stage: str, message: Message | None, payload: str | None = None,
                 ) -> DeadLetter:
    reason = errors.dead_letter_reason(exc, stage)
    if reason is None:
        raise exc
    if message is None:
        return errors.to_dead_letter(exc, reason, stage=stage, payload=payload)
    return errors.to_dead_letter(exc, reason, stage=stage, topic=message.topic, partition=message.partition,
                                 offset=message.offset, key=message.key,
                                 payload=payload if payload is not None else message.value)


def _story(value: bytes | None) -> Story | None:
    return Story.model_validate_json(value) if value is not None else None


# --- the extraction side: runs in the executor (a worker process, or a thread) ---------------------

# The extractor of *this* process, loaded once by the executor's initializer: a read-only model,
# not state about the stream (that lives in tables).
_extractor: Extractor | None = None


def _executor(settings: Settings) -> concurrent.futures.Executor:
    """Return the extraction executor: N spawned processes, or one thread when extract_processes=0."""
    if settings.extract_processes > 0:
        # spawn, not fork: the worker already runs threads (faust's consumer and producer).
        return concurrent.futures.ProcessPoolExecutor(
            settings.extract_processes, mp_context=multiprocessing.get_context("spawn"),
            initializer=start_extraction_process, initargs=(settings,))
    return concurrent.futures.ThreadPoolExecutor(1, "marsad-extract", initializer=load_extractor,
                                                 initargs=(settings,))


def start_extraction_process(settings: Settings) -> None:
    """Initialise an extraction process: tie its life to the worker's, then load the extractor."""
    # The worker decides when extraction stops: a Ctrl-C or SIGTERM sent to the whole process group
    # must not kill a process in the middle of a batch the worker is about to redo or finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A killed worker cannot tell its pool to stop, and the pool's queue never reaches EOF (each
    # process holds both of its ends): watch for the parent to go away and exit with it.
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="marsad-parent-watch",
                     daemon=True).start()
    load_extractor(settings)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def load_extractor(settings: Settings) -> None:
    """Load this process's extractor (the executor's initializer)."""
    global _extractor
    _extractor = Extractor.load(settings)


def _ready() -> bool:
    return _extractor is not None


def extract_messages(messages: list[Message]) -> list[Extracted]:
    """Decode and extract a batch of article messages; failures become dead letters per the policy."""
    if _extractor is None:
        raise RuntimeError("extractor not loaded in this process")
    results: list[Extracted] = []
    articles: list[tuple[int, Article]] = []
    for message in messages:
        try:
            # The language travels with the article to its index document (text_ar or text_en).
            article = with_language(Article.model_validate_json(message.value or b""))
        except ValidationError as exc:
            results.append(Extracted(dead_letter=_dead_letter(exc, "extract", message)))
            continue
        results.append(Extracted(article=article))
        articles.append((len(results) - 1, article))
    found_all = _extract_all(_extractor, [article for _, article in articles])
    for (at, _), found in zip(articles, found_all, strict=True):
        if isinstance(found, BaseException):
            results[at] = Extracted(dead_letter=_dead_letter(found, "extract", messages[at]))
        else:
            results[at].events = found
    return results


def _extract_all(extractor: Extractor, articles: list[Article]) -> list[list[Event] | BaseException]:
    """Extract a batch in one pass; if the batch raises, one article at a time to find the culprit."""
    try:
        return list(extractor.extract_many(articles))
    except Exception as exc:
        if errors.dead_letter_reason(exc, "extract") is None:
            raise
    found: list[list[Event] | BaseException] = []
    for article in articles:
        try:
            found.append(extractor.extract(article))
        except Exception as exc:
            if errors.dead_letter_reason(exc, "extract") is None:
                raise
            found.append(exc)
    return found


# --- `marsad worker` -----------------------------------------------------------------------------

def run_worker(args: Any, settings: Settings) -> int:
    """`marsad worker`: run a faust worker with the pipeline's agents until stopped."""
    app = build(settings)
    loglevel = getattr(args, "loglevel", "info")
    worker = faust.Worker(app, loglevel=loglevel, stdout=sys.stdout, stderr=sys.stderr)
    if loglevel != "debug":  # the search client logs every request at INFO: one line per bulk write
        logging.getLogger("elastic_transport.transport").setLevel(logging.WARNING)
    worker.execute_from_commandline()
    return 0
