"""Alerts end to end: a real HTTP receiver, SMTP server (aiosmtpd) and search server (alerts index).

Each test gets its own index prefix, receiver and SMTP server. "Restarting the worker" is a fresh
runtime (new client) with the sent-state either kept or lost, the worst case: the index alone must
then stop a second send.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time as clock
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from processors import alerts
from processors.alerts import HELD, AlertRuntime, QuietHours, load_rules, process_story, redeliver
from processors.channels import parse_channels
from processors.schemas import Article, Evidence, Location, Participant, Story
from processors.search import connect, index_name
from processors.settings import Settings
from processors.stack import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT.parent / "shared" / "samples" / "seed-article-ar.txt"
RULE = "new-security-agreement"
CHANNELS = ("hook", "slack", "mail")


# --- a real HTTP receiver and a real SMTP server --------------------------------------------------

@dataclass
class Receiver:
    """Records every POST by path; `fail[path] = n` answers the next n POSTs to path with HTTP 500."""

    url: str = ""
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    attempts: dict[str, list[float]] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.attempts.setdefault(path, []).append(clock.monotonic())
            if self.fail.get(path, 0) > 0:
                self.fail[path] -= 1
                return 500
            self.received.setdefault(path, []).append(
                {"headers": headers, "json": json.loads(body.decode("utf-8")), "at": clock.monotonic()})
            return 200

    def bodies(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r["json"] for r in self.received.get(path, [])]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = state.handle(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(BytesParser(policy=policy.default).parsebytes(envelope.content))
        return "250 OK"


@dataclass
class Smtp:
    port: int
    mailbox: Mailbox


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield Smtp(controller.port, mailbox)
    controller.stop()


# --- the alerts index, rules and channels -------------------------------------------------------------

def _create_indices(settings: Settings) -> None:
    """Install the templates, indices and aliases from deploy/ as `marsad setup` does."""
    from processors.setup import apply

    report = apply(settings, kibana=False)
    assert report.ok, report.render()


def _channels(receiver: Receiver, smtp: Smtp, *, attempts: int = 5,
              backoff_s: float = 0.05) -> dict[str, Any]:
    retry = {"attempts": attempts, "backoff_s": backoff_s, "max_backoff_s": 1.0}
    return parse_channels({"channels": [
        {"name": "hook", "type": "webhook", "url": f"{receiver.url}/hook", "retry": retry,
         "headers_env": {"Authorization": "MARSAD_TEST_HOOK_TOKEN"}},
        {"name": "slack", "type": "slack", "url": f"{receiver.url}/slack", "retry": retry},
        {"name": "mail", "type": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "none",
         "from": "marsad <alerts@marsad.test>", "to": ["team@marsad.test"], "retry": retry},
    ]}, {"MARSAD_TEST_HOOK_TOKEN": "Bearer test-token"})


@pytest.fixture
def settings(local_stack: Any) -> Settings:
    s: Settings = local_stack.settings(kibana_public_url="https://kibana.marsad.test")
    _create_indices(s)
    return s


def make_runtime(settings: Settings, receiver: Receiver, smtp: Smtp, **channel_options: Any) -> AlertRuntime:
    """A worker's alert runtime: its own search client, as after a restart."""
    return alerts.runtime(settings, connect(settings), _channels(receiver, smtp, **channel_options),
                          book=load_rules())


def stored(settings: Settings) -> list[dict[str, Any]]:
    client = connect(settings)
    client.indices.refresh(index=index_name(settings, "alerts"))
    hits = client.search(index=index_name(settings, "alerts"), size=100, query={"match_all": {}})
    return [h["_source"] for h in hits["hits"]["hits"]]


def counts(receiver: Receiver, smtp: Smtp) -> dict[str, int]:
    return {"hook": len(receiver.bodies("/hook")), "slack": len(receiver.bodies("/slack")),
            "mail": len(smtp.mailbox.messages)}


