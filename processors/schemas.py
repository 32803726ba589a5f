"""The wire contract: every record that crosses a topic, the index or the CLI.

Plain pydantic models, no faust: agents serialise them to JSON bytes themselves, so the same
records travel through `marsad extract`, Kafka and Elasticsearch unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1

EventType = Literal["agreement_signed", "cyberattack", "military_operation"]
Realis = Literal["actual", "planned", "negated", "generic"]
Language = Literal["ar", "en"]
ParticipantKind = Literal["country", "organisation", "agency", "armed_group", "company", "person", "group"]

EVENT_TYPES: tuple[EventType, ...] = ("agreement_signed", "cyberattack", "military_operation")

# A hard ceiling on what a record may carry; the extractor itself reads at most
# Settings.max_text_chars of it and flags the rest as truncated.
MAX_TEXT_BYTES = 8 * 1024 * 1024


def utcnow() -> datetime:
    """Return the current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class Record(BaseModel):
    """Base of every wire record: immutable, strict about unknown fields where it matters."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    def to_json(self) -> bytes:
        """Return the record as compact UTF-8 JSON."""
        return self.model_dump_json(exclude_none=True).encode()


class Article(Record):
    """A news article as it travels on the `articles` topic (and as `marsad extract` reads it)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    schema_version: int = SCHEMA_VERSION
    id: str = Field(min_length=1, max_length=512)
    text: str = Field(max_length=MAX_TEXT_BYTES)
    title: str | None = None
    language: Language | None = Field(default=None, validation_alias=AliasChoices("language", "lang"))
    url: str | None = None
    published_at: datetime | None = None
    source: str | None = None
    fetched_at: datetime | None = None
    # Set by ingest: the id of the first article whose text is nearly the same (a re-published story).
    near_duplicate_of: str | None = None

    @field_validator("language", mode="before")
    @classmethod
    def _known_language(cls, value: Any) -> Any:
        # Unknown or empty languages are left to detection rather than rejected outright.
        if isinstance(value, str):
            value = value.strip().lower()[:2] or None
            return value if value in ("ar", "en") else None
        return value

    @field_validator("published_at", mode="before")
    @classmethod
    def _date_only_is_midnight(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) == 10:
            return value + "T00:00:00+00:00"
        if isinstance(value, str) and not value.strip():
            return None
        return value


class Participant(Record):
    """Who took part in an event, resolved to one canonical id across languages."""

    name: str
    canonical: str
    kind: ParticipantKind
    role: str
    name_en: str | None = None
    name_ar: str | None = None


class Location(Record):
    """Where an event happened, as precisely as the text allows."""

    name: str
    country: str | None = None
    lat: float | None = None
    lon: float | None = None


class Evidence(Record):
    """The sentence that supports an event, with its character offsets in the article text."""

    sentence: str
    start: int
    end: int
    trigger: str


class Event(Record):
    """One event extracted from one article."""

    schema_version: int = SCHEMA_VERSION
    event_id: str
    article_id: str
    event_type: EventType
    realis: Realis
    participants: list[Participant] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    location: Location | None = None
    event_date: str | None = None
    evidence: Evidence
    confidence: float
    cameo: str
    plover: str
    language: Language
    title: str | None = None
    url: str | None = None
    source: str | None = None
    published_at: datetime | None = None
    extracted_at: datetime = Field(default_factory=utcnow)
    near_duplicate_of: str | None = None
    flags: list[str] = Field(default_factory=list)


class Story(Record):
    """All the events that report one real-world event, merged across articles."""

    schema_version: int = SCHEMA_VERSION
    story_id: str
    event_type: EventType
    realis: Realis
    participants: list[Participant] = Field(default_factory=list)
    participant_ids: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    location: Location | None = None
    event_date: str | None = None
    first_seen: datetime
    last_seen: datetime
    mention_count: int
    article_ids: list[str]
    event_ids: list[str]
    sources: list[str] = Field(default_factory=list)
    languages: list[Language] = Field(default_factory=list)
    best_evidence: Evidence
    best_article_id: str
    best_url: str | None = None
    title: str | None = None
    confidence: float
    cameo: str
    plover: str


class DeadLetter(Record):
    """A record that could not be processed, with the reason and where it came from."""

    schema_version: int = SCHEMA_VERSION
    reason: str
    error: str
    stage: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    payload: str
    at: datetime = Field(default_factory=utcnow)


class Alert(Record):
    """A notification decided for a story on one channel, and how its delivery went."""

    schema_version: int = SCHEMA_VERSION
    alert_id: str
    story_id: str
    rule: str
    channel: str
    kind: Literal["new", "update"] = "new"
    status: Literal["pending", "delivered", "failed"] = "pending"
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    story_version: int = 1
