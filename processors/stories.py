"""Stage 3 STORY: which events report the same real-world event, and how their mentions merge.

A story is identified by a deterministic key, so the events topic can be repartitioned by it and
the stories table (keyed by the same string) sees every mention of a story on one partition.

The key is `event type | ISO week | identity participants`, chosen for a monitoring team:

* **Identity participants** are the canonical ids (role-agnostic: outlets and languages disagree on
  who is subject and object) of the parties that define the event. For agreements and military
  operations that is every participant. For cyberattacks it is the *targets* only: the victim
  defines the incident, while attribution is often missing, contested or added days later, and a
  story split by attribution would hide that five outlets report the same breach. Events with no
  participants fall back to the location's country, then to the event itself (a story of one).
* **The window** is the ISO week (Monday to Sunday) of the event date when the extractor found a
  full date, else of the article's publication date, else of extraction time. A week is long enough
  to gather follow-up coverage and short enough that next month's agreement between the same two
  countries is a new story. A fixed window splits a story reported across a week boundary in two;
  that is the price of a key computable from one event, with no lookup.

`merge` is idempotent per event id (a replay after a crash changes nothing) and does not let a
near-duplicate article (`near_duplicate_of` set by ingest: a syndicated copy) count as a new source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from processors.schemas import Event, Location, Participant, Story

# Roles whose participants define a story, per event type; None means every participant.
_IDENTITY_ROLES: dict[str, frozenset[str] | None] = {
    "agreement_signed": frozenset({"signatory"}),  # one report names the mediator, another does not
    "cyberattack": frozenset({"target"}),
    "military_operation": None,
}
# When mentions disagree, the story takes the strongest realis: one report of the actual event
# outweighs any number of reports that it is planned, denied or talked about in general.
_REALIS_RANK: dict[str, int] = {"actual": 3, "planned": 2, "negated": 1, "generic": 0}


def identity_ids(event: Event) -> list[str]:
    """Return the sorted canonical ids that identify the event's story (may be empty)."""
    roles = _IDENTITY_ROLES.get(event.event_type)
    ids = {p.canonical for p in event.participants if roles is None or p.role in roles}
    if not ids:  # e.g. a cyberattack whose target was not resolved: fall back to its attackers
        ids = {p.canonical for p in event.participants}
    return sorted(ids)


def window(event: Event) -> str:
    """Return the ISO week ("2015-W44") of the event date, else of publication, else of extraction."""
    day = _full_date(event.event_date) or _day(event.published_at) or event.extracted_at.date()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def story_key(event: Event) -> str:
    """Return the story key: `<event type>:<ISO week>:<fingerprint of the identity>`."""
    ids = identity_ids(event)
    if ids:
        identity = "p:" + ",".join(ids)
    elif event.location is not None:
        identity = "l:" + (event.location.country or event.location.name.casefold())
    else:
        identity = "e:" + event.event_id  # nothing to match on: a story of one event
    digest = hashlib.sha1(identity.encode(), usedforsecurity=False).hexdigest()[:20]
    return f"{event.event_type}:{window(event)}:{digest}"


def merge(story: Story | None, event: Event) -> Story:
    """Return the story with the event's mention merged in (a new story when `story` is None)."""
    if story is None:
        return _new_story(event)
    if event.event_id in story.event_ids:
        return story  # a replayed event: merging twice must change nothing
    best = _is_better(event, story)
    seen = seen_at(event)
    updates: dict[str, Any] = {
        "realis": max(story.realis, event.realis, key=_REALIS_RANK.__getitem__),
        "participants": _union_participants(story.participants, event.participants),
        "attributes": _merge_attributes(story.attributes, event.attributes, event_wins=best),
        "location": _pick_location(story.location, event.location, event_wins=best),
        "event_date": _pick_date(story.event_date, event.event_date),
        "first_seen": min(story.first_seen, seen),
        "last_seen": max(story.last_seen, seen),
        "mention_count": story.mention_count + _is_new_source(story, event),
        "article_ids": _append_new(story.article_ids, [event.article_id]),
        "event_ids": [*story.event_ids, event.event_id],
        "sources": _append_new(story.sources, [event.source] if event.source else []),
        "languages": _append_new(story.languages, [event.language]),
    }
    updates["participant_ids"] = sorted({p.canonical for p in updates["participants"]})
    if best:
        updates.update(_best_fields(event))
    return story.model_copy(update=updates)


def seen_at(event: Event) -> datetime:
    """Return when the world saw this mention: publication time, else extraction time."""
    return event.published_at or event.extracted_at


# --- helpers ---------------------------------------------------------------------------------------

def _new_story(event: Event) -> Story:
    participants = _union_participants([], event.participants)
    seen = seen_at(event)
    return Story(
        story_id=story_key(event), event_type=event.event_type, realis=event.realis,
        participants=participants, participant_ids=sorted({p.canonical for p in participants}),
        attributes=dict(event.attributes), location=event.location, event_date=event.event_date,
        first_seen=seen, last_seen=seen, mention_count=1, article_ids=[event.article_id],
        event_ids=[event.event_id], sources=[event.source] if event.source else [],
        languages=[event.language], **_best_fields(event))


def _best_fields(event: Event) -> dict[str, Any]:
    return {"best_evidence": event.evidence, "best_article_id": event.article_id, "best_url": event.url,
            "title": event.title, "confidence": event.confidence, "cameo": event.cameo,
            "plover": event.plover}


def _is_better(event: Event, story: Story) -> bool:
    # Highest confidence wins; ties go to the smaller article id so the result does not depend on
    # the order in which mentions arrive.
    if event.confidence != story.confidence:
        return event.confidence > story.confidence
    return event.article_id < story.best_article_id


def _is_new_source(story: Story, event: Event) -> int:
    """Return 1 when the mention is an independent report, 0 for a repeat or a near-duplicate copy.

    A near-duplicate whose original is already in the story adds its article id but no mention. A
    near-duplicate that arrives first (its original went elsewhere or comes later) does count; if its
    original then arrives, that pair counts twice - rare, since ingest marks the *later* copy.
    """
    if event.article_id in story.article_ids:
        return 0  # a second event of an article already counted
    return 0 if event.near_duplicate_of and event.near_duplicate_of in story.article_ids else 1


def _union_participants(current: Iterable[Participant], new: Iterable[Participant]) -> list[Participant]:
    out: dict[tuple[str, str], Participant] = {}
    for p in [*current, *new]:
        out.setdefault((p.canonical, p.role), p)  # the first name seen for a party is kept
    return list(out.values())


def _merge_attributes(current: dict[str, Any], new: dict[str, Any], *, event_wins: bool) -> dict[str, Any]:
    merged = dict(current)
    for key, value in new.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(value, bool) and isinstance(merged[key], bool):
            merged[key] = merged[key] or value  # e.g. `security`: one report that it is a security deal
        elif event_wins:
            merged[key] = value
    return merged


def _pick_location(current: Location | None, new: Location | None, *, event_wins: bool) -> Location | None:
    if current is None or (new is not None and event_wins):
        return new or current
    return current


def _pick_date(current: str | None, new: str | None) -> str | None:
    dates = [d for d in (current, new) if d]
    # The most precise date first ("2015-11-03" beats "2015-11"), then the earliest.
    return min(dates, key=lambda d: (-len(d), d)) if dates else None


def _append_new(items: list[Any], new: Iterable[Any]) -> list[Any]:
    out = list(items)
    for item in new:
        if item not in out:
            out.append(item)
    return out


def _full_date(text: str | None) -> date | None:
    if not text or len(text) < 10:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None
