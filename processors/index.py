"""Stage 4 INDEX: records -> search documents with deterministic ids, then bulk writes.

Every document's `_id` comes from the record (event_id, story_id, article id, alert_id), so writing
the same record twice overwrites one document: a worker that replays after a crash never
duplicates anything. The flat `*_ids` / `*_names` fields exist for Kibana Lens, which cannot
aggregate inside the `nested` participants. Mappings live in deploy/elasticsearch/, never here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch

from processors.schemas import Alert, Article, Event, Participant, Story
from processors.search import index_name
from processors.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessedArticle:
    """An article the extractor accepted, with what came of it (the `articles` index document)."""

    article: Article
    event_count: int
    processed_at: datetime


Record = Event | Story | ProcessedArticle | Alert
Action = dict[str, Any]

_ACTOR_ROLES = frozenset({"signatory", "attacker", "actor"})
_TARGET_ROLES = frozenset({"target"})
# Whole-request or per-document statuses that mean "busy or briefly down": try again later.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class DocumentRejected(Exception):
    """The search server refused one document of a bulk write (mapping, size, missing index...)."""

    def __init__(self, action: Action, status: int, error_type: str, reason: str) -> None:
        super().__init__(f"{action.get('_index')}/{action.get('_id')}: HTTP {status} {error_type}: {reason}")
        self.action = action
        self.status = status
        self.error_type = error_type
        self.reason = reason


class IndexUnavailable(Exception):
    """The search server stayed unreachable or busy for longer than the caller allows."""


# --- documents -------------------------------------------------------------------------------------

def index_kind(record: Record) -> str:
    """Return the kind of index a record goes to: events, stories, articles or alerts."""
    kinds = {Event: "events", Story: "stories", ProcessedArticle: "articles", Alert: "alerts"}
    return kinds[type(record)]


def document_id(record: Record) -> str:
    """Return the record's deterministic document id."""
    if isinstance(record, Event):
        return record.event_id
    if isinstance(record, Story):
        return record.story_id
    if isinstance(record, Alert):
        return record.alert_id
    return record.article.id


def to_document(record: Record) -> dict[str, Any]:
    """Return the search document of a record: its JSON form plus the flat fields Kibana needs."""
    if isinstance(record, Alert):
        return record.model_dump(mode="json")
    if isinstance(record, ProcessedArticle):
        return _article_document(record)
    doc = record.model_dump(mode="json", exclude_none=True)
    doc.update(_participant_fields(record.participants))
    location = record.location
    if location is not None and location.lat is not None and location.lon is not None:
        doc["location"]["point"] = {"lat": location.lat, "lon": location.lon}
    stamp = record.extracted_at if isinstance(record, Event) else record.last_seen
    doc["@timestamp"] = stamp.isoformat()
    return doc


def to_actions(records: Iterable[Record], settings: Settings) -> list[Action]:
    """Return bulk index actions, one per (index, id); a later record replaces an earlier one."""
    actions: dict[tuple[str, str], Action] = {}
    for record in records:
        index = index_name(settings, index_kind(record))
        key = (index, document_id(record))
        actions.pop(key, None)  # keep the latest state, in the order it was last seen
        actions[key] = {"_op_type": "index", "_index": index, "_id": key[1], "_source": to_document(record)}
    return list(actions.values())


def _article_document(record: ProcessedArticle) -> dict[str, Any]:
    doc = record.article.model_dump(mode="json", exclude_none=True)
    # The text field of the article's language: analysed once, by that language's analyzer.
    doc[f"text_{record.article.language}"] = doc.pop("text")
    doc["event_count"] = record.event_count
    doc["processed_at"] = record.processed_at.isoformat()
    # When the article appeared; an undated article is placed at the time it was processed.
    stamp = record.article.published_at or record.article.fetched_at or record.processed_at
    doc["@timestamp"] = stamp.isoformat()
    return doc


def _participant_fields(participants: Sequence[Participant]) -> dict[str, list[str]]:
    return {
        "participant_ids": _unique(p.canonical for p in participants),
        "participant_names": _unique(p.name_en or p.name for p in participants),
        "actor_ids": _unique(p.canonical for p in participants if p.role in _ACTOR_ROLES),
        "target_ids": _unique(p.canonical for p in participants if p.role in _TARGET_ROLES),
    }


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --- writing (I/O: the client is passed in) ------------------------------------------------------

def bulk_index(client: Elasticsearch, actions: Sequence[Action], *, chunk_size: int = 500,
               initial_backoff_s: float = 0.5, max_backoff_s: float = 30.0,
               give_up_after_s: float | None = None, refresh: bool = False,
               sleep: Callable[[float], None] = time.sleep) -> list[DocumentRejected]:
    """Write the actions in chunks; return the documents the server refused.

    While the server is unreachable or busy (connection errors, HTTP 429/5xx for the request or for
    single documents) the remaining actions are retried with exponential backoff, forever unless
    `give_up_after_s` is set (then IndexUnavailable). Rewriting documents that already landed is
    harmless: ids are deterministic.
    """
    pending, rejected = list(actions), []
    started, attempt = time.monotonic(), 0
    while pending:
        try:
            pending, refused = _write_once(client, pending, chunk_size)
            rejected += refused
            problem = f"{len(pending)} documents busy"
        except (TransportConnectionError, ConnectionTimeout, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status_code not in _RETRY_STATUSES:
                raise
            problem = f"{type(exc).__name__}: {exc}"
        if not pending:
            break
        if give_up_after_s is not None and time.monotonic() - started > give_up_after_s:
            raise IndexUnavailable(f"gave up after {give_up_after_s:.0f} s: {problem}")
        delay = min(max_backoff_s, initial_backoff_s * 2 ** attempt)
        attempt += 1
        log.warning("search server unavailable (%s); retrying %d documents in %.1f s",
                    problem, len(pending), delay)
        sleep(delay)
    if refresh and actions:
        client.indices.refresh(index=sorted({a["_index"] for a in actions}))
    return rejected


def _write_once(client: Elasticsearch, actions: list[Action],
                chunk_size: int) -> tuple[list[Action], list[DocumentRejected]]:
    """Write every chunk once; return (actions to retry, documents refused for good)."""
    retry: list[Action] = []
    refused: list[DocumentRejected] = []
    for start in range(0, len(actions), chunk_size):
        chunk = actions[start:start + chunk_size]
        response = client.bulk(operations=_operations(chunk))
        if not response.get("errors"):
            continue
        for action, item in zip(chunk, response["items"], strict=True):
            result = next(iter(item.values()))
            status = int(result.get("status", 200))
            if status < 300:
                continue
            if status in _RETRY_STATUSES:
                retry.append(action)
                continue
            error = result.get("error") or {}
            refused.append(DocumentRejected(action, status, str(error.get("type", "unknown")),
                                            str(error.get("reason", ""))[:1000]))
    return retry, refused


def _operations(actions: Sequence[Action]) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    for action in actions:
        operations.append({action["_op_type"]: {"_index": action["_index"], "_id": action["_id"]}})
        operations.append(action["_source"])
    return operations