def agreement_story(story_id: str = "agreement_signed:2015-W45:test", **overrides: Any) -> Story:
    sentence = "وقعت بريطانيا وقطر اتفاقا أمنيا للمشاركة في المعلومات الاستخبارية"
    now = datetime.now(UTC)
    fields: dict[str, Any] = dict(
        story_id=story_id, event_type="agreement_signed", realis="actual",
        participants=[Participant(name="بريطانيا", canonical="GB", kind="country", role="signatory",
                                  name_en="United Kingdom", name_ar="بريطانيا"),
                      Participant(name="قطر", canonical="QA", kind="country", role="signatory",
                                  name_en="Qatar", name_ar="قطر")],
        participant_ids=["GB", "QA"], attributes={"security": True}, location=Location(name="Doha"),
        first_seen=now, last_seen=now, mention_count=1, article_ids=["a1"], event_ids=["e1"],
        sources=["arabi21.com"], languages=["ar"], best_article_id="a1", best_url="https://arabi21.test/a1",
        best_evidence=Evidence(sentence=sentence, start=0, end=len(sentence), trigger="وقعت"),
        confidence=0.8, cameo="057", plover="AGREE")
    fields.update(overrides)
    return Story(**fields)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --- the seed article, through the real extractor and story merging -------------------------------

class Pipeline:
    """Extraction and story merging as the worker does them, then the alert stage."""

    def __init__(self, settings: Settings) -> None:
        from processors.extract import Extractor
        from processors.index import bulk_index, to_actions
        from processors.stories import merge, story_key

        self.settings, self.extractor = settings, Extractor.load(settings)
        self._merge, self._key, self._bulk, self._actions = merge, story_key, bulk_index, to_actions
        self.stories: dict[str, Story] = {}  # the stories table

    def stories_of(self, article: Article) -> list[Story]:
        """Extract, merge into stories, index them; return the stories this article touched."""
        touched: dict[str, Story] = {}
        for event in self.extractor.extract(article):
            key = self._key(event)
            self.stories[key] = touched[key] = self._merge(self.stories.get(key), event)
        self._bulk(connect(self.settings), self._actions(touched.values(), self.settings), refresh=True)
        return list(touched.values())


def _alert_all(stories: list[Story], rt: AlertRuntime, table: dict[bytes, bytes]) -> list[Any]:
    return run(alerts.process_stories(stories, rt, table))


def test_alerts_seed_article_alerts_once_per_channel(settings: Settings, receiver: Receiver,
                                                     smtp: Smtp) -> None:
    pipeline = Pipeline(settings)
    seed = SEED.read_text(encoding="utf-8")
    article = Article(id="arabi21:uk-qatar", text=seed, language="ar", source="arabi21.com",
                      url="https://arabi21.test/uk-qatar", published_at="2015-11-03")
    table: dict[bytes, bytes] = {}
    rt = make_runtime(settings, receiver, smtp)

    first = _alert_all(pipeline.stories_of(article), rt, table)
    assert sorted((a.rule, a.channel, a.kind, a.status) for a in first) == [
        (RULE, c, "new", "delivered") for c in sorted(CHANNELS)]
    assert counts(receiver, smtp) == {"hook": 1, "slack": 1, "mail": 1}

    hook = receiver.bodies("/hook")[0]
    assert hook["story"]["event_type"] == "agreement_signed"
    assert hook["story"]["attributes"]["security"] is True
    names = {p["id"]: p for p in hook["story"]["participants"]}
    assert {"GB", "QA"} <= set(names)
    assert all(names[c]["name_en"] and names[c]["name_ar"] for c in ("GB", "QA"))
    assert hook["story"]["article_url"] == "https://arabi21.test/uk-qatar"
    assert hook["story"]["dashboard_url"].startswith("https://kibana.marsad.test/app/dashboards#/view/")
    assert set(hook["messages"]) == {"en", "ar"} and "Qatar" in hook["messages"]["en"]["subject"]
    assert "قطر" in hook["messages"]["ar"]["subject"]
    slack = receiver.bodies("/slack")[0]
    assert "Qatar" in slack["text"] and "قطر" in slack["text"]
    mail = smtp.mailbox.messages[0]
    assert "Qatar" in mail["Subject"] and "قطر" in mail["Subject"]
    evidence = " ".join(hook["story"]["evidence"].split())
    assert "وقعت بريطانيا وقطر اتفاقا أمنيا" in evidence
    assert evidence in mail.get_body(("plain",)).get_content() and evidence in slack["blocks"][1]["text"]["text"]

    # The same article ingested again, then a second outlet's copy of the story: no new alert.
    _alert_all(pipeline.stories_of(article), rt, table)
    copy = Article(id="alquds:uk-qatar", text=seed, language="ar", source="alquds.co.uk",
                   url="https://alquds.test/uk-qatar", published_at="2015-11-03")
    again = _alert_all(pipeline.stories_of(copy), rt, table)
    assert again == [] and counts(receiver, smtp) == {"hook": 1, "slack": 1, "mail": 1}

    # Restarted workers: one that kept its table, one that lost it (the index alone stops a resend).
    for kept in (dict(table), {}):
        restarted = Pipeline(settings)
        later = _alert_all(restarted.stories_of(article) + restarted.stories_of(copy),
                           make_runtime(settings, receiver, smtp), kept)
        assert later == []
    assert counts(receiver, smtp) == {"hook": 1, "slack": 1, "mail": 1}
    docs = stored(settings)
    assert sorted((d["rule"], d["channel"], d["status"]) for d in docs) == [
        (RULE, c, "delivered") for c in sorted(CHANNELS)]


