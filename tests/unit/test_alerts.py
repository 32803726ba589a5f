"""Unit tests of processors.alerts and processors.alert_messages: rules, decisions, messages (no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import unquote

import pytest

from processors.alert_messages import compose, dashboard_url, render
from processors.alerts import (
    HELD,
    QuietHours,
    Rule,
    RuleBook,
    RuleConfigError,
    alert_id,
    check_channels,
    decide,
    in_quiet_hours,
    is_due,
    load_rules,
    mark_sent,
    matches,
)
from processors.schemas import Alert, Evidence, Location, Participant, Story
from processors.settings import Settings

NOW = datetime(2015, 11, 3, 12, 0, tzinfo=UTC)
CHANNELS = ["ops-webhook", "slack", "email"]
EVIDENCE = "وقعت بريطانيا وقطر اتفاقا أمنيا للمشاركة في المعلومات الاستخبارية"


def _participant(canonical: str, name: str, name_en: str, role: str = "signatory") -> Participant:
    return Participant(name=name, canonical=canonical, kind="country", role=role,
                       name_en=name_en, name_ar=name)


def make_story(**overrides: Any) -> Story:
    """Return the seed story (Britain and Qatar sign a security agreement), with `overrides`."""
    fields: dict[str, Any] = dict(
        story_id="agreement_signed:2015-W45:abc", event_type="agreement_signed", realis="actual",
        participants=[_participant("GB", "بريطانيا", "United Kingdom"), _participant("QA", "قطر", "Qatar")],
        participant_ids=["GB", "QA"], attributes={"security": True},
        location=Location(name="الدوحة", country="QA"),
        first_seen=NOW, last_seen=NOW, mention_count=1, article_ids=["a1"], event_ids=["e1"],
        sources=["arabi21.com"], languages=["ar"], best_article_id="a1", best_url="https://news.example/a1",
        best_evidence=Evidence(sentence=EVIDENCE, start=0, end=len(EVIDENCE), trigger="وقعت"),
        confidence=0.8, cameo="057", plover="AGREE", title="اتفاق أمني")
    fields.update(overrides)
    return Story(**fields)


def make_rule(**overrides: Any) -> Rule:
    fields: dict[str, Any] = dict(name="new-security-agreement", event_types=["agreement_signed"],
                                  attributes={"security": True}, min_confidence=0.5)
    fields.update(overrides)
    return Rule(**fields)


def test_alerts_default_rules_file_is_the_issue_default() -> None:
    book = load_rules()
    rule = book.rule("new-security-agreement")
    assert rule is not None and rule.enabled
    assert rule.event_types == ("agreement_signed",) and rule.attributes == {"security": True}
    assert rule.watchlist == () and rule.min_confidence == 0.5
    assert set(rule.languages) == {"ar", "en"} and rule.follow_ups is False and rule.channels == ("*",)
    assert [r.name for r in book.rules if r.enabled] == ["new-security-agreement"]


@pytest.mark.parametrize("text", ["{", '{"rules": [{"name": "x"}]}', '{"rules": [], "extra": 1}',
                                  '{"rules": [{"name": "a", "event_types": ["cyberattack"]},'
                                  ' {"name": "a", "event_types": ["cyberattack"]}]}'])
def test_alerts_load_rules_rejects_bad_files(tmp_path: Any, text: str) -> None:
    path = tmp_path / "rules.json"
    path.write_text(text)
    with pytest.raises(RuleConfigError):
        load_rules(path)


@pytest.mark.parametrize(("story_changes", "rule_changes", "expected"), [
    ({}, {}, True),
    ({"event_type": "cyberattack"}, {}, False),
    ({"attributes": {"security": False}}, {}, False),
    ({"attributes": {}}, {}, False),
    ({"confidence": 0.49}, {}, False),
    ({"confidence": 0.5}, {}, True),
    ({"realis": "planned"}, {}, False),
    ({"realis": "planned"}, {"realis": ["actual", "planned"]}, True),
    ({"languages": ["en"]}, {"languages": ["ar"]}, False),
    ({"languages": ["en", "ar"]}, {"languages": ["ar"]}, True),
    ({}, {"enabled": False}, False),
    # The watchlist holds canonical ids: GB matches a participant the article called بريطانيا.
    ({}, {"watchlist": ["GB"]}, True),
    ({}, {"watchlist": ["gb"]}, True),
    ({}, {"watchlist": ["FR", "DE"]}, False),
    ({}, {"watchlist": ["GB"], "watch_roles": ["target"]}, False),
    ({}, {"watchlist": ["GB"], "watch_roles": ["signatory"]}, True),
])
def test_alerts_matches(story_changes: dict[str, Any], rule_changes: dict[str, Any], expected: bool) -> None:
    assert matches(make_rule(**rule_changes), make_story(**story_changes)) is expected


@pytest.mark.parametrize(("method", "expected"), [("ransomware", True), ("wiper", True), ("ddos", False)])
def test_alerts_matches_attribute_lists(method: str, expected: bool) -> None:
    rule = make_rule(event_types=["cyberattack"], attributes={"method": ["ransomware", "wiper"]})
    story = make_story(event_type="cyberattack", attributes={"method": method},
                       participants=[_participant("SA", "السعودية", "Saudi Arabia", role="target")])
    assert matches(rule, story) is expected


def test_alerts_decide_one_new_alert_per_channel() -> None:
    alerts = decide(make_story(), [make_rule()], {}, channels=CHANNELS, now=NOW)
    assert [(a.channel, a.kind, a.story_version, a.status) for a in alerts] == [
        (c, "new", 1, "pending") for c in CHANNELS]
    assert len({a.alert_id for a in alerts}) == 3
    again = decide(make_story(), [make_rule()], {}, channels=CHANNELS, now=NOW + timedelta(hours=1))
    assert [a.alert_id for a in again] == [a.alert_id for a in alerts]


def test_alerts_decide_nothing_once_sent() -> None:
    story = make_story()
    state: dict[str, Any] = {}
    for alert in decide(story, [make_rule()], state, channels=CHANNELS, now=NOW):
        state = mark_sent(state, alert, story)
    assert decide(story, [make_rule()], state, channels=CHANNELS, now=NOW) == []
    # A second outlet's copy (more sources) is not news when the rule asks for no follow-ups.
    copy = make_story(sources=["arabi21.com", "alquds.co.uk"], article_ids=["a1", "a2"], mention_count=2)
    assert decide(copy, [make_rule()], state, channels=CHANNELS, now=NOW) == []


@pytest.mark.parametrize(("change", "follow_ups", "expected_updates"), [
    ({"sources": ["arabi21.com", "alquds.co.uk"]}, True, 3),
    ({"participants": [_participant("GB", "بريطانيا", "United Kingdom"), _participant("QA", "قطر", "Qatar"),
                       _participant("US", "أمريكا", "United States")], "participant_ids": ["GB", "QA", "US"]},
     True, 3),
    ({"mention_count": 5, "confidence": 0.95}, True, 0),
    ({"sources": ["arabi21.com", "alquds.co.uk"]}, False, 0),
])
def test_alerts_decide_follow_ups(change: dict[str, Any], follow_ups: bool, expected_updates: int) -> None:
    rule = make_rule(follow_ups=follow_ups)
    first = decide(make_story(), [rule], {}, channels=CHANNELS, now=NOW)
    state: dict[str, Any] = {}
    for alert in first:
        state = mark_sent(state, alert, make_story())
    updates = decide(make_story(**change), [rule], state, channels=CHANNELS, now=NOW)
    assert len(updates) == expected_updates
    assert all(u.kind == "update" and u.story_version == 2 for u in updates)
    assert not {u.alert_id for u in updates} & {a.alert_id for a in first}


def test_alerts_decide_only_the_rules_channels() -> None:
    alerts = decide(make_story(), [make_rule(channels=["slack"])], {}, channels=CHANNELS, now=NOW)
    assert [a.channel for a in alerts] == ["slack"]
    book = RuleBook(rules=(make_rule(channels=["pager"]),))
    with pytest.raises(RuleConfigError, match="pager"):
        check_channels(book, CHANNELS)


@pytest.mark.parametrize("other", [("s2", "r", "c", "new", 1), ("s", "r2", "c", "new", 1),
                                   ("s", "r", "c2", "new", 1), ("s", "r", "c", "update", 1),
                                   ("s", "r", "c", "new", 2)])
def test_alerts_alert_id_differs_in_every_part(other: tuple[str, str, str, str, int]) -> None:
    assert alert_id("s", "r", "c", "new", 1) == alert_id("s", "r", "c", "new", 1)
    assert alert_id("s", "r", "c", "new", 1) != alert_id(*other)


@pytest.mark.parametrize(("utc_hour", "start", "end", "expected"), [
    (20, "22:00", "07:00", True),    # 23:00 in Doha (UTC+3)
    (3, "22:00", "07:00", True),     # 06:00 in Doha
    (4, "22:00", "07:00", False),    # 07:00 in Doha: the window has ended
    (12, "22:00", "07:00", False),
    (9, "12:00", "13:00", True),     # 12:00 in Doha
    (11, "12:00", "13:00", False),
])
def test_alerts_in_quiet_hours(utc_hour: int, start: str, end: str, expected: bool) -> None:
    quiet = QuietHours(start=time.fromisoformat(start), end=time.fromisoformat(end), timezone="Asia/Qatar")
    assert in_quiet_hours(make_rule(quiet_hours=quiet), NOW.replace(hour=utc_hour)) is expected
    assert in_quiet_hours(make_rule(), NOW.replace(hour=utc_hour)) is False


def _stored(status: str, age_s: float, last_error: str | None = None) -> Alert:
    return Alert(alert_id="x", story_id="s", rule="r", channel="c", status=status,
                 last_error=last_error, created_at=NOW - timedelta(seconds=age_s))


@pytest.mark.parametrize(("alert", "quiet", "expected"), [
    (_stored("failed", 30), False, True),
    (_stored("pending", 30), False, False),          # may still be in its first worker's hands
    (_stored("pending", 900), False, True),          # abandoned by a worker that died
    (_stored("pending", 30, HELD), True, False),     # still quiet
    (_stored("pending", 30, HELD), False, True),     # quiet hours over
    (_stored("delivered", 900), False, False),
    (_stored("failed", 8 * 86400), False, False),    # past the retry window: left for a human
])
def test_alerts_is_due(alert: Alert, quiet: bool, expected: bool) -> None:
    window = QuietHours(start=time(0, 0), end=time(23, 59, 59)) if quiet else None
    rule = make_rule(quiet_hours=window)
    assert is_due(alert, rule, NOW, lease_s=600, window_s=7 * 86400) is expected


SETTINGS = Settings(kibana_public_url="https://kibana.example.org/")


def test_alerts_render_both_languages() -> None:
    story = make_story()
    alert = decide(story, [make_rule()], {}, channels=["slack"], now=NOW)[0]
    en = render(alert, story, SETTINGS, "en")
    ar = render(alert, story, SETTINGS, "ar")
    assert en.lang == "en" and en.subject == "[marsad] New security agreement: United Kingdom, Qatar"
    assert ar.lang == "ar" and ar.subject == "[مرصد] اتفاق أمني جديد: بريطانيا، قطر"
    for message, names in ((en, ("United Kingdom [GB]", "Qatar [QA]")), (ar, ("بريطانيا [GB]", "قطر [QA]"))):
        assert all(n in message.text for n in names)
        assert EVIDENCE in message.text
        assert "https://news.example/a1" in message.text
        assert "https://kibana.example.org/app/dashboards#/view/marsad-monitoring-dashboard?" in message.text
        assert alert.alert_id in message.text


def test_alerts_render_update_and_other_types() -> None:
    story = make_story(event_type="cyberattack", attributes={"method": "wiper"})
    alert = Alert(alert_id="x", story_id=story.story_id, rule="r", channel="c", kind="update",
                  story_version=2)
    assert render(alert, story, SETTINGS, "en").subject.startswith("[marsad] Update — Cyberattack: ")
    assert render(alert, story, SETTINGS, "ar").subject.startswith("[مرصد] تحديث — هجوم سيبراني: ")


def test_alerts_dashboard_url_filters_on_the_story() -> None:
    story = make_story(story_id="agreement_signed:2015-W45:it's!", event_ids=["e1", "e2"])
    url = dashboard_url(SETTINGS, story, "marsad-monitoring-dashboard", lookback_days=2)
    assert url.startswith("https://kibana.example.org/app/dashboards#/view/marsad-monitoring-dashboard?_g=")
    state = unquote(url)
    # rison: strings in single quotes, ' and ! escaped with !
    assert "query:'story_id:\"agreement_signed:2015-W45:it!'s!!\" or event_id:(\"e1\" or \"e2\")'" in state
    assert "time:(from:'2015-11-01T12:00:00.000Z',to:now)" in state
    assert " " not in url


def test_alerts_compose_facts_carry_both_names_and_links() -> None:
    story = make_story()
    alert = decide(story, [make_rule()], {}, channels=["ops-webhook"], now=NOW)[0]
    notification = compose(alert, story, SETTINGS)
    assert [m.lang for m in notification.messages] == ["en", "ar"]
    facts = notification.facts
    assert facts["participants"][0] == {"id": "GB", "kind": "country", "role": "signatory",
                                        "name_en": "United Kingdom", "name_ar": "بريطانيا"}
    assert facts["evidence"] == EVIDENCE and facts["article_url"] == "https://news.example/a1"
    assert facts["dashboard_url"].startswith("https://kibana.example.org/app/dashboards#/view/")
