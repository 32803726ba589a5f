"""`marsad setup` against the real local search server, and a loopback Kibana API for the Kibana half.

What is checked on the server itself: templates, indices and aliases exist after the first run; the
second run prints "nothing changed" and leaves every template digest, index uuid and alias as it was;
documents built from the schema models index, an unknown field is refused (strict mappings); the
dashboards' aggregations return the buckets computed independently from the same records.

No Kibana runs on these machines, so the Kibana half talks to a small HTTP server on loopback that
implements the five endpoints setup calls the way Kibana 8.x does (kbn-xsrf required, basic auth,
multipart import with reference checks, rule create/update schemas). Checks that need a real
Elasticsearch (ILM, the arabic analyzer, the ingest pipeline) run only when ELASTICSEARCH_URL is set.
"""

from __future__ import annotations

import base64
import copy
import email.parser
import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from processors.index import ProcessedArticle, to_document
from processors.schemas import Alert, Article, Event, Evidence, Location, Participant, Story
from processors.search import connect, index_name
from processors.settings import Secret, Settings, load_settings
from processors.setup import KINDS, SetupReport, apply
from processors.setup_plan import load_deploy, plan
from processors.stack import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
REJECTIONS = ("strict_dynamic_mapping_exception", "document_parsing_exception", "mapper_parsing_exception")
PASSWORD = "s3cret-Pa55word-do-not-print"
NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)


# --- helpers ----------------------------------------------------------------------------------------------

def closed_url() -> str:
    """Return a loopback URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


def settings_env(settings: Settings) -> dict[str, str]:
    """Return the MARSAD_* environment that load_settings() turns back into `settings`."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    for name, value in vars(settings).items():
        env[f"MARSAD_{name.upper()}"] = value.reveal() if isinstance(value, Secret) else str(value)
    return env


