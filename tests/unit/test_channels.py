"""Unit tests of processors.channels: config and secrets, payloads, retries with backoff (no sockets)."""

from __future__ import annotations

import asyncio
import json
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest

from processors.channels import (
    ChannelConfigError,
    DeliveryError,
    Message,
    Notification,
    Retry,
    SmtpChannel,
    deliver,
    email_message,
    load_channels,
    parse_channels,
    slack_payload,
    webhook_payload,
)
from processors.schemas import Alert

ENV = {"MARSAD_ALERT_WEBHOOK_URL": "https://hooks.example/abc", "MARSAD_ALERT_WEBHOOK_AUTH": "Bearer t0ken",
       "MARSAD_SLACK_WEBHOOK_URL": "https://hooks.slack.example/T/B/s3cret", "MARSAD_SMTP_PASSWORD": "pw"}

NOTE = Notification(
    alert=Alert(alert_id="abc123", story_id="s1", rule="new-security-agreement", channel="c"),
    messages=(Message("en", "[marsad] New security agreement: United Kingdom, Qatar",
                      "UK <-> Qatar & co\nline 2"),
              Message("ar", "[مرصد] اتفاق أمني جديد: بريطانيا، قطر", "وقعت بريطانيا وقطر اتفاقا أمنيا")),
    facts={"story_id": "s1", "article_url": "https://news.example/a1",
           "dashboard_url": "https://kibana.example/app/dashboards#/view/x"})


def test_channels_example_file_loads_with_secrets_from_env() -> None:
    channels = load_channels("deploy/alerts/channels.example.json", ENV)
    assert [(c.name, c.type) for c in channels.values()] == [
        ("ops-webhook", "webhook"), ("slack", "slack"), ("email", "smtp")]
    assert channels["slack"].url.reveal() == ENV["MARSAD_SLACK_WEBHOOK_URL"]  # type: ignore[union-attr]
    assert channels["email"].password.reveal() == "pw"  # type: ignore[union-attr]
    assert channels["ops-webhook"].secret_headers["Authorization"].reveal() == "Bearer t0ken"  # type: ignore[union-attr]
    # Secrets never print.
    assert "s3cret" not in repr(channels) and "t0ken" not in repr(channels) and "pw'" not in repr(channels)


def test_channels_secret_file_variant(tmp_path: Any) -> None:
    secret = tmp_path / "slack-url"
    secret.write_text("https://hooks.slack.example/from-file\n")
    channels = parse_channels({"channels": [{"name": "s", "type": "slack", "url_env": "MARSAD_SLACK_URL"}]},
                              {"MARSAD_SLACK_URL_FILE": str(secret)})
    assert channels["s"].url.reveal() == "https://hooks.slack.example/from-file"  # type: ignore[union-attr]


@pytest.mark.parametrize(("entry", "match"), [
    ({"name": "s", "type": "slack", "url_env": "MARSAD_MISSING"}, "MARSAD_MISSING is not set"),
    ({"name": "s", "type": "slack", "url_env": "HOME"}, "MARSAD_"),
    ({"name": "s", "type": "slack"}, "url"),
    ({"name": "s", "type": "slack", "url": "ftp://x"}, "url"),
    ({"name": "s", "type": "pager", "url": "https://x"}, "pager"),
    ({"name": "m", "type": "smtp", "host": "h", "from": "a@b", "to": []}, "to"),
    ({"name": "Bad Name", "type": "slack", "url": "https://x"}, "name"),
])
def test_channels_config_errors(entry: dict[str, Any], match: str) -> None:
    with pytest.raises(ChannelConfigError, match=match):
        parse_channels({"channels": [entry]}, {})


def test_channels_names_are_unique() -> None:
    entry = {"name": "s", "type": "slack", "url": "https://x"}
    with pytest.raises(ChannelConfigError, match="unique"):
        parse_channels({"channels": [entry, entry]}, {})


def test_channels_webhook_payload() -> None:
    body = webhook_payload(NOTE, ("en", "ar"))
    assert body["alert"]["alert_id"] == "abc123" and body["alert"]["status"] == "pending"
    assert body["story"]["article_url"] == "https://news.example/a1"
    assert body["messages"]["ar"]["subject"] == "[مرصد] اتفاق أمني جديد: بريطانيا، قطر"
    assert list(body["messages"]) == ["en", "ar"]
    json.dumps(body)  # serialisable as is


