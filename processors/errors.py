"""The one error policy: which failures send a message to the dead-letter topic, which crash the worker.

Dead-letter what is wrong with *the message* and would fail again on every retry: bytes that are not
JSON, JSON that is not our schema, an article the extractor rejects, a document the index refuses,
and a bug the extractor hits on one article (a poison pill would otherwise crash-loop the worker and
blind a whole partition; the dead letter keeps the error for a replay after the fix).

Crash on what is wrong with *the environment*, where retrying after a restart is the cure and
skipping would lose data: the broker or search server unreachable beyond the retries, a missing
index or permission, out of memory, a dead extraction process, and anything unexpected outside the
extractor. A crash never commits the offsets of the batch in hand, so nothing is lost.
"""

from __future__ import annotations

import json
import traceback
from concurrent.futures import BrokenExecutor

from pydantic import ValidationError

from processors.extract import RejectedArticle
from processors.index import DocumentRejected
from processors.schemas import DeadLetter

# Statuses of a refused document that say "this document is wrong" (mapping, size, conflict);
# anything else (404 missing index, 401/403 permissions) is the deployment's fault: crash.
_DOCUMENT_FAULT_STATUSES = frozenset({400, 409, 413})
# Raised from inside the extractor but caused by the machine, not the article.
_ENVIRONMENT_ERRORS = (OSError, MemoryError, BrokenExecutor, ImportError)
# Dead letters carry the payload for inspection, capped below the broker's default 1 MB message
# size; topic, partition and offset find the full original.
MAX_PAYLOAD_CHARS = 256 * 1024


def dead_letter_reason(exc: BaseException, stage: str) -> str | None:
    """Return why the message goes to the dead-letter topic, or None when the worker must crash."""
    if isinstance(exc, RejectedArticle):
        return str(exc.reason)
    if isinstance(exc, ValidationError):
        invalid_json = any(e["type"] in ("json_invalid", "json_type") for e in exc.errors())
        return "malformed_json" if invalid_json else "invalid_schema"
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return "malformed_json"
    if isinstance(exc, DocumentRejected):
        return "index_rejected" if exc.status in _DOCUMENT_FAULT_STATUSES else None
    if stage == "extract" and isinstance(exc, Exception) and not isinstance(exc, _ENVIRONMENT_ERRORS):
        return "extract_failed"
    return None


def to_dead_letter(exc: BaseException, reason: str, *, stage: str, topic: str | None = None,
                   partition: int | None = None, offset: int | None = None, key: bytes | str | None = None,
                   payload: bytes | str | None = None) -> DeadLetter:
    """Return the dead-letter record of a failed message, with its coordinates."""
    return DeadLetter(reason=reason, error=_describe(exc), stage=stage, topic=topic, partition=partition,
                      offset=offset, key=_text(key) if key is not None else None,
                      payload=_text(payload or b"")[:MAX_PAYLOAD_CHARS])


def _describe(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    return "".join(lines).strip()[:4000]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