def run_setup(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `marsad setup` in a subprocess, as compose and the k8s Job do."""
    return subprocess.run([sys.executable, "-m", "processors.cli", "setup", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env=settings_env(settings))


def lines(output: str, action: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.strip().startswith(action + " ")]


def snapshot(client: Elasticsearch, prefix: str) -> dict[str, Any]:
    """Return what setup controls on the server: template bodies, indices (uuid, mapping), aliases."""
    components = client.cluster.get_component_template(name=f"{prefix}-*").body["component_templates"]
    templates = client.indices.get_index_template(name=f"{prefix}-*").body["index_templates"]
    indices = client.indices.get(index=f"{prefix}-*").body
    return {
        "components": {c["name"]: c["component_template"] for c in components},
        "templates": {t["name"]: t["index_template"] for t in templates},
        "indices": {name: (body["settings"]["index"]["uuid"], body["mappings"], body["aliases"])
                    for name, body in indices.items()},
    }


def participant(canonical: str, role: str, ar: str) -> Participant:
    return Participant(name=ar, canonical=canonical, kind="country", role=role, name_en=canonical, name_ar=ar)


def evidence(sentence: str) -> Evidence:
    return Evidence(sentence=sentence, start=0, end=len(sentence), trigger=sentence.split()[0])


def make_event(n: int, event_type: str, people: list[Participant], attributes: dict[str, Any],
               language: str, at: datetime, realis: str = "actual") -> Event:
    return Event(event_id=f"ev-{n}", article_id=f"art-{n}", event_type=event_type, realis=realis,  # type: ignore[arg-type]
                 participants=people, attributes=attributes,
                 location=Location(name="Riyadh", country="SA", lat=24.7 + n / 100, lon=46.7),
                 event_date=at.date().isoformat(), evidence=evidence(f"signed attacked struck {n}"),
                 confidence=0.8, cameo="057", plover="AGREE", language=language, title=f"title {n}",  # type: ignore[arg-type]
                 url=f"https://example.org/{n}", source="example.org", published_at=at, extracted_at=at)


def make_story(event: Event, mentions: int = 1) -> Story:
    return Story(story_id=f"story-{event.event_id}", event_type=event.event_type, realis=event.realis,
                 participants=event.participants,
                 participant_ids=sorted({p.canonical for p in event.participants}),
                 attributes=event.attributes, location=event.location, event_date=event.event_date,
                 first_seen=event.extracted_at, last_seen=event.extracted_at, mention_count=mentions,
                 article_ids=[event.article_id], event_ids=[event.event_id], sources=["example.org"],
                 languages=[event.language], best_evidence=event.evidence, best_article_id=event.article_id,
                 best_url=event.url, title=event.title, confidence=event.confidence, cameo=event.cameo,
                 plover=event.plover)


SA, EG, IL, IR = (participant("Saudi Arabia", "signatory", "السعودية"), participant("Egypt", "signatory", "مصر"),
                  participant("Israel", "actor", "إسرائيل"), participant("Iran", "target", "إيران"))
APT = Participant(name="APT28", canonical="APT28", kind="group", role="attacker")
BANK = Participant(name="Bank", canonical="Bank of X", kind="company", role="target")


def corpus() -> list[Event]:
    """Seven events over two hours, both languages, every event type and attribute."""
    return [
        make_event(1, "agreement_signed", [SA, EG], {"security": True}, "ar", NOW),
        make_event(2, "agreement_signed", [SA, EG], {"security": False}, "en", NOW + timedelta(minutes=20)),
        make_event(3, "agreement_signed", [EG], {"security": True}, "en", NOW + timedelta(minutes=70),
                   realis="planned"),
        make_event(4, "cyberattack", [APT, BANK], {"method": "ransomware"}, "en", NOW + timedelta(minutes=5)),
        make_event(5, "cyberattack", [APT, BANK.model_copy(update={"canonical": "Ministry"})], {"method": "ddos"}, "ar",
                   NOW + timedelta(minutes=65)),
        make_event(6, "military_operation", [IL, IR], {"kind": "air_strike"}, "ar", NOW + timedelta(minutes=10)),
        make_event(7, "military_operation", [IL, IR], {"kind": "drone_strike"}, "en", NOW + timedelta(minutes=80)),
    ]


def index_all(client: Elasticsearch, settings: Settings, events: list[Event]) -> None:
    for event in events:
        client.index(index=index_name(settings, "events"), id=event.event_id, document=to_document(event))
        story_doc = to_document(make_story(event))
        story_doc["indexed_at"] = NOW.isoformat()  # the ingest pipeline's job on real Elasticsearch
        client.index(index=index_name(settings, "stories"), id=f"story-{event.event_id}", document=story_doc)
    client.indices.refresh(index=[index_name(settings, k) for k in ("events", "stories")])


@pytest.fixture
def settings(local_stack: Any) -> Settings:
    return local_stack.settings(kibana_url=closed_url())


@pytest.fixture
def ready(settings: Settings) -> tuple[Settings, Elasticsearch]:
    report = apply(settings, kibana=False)
    assert report.ok, report.render()
    return settings, connect(settings)


# --- setup itself -------------------------------------------------------------------------------------------

def test_setup_creates_everything_then_changes_nothing(settings: Settings) -> None:
    prefix = settings.index_prefix
    first = run_setup(settings)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "osmem-server" in out.splitlines()[0] and "local stand-in" in out.splitlines()[0]
    for kind in KINDS:
        assert f"created      index {prefix}-{kind}-000001 — behind write alias {prefix}-{kind}" in out
        assert f"created      index template {prefix}-{kind}" in out
    assert any(f"ILM policy {prefix}-rollover — the stand-in has no _ilm API" in line
               for line in lines(out, "skipped"))
    assert any("ingest pipeline" in line for line in lines(out, "skipped"))
    assert any(line.startswith("substituted  analyzer arabic — replaced by standard")
               for line in lines(out, "substituted"))
    assert any("Kibana at" in line and "not reachable" in line for line in lines(out, "skipped"))
    assert "changed the cluster" in out.splitlines()[-1]

    client = connect(settings)
    before = snapshot(client, prefix)
    for kind in KINDS:
        alias = index_name(settings, kind)
        assert client.indices.get_alias(name=alias).body == {
            f"{alias}-000001": {"aliases": {alias: {"is_write_index": True}}}}
    planned = plan(load_deploy(DEPLOY), prefix, standin=True)
    installed = [r for r in planned if r.body is not None]
    assert set(before["components"]) == {r.name for r in installed if r.kind == "component template"}
    assert set(before["templates"]) == {r.name for r in installed if r.kind == "index template"}

    second = run_setup(settings)
    assert second.returncode == 0, second.stdout + second.stderr
    assert not lines(second.stdout, "created") and not lines(second.stdout, "updated")
    assert len(lines(second.stdout, "unchanged")) == len(installed) + len(KINDS)
    assert second.stdout.splitlines()[-1].startswith("marsad setup: nothing changed")
    assert snapshot(client, prefix) == before


def test_setup_exit_code_follows_require_kibana(settings: Settings) -> None:
    assert run_setup(settings).returncode == 0
    required = run_setup(settings, "--require-kibana")
    assert required.returncode == 1
    assert "not reachable" in required.stdout


def test_setup_refuses_a_server_it_does_not_expect(local_stack: Any) -> None:
    wrong = local_stack.settings(elasticsearch_flavour="elasticsearch", kibana_url=closed_url())
    result = run_setup(wrong)
    assert result.returncode == 1
    assert "set MARSAD_ELASTICSEARCH_FLAVOUR=osmem" in result.stdout
    nobody = local_stack.settings(elasticsearch_url=closed_url())
    report = apply(nobody, kibana=False)
    assert not report.ok and "did not answer" in report.steps[0].detail


def test_setup_refuses_an_index_written_before_it(settings: Settings) -> None:
    client = connect(settings)
    alias = index_name(settings, "alerts")
    client.indices.create(index=alias)  # what a writer auto-creating the index would leave behind
    report = apply(settings, kibana=False)
    assert not report.ok
    failed = [s for s in report.steps if s.action == "failed"]
    assert failed and failed[0].target == f"alias {alias}" and "concrete index" in failed[0].detail


# --- documents and strictness ------------------------------------------------------------------------------

def test_setup_indices_accept_every_record_kind(ready: tuple[Settings, Elasticsearch]) -> None:
    settings, client = ready
    event = corpus()[0]
    story = make_story(event, mentions=3)
    article = ProcessedArticle(Article(id="art-1", text="وقعت السعودية ومصر اتفاقية أمنية", title="اتفاقية",
                                       language="ar", url="https://example.org/1", source="example.org",
                                       published_at=NOW, fetched_at=NOW, near_duplicate_of="art-0"),
                               event_count=1, processed_at=NOW)
    alert = Alert(alert_id="al-1", story_id=story.story_id, rule="security-agreements", channel="email",
                  last_error="smtp timeout", delivered_at=NOW)
    for record, kind in ((event, "events"), (story, "stories"), (article, "articles"), (alert, "alerts")):
        result = client.index(index=index_name(settings, kind), id=f"{kind}-1", document=to_document(record))
        assert result["result"] == "created", kind
    client.indices.refresh(index=[index_name(settings, k) for k in KINDS])
    stored = client.get(index=index_name(settings, "events"), id="events-1")["_source"]
    assert stored["location"]["point"] == {"lat": 24.71, "lon": 46.7}
    hits = client.search(index=index_name(settings, "stories"), query={"nested": {
        "path": "participants", "query": {"bool": {"filter": [
            {"term": {"participants.canonical": "Egypt"}}, {"term": {"participants.role": "signatory"}}]}}}})
    assert hits["hits"]["total"]["value"] == 1


@pytest.mark.parametrize(("kind", "change"), [
    ("events", lambda d: d.update(unknown_field="x")),
    ("events", lambda d: d["attributes"].update(target="x")),
    ("stories", lambda d: d["participants"][0].update(country="SA")),
    ("stories", lambda d: d["location"].update(city="Riyadh")),
    ("stories", lambda d: d["best_evidence"].update(score=1)),
])
def test_setup_indices_refuse_unknown_fields(ready: tuple[Settings, Elasticsearch], kind: str,
                                             change: Any) -> None:
    settings, client = ready
    event = corpus()[0]
    doc = to_document(event if kind == "events" else make_story(event))
    change(doc)
    with pytest.raises(BadRequestError) as caught:
        client.index(index=index_name(settings, kind), id="bad", document=doc)
    assert caught.value.error in REJECTIONS


# --- the dashboards' queries, as Kibana sends them ----------------------------------------------------------

def _buckets(agg: dict[str, Any]) -> dict[Any, int]:
    return {b.get("key_as_string", b["key"]): b["doc_count"] for b in agg["buckets"]}


def test_setup_dashboard_aggregations_return_expected_buckets(ready: tuple[Settings, Elasticsearch]) -> None:
    settings, client = ready
    events = corpus()
    index_all(client, settings, events)
    window = {"range": {"@timestamp": {"gte": (NOW - timedelta(hours=1)).isoformat(),
                                       "lte": (NOW + timedelta(hours=3)).isoformat(),
                                       "format": "strict_date_optional_time"}}}

    # Events over time by type: date histogram on @timestamp, terms on event_type inside.
    body = client.search(index=index_name(settings, "events"), size=0, query={"bool": {"filter": [window]}},
                         aggs={"time": {"date_histogram": {"field": "@timestamp", "fixed_interval": "1h",
                                                           "time_zone": "UTC", "min_doc_count": 1},
                                        "aggs": {"type": {"terms": {"field": "event_type", "size": 3}}}}})
    got = {b["key_as_string"][:13]: _buckets(b["type"]) for b in body["aggregations"]["time"]["buckets"]}
    expected: dict[str, dict[str, int]] = {}
    for e in events:
        hour = expected.setdefault(e.extracted_at.strftime("%Y-%m-%dT%H"), {})
        hour[e.event_type] = hour.get(e.event_type, 0) + 1
    assert got == expected

    # Top participants by type: terms on event_type, then on the flat participant_ids.
    body = client.search(index=index_name(settings, "stories"), size=0, aggs={"type": {
        "terms": {"field": "event_type", "size": 3},
        "aggs": {"who": {"terms": {"field": "participant_ids", "size": 10}}}}})
    got_people = {b["key"]: _buckets(b["who"]) for b in body["aggregations"]["type"]["buckets"]}
    want_people: dict[str, dict[str, int]] = {}
    for e in events:
        for p in {p.canonical for p in e.participants}:
            counts = want_people.setdefault(e.event_type, {})
            counts[p] = counts.get(p, 0) + 1
    assert got_people == want_people

    # Cyberattacks: KQL `event_type : "cyberattack"` (match_phrase), targets then methods.
    body = client.search(index=index_name(settings, "stories"), size=0,
                         query={"bool": {"filter": [{"match_phrase": {"event_type": "cyberattack"}}]}},
                         aggs={"target": {"terms": {"field": "target_ids"},
                                          "aggs": {"method": {"terms": {"field": "attributes.method"}}}}})
    assert {b["key"]: _buckets(b["method"]) for b in body["aggregations"]["target"]["buckets"]} == \
        {"Bank of X": {"ransomware": 1}, "Ministry": {"ddos": 1}}

    # Agreements: the Lens `filters` split on attributes.security.
    body = client.search(index=index_name(settings, "stories"), size=0,
                         query={"bool": {"filter": [{"match_phrase": {"event_type": "agreement_signed"}}]}},
                         aggs={"security": {"filters": {"filters": {
                             "security": {"bool": {"filter": [{"term": {"attributes.security": True}}]}},
                             "other": {"bool": {"must_not": [{"term": {"attributes.security": True}}]}}}}}})
    assert {k: v["doc_count"] for k, v in body["aggregations"]["security"]["buckets"].items()} == \
        {"security": 2, "other": 1}

    # The language control: one phrase filter on `language` narrows events and stories alike.
    for kind in ("events", "stories"):
        body = client.search(index=index_name(settings, kind), size=0,
                             query={"bool": {"filter": [{"match_phrase": {"language": "ar"}}]}},
                             aggs={"options": {"terms": {"field": "language"}}})
        assert body["hits"]["total"]["value"] == sum(e.language == "ar" for e in events), kind

    # The map: documents with a point inside the viewport.
    body = client.search(index=index_name(settings, "stories"), size=100, query={"geo_bounding_box": {
        "location.point": {"top_left": {"lat": 30, "lon": 40}, "bottom_right": {"lat": 20, "lon": 50}}}})
    assert body["hits"]["total"]["value"] == len(events)


def test_setup_alert_rule_query_selects_new_security_agreements(ready: tuple[Settings, Elasticsearch]) -> None:
    settings, client = ready
    index_all(client, settings, corpus())
    from processors.setup_kibana import alert_rule

    _, rule = alert_rule(DEPLOY, settings.index_prefix)
    params = rule["params"]
    window = {"range": {params["timeField"]: {"gte": (NOW - timedelta(minutes=5)).isoformat(),
                                              "lte": NOW.isoformat()}}}
    query = json.loads(params["esQuery"])["query"]
    body = client.search(index=params["index"], size=params["size"],
                         query={"bool": {"filter": [query, window]}},
                         aggs={"groups": {"terms": {"field": params["termField"], "size": params["termSize"]}}})
    assert _buckets(body["aggregations"]["groups"]) == {"story-ev-1": 1}, "actual + security only"


# --- Kibana ---------------------------------------------------------------------------------------------------

@dataclass
class KibanaStandIn:
    """The Kibana API endpoints setup calls, answering as Kibana 8.x does (see module docstring)."""

    auth: str
    connectors: set[str] = field(default_factory=lambda: {"marsad-server-log"})
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        self.requests.append((method, path, headers, body))
        if headers.get("authorization") != self.auth:
            return 401, {"statusCode": 401, "error": "Unauthorized"}
        if method != "GET" and "kbn-xsrf" not in headers:
            return 400, {"statusCode": 400, "message": 'Request must contain a kbn-xsrf header.'}
        if path == "/api/status":
            return 200, {"status": {"overall": {"level": "available"}}}
        if path == "/api/saved_objects/_bulk_get":
            return 200, {"saved_objects": [self.objects.get((o["type"], o["id"]), {
                **o, "error": {"statusCode": 404, "error": "Not Found"}}) for o in json.loads(body)]}
        if path == "/api/saved_objects/_import?overwrite=true":
            return self._import(headers["content-type"], body)
        if path.startswith("/api/actions/connector/"):
            found = path.rsplit("/", 1)[1] in self.connectors
            return (200, {"id": path.rsplit("/", 1)[1]}) if found else (404, {"statusCode": 404})
        if path.startswith("/api/alerting/rule/"):
            return self._rule(method, path.rsplit("/", 1)[1], json.loads(body) if body else None)
        return 404, {"statusCode": 404, "message": "Not Found"}

    def _import(self, content_type: str, body: bytes) -> tuple[int, Any]:
        message = email.parser.BytesParser().parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        parts = {p.get_param("name", header="content-disposition"): p for p in message.get_payload()}
        upload = parts["file"]
        if not upload.get_filename("").endswith(".ndjson"):
            return 415, {"statusCode": 415, "message": "Unsupported file extension"}
        objects = [json.loads(line) for line in upload.get_payload(decode=True).decode().splitlines() if line]
        known = set(self.objects) | {(o["type"], o["id"]) for o in objects}
        errors = [{"id": o["id"], "type": o["type"], "error": {"type": "missing_references", "references": [
            r for r in o["references"] if (r["type"], r["id"]) not in known]}}
            for o in objects if any((r["type"], r["id"]) not in known for r in o["references"])]
        if errors:
            return 200, {"success": False, "successCount": 0, "errors": errors}
        for o in objects:
            self.objects[(o["type"], o["id"])] = o
        return 200, {"success": True, "successCount": len(objects),
                     "successResults": [{"type": o["type"], "id": o["id"]} for o in objects]}

    def _rule(self, method: str, rule_id: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        if method == "GET":
            return (200, self.rules[rule_id]) if rule_id in self.rules else (404, {"statusCode": 404})
        assert body is not None
        allowed = {"name", "tags", "schedule", "params", "actions", "notify_when", "throttle"}
        if method == "POST":
            allowed |= {"rule_type_id", "consumer", "enabled"}
            if rule_id in self.rules:
                return 409, {"statusCode": 409}
        if set(body) - allowed:
            return 400, {"statusCode": 400, "message": f"definition for {sorted(set(body) - allowed)} not expected"}
        stored = copy.deepcopy(self.rules.get(rule_id, {"id": rule_id, "enabled": True}) | body)
        stored["params"].setdefault("sourceFields", [])  # a default Kibana adds
        stored["actions"] = [dict(a, uuid=str(uuid.uuid4()), connector_type_id=".server-log")
                             for a in stored["actions"]]
        self.rules[rule_id] = stored
        return 200, stored


@pytest.fixture
def kibana() -> Iterator[tuple[str, KibanaStandIn]]:
    auth = "Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
    standin = KibanaStandIn(auth=auth)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            status, answer = standin.answer(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                            self.rfile.read(length))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", standin
    server.shutdown()
    server.server_close()


def test_setup_installs_kibana_objects_and_rule_once(local_stack: Any,
                                                      kibana: tuple[str, KibanaStandIn]) -> None:
    url, standin = kibana
    settings = local_stack.settings(kibana_url=url, elasticsearch_username="elastic",
                                    elasticsearch_password=Secret(PASSWORD))
    first = run_setup(settings, "--require-kibana")
    assert first.returncode == 0, first.stdout + first.stderr
    assert any(line.startswith("created      Kibana saved objects (12)") for line in lines(first.stdout, "created"))
    assert "created      Kibana alert rule marsad-new-security-agreement" in first.stdout
    titles = {o["attributes"]["title"] for (t, _), o in standin.objects.items() if t == "index-pattern"}
    assert titles == {f"{settings.index_prefix}-events", f"{settings.index_prefix}-stories"}
    rule = standin.rules["marsad-new-security-agreement"]
    assert rule["params"]["index"] == [f"{settings.index_prefix}-stories"]
    assert [a["id"] for a in rule["actions"]] == ["marsad-server-log"]
    imports = [r for r in standin.requests if r[1].startswith("/api/saved_objects/_import")]
    assert len(imports) == 1 and imports[0][2]["content-type"].startswith("multipart/form-data")

    second = run_setup(settings, "--require-kibana")
    assert second.returncode == 0
    assert "unchanged    Kibana saved objects (12)" in second.stdout
    assert "unchanged    Kibana alert rule marsad-new-security-agreement" in second.stdout
    assert len([r for r in standin.requests if r[1].startswith("/api/saved_objects/_import")]) == 1
    assert not [r for r in standin.requests if r[0] == "PUT"]

    # Someone edits the rule in Kibana: setup puts the file's version back, with the update schema.
    standin.rules["marsad-new-security-agreement"]["params"]["timeWindowSize"] = 60
    third = run_setup(settings)
    assert "updated      Kibana alert rule marsad-new-security-agreement — params changed" in third.stdout
    assert standin.rules["marsad-new-security-agreement"]["params"]["timeWindowSize"] == 5

    for result in (first, second, third):
        assert PASSWORD not in result.stdout + result.stderr


def test_setup_drops_actions_whose_connector_is_missing(local_stack: Any,
                                                         kibana: tuple[str, KibanaStandIn]) -> None:
    url, standin = kibana
    standin.connectors.clear()
    settings = local_stack.settings(kibana_url=url, elasticsearch_username="elastic",
                                    elasticsearch_password=Secret(PASSWORD))
    report = apply(settings)
    assert report.ok, report.render()
    assert any(s.action == "skipped" and s.target == "Kibana connector marsad-server-log" for s in report.steps)
    assert standin.rules["marsad-new-security-agreement"]["actions"] == []


def test_setup_reports_rejected_kibana_credentials(local_stack: Any, kibana: tuple[str, KibanaStandIn]) -> None:
    url, _ = kibana
    settings = local_stack.settings(kibana_url=url, elasticsearch_username="elastic",
                                    elasticsearch_password=Secret("wrong-" + PASSWORD))
    result = run_setup(settings)
    assert result.returncode == 0, "a Kibana problem alone does not fail setup"
    assert "failed       Kibana at" in result.stdout and "HTTP 401" in result.stdout
    required = run_setup(settings, "--require-kibana")
    assert required.returncode == 1
    assert PASSWORD not in result.stdout + result.stderr + required.stdout + required.stderr


def test_setup_never_prints_credentials_in_urls(local_stack: Any) -> None:
    url = local_stack.elasticsearch_url.replace("http://", f"http://elastic:{PASSWORD}@")
    settings = local_stack.settings(elasticsearch_url=url, kibana_url=closed_url().replace(
        "http://", f"http://elastic:{PASSWORD}@"))
    result = run_setup(settings)
    assert PASSWORD not in result.stdout + result.stderr
    assert "osmem-server at http://127.0.0.1:" in result.stdout


# --- mapping changes: --migrate ------------------------------------------------------------------------------

def test_setup_migrate_rolls_appends_and_reindexes_updates(ready: tuple[Settings, Elasticsearch],
                                                           tmp_path: Path) -> None:
    settings, client = ready
    index_all(client, settings, corpus())
    changed = tmp_path / "deploy"
    shutil.copytree(DEPLOY, changed)
    for name in ("component-events-mappings.json", "component-stories-mappings.json"):
        path = changed / "elasticsearch" / name
        body = json.loads(path.read_text())
        body["version"] = 2
        body["template"]["mappings"]["properties"]["review_note"] = {"type": "keyword"}
        path.write_text(json.dumps(body))

    pending = apply(settings, deploy_dir=changed, kibana=False)
    assert not pending.ok
    outdated = {s.target for s in pending.steps if s.action == "outdated"}
    assert outdated == {f"alias {index_name(settings, k)}" for k in ("events", "stories")}
    assert any(s.action == "updated" and "version 1 → version 2" in s.detail for s in pending.steps)

    migrated = apply(settings, deploy_dir=changed, migrate=True, kibana=False)
    assert migrated.ok, migrated.render()
    events, stories = index_name(settings, "events"), index_name(settings, "stories")
    assert client.indices.get_alias(name=events).body == {
        f"{events}-000001": {"aliases": {events: {"is_write_index": False}}},
        f"{events}-000002": {"aliases": {events: {"is_write_index": True}}}}
    assert client.indices.get_alias(name=stories).body == {
        f"{stories}-000002": {"aliases": {stories: {"is_write_index": True}}}}
    client.indices.refresh(index=[events, stories])
    assert client.count(index=stories)["count"] == len(corpus()), "every story survives the reindex"
    doc = to_document(make_story(corpus()[0])) | {"review_note": "checked"}
    assert client.index(index=stories, id="story-ev-1", document=doc)["result"] == "updated"

    settled = apply(settings, deploy_dir=changed, kibana=False)
    assert settled.ok and not settled.changed, settled.render()


def test_setup_report_renders_every_step() -> None:
    report = SetupReport(server="test server")
    report.add("created", "index x-000001", "behind write alias x")
    report.add("skipped", "Kibana at http://k", "not reachable")
    text = report.render()
    assert text.splitlines() == [
        "marsad setup: test server",
        "  created      index x-000001 — behind write alias x",
        "  skipped      Kibana at http://k — not reachable",
        "marsad setup: changed the cluster (1 created, 0 unchanged, 1 skipped)"]
    assert report.ok and not report.kibana_ok


# --- real Elasticsearch only ----------------------------------------------------------------------------------

@pytest.fixture
def real_es() -> Iterator[tuple[Settings, Elasticsearch]]:
    url = os.environ.get("ELASTICSEARCH_URL")
    if not url:
        pytest.skip("ELASTICSEARCH_URL is not set: real-Elasticsearch checks need a real cluster")
    base = load_settings()
    settings = replace(base, elasticsearch_url=url, elasticsearch_flavour="elasticsearch",
                       index_prefix=f"t{uuid.uuid4().hex[:10]}", kibana_url=closed_url())
    client = connect(settings)
    yield settings, client
    client.indices.delete(index=f"{settings.index_prefix}-*", ignore_unavailable=True)
    for template in ("index_template", "component_template"):
        getattr(client.indices if template == "index_template" else client.cluster,
                f"delete_{template}")(name=f"{settings.index_prefix}-*", ignore=[404])
    client.ilm.delete_lifecycle(name=f"{settings.index_prefix}-rollover", ignore=[404])
    client.ingest.delete_pipeline(id=f"{settings.index_prefix}-indexed-at", ignore=[404])


@pytest.mark.real_elasticsearch
def test_setup_on_elasticsearch_applies_ilm_analyzers_and_pipeline(real_es: tuple[Settings, Elasticsearch]) -> None:
    settings, client = real_es
    report = apply(settings, kibana=False)
    assert report.ok, report.render()
    assert not any(s.action in ("skipped", "substituted") for s in report.steps if "Kibana" not in s.target)
    events = index_name(settings, "events")
    index_settings = client.indices.get_settings(index=f"{events}-000001").body[f"{events}-000001"]["settings"]
    assert index_settings["index"]["lifecycle"] == {"name": f"{settings.index_prefix}-rollover",
                                                    "rollover_alias": events}
    tokens = client.indices.analyze(index=f"{events}-000001", field="title.ar", text="الاتفاقيات الأمنية")
    assert [t["token"] for t in tokens["tokens"]] != ["الاتفاقيات", "الأمنية"], "the arabic analyzer stems"
    client.index(index=index_name(settings, "stories"), id="s1", document=to_document(make_story(corpus()[0])),
                 refresh=True)
    stored = client.get(index=index_name(settings, "stories"), id="s1")["_source"]
    assert "indexed_at" in stored, "the ingest pipeline stamps indexed_at"
    assert not apply(settings, kibana=False).changed
