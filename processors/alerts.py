"""Stage 5 ALERT: which stories deserve a notification, said in Arabic and English, sent once per channel.

Pure first: rules (`load_rules`), `matches`, `decide` (the messages are in `processors.alert_messages`).
Then the I/O, each function taking its client: claiming an alert id in the alerts index (`op_type=create`, so
two workers can never both send it), recording how delivery went, and the two coroutines a worker
runs: `process_story` for each story update and `redeliver` on a timer. docs/alerts.md has the design.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from elasticsearch import ConflictError, NotFoundError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from processors.alert_messages import DEFAULT_DASHBOARD, compose
from processors.channels import Channel, deliver, load_channels
from processors.schemas import Alert, EventType, Language, Realis, Story, utcnow
from processors.search import index_name
from processors.settings import Settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

# Part of every alert id: bump it only if the id recipe changes (old ids would then not match).
ALERT_ID_VERSION = 1
DEFAULT_RULES_FILE = Path(__file__).resolve().parents[1] / "deploy" / "alerts" / "rules.json"
# `last_error` of an alert kept back by quiet hours: still pending, released by `redeliver`.
HELD = "held: quiet hours"


class RuleConfigError(ValueError):
    """The rules file is missing or malformed, or a rule names a channel that is not configured."""


# --- rules ---------------------------------------------------------------------------------------

class QuietHours(BaseModel):
    """A daily window (local time) in which alerts are held, then sent when it ends."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone name
        return value


class Rule(BaseModel):
    """One alert rule: which stories, how sure, in which languages, to which channels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)
    description: str = ""
    enabled: bool = True
    event_types: tuple[EventType, ...] = Field(min_length=1)
    realis: tuple[Realis, ...] = ("actual",)
    # Story attributes that must hold: a value, or a list of accepted values.
    attributes: dict[str, bool | str | list[str]] = Field(default_factory=dict)
    # Canonical ids (GB, QA, "United Nations" …); empty means any participant.
    watchlist: tuple[str, ...] = ()
    # Only participants in these roles count for the watchlist; empty means any role.
    watch_roles: tuple[str, ...] = ()
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    languages: tuple[Language, ...] = ("ar", "en")
    channels: tuple[str, ...] = ("*",)
    follow_ups: bool = False
    quiet_hours: QuietHours | None = None


class RuleBook(BaseModel):
    """The rules file: the rules and the Kibana dashboard that alert links open."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dashboard: str = DEFAULT_DASHBOARD
    dashboard_lookback_days: int = Field(default=1, ge=0)
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _unique_names(self) -> RuleBook:
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError(f"rule names must be unique: {names}")
        return self

    def rule(self, name: str) -> Rule | None:
        """Return the rule called `name`, or None."""
        return next((r for r in self.rules if r.name == name), None)


def load_rules(path: str | Path = DEFAULT_RULES_FILE) -> RuleBook:
    """Return the rule book in the JSON file at `path` (deploy/alerts/rules.json by default)."""
    try:
        return RuleBook.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise RuleConfigError(f"{path}: {exc}") from None


def check_channels(book: RuleBook, channel_names: Sequence[str]) -> None:
    """Raise RuleConfigError when a rule names a channel that is not configured."""
    for rule in book.rules:
        unknown = sorted(set(rule.channels) - {"*", *channel_names})
        if unknown:
            raise RuleConfigError(f"rule {rule.name!r} names unknown channels {unknown}")


def rule_channels(rule: Rule, channel_names: Sequence[str]) -> list[str]:
    """Return the configured channels the rule sends to, in configuration order."""
    return [c for c in channel_names if "*" in rule.channels or c in rule.channels]


# --- matching and deciding ------------------------------------------------------------------------

def story_ids(story: Story) -> set[str]:
    """Return the canonical ids of everyone in the story."""
    return {*story.participant_ids, *(p.canonical for p in story.participants)}


def _on_watchlist(rule: Rule, story: Story) -> bool:
    if not rule.watchlist:
        return True
    if rule.watch_roles:
        ids = {p.canonical for p in story.participants if p.role in rule.watch_roles}
    else:
        ids = story_ids(story)
    return bool({i.casefold() for i in ids} & {w.casefold() for w in rule.watchlist})


