"""Stage 5 ALERT, delivery half: channel settings, the three senders and retries with backoff.

`processors.alerts` decides and writes the messages; this module only carries a `Notification` to a
webhook (JSON POST), a Slack-compatible webhook or an SMTP server. Senders are blocking (stdlib
`urllib` and `smtplib`) and run in a thread, so the worker's event loop never waits on a socket.
"""

from __future__ import annotations

import asyncio
import email.policy
import html
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)

from processors.schemas import Alert, Language, utcnow
from processors.settings import Secret, read_secret

# Statuses worth another try: the server is busy, down or asked us to slow down.
_RETRYABLE_HTTP = frozenset({408, 425, 429, 500, 502, 503, 504})
_MAX_ERROR_CHARS = 500
_SLACK_SECTION_CHARS = 2900  # Slack rejects a section text over 3000 characters
# Python's header folding (3.11) drops the spaces between folded Arabic words; a subject that fits on
# one line (RFC 5322 allows 998 characters) is written as a single encoded word and arrives intact.
_EMAIL_POLICY = email.policy.default.clone(max_line_length=998)
_SUBJECT_CHARS = 250


def _to_secret(value: Any) -> Secret:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value if isinstance(value, Secret) else Secret(value)


# A config value that prints and serialises as *** (webhook URLs with tokens, passwords).
SecretValue = Annotated[Secret, PlainValidator(_to_secret), PlainSerializer(str)]


class ChannelConfigError(ValueError):
    """The channels file is missing, malformed, or names a secret that is not set."""


class DeliveryError(RuntimeError):
    """One delivery attempt failed; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


# --- what is delivered ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    """An alert said in one language: a one-line subject and a plain-text body."""

    lang: Language
    subject: str
    text: str


@dataclass(frozen=True)
class Notification:
    """One alert ready to send: the record, its messages (in channel order) and the facts as JSON."""

    alert: Alert
    messages: tuple[Message, ...]
    facts: Mapping[str, Any] = field(default_factory=dict)

    def in_languages(self, languages: Sequence[Language]) -> tuple[Message, ...]:
        """Return the messages in `languages`, in that order (all of them when none match)."""
        by_lang = {m.lang: m for m in self.messages}
        chosen = tuple(by_lang[lang] for lang in languages if lang in by_lang)
        return chosen or self.messages


# --- channel settings ----------------------------------------------------------------------------

class Retry(BaseModel):
    """How often and how patiently one delivery is tried before it is recorded as failed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=5, ge=1, le=20)
    backoff_s: float = Field(default=1.0, ge=0)
    max_backoff_s: float = Field(default=60.0, ge=0)

    def delay(self, attempt: int) -> float:
        """Return the pause after failed attempt number `attempt` (1-based): exponential, capped."""
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))


class _ChannelBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)
    languages: tuple[Language, ...] = ("en", "ar")
    timeout_s: float = Field(default=10.0, gt=0)
    retry: Retry = Field(default_factory=Retry)


class _HttpChannel(_ChannelBase):
    # Webhook URLs often embed a token (Slack's always do): give either `url` or `url_env`.
    url: SecretValue = Field(default_factory=lambda: Secret(""))
    url_env: str | None = None

    @model_validator(mode="after")
    def _has_url(self) -> _HttpChannel:
        if not self.url.reveal().startswith(("http://", "https://")):
            raise ValueError(f"channel {self.name!r}: url must be http(s)://… (set `url` or `url_env`)")
        return self


class WebhookChannel(_HttpChannel):
    """A generic JSON webhook: POSTs the alert, the story facts and the messages."""

    type: Literal["webhook"]
    headers: dict[str, str] = Field(default_factory=dict)
    # Header name -> MARSAD_* variable holding its value (an Authorization token, say).
    headers_env: dict[str, str] = Field(default_factory=dict)
    secret_headers: dict[str, SecretValue] = Field(default_factory=dict)


class SlackChannel(_HttpChannel):
    """A Slack-compatible incoming webhook: POSTs {"text", "blocks"}."""

    type: Literal["slack"]