def test_channels_slack_payload() -> None:
    body = slack_payload(NOTE, ("ar", "en"))
    assert body["text"] == ("[مرصد] اتفاق أمني جديد: بريطانيا، قطر | "
                            "[marsad] New security agreement: United Kingdom, Qatar")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "divider", "section", "actions"]
    assert body["blocks"][0]["text"]["text"] == "[مرصد] اتفاق أمني جديد: بريطانيا، قطر"
    assert body["blocks"][3]["text"]["text"] == "UK &lt;-&gt; Qatar &amp; co\nline 2"
    assert [e["url"] for e in body["blocks"][4]["elements"]] == [
        "https://news.example/a1", "https://kibana.example/app/dashboards#/view/x"]


def test_channels_email_message_is_bilingual_multipart() -> None:
    channel = SmtpChannel.model_validate({"name": "m", "type": "smtp", "host": "h",
                                          "from": "marsad <a@b.org>", "to": ["x@y.org", "z@y.org"]})
    raw = email_message(NOTE, channel).as_bytes()
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == ("[marsad] New security agreement: United Kingdom, Qatar | "
                                 "[مرصد] اتفاق أمني جديد: بريطانيا، قطر")
    assert parsed["Message-ID"] == "<abc123@marsad.alerts>" and parsed["To"] == "x@y.org, z@y.org"
    plain = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "UK <-> Qatar" in plain and "وقعت بريطانيا وقطر" in plain
    assert 'dir="rtl"' in html and "UK &lt;-&gt; Qatar" in html and "وقعت بريطانيا وقطر" in html


@pytest.mark.parametrize(("retry", "expected"), [
    (Retry(backoff_s=1.0, max_backoff_s=60.0), [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0]),
    (Retry(backoff_s=0.5, max_backoff_s=3.0), [0.5, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0]),
])
def test_channels_backoff_is_exponential_and_capped(retry: Retry, expected: list[float]) -> None:
    assert [retry.delay(n) for n in range(1, 8)] == expected


class FlakySender:
    """Fails `failures` times with `error`, then succeeds; counts calls."""

    def __init__(self, failures: int, error: DeliveryError | None = None) -> None:
        self.failures, self.calls = failures, 0
        self.error = error or DeliveryError("HTTP 500 Internal Server Error")

    def __call__(self, notification: Notification, channel: Any) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error


def _run_deliver(sender: FlakySender, attempts: int) -> tuple[Alert, list[float]]:
    channel = parse_channels({"channels": [{"name": "w", "type": "webhook", "url": "https://x",
                                            "retry": {"attempts": attempts, "backoff_s": 0.5}}]})["w"]
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    return asyncio.run(deliver(NOTE, channel, send=sender, sleep=sleep)), pauses


@pytest.mark.parametrize(("failures", "attempts", "status", "calls", "pauses"), [
    (0, 5, "delivered", 1, []),
    (3, 5, "delivered", 4, [0.5, 1.0, 2.0]),
    (5, 5, "failed", 5, [0.5, 1.0, 2.0, 4.0]),
    (9, 2, "failed", 2, [0.5]),
])
def test_channels_deliver_retries_with_backoff(failures: int, attempts: int, status: str, calls: int,
                                               pauses: list[float]) -> None:
    sender = FlakySender(failures)
    outcome, slept = _run_deliver(sender, attempts)
    assert (outcome.status, outcome.attempts, sender.calls, slept) == (status, calls, calls, pauses)
    if status == "delivered":
        assert outcome.delivered_at is not None and outcome.last_error is None
    else:
        assert outcome.last_error == "HTTP 500 Internal Server Error" and outcome.delivered_at is None


def test_channels_deliver_gives_up_at_once_on_a_permanent_error() -> None:
    sender = FlakySender(9, DeliveryError("HTTP 404 Not Found", retryable=False))
    outcome, slept = _run_deliver(sender, 5)
    assert (outcome.status, outcome.attempts, sender.calls, slept) == ("failed", 1, 1, [])
