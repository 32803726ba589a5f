"""`marsad alerts test | list | retry`: check the channels, read the alerts index, retry what is stuck."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import uuid
from datetime import timedelta

from processors.alert_messages import compose
from processors.alerts import DEFAULT_RULES_FILE, RuleConfigError, alert_id, load_rules, recent, redeliver, runtime
from processors.channels import Channel, ChannelConfigError, Notification, deliver, load_channels
from processors.schemas import Alert, Evidence, Location, Participant, Story, utcnow
from processors.search import connect
from processors.settings import Settings


def sample_story() -> Story:
    """Return a made-up security agreement story (Britain and Qatar) for `alerts test`."""
    now = utcnow()
    sentence = "وقعت بريطانيا وقطر اتفاقا أمنيا للمشاركة في المعلومات الاستخبارية"
    return Story(
        story_id=f"test-{uuid.uuid4().hex[:12]}", event_type="agreement_signed", realis="actual",
        participants=[Participant(name="بريطانيا", canonical="GB", kind="country", role="signatory",
                                  name_en="United Kingdom", name_ar="بريطانيا"),
                      Participant(name="قطر", canonical="QA", kind="country", role="signatory",
                                  name_en="Qatar", name_ar="قطر")],
        participant_ids=["GB", "QA"], attributes={"security": True},
        location=Location(name="Doha", country="QA"),
        first_seen=now - timedelta(minutes=5), last_seen=now, mention_count=1, article_ids=["test-article"],
        event_ids=["test-event"], sources=["marsad test"], languages=["ar"],
        best_evidence=Evidence(sentence=sentence, start=0, end=len(sentence), trigger="وقعت"),
        best_article_id="test-article", title="TEST — marsad alert channel check", confidence=0.99,
        cameo="057", plover="AGREE")


def _channels(settings: Settings) -> dict[str, Channel]:
    if not settings.alert_channels_file:
        raise ChannelConfigError("MARSAD_ALERT_CHANNELS_FILE is not set "
                                 "(see deploy/alerts/channels.example.json and docs/alerts.md)")
    return load_channels(settings.alert_channels_file)


def _as_test(notification: Notification) -> Notification:
    messages = tuple(dataclasses.replace(m, subject=f"[TEST] {m.subject}",
                                         text=f"[TEST] {m.text}") for m in notification.messages)
    return dataclasses.replace(notification, messages=messages)


async def _test(settings: Settings, channels: dict[str, Channel], only: list[str] | None) -> int:
    book = load_rules(settings.alert_rules_file or DEFAULT_RULES_FILE)
    story = sample_story()
    chosen = [c for name, c in channels.items() if not only or name in only]
    alerts = [Alert(alert_id=alert_id(story.story_id, "test", c.name, "new", 1), story_id=story.story_id,
                    rule="test", channel=c.name) for c in chosen]
    outcomes = await asyncio.gather(*(deliver(_as_test(compose(a, story, settings, dashboard=book.dashboard)), c)
                                      for a, c in zip(alerts, chosen, strict=True)))
    for outcome in outcomes:
        print(f"{outcome.channel:<20} {outcome.status:<10} attempts={outcome.attempts} "
              f"{outcome.last_error or ''}".rstrip())
    return 0 if chosen and all(o.status == "delivered" for o in outcomes) else 1


def _list(args: argparse.Namespace, settings: Settings) -> int:
    alerts = recent(connect(settings), settings, limit=args.limit, status=args.status)
    for a in alerts:
        if args.json:
            print(a.model_dump_json())
            continue
        print(f"{a.created_at:%Y-%m-%d %H:%M:%S} {a.status:<9} {a.attempts:>2} {a.channel:<14} {a.kind:<6} "
              f"{a.rule:<26} {a.story_id} {a.last_error or ''}".rstrip())
    if not alerts and not args.json:
        print("no alerts", file=sys.stderr)
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run one `marsad alerts` subcommand; exit 1 when a delivery failed, 2 on a configuration error."""
    try:
        if args.alerts_command == "list":
            return _list(args, settings)
        channels = _channels(settings)
        if args.alerts_command == "test":
            return asyncio.run(_test(settings, channels, args.channel))
        rt = runtime(settings, connect(settings), channels)
        outcomes = asyncio.run(redeliver(rt, lease_s=args.lease_s))
    except (ChannelConfigError, RuleConfigError) as exc:
        print(f"marsad alerts: configuration error: {exc}", file=sys.stderr)
        return 2
    for o in outcomes:
        print(json.dumps({"alert_id": o.alert_id, "channel": o.channel, "status": o.status,
                          "attempts": o.attempts, "last_error": o.last_error}, ensure_ascii=False))
    return 0 if all(o.status != "failed" for o in outcomes) else 1
