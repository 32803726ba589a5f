"""errors: one policy decides dead letter or crash; dead letters keep their coordinates."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

import pytest
from elastic_transport import ConnectionError as TransportConnectionError
from pydantic import ValidationError

from processors.errors import MAX_PAYLOAD_CHARS, dead_letter_reason, to_dead_letter
from processors.extract import RejectedArticle
from processors.index import DocumentRejected, IndexUnavailable
from processors.schemas import Article, DeadLetter


def validation_error(raw: bytes) -> ValidationError:
    try:
        Article.model_validate_json(raw)
    except ValidationError as exc:
        return exc
    raise AssertionError(f"{raw!r} validated")


def refused(status: int, error_type: str) -> DocumentRejected:
    return DocumentRejected({"_index": "marsad-events", "_id": "e1"}, status, error_type, "why")


@pytest.mark.parametrize(("exc", "stage", "reason"), [
    (validation_error(b"not json {"), "extract", "malformed_json"),
    (validation_error(b"\xff\xfe\x00garbage"), "extract", "malformed_json"),
    (validation_error(b""), "stories", "malformed_json"),
    (validation_error(b'{"id": "x"}'), "extract", "invalid_schema"),
    (validation_error(b"[1, 2]"), "stories", "invalid_schema"),
    (RejectedArticle("empty_text", "article x: empty"), "extract", "empty_text"),
    (RejectedArticle("unsupported_language", "article x: fr"), "extract", "unsupported_language"),
    (refused(400, "mapper_parsing_exception"), "index", "index_rejected"),
    (refused(400, "document_parsing_exception"), "index", "index_rejected"),
    (refused(413, "too_large"), "index", "index_rejected"),
    (ZeroDivisionError("bug in a component"), "extract", "extract_failed"),
    (IndexError("bug on one article"), "extract", "extract_failed"),
])
def test_errors_dead_letter_reason(exc: BaseException, stage: str, reason: str) -> None:
    assert dead_letter_reason(exc, stage) == reason


@pytest.mark.parametrize(("exc", "stage"), [
    (refused(404, "index_not_found_exception"), "index"),  # setup not run: a deployment fault
    (refused(403, "security_exception"), "index"),
    (TransportConnectionError("search down"), "index"),
    (IndexUnavailable("gave up"), "index"),
    (MemoryError(), "extract"),
    (OSError("disk"), "extract"),
    (BrokenProcessPool("extraction process died"), "extract"),
    (KeyError("bug outside the extractor"), "stories"),
    (ZeroDivisionError("bug outside the extractor"), "index"),
    (KeyboardInterrupt(), "extract"),
])
def test_errors_environment_failures_crash(exc: BaseException, stage: str) -> None:
    assert dead_letter_reason(exc, stage) is None


def test_errors_dead_letter_keeps_coordinates_and_reason() -> None:
    exc = validation_error(b"\xffnot json")
    letter = to_dead_letter(exc, "malformed_json", stage="extract", topic="marsad.articles", partition=3,
                            offset=42, key=b"k1", payload=b"\xffnot json")
    assert (letter.topic, letter.partition, letter.offset, letter.key) == ("marsad.articles", 3, 42, "k1")
    assert letter.reason == "malformed_json" and letter.stage == "extract"
    assert letter.payload == "\ufffdnot json"
    assert "ValidationError" in letter.error
    assert DeadLetter.model_validate_json(letter.to_json()) == letter


def test_errors_dead_letter_payload_is_capped() -> None:
    letter = to_dead_letter(RejectedArticle("too_long", "x"), "too_long", stage="extract",
                            payload="x" * (MAX_PAYLOAD_CHARS + 10))
    assert len(letter.payload) == MAX_PAYLOAD_CHARS
    assert letter.topic is None and letter.offset is None