# --- exactly once without the extractor -------------------------------------------------------------

def test_alerts_two_workers_and_restarts_send_once(settings: Settings, receiver: Receiver,
                                                   smtp: Smtp) -> None:
    story = agreement_story()

    async def two_workers() -> list[Any]:
        workers = [make_runtime(settings, receiver, smtp) for _ in range(2)]
        results = await asyncio.gather(*(process_story(story, rt, {}) for rt in workers))
        return [alert for outcomes, _ in results for alert in outcomes]

    sent = run(two_workers())
    assert sorted(a.channel for a in sent) == sorted(CHANNELS)
    assert counts(receiver, smtp) == {"hook": 1, "slack": 1, "mail": 1}
    # A restart with the table lost, and a later version of the story: still nothing new.
    later = agreement_story(sources=["arabi21.com", "alquds.co.uk"], mention_count=2)
    outcomes, state = run(process_story(later, make_runtime(settings, receiver, smtp), {}))
    assert outcomes == [] and set(state) == {f"{RULE}/{c}" for c in CHANNELS}
    assert counts(receiver, smtp) == {"hook": 1, "slack": 1, "mail": 1}
    hook = receiver.received["/hook"][0]
    assert hook["headers"]["Authorization"] == "Bearer test-token"
    assert hook["headers"]["Idempotency-Key"] == hook["json"]["alert"]["alert_id"]


def test_alerts_follow_ups_only_when_the_rule_asks(settings: Settings, receiver: Receiver,
                                                   smtp: Smtp) -> None:
    book = load_rules()
    rule = book.rules[0].model_copy(update={"follow_ups": True, "channels": ("hook",)})
    rt = replace(make_runtime(settings, receiver, smtp), book=book.model_copy(update={"rules": (rule,)}))
    _, state = run(process_story(agreement_story(), rt, {}))
    us = Participant(name="الولايات المتحدة", canonical="US", kind="country", role="signatory",
                     name_en="United States", name_ar="الولايات المتحدة")
    grown = agreement_story(participants=[*agreement_story().participants, us],
                            participant_ids=["GB", "QA", "US"])
    outcomes, state = run(process_story(grown, rt, state))
    assert [(a.kind, a.story_version, a.status) for a in outcomes] == [("update", 2, "delivered")]
    outcomes, _ = run(process_story(grown, rt, state))
    assert outcomes == []
    kinds = [b["alert"]["kind"] for b in receiver.bodies("/hook")]
    assert kinds == ["new", "update"]
    assert "United States" in receiver.bodies("/hook")[1]["messages"]["en"]["text"]