def _attributes_hold(wanted: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    return all(attributes.get(k) in v if isinstance(v, list) else attributes.get(k) == v
               for k, v in wanted.items())


def matches(rule: Rule, story: Story) -> bool:
    """Return True when the story is of the rule's kind, sure enough, in its languages, on its watchlist."""
    return (rule.enabled and story.event_type in rule.event_types and story.realis in rule.realis
            and story.confidence >= rule.min_confidence
            and (not story.languages or bool(set(story.languages) & set(rule.languages)))
            and _attributes_hold(rule.attributes, story.attributes) and _on_watchlist(rule, story))


def alert_id(story_id: str, rule: str, channel: str, kind: str, version: int) -> str:
    """Return the deterministic id of one alert: same story, rule, channel, kind and version, same id."""
    key = "\x1f".join((f"v{ALERT_ID_VERSION}", story_id, rule, channel, kind, str(version)))
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def sent_key(rule: str, channel: str) -> str:
    """Return the key of one rule and channel in a story's sent-state."""
    return f"{rule}/{channel}"


def has_grown(story: Story, sent: Mapping[str, Any]) -> bool:
    """Return True when the story has a participant or a source that the last alert did not have."""
    return bool(story_ids(story) - set(sent.get("participants", ()))
                or set(story.sources) - set(sent.get("sources", ())))


def decide(story: Story, rules: Sequence[Rule], already_sent: Mapping[str, Mapping[str, Any]], *,
           channels: Sequence[str], now: datetime | None = None) -> list[Alert]:
    """Return the alerts this version of the story calls for that `already_sent` does not record."""
    created = now or utcnow()
    alerts = []
    for rule in rules:
        if not matches(rule, story):
            continue
        for channel in rule_channels(rule, channels):
            sent = already_sent.get(sent_key(rule.name, channel))
            kind: Literal["new", "update"]
            if sent is None:
                kind, version = "new", 1
            elif rule.follow_ups and has_grown(story, sent):
                kind, version = "update", int(sent["version"]) + 1
            else:
                continue
            alerts.append(Alert(alert_id=alert_id(story.story_id, rule.name, channel, kind, version),
                                story_id=story.story_id, rule=rule.name, channel=channel, kind=kind,
                                story_version=version, created_at=created))
    return alerts


def mark_sent(state: Mapping[str, Mapping[str, Any]], alert: Alert, story: Story) -> dict[str, Any]:
    """Return the story's sent-state with `alert` recorded (and what it said, so follow-ups see news)."""
    return {**state, sent_key(alert.rule, alert.channel): {
        "alert_id": alert.alert_id, "version": alert.story_version,
        "participants": sorted(story_ids(story)), "sources": sorted(story.sources)}}


def sent_from_json(raw: bytes | None) -> dict[str, Any]:
    """Return a sent-state as stored in the table (`{}` for none)."""
    return dict(json.loads(raw)) if raw else {}


def sent_to_json(sent: Mapping[str, Any]) -> bytes:
    """Return a sent-state as the table stores it."""
    return json.dumps(sent, sort_keys=True, separators=(",", ":")).encode()


def latest(stories: Sequence[Story]) -> list[Story]:
    """Return the last version of each story in a batch (one alert with the latest facts, not two)."""
    return list({story.story_id: story for story in stories}.values())


def in_quiet_hours(rule: Rule | None, now: datetime) -> bool:
    """Return True when `now` falls in the rule's quiet hours (a window may run past midnight)."""
    if rule is None or rule.quiet_hours is None:
        return False
    q = rule.quiet_hours
    local = now.astimezone(ZoneInfo(q.timezone)).time()
    if q.start <= q.end:
        return q.start <= local < q.end
    return local >= q.start or local < q.end


def is_due(alert: Alert, rule: Rule | None, now: datetime, *, lease_s: float, window_s: float) -> bool:
    """Return True when `redeliver` should try this stored alert now."""
    age = (now - alert.created_at).total_seconds()
    if alert.status == "delivered" or age > window_s:
        return False
    if alert.status == "pending" and alert.last_error == HELD:
        return not in_quiet_hours(rule, now)
    # A pending alert younger than its lease may still be in its first worker's hands.
    return alert.status == "failed" or age > lease_s


# --- I/O: the alerts index ------------------------------------------------------------------------

def claim(client: Elasticsearch, settings: Settings, alert: Alert) -> bool:
    """Create the alert's document (status pending); False when the id exists: it is sent, or being sent."""
    try:
        client.index(index=index_name(settings, "alerts"), id=alert.alert_id,
                     document=alert.model_dump(mode="json"), op_type="create")
    except ConflictError:
        return False
    return True


def record(client: Elasticsearch, settings: Settings, alert: Alert, *,
           if_seq_no: int | None = None, if_primary_term: int | None = None) -> bool:
    """Write the alert's current status; with a seq_no, only if nobody wrote it since (False if they did)."""
    try:
        client.index(index=index_name(settings, "alerts"), id=alert.alert_id,
                     document=alert.model_dump(mode="json"), if_seq_no=if_seq_no,
                     if_primary_term=if_primary_term)
    except ConflictError:
        return False
    return True


def load_story(client: Elasticsearch, settings: Settings, story_id: str) -> Story | None:
    """Return the story as indexed, or None when it is not (yet) in the stories index."""
    try:
        source = client.get(index=index_name(settings, "stories"), id=story_id)["_source"]
    except NotFoundError:
        return None
    return Story.model_validate(source)


def undelivered(client: Elasticsearch, settings: Settings, limit: int = 100) -> list[dict[str, Any]]:
    """Return the oldest pending or failed alert hits, with the seq_no that guards a re-claim."""
    result = client.search(index=index_name(settings, "alerts"), size=limit, seq_no_primary_term=True,
                           query={"terms": {"status": ["pending", "failed"]}}, sort=[{"created_at": "asc"}])
    return list(result["hits"]["hits"])


def recent(client: Elasticsearch, settings: Settings, limit: int = 20,
           status: str | None = None) -> list[Alert]:
    """Return the newest alerts, optionally only those with `status`."""
    query = {"term": {"status": status}} if status else {"match_all": {}}
    result = client.search(index=index_name(settings, "alerts"), size=limit, query=query,
                           sort=[{"created_at": "desc"}])
    return [Alert.model_validate(hit["_source"]) for hit in result["hits"]["hits"]]


# --- I/O: the worker's coroutines -----------------------------------------------------------------

@dataclass(frozen=True)
class AlertRuntime:
    """What the alert coroutines need, built once per worker (see `runtime`)."""

    settings: Settings
    book: RuleBook
    channels: Mapping[str, Channel]
    client: Elasticsearch
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


def runtime(settings: Settings, client: Elasticsearch, channels: Mapping[str, Channel],
            book: RuleBook | None = None) -> AlertRuntime:
    """Return a checked runtime: the rules from MARSAD_ALERT_RULES_FILE (or the default rules file)."""
    book = book or load_rules(settings.alert_rules_file or DEFAULT_RULES_FILE)
    check_channels(book, list(channels))
    return AlertRuntime(settings=settings, book=book, channels=channels, client=client)


def from_settings(settings: Settings, client: Elasticsearch) -> AlertRuntime | None:
    """Return the worker's alert runtime, or None when MARSAD_ALERT_CHANNELS_FILE is not set."""
    if not settings.alert_channels_file:
        return None
    return runtime(settings, client, load_channels(settings.alert_channels_file))


async def _send(alert: Alert, story: Story, rt: AlertRuntime, now: datetime) -> Alert:
    """Deliver one claimed alert (or hold it in quiet hours) and record how it went."""
    if in_quiet_hours(rt.book.rule(alert.rule), now):
        outcome = alert.model_copy(update={"last_error": HELD})
    else:
        notification = compose(alert, story, rt.settings, dashboard=rt.book.dashboard,
                               lookback_days=rt.book.dashboard_lookback_days)
        outcome = await deliver(notification, rt.channels[alert.channel], sleep=rt.sleep)
    await asyncio.to_thread(record, rt.client, rt.settings, outcome)
    return outcome


async def process_story(story: Story, rt: AlertRuntime, sent: Mapping[str, Any], *,
                        now: datetime | None = None) -> tuple[list[Alert], dict[str, Any]]:
    """Send what this story update calls for, once per rule and channel.

    `sent` is the story's sent-state (from the worker's changelogged table, `{}` when unknown).
    Returns the alerts as recorded (delivered, failed or held) and the sent-state to store back.
    Alerts whose id is already in the index are skipped: another worker, or this one before a
    restart, has them; the index, not the table, is what makes a send exactly-once.
    """
    now = now or utcnow()
    alerts = decide(story, rt.book.rules, sent, channels=list(rt.channels), now=now)
    claimed = [a for a in alerts if await asyncio.to_thread(claim, rt.client, rt.settings, a)]
    # Channels are delivered side by side: one that is down retries without holding up the others.
    outcomes = await asyncio.gather(*(_send(a, story, rt, now) for a in claimed))
    state = dict(sent)
    for alert in alerts:
        state = mark_sent(state, alert, story)
    return list(outcomes), state


async def process_stories(stories: Sequence[Story], rt: AlertRuntime, state: MutableMapping[bytes, bytes],
                          ) -> list[Alert]:
    """Process a batch of story updates: the latest version of each story, stories side by side.

    `state` is the `alerts_sent` table (story id bytes -> sent-state JSON bytes).
    """
    async def one(story: Story) -> list[Alert]:
        key = story.story_id.encode()
        before = sent_from_json(state.get(key))
        outcomes, sent = await process_story(story, rt, before)
        if sent != before:
            state[key] = sent_to_json(sent)
        return outcomes

    done = await asyncio.gather(*(one(story) for story in latest(stories)))
    return [alert for outcomes in done for alert in outcomes]


async def redeliver(rt: AlertRuntime, *, now: datetime | None = None, lease_s: float = 600.0,
                    window_s: float = 7 * 86400.0, limit: int = 100) -> list[Alert]:
    """Retry stored alerts that failed, were held by quiet hours or were abandoned; return them as recorded.

    Run from ONE place (a leader-only timer, or `marsad alerts retry`): each retry is claimed with
    the hit's seq_no, so a concurrent writer makes it skip rather than send twice.
    """
    now = now or utcnow()
    outcomes = []
    for hit in await asyncio.to_thread(undelivered, rt.client, rt.settings, limit):
        alert = Alert.model_validate(hit["_source"])
        if alert.channel not in rt.channels or not is_due(alert, rt.book.rule(alert.rule), now,
                                                          lease_s=lease_s, window_s=window_s):
            continue
        story = await asyncio.to_thread(load_story, rt.client, rt.settings, alert.story_id)
        reclaimed = story is not None and await asyncio.to_thread(
            record, rt.client, rt.settings, alert,
            if_seq_no=hit["_seq_no"], if_primary_term=hit["_primary_term"])
        if story is not None and reclaimed:
            outcomes.append(await _send(alert, story, rt, now))
    return outcomes
