"""index: documents carry the flat fields Kibana needs and deterministic ids (no sockets here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from processors.index import ProcessedArticle, document_id, to_actions, to_document
from processors.schemas import Alert, Article, Event, Evidence, Location, Participant
from processors.settings import Settings
from processors.stories import merge

AT = datetime(2015, 11, 4, 9, 0, tzinfo=UTC)


def make_event(n: int = 1, location: Location | None = None, **extra: object) -> Event:
    return Event(
        event_id=f"e{n}", article_id=f"a{n}", event_type="cyberattack", realis="actual",
        participants=[
            Participant(name="إيران", name_en="Iran", canonical="IR", kind="country", role="attacker"),
            Participant(name="Saudi Aramco", canonical="saudi_aramco", kind="company", role="target"),
            Participant(name="Iran", canonical="IR", kind="country", role="attacker"),
        ],
        attributes={"method": "wiper"}, location=location,
        evidence=Evidence(sentence="s", start=0, end=1, trigger="hacked"), confidence=0.8, cameo="172",
        plover="ATTACK", language="ar", extracted_at=AT, **{"published_at": AT - timedelta(hours=2), **extra})


def test_index_event_document_has_flat_fields() -> None:
    doc = to_document(make_event())
    assert doc["participant_ids"] == ["IR", "saudi_aramco"]
    assert doc["participant_names"] == ["Iran", "Saudi Aramco"]
    assert doc["actor_ids"] == ["IR"] and doc["target_ids"] == ["saudi_aramco"]
    assert doc["@timestamp"] == AT.isoformat()
    assert doc["event_id"] == "e1" and doc["attributes"] == {"method": "wiper"}
    assert len(doc["participants"]) == 3  # the nested list itself is left as extracted
    assert "location" not in doc and "near_duplicate_of" not in doc  # None fields are left out


@pytest.mark.parametrize(("location", "point"), [
    (Location(name="Dhahran", country="SA", lat=26.3, lon=50.1), {"lat": 26.3, "lon": 50.1}),
    (Location(name="somewhere", country="SA"), None),
])
def test_index_location_point_only_with_coordinates(location: Location, point: dict | None) -> None:
    doc = to_document(make_event(location=location))
    assert doc["location"]["name"] == location.name
    assert doc["location"].get("point") == point


def test_index_story_document_timestamp_is_last_seen() -> None:
    story = merge(merge(None, make_event(1)), make_event(2, published_at=AT + timedelta(days=1, hours=2)))
    doc = to_document(story)
    assert doc["@timestamp"] == (AT + timedelta(days=1, hours=2)).isoformat()
    assert doc["participant_ids"] == ["IR", "saudi_aramco"] and doc["target_ids"] == ["saudi_aramco"]
    assert doc["mention_count"] == 2 and doc["story_id"] == story.story_id


def test_index_article_and_alert_documents() -> None:
    processed = ProcessedArticle(Article(id="voa:1", text="body", title="t", language="en", published_at=AT),
                                 3, AT + timedelta(minutes=1))
    doc = to_document(processed)
    assert doc["@timestamp"] == AT.isoformat()
    assert doc["processed_at"] == (AT + timedelta(minutes=1)).isoformat()
    # The text is in its language's field only: one copy, one analyzer.
    assert doc["event_count"] == 3 and doc["id"] == "voa:1" and doc["text_en"] == "body"
    assert "text" not in doc and "text_ar" not in doc
    arabic = to_document(ProcessedArticle(Article(id="ar:1", text="نص", language="ar"), 0, AT))
    assert arabic["text_ar"] == "نص" and "text_en" not in arabic
    undated = to_document(ProcessedArticle(Article(id="x", text="body", language="en"), 0, AT))
    assert undated["@timestamp"] == AT.isoformat()
    alert = Alert(alert_id="al1", story_id="s1", rule="security_agreement", channel="email")
    assert to_document(alert) == alert.model_dump(mode="json")


def test_index_actions_have_deterministic_ids_and_aliases() -> None:
    settings = Settings(index_prefix="test")
    event = make_event()
    story = merge(None, event)
    article = ProcessedArticle(Article(id="voa:1", text="body"), 1, AT)
    actions = to_actions([event, story, article], settings)
    assert [(a["_index"], a["_id"]) for a in actions] == [
        ("test-events", "e1"), ("test-stories", story.story_id), ("test-articles", "voa:1")]
    assert all(a["_op_type"] == "index" for a in actions)
    assert actions == to_actions([event, story, article], settings)
    assert document_id(story) == story.story_id


def test_index_actions_keep_the_latest_state_of_a_document() -> None:
    first = merge(None, make_event(1))
    second = merge(first, make_event(2))
    actions = to_actions([first, make_event(1), second], Settings())
    assert [a["_id"] for a in actions] == ["e1", second.story_id]
    assert actions[1]["_source"]["mention_count"] == 2