# --- failures: retried with backoff, recorded, never lost, never blocking the others ----------------

def test_alerts_channel_failing_three_times_then_recovering_gets_it_once(
        settings: Settings, receiver: Receiver, smtp: Smtp) -> None:
    receiver.fail["/hook"] = 3
    rt = make_runtime(settings, receiver, smtp, attempts=5, backoff_s=0.2)
    outcomes, _ = run(process_story(agreement_story(), rt, {}))
    by_channel = {a.channel: a for a in outcomes}
    assert (by_channel["hook"].status, by_channel["hook"].attempts) == ("delivered", 4)
    assert (by_channel["slack"].attempts, by_channel["mail"].attempts) == (1, 1)
    assert counts(receiver, smtp) == {"hook": 1, "slack": 1, "mail": 1}
    assert len(receiver.attempts["/hook"]) == 4
    gaps = [b - a for a, b in zip(receiver.attempts["/hook"], receiver.attempts["/hook"][1:], strict=False)]
    assert [round(g, 1) for g in gaps] == [0.2, 0.4, 0.8]  # exponential backoff
    # The down channel did not hold the others up: Slack got its alert before the webhook's 2nd try.
    assert receiver.received["/slack"][0]["at"] < receiver.attempts["/hook"][1]
    docs = {d["channel"]: d for d in stored(settings)}
    assert (docs["hook"]["status"], docs["hook"]["attempts"]) == ("delivered", 4)


def test_alerts_failed_delivery_is_recorded_then_redelivered_once(
        settings: Settings, receiver: Receiver, smtp: Smtp) -> None:
    receiver.fail["/hook"] = 1000
    rt = make_runtime(settings, receiver, smtp, attempts=2)
    story = agreement_story()
    outcomes, _ = run(process_story(story, rt, {}))
    assert {a.channel: a.status for a in outcomes} == {
        "hook": "failed", "slack": "delivered", "mail": "delivered"}
    docs = {d["channel"]: d for d in stored(settings)}
    assert (docs["hook"]["status"], docs["hook"]["attempts"]) == ("failed", 2)
    assert docs["hook"]["last_error"] == "HTTP 500 Internal Server Error"

    # The story is in the stories index (the worker indexes before alerting); the channel recovers.
    connect(settings).index(index=index_name(settings, "stories"), id=story.story_id,
                            document=story.model_dump(mode="json", exclude_none=True), refresh=True)
    receiver.fail["/hook"] = 0
    retried = run(redeliver(rt))
    assert [(a.channel, a.status, a.attempts) for a in retried] == [("hook", "delivered", 3)]
    assert run(redeliver(rt)) == []
    assert counts(receiver, smtp) == {"hook": 1, "slack": 1, "mail": 1}
    assert {d["status"] for d in stored(settings)} == {"delivered"}


def test_alerts_smtp_down_does_not_stop_the_webhooks(settings: Settings, receiver: Receiver,
                                                     smtp: Smtp) -> None:
    closed = Smtp(port=free_port(), mailbox=smtp.mailbox)  # nothing listens there
    rt = make_runtime(settings, receiver, closed, attempts=2)
    outcomes, _ = run(process_story(agreement_story(), rt, {}))
    assert {a.channel: a.status for a in outcomes} == {
        "hook": "delivered", "slack": "delivered", "mail": "failed"}
    assert "ConnectionRefusedError" in next(a.last_error for a in outcomes if a.channel == "mail")


