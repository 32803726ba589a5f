"""Load and validate the knowledge files (gazetteers and lexicons) once per process.

Everything the extractor knows about names and words lives in `processors/knowledge/` as JSONL;
this module only reads it into typed records. See `processors/knowledge/README.md` for the files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"
LANGUAGES = ("ar", "en")
CUE_SCOPES = ("sentence", "before", "after")


class KnowledgeError(ValueError):
    """A knowledge file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Entity:
    """An actor (country, organisation, group, company, person) or a place."""

    id: str
    kind: str
    name_en: str
    name_ar: str
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    # People: the years of the office in which they speak for their country (None: open).
    office_from: int | None = None
    office_to: int | None = None

    def in_office(self, year: int | None) -> bool:
        """Return whether the person held their office in `year` (unknown year: only if still in office)."""
        if year is None:
            return self.office_to is None
        return (self.office_from or year) <= year <= (self.office_to or year)


@dataclass(frozen=True)
class Alias:
    """One surface form of an entity in one language."""

    text: str
    entity_id: str
    demonym: bool = False


@dataclass(frozen=True)
class Trigger:
    """A word or phrase that can announce an event of `label`."""

    id: str
    label: str
    patterns: tuple[str, ...]
    requires: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    realis: str | None = None
    weight: float = 0.8


@dataclass(frozen=True)
class Cue:
    """A word or phrase that changes how a nearby trigger or participant is read."""

    id: str
    label: str
    patterns: tuple[str, ...]
    scope: str = "sentence"
    window: int = 0
    only_for: tuple[str, ...] = ()


@dataclass(frozen=True)
class Knowledge:
    """Everything loaded from the knowledge folder."""

    entities: dict[str, Entity]
    actor_aliases: dict[str, list[Alias]]
    place_aliases: dict[str, list[Alias]]
    triggers: dict[str, list[Trigger]]
    cues: dict[str, list[Cue]]
    abbreviations: frozenset[str]
    event_types: dict[str, dict[str, Any]]
    dates: dict[str, dict[str, Any]]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Return the records of a JSONL file; blank lines are skipped, bad lines raise KnowledgeError."""
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise KnowledgeError(f"{path}:{number}: {exc}") from exc
            if not isinstance(record, dict) or "id" not in record:
                raise KnowledgeError(f"{path}:{number}: a record must be an object with an 'id'")
            records.append(record)
    return records


def _entity(record: dict[str, Any]) -> Entity:
    return Entity(id=record["id"], kind=record["kind"], name_en=record.get("name_en") or record["id"],
                  name_ar=record.get("name_ar") or record.get("name_en") or record["id"],
                  country=record.get("country"), lat=record.get("lat"), lon=record.get("lon"),
                  office_from=record.get("from"), office_to=record.get("to"))


def _aliases(record: dict[str, Any], lang: str) -> list[Alias]:
    # Ambiguous forms (Arabic مالي "financial", English "Chad") need context this matcher does not
    # model, so they are left out, even when they are the display name.
    ambiguous = set(record.get(f"ambiguous_aliases_{lang}", []))
    names = dict.fromkeys([record.get(f"name_{lang}"), *record.get(f"aliases_{lang}", [])])
    found = [Alias(text=n, entity_id=record["id"]) for n in names if n and n not in ambiguous]
    found += [Alias(text=d, entity_id=record["id"], demonym=True) for d in record.get(f"demonyms_{lang}", []) if d]
    return found


def _trigger(record: dict[str, Any]) -> Trigger:
    return Trigger(id=record["id"], label=record["label"], patterns=tuple(record["patterns"]),
                   requires=tuple(record.get("requires") or ()), attributes=dict(record.get("attributes") or {}),
                   realis=record.get("realis"), weight=float(record.get("weight", 0.8)))


def _cue(record: dict[str, Any], path: Path) -> Cue:
    scope = record.get("scope", "sentence")
    if scope not in CUE_SCOPES:
        raise KnowledgeError(f"{path}: cue {record['id']}: scope must be one of {CUE_SCOPES}")
    return Cue(id=record["id"], label=record["label"], patterns=tuple(record["patterns"]), scope=scope,
               window=int(record.get("window") or 0), only_for=tuple(record.get("only_for") or ()))


def _optional(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path) if path.exists() else []


@cache
def load_knowledge(root: Path = KNOWLEDGE_DIR) -> Knowledge:
    """Return the knowledge under `root`, read once per process and validated."""
    entities: dict[str, Entity] = {}
    actor_aliases: dict[str, list[Alias]] = {lang: [] for lang in LANGUAGES}
    place_aliases: dict[str, list[Alias]] = {lang: [] for lang in LANGUAGES}
    sources = [(p, actor_aliases) for p in sorted((root / "actors").glob("*.jsonl"))]
    sources.append((root / "places.jsonl", place_aliases))
    for path, target in sources:
        for record in _optional(path):
            if record["id"] in entities and target is actor_aliases:
                raise KnowledgeError(f"{path}: duplicate entity id {record['id']!r}")
            entity = _entity(record)
            key = entity.id if target is actor_aliases else f"place:{entity.id}"
            entities[key] = entity
            for lang in LANGUAGES:
                target[lang] += [Alias(a.text, key, a.demonym) for a in _aliases(record, lang)]
    triggers = {lang: [_trigger(r) for r in _optional(root / lang / "triggers.jsonl")] for lang in LANGUAGES}
    cues = {lang: [_cue(r, root / lang) for r in _optional(root / lang / "cues.jsonl")] for lang in LANGUAGES}
    abbreviations = frozenset(p for r in _optional(root / "en" / "abbreviations.jsonl") for p in r["patterns"])
    event_types = {r["id"]: r for r in _optional(root / "event_types.jsonl")}
    dates = {lang: {r["id"]: r for r in _optional(root / lang / "dates.jsonl")} for lang in LANGUAGES}
    return Knowledge(entities, actor_aliases, place_aliases, triggers, cues, abbreviations, event_types, dates)
