"""stories: the story key groups mentions of one real-world event; merge is order- and replay-proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from processors.schemas import Event, Evidence, Location, Participant
from processors.stories import identity_ids, merge, story_key, window

PUBLISHED = datetime(2015, 11, 4, 9, 0, tzinfo=UTC)  # a Wednesday, ISO week 2015-W45


def party(canonical: str, role: str, name: str | None = None) -> Participant:
    return Participant(name=name or canonical, canonical=canonical, kind="country", role=role)


def make_event(n: int = 1, **fields: Any) -> Event:
    base: dict[str, Any] = {
        "event_id": f"e{n}", "article_id": f"a{n}", "event_type": "agreement_signed", "realis": "actual",
        "participants": [party("GB", "signatory"), party("QA", "signatory")],
        "attributes": {"security": False},
        "evidence": Evidence(sentence=f"sentence {n}", start=0, end=10, trigger="signed"),
        "confidence": 0.5, "cameo": "057", "plover": "AGREE", "language": "en", "source": f"outlet{n}",
        "url": f"https://example.org/{n}", "title": f"title {n}", "published_at": PUBLISHED,
        "extracted_at": PUBLISHED + timedelta(hours=1),
    }
    base.update(fields)
    return Event(**base)


# --- story_key ---------------------------------------------------------------------------------------

def test_stories_key_ignores_participant_order_and_mediators() -> None:
    a = make_event(1, participants=[party("QA", "signatory"), party("GB", "signatory")])
    b = make_event(2, participants=[party("GB", "signatory"), party("EG", "mediator"), party("QA", "signatory")])
    assert story_key(a) == story_key(b)
    assert story_key(a).startswith("agreement_signed:2015-W45:")


@pytest.mark.parametrize(("change", "same"), [
    ({"published_at": PUBLISHED + timedelta(days=4)}, True),  # Sunday of the same ISO week
    ({"published_at": PUBLISHED + timedelta(days=5)}, False),  # next Monday: a new week
    ({"event_type": "military_operation"}, False),
    ({"participants": [party("GB", "signatory"), party("SA", "signatory")]}, False),
    ({"participants": [party("GB", "signatory"), party("QA", "signatory"), party("US", "signatory")]}, False),
    ({"article_id": "other", "event_id": "other", "source": "elsewhere", "language": "ar"}, True),
])
def test_stories_key_groups_by_type_week_and_parties(change: dict[str, Any], same: bool) -> None:
    assert (story_key(make_event(1)) == story_key(make_event(2, **change))) is same


@pytest.mark.parametrize(("event_date", "published", "expected"), [
    ("2015-11-02", PUBLISHED, "2015-W45"),
    ("2015-10-28", PUBLISHED, "2015-W44"),  # the event date wins over publication
    ("2015-11", PUBLISHED - timedelta(days=7), "2015-W44"),  # month-only date: publication instead
    (None, None, "2015-W45"),  # neither: extraction time
])
def test_stories_window_prefers_full_event_date(event_date: str | None, published: datetime | None,
                                                expected: str) -> None:
    assert window(make_event(event_date=event_date, published_at=published)) == expected


def test_stories_key_cyberattack_is_identified_by_its_target() -> None:
    attributed = make_event(1, event_type="cyberattack",
                            participants=[party("IR", "attacker"), party("saudi_aramco", "target")])
    unattributed = make_event(2, event_type="cyberattack", participants=[party("saudi_aramco", "target")])
    assert identity_ids(attributed) == ["saudi_aramco"]
    assert story_key(attributed) == story_key(unattributed)
    no_target = make_event(3, event_type="cyberattack", participants=[party("IR", "attacker")])
    assert identity_ids(no_target) == ["IR"]


def test_stories_key_without_participants_falls_back_to_location_then_event() -> None:
    here = Location(name="Aleppo", country="SY")
    a = make_event(1, participants=[], location=here)
    b = make_event(2, participants=[], location=here)
    assert story_key(a) == story_key(b)
    c, d = make_event(3, participants=[]), make_event(4, participants=[])
    assert story_key(c) != story_key(d)
    assert story_key(c) == story_key(make_event(3, participants=[]))


# --- merge -------------------------------------------------------------------------------------------

def test_stories_merge_new_story_from_one_event() -> None:
    event = make_event(1, location=Location(name="Doha", country="QA", lat=25.3, lon=51.5))
    story = merge(None, event)
    assert story.story_id == story_key(event)
    assert story.mention_count == 1
    assert story.article_ids == ["a1"] and story.event_ids == ["e1"]
    assert story.participant_ids == ["GB", "QA"]
    assert story.first_seen == story.last_seen == PUBLISHED
    assert story.best_evidence == event.evidence and story.best_article_id == "a1"
    assert story.sources == ["outlet1"] and story.languages == ["en"]
    assert story.location == event.location


def test_stories_merge_replayed_event_changes_nothing() -> None:
    story = merge(merge(None, make_event(1)), make_event(2))
    assert merge(story, make_event(1)) == story
    assert merge(story, make_event(2)) == story


def test_stories_merge_counts_independent_articles() -> None:
    story = merge(None, make_event(1))
    story = merge(story, make_event(2, published_at=PUBLISHED + timedelta(days=1)))
    assert story.mention_count == 2
    assert story.first_seen == PUBLISHED and story.last_seen == PUBLISHED + timedelta(days=1)
    # a second event of an article already in the story is not a second source
    story = merge(story, make_event(3, article_id="a2"))
    assert story.mention_count == 2
    assert story.event_ids == ["e1", "e2", "e3"] and story.article_ids == ["a1", "a2"]


def test_stories_merge_near_duplicate_adds_article_not_mention() -> None:
    story = merge(None, make_event(1))
    copy = make_event(2, near_duplicate_of="a1")
    merged = merge(story, copy)
    assert merged.mention_count == 1
    assert merged.article_ids == ["a1", "a2"] and merged.event_ids == ["e1", "e2"]
    # a near-duplicate of an article this story does not hold is the story's own report of it
    assert merge(story, make_event(3, near_duplicate_of="elsewhere")).mention_count == 2


def test_stories_merge_keeps_highest_confidence_evidence() -> None:
    weak, strong = make_event(1, confidence=0.4), make_event(2, confidence=0.9, title="best")
    story = merge(merge(None, weak), strong)
    assert story.best_article_id == "a2" and story.best_evidence == strong.evidence
    assert story.confidence == 0.9 and story.title == "best" and story.best_url == strong.url
    assert merge(story, make_event(3, confidence=0.5)).best_article_id == "a2"


def test_stories_merge_is_independent_of_arrival_order() -> None:
    events = [make_event(1, confidence=0.7, realis="planned"), make_event(2, confidence=0.7),
              make_event(3, confidence=0.6, realis="generic", attributes={"security": True},
                         participants=[party("GB", "signatory"), party("QA", "signatory"),
                                       party("gchq", "signatory")])]
    forward = backward = None
    for event in events:
        forward = merge(forward, event)
    for event in reversed(events):
        backward = merge(backward, event)
    assert forward is not None and backward is not None
    fields = ("best_article_id", "confidence", "realis", "mention_count", "participant_ids", "attributes",
              "first_seen", "last_seen")
    assert {f: getattr(forward, f) for f in fields} == {f: getattr(backward, f) for f in fields}
    assert forward.best_article_id == "a1"  # confidence tie: the smaller article id


@pytest.mark.parametrize(("realis", "expected"), [
    (["planned", "actual"], "actual"),
    (["actual", "negated"], "actual"),
    (["generic", "planned"], "planned"),
    (["negated", "generic"], "negated"),
])
def test_stories_merge_upgrades_realis(realis: list[str], expected: str) -> None:
    story = None
    for n, value in enumerate(realis, 1):
        story = merge(story, make_event(n, realis=value))
    assert story is not None and story.realis == expected


def test_stories_merge_unions_participants_attributes_and_sources() -> None:
    first = make_event(1, participants=[party("US", "actor"), party("islamic_state", "target")],
                       event_type="military_operation", attributes={"kind": "air_strike"})
    second = make_event(2, participants=[party("GB", "actor"), party("US", "actor", name="America")],
                        event_type="military_operation", attributes={"kind": "operation"}, confidence=0.8,
                        language="ar", source="outlet1")
    story = merge(merge(None, first), second)
    assert [(p.canonical, p.role) for p in story.participants] == [
        ("US", "actor"), ("islamic_state", "target"), ("GB", "actor")]
    assert story.participants[0].name == "US"  # the first name seen is kept
    assert story.participant_ids == ["GB", "US", "islamic_state"]
    assert story.attributes == {"kind": "operation"}  # the more confident mention's value
    assert story.sources == ["outlet1"] and story.languages == ["en", "ar"]


def test_stories_merge_security_flag_is_any_mention() -> None:
    story = merge(merge(None, make_event(1, attributes={"security": True}, confidence=0.3)),
                  make_event(2, attributes={"security": False}, confidence=0.9))
    assert story.attributes["security"] is True


@pytest.mark.parametrize(("dates", "expected"), [
    (["2015-11-03", "2015-11-02"], "2015-11-02"),
    (["2015-11", "2015-11-03"], "2015-11-03"),  # the more precise date wins
    ([None, "2015-11-03"], "2015-11-03"),
])
def test_stories_merge_event_date(dates: list[str | None], expected: str) -> None:
    story = None
    for n, value in enumerate(dates, 1):
        story = merge(story, make_event(n, event_date=value))
    assert story is not None and story.event_date == expected