def test_alerts_quiet_hours_hold_then_release(settings: Settings, receiver: Receiver, smtp: Smtp) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    quiet = QuietHours(start=(now - timedelta(hours=1)).time(), end=(now + timedelta(hours=1)).time())
    book = load_rules()
    rule = book.rules[0].model_copy(update={"quiet_hours": quiet})
    rt = replace(make_runtime(settings, receiver, smtp), book=book.model_copy(update={"rules": (rule,)}))
    story = agreement_story()
    connect(settings).index(index=index_name(settings, "stories"), id=story.story_id,
                            document=story.model_dump(mode="json", exclude_none=True), refresh=True)
    outcomes, _ = run(process_story(story, rt, {}, now=now))
    assert {(a.status, a.last_error) for a in outcomes} == {("pending", HELD)}
    assert counts(receiver, smtp) == {"hook": 0, "slack": 0, "mail": 0}
    assert run(redeliver(rt, now=now + timedelta(minutes=30))) == []
    released = run(redeliver(rt, now=now + timedelta(hours=2)))
    assert sorted(a.channel for a in released) == sorted(CHANNELS)
    assert {a.status for a in released} == {"delivered"}
    assert counts(receiver, smtp) == {"hook": 1, "slack": 1, "mail": 1}


# --- the CLI ---------------------------------------------------------------------------------------