class SmtpChannel(_ChannelBase):
    """Email over SMTP: one multipart message, plain text and HTML, both languages."""

    type: Literal["smtp"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password_env: str | None = None
    password: SecretValue = Field(default_factory=lambda: Secret(""))
    sender: str = Field(alias="from")
    recipients: tuple[str, ...] = Field(alias="to", min_length=1)


Channel = Annotated[WebhookChannel | SlackChannel | SmtpChannel, Field(discriminator="type")]


class _ChannelFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    channels: tuple[Channel, ...]


def _resolve_secrets(raw: dict[str, Any], env: Mapping[str, str] | None) -> dict[str, Any]:
    """Return the channel entry with every `*_env` reference replaced by the secret it names."""
    entry = dict(raw)
    if entry.get("url_env"):
        entry["url"] = _secret(entry["url_env"], env, entry)
    if entry.get("password_env"):
        entry["password"] = _secret(entry["password_env"], env, entry)
    if entry.get("headers_env"):
        entry["secret_headers"] = {h: _secret(v, env, entry) for h, v in entry["headers_env"].items()}
    return entry


def _secret(variable: str, env: Mapping[str, str] | None, entry: Mapping[str, Any]) -> Secret:
    try:
        value = read_secret(variable, env)
    except ValueError as exc:
        raise ChannelConfigError(f"channel {entry.get('name')!r}: {exc}") from None
    if not value:
        raise ChannelConfigError(f"channel {entry.get('name')!r}: {variable} is not set")
    return value


def parse_channels(data: Any, env: Mapping[str, str] | None = None) -> dict[str, Channel]:
    """Return the channels of a parsed channels file by name, secrets read from `env` (MARSAD_* only)."""
    if not isinstance(data, dict) or not isinstance(data.get("channels"), list):
        raise ChannelConfigError('a channels file is {"channels": [...]}')
    entries = [_resolve_secrets(c, env) if isinstance(c, dict) else c for c in data["channels"]]
    try:
        channels = _ChannelFile.model_validate({**data, "channels": entries}).channels
    except ValidationError as exc:
        raise ChannelConfigError(str(exc)) from None
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise ChannelConfigError(f"channel names must be unique: {names}")
    return {c.name: c for c in channels}


def load_channels(path: str | Path, env: Mapping[str, str] | None = None) -> dict[str, Channel]:
    """Return the channels configured in the JSON file at `path` (see deploy/alerts/channels.example.json)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ChannelConfigError(f"{path}: {exc}") from None
    return parse_channels(data, env)


# --- payloads (pure) -----------------------------------------------------------------------------

def webhook_payload(notification: Notification, languages: Sequence[Language]) -> dict[str, Any]:
    """Return the JSON body of a generic webhook: the alert, the story facts, one message per language."""
    messages = notification.in_languages(languages)
    return {"alert": notification.alert.model_dump(mode="json"), "story": dict(notification.facts),
            "messages": {m.lang: {"subject": m.subject, "text": m.text} for m in messages}}


def _slack_escape(text: str) -> str:
    # Slack mrkdwn reserves these three characters (https://api.slack.com/reference/surfaces/formatting).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(notification: Notification, languages: Sequence[Language]) -> dict[str, Any]:
    """Return a Slack webhook body: a plain `text` fallback and Block Kit blocks, one section per language."""
    messages = notification.in_languages(languages)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": messages[0].subject[:150]}}]
    for i, m in enumerate(messages):
        if i:
            blocks.append({"type": "divider"})
        body = _slack_escape(m.text)[:_SLACK_SECTION_CHARS]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    buttons = [{"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
               for label, url in (("Article / المقال", notification.facts.get("article_url")),
                                  ("Dashboard / لوحة المتابعة", notification.facts.get("dashboard_url")))
               if url]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    fallback = " | ".join(m.subject for m in messages)
    return {"text": fallback, "blocks": blocks}


def email_message(notification: Notification, channel: SmtpChannel) -> EmailMessage:
    """Return the email: subject in every language, a plain-text and an HTML part (Arabic right to left)."""
    messages = notification.in_languages(channel.languages)
    alert = notification.alert
    msg = EmailMessage(policy=_EMAIL_POLICY)
    msg["Subject"] = " | ".join(m.subject for m in messages)[:_SUBJECT_CHARS]
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.recipients)
    # A stable Message-ID lets a mail system drop a re-delivered copy of the same alert.
    msg["Message-ID"] = f"<{alert.alert_id}@marsad.alerts>"
    msg["X-Marsad-Alert-Id"] = alert.alert_id
    msg["Content-Language"] = ", ".join(m.lang for m in messages)
    msg.set_content("\n\n---\n\n".join(m.text for m in messages), cte="base64")
    parts = [f'<div lang="{m.lang}" dir="{"rtl" if m.lang == "ar" else "ltr"}">'
             f"<h3>{html.escape(m.subject)}</h3><pre style=\"white-space:pre-wrap;font-family:inherit\">"
             f"{html.escape(m.text)}</pre></div>" for m in messages]
    msg.add_alternative("<html><body>" + "<hr>".join(parts) + "</body></html>", subtype="html", cte="base64")
    return msg


# --- senders (blocking I/O, one attempt each) ----------------------------------------------------

def post_json(url: str, body: Mapping[str, Any], headers: Mapping[str, str], timeout_s: float) -> None:
    """POST `body` as JSON; raise DeliveryError unless the server answers 2xx."""
    if not url.startswith(("http://", "https://")):
        raise DeliveryError("webhook url must be http(s)", retryable=False)
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",  # noqa: S310 (scheme checked above)
                                     headers={"Content-Type": "application/json; charset=utf-8", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}", retryable=exc.code in _RETRYABLE_HTTP) from None
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None


def send_webhook(notification: Notification, channel: WebhookChannel) -> None:
    """Deliver to a generic JSON webhook; the alert id doubles as an idempotency key for the receiver."""
    alert_id = notification.alert.alert_id
    headers = {**channel.headers, **{k: v.reveal() for k, v in channel.secret_headers.items()},
               "Idempotency-Key": alert_id, "X-Marsad-Alert-Id": alert_id}
    body = webhook_payload(notification, channel.languages)
    post_json(channel.url.reveal(), body, headers, channel.timeout_s)


def send_slack(notification: Notification, channel: SlackChannel) -> None:
    """Deliver to a Slack-compatible incoming webhook."""
    post_json(channel.url.reveal(), slack_payload(notification, channel.languages), {}, channel.timeout_s)


def send_smtp(notification: Notification, channel: SmtpChannel) -> None:
    """Deliver by email through the channel's SMTP server."""
    msg = email_message(notification, channel)
    try:
        if channel.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(channel.host, channel.port, timeout=channel.timeout_s,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_s)
        with smtp:
            if channel.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if channel.username:
                smtp.login(channel.username, channel.password.reveal())
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        # 4xx is "try later"; 5xx (bad credentials, refused recipient) will not fix itself.
        code = exc.smtp_code
        raise DeliveryError(f"SMTP {code} {exc.smtp_error!r}", retryable=code < 500) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"SMTP recipients refused: {sorted(exc.recipients)}", retryable=False) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None


Sender = Callable[[Notification, Any], None]
SENDERS: dict[str, Sender] = {"webhook": send_webhook, "slack": send_slack, "smtp": send_smtp}


async def deliver(notification: Notification, channel: Channel, *, send: Sender | None = None,
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Alert:
    """Try the channel up to `retry.attempts` times with exponential backoff; return the alert as it ended."""
    send = send or SENDERS[channel.type]
    alert = notification.alert
    error = ""
    for attempt in range(1, channel.retry.attempts + 1):
        try:
            await asyncio.to_thread(send, notification, channel)
        except DeliveryError as exc:
            error = str(exc)[:_MAX_ERROR_CHARS]
            if not exc.retryable or attempt == channel.retry.attempts:
                return alert.model_copy(update={"status": "failed", "attempts": alert.attempts + attempt,
                                                "last_error": error})
            await sleep(channel.retry.delay(attempt))
        else:
            return alert.model_copy(update={"status": "delivered", "attempts": alert.attempts + attempt,
                                            "last_error": None, "delivered_at": utcnow()})
    raise AssertionError("unreachable: the loop returns on its last attempt")