def test_alerts_cli_test_and_list(settings: Settings, receiver: Receiver, smtp: Smtp, local_stack: Any,
                                  tmp_path: Path) -> None:
    channels_file = tmp_path / "channels.json"
    channels_file.write_text(json.dumps({"channels": [
        {"name": "hook", "type": "webhook", "url_env": "MARSAD_TEST_HOOK_URL"},
        {"name": "slack", "type": "slack", "url": f"{receiver.url}/slack"},
        {"name": "mail", "type": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "none",
         "from": "alerts@marsad.test", "to": ["team@marsad.test"]}]}))
    env = {**os.environ, **local_stack.env(), "MARSAD_INDEX_PREFIX": settings.index_prefix,
           "MARSAD_ALERT_CHANNELS_FILE": str(channels_file), "MARSAD_TEST_HOOK_URL": f"{receiver.url}/hook"}
    marsad = [sys.executable, "-m", "processors.cli", "alerts"]
    done = subprocess.run([*marsad, "test"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(line.split()[:2] for line in done.stdout.splitlines()) == [
        ["hook", "delivered"], ["mail", "delivered"], ["slack", "delivered"]]
    assert counts(receiver, smtp) == {"hook": 1, "slack": 1, "mail": 1}
    assert smtp.mailbox.messages[0]["Subject"].startswith("[TEST] ")

    run(process_story(agreement_story(), make_runtime(settings, receiver, smtp), {}))
    listed = subprocess.run([*marsad, "list"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert sorted((r[2], r[4]) for r in rows) == [("delivered", c) for c in sorted(CHANNELS)]
    as_json = subprocess.run([*marsad, "list", "--json", "--status", "delivered"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert len([json.loads(line) for line in as_json.stdout.splitlines()]) == 3

    broken = {**env, "MARSAD_ALERT_CHANNELS_FILE": str(tmp_path / "missing.json")}
    failed = subprocess.run([*marsad, "test"], env=broken, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2 and "configuration error" in failed.stderr


# --- the faust worker: the alert agent, its table and a SIGKILL restart -------------------------------

class Worker:
    """`marsad worker` in a subprocess, logging to a file."""

    def __init__(self, env: dict[str, str], cwd: Path, n: int) -> None:
        self.log = cwd / f"worker-{n}.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "processors.cli", "worker"], env=env, cwd=cwd,
                                     stdout=self.log.open("wb"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        deadline = clock.monotonic() + timeout_s
        while clock.monotonic() < deadline:
            assert self.proc.poll() is None, self.tail()
            if "Ready" in self.log.read_text(errors="replace"):
                return
            clock.sleep(0.2)
        raise AssertionError(f"worker not ready after {timeout_s} s\n{self.tail()}")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _wait_for(predicate: Any, what: str, worker: Worker, timeout_s: float = 60.0) -> None:
    deadline = clock.monotonic() + timeout_s
    while not predicate():
        assert clock.monotonic() < deadline, f"timed out waiting for {what}\n{worker.tail()}"
        clock.sleep(0.1)


def test_alerts_worker_sends_once_across_a_killed_worker(settings: Settings, receiver: Receiver, smtp: Smtp,
                                                         local_stack: Any, tmp_path: Path) -> None:
    from kafka import KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient

    channels_file = tmp_path / "channels.json"
    channels_file.write_text(json.dumps({"channels": [
        {"name": "hook", "type": "webhook", "url": f"{receiver.url}/hook", "retry": {"backoff_s": 0.05}},
        {"name": "slack", "type": "slack", "url": f"{receiver.url}/slack", "retry": {"backoff_s": 0.05}},
        {"name": "mail", "type": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "none",
         "from": "alerts@marsad.test", "to": ["team@marsad.test"], "retry": {"backoff_s": 0.05}}]}))
    group = f"w-{settings.topic_prefix}"
    env = {**os.environ, **local_stack.env(), "MARSAD_TOPIC_PREFIX": settings.topic_prefix,
           "MARSAD_INDEX_PREFIX": settings.index_prefix, "MARSAD_WORKER_ID": group,
           "MARSAD_CONSUMER_SESSION_TIMEOUT_S": "6", "MARSAD_FAUST_WEB_PORT": "0",
           "MARSAD_EXTRACT_PROCESSES": "0", "MARSAD_ALERT_CHANNELS_FILE": str(channels_file)}
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)

    def publish(*stories: Story) -> list[tuple[int, int]]:
        sent = [producer.send(settings.topics["stories"], key=s.story_id.encode(), value=s.to_json())
                for s in stories]
        producer.flush()
        return [(m.partition, m.offset) for m in (f.get(10) for f in sent)]

    def committed_past(positions: list[tuple[int, int]]) -> bool:
        # The agent commits a story's offset only after its alerts were claimed, sent and recorded.
        topic = settings.topics["stories"]
        offsets = admin.list_group_offsets({group: [TopicPartition(topic, p) for p, _ in positions]})[group]
        return all(offsets.get(TopicPartition(topic, p)) is not None
                   and offsets[TopicPartition(topic, p)].offset > o for p, o in positions)

    def delivered(n: int) -> bool:
        return counts(receiver, smtp) == {"hook": n, "slack": n, "mail": n}

    story = agreement_story("agreement_signed:2015-W45:worker")
    worker = Worker(env, tmp_path, 1)
    try:
        worker.wait_ready()
        publish(story)
        _wait_for(lambda: delivered(1), "the first alert on each channel", worker)
        _wait_for(lambda: {d["status"] for d in stored(settings)} == {"delivered"}, "the records", worker)
        # SIGKILL once the deliveries are recorded: no graceful commit, maybe no changelog flush.
        # (Killed between a channel's 200 and the record, the alert would stay pending and be sent
        # again by the sweep after its lease: docs/alerts.md, "the one remaining window".)
        worker.kill()

        worker = Worker(env, tmp_path, 2)
        worker.wait_ready()
        # The same story again, a second outlet's copy, and a new story that must get through.
        copy = agreement_story(story.story_id, sources=["arabi21.com", "alquds.co.uk"], mention_count=2)
        positions = publish(story, copy, agreement_story("agreement_signed:2015-W45:other"))
        _wait_for(lambda: delivered(2), "the new story's alerts", worker)
        _wait_for(lambda: committed_past(positions), "the worker to commit every story", worker)
    finally:
        worker.kill()
        producer.close()
        admin.close()
    story_ids = [b["alert"]["story_id"] for b in receiver.bodies("/hook")]
    assert story_ids == [story.story_id, "agreement_signed:2015-W45:other"]
    assert delivered(2)
    assert sorted((d["story_id"], d["status"]) for d in stored(settings)) == sorted(
        [(story.story_id, "delivered")] * 3 + [("agreement_signed:2015-W45:other", "delivered")] * 3)
