"""deploy/elasticsearch: the index templates map every field the records carry, strictly.

The mappings are read from the JSON files through `processors.setup.plan` (what `marsad setup`
sends), then checked against the pydantic models of processors/schemas.py and against documents
built by hand the way processors/index.py builds them.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from processors import schemas
from processors.setup import KINDS
from processors.setup_plan import (
    DEFAULT_PREFIX,
    Resource,
    digest,
    effective_mapping,
    load_deploy,
    plan,
    prefixed,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ES_DIR = DEPLOY / "elasticsearch"
TEXT = {"text"}
KEYWORD = {"keyword"}
DATE = {"date"}
NUMBER = {"integer", "long", "float", "double", "scaled_float", "short"}


def _resources(standin: bool = False, prefix: str = DEFAULT_PREFIX) -> list[Resource]:
    return plan(load_deploy(DEPLOY), prefix, standin)


def mapping_of(kind: str, standin: bool = False) -> dict[str, Any]:
    """Return the mapping an index of `kind` gets from its index template."""
    return effective_mapping(_resources(standin), f"marsad-{kind}")


def field_at(mapping: dict[str, Any], path: str) -> dict[str, Any] | None:
    """Return the mapping of a dotted field path (objects and nested descended), or None."""
    node: dict[str, Any] = mapping
    for part in path.split("."):
        found = node.get("properties", {}).get(part)
        if found is None:
            return None
        node = found
    return node


def leaf_paths(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Return {dotted path: a sample value} for every leaf of a JSON document (lists flattened)."""
    if isinstance(doc, list):
        out: dict[str, Any] = {}
        for item in doc:
            out.update(leaf_paths(item, prefix))
        return out
    if isinstance(doc, dict) and not (set(doc) == {"lat", "lon"} and prefix.endswith("point")):
        out = {}
        for key, value in doc.items():
            out.update(leaf_paths(value, f"{prefix}.{key}" if prefix else key))
        return out
    return {prefix: doc}


def model_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Return the dotted paths of every field of a model, nested models descended."""
    paths = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        inner = [a for a in _flatten(info.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        if inner:
            paths |= model_paths(inner[0], path)
        else:
            paths.add(path)
    return paths


def _flatten(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (typing.Union, list):
        return [a for arg in args for a in _flatten(arg)]
    return [annotation]


def participants() -> list[schemas.Participant]:
    return [
        schemas.Participant(name="المملكة العربية السعودية", canonical="Saudi Arabia", kind="country",
                            role="signatory", name_en="Saudi Arabia", name_ar="المملكة العربية السعودية"),
        schemas.Participant(name="Egypt", canonical="Egypt", kind="country", role="signatory",
                            name_en="Egypt", name_ar="مصر"),
    ]


def sample_event() -> schemas.Event:
    """An event with every optional field set, as the engine could emit it."""
    return schemas.Event(
        event_id="ev-1", article_id="art-1", event_type="agreement_signed", realis="actual",
        participants=participants(), attributes={"security": True},
        location=schemas.Location(name="الرياض", country="SA", lat=24.71, lon=46.68),
        event_date="2026-03-05",
        evidence=schemas.Evidence(sentence="وقعت السعودية ومصر اتفاقية أمنية في الرياض", start=0, end=44,
                                  trigger="وقعت"),
        confidence=0.91, cameo="057", plover="AGREE", language="ar", title="اتفاقية أمنية",
        url="https://example.org/a/1", source="example.org",
        published_at=datetime(2026, 3, 5, 8, 0, tzinfo=UTC), extracted_at=datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
        near_duplicate_of="art-0", flags=["truncated"])


def sample_story() -> schemas.Story:
    event = sample_event()
    return schemas.Story(
        story_id="agreement_signed:2026-W10:abc", event_type="agreement_signed", realis="actual",
        participants=event.participants, participant_ids=["Egypt", "Saudi Arabia"],
        attributes={"security": True}, location=event.location, event_date="2026-03",
        first_seen=datetime(2026, 3, 5, 8, 0, tzinfo=UTC), last_seen=datetime(2026, 3, 6, 8, 0, tzinfo=UTC),
        mention_count=2, article_ids=["art-1", "art-2"], event_ids=["ev-1", "ev-2"],
        sources=["example.org"], languages=["ar", "en"], best_evidence=event.evidence,
        best_article_id="art-1", best_url="https://example.org/a/1", title="Security pact", confidence=0.91,
        cameo="057", plover="AGREE")


def document(record: schemas.Event | schemas.Story) -> dict[str, Any]:
    """The search document of the shared contract (brief): JSON form plus the derived flat fields."""
    doc = record.model_dump(mode="json", exclude_none=True)
    people = record.participants
    doc["participant_ids"] = [p.canonical for p in people]
    doc["participant_names"] = [p.name_en or p.name for p in people]
    doc["actor_ids"] = [p.canonical for p in people if p.role in ("signatory", "attacker", "actor")]
    doc["target_ids"] = [p.canonical for p in people if p.role == "target"]
    if record.location and record.location.lat is not None:
        doc["location"]["point"] = {"lat": record.location.lat, "lon": record.location.lon}
    stamp = record.extracted_at if isinstance(record, schemas.Event) else record.last_seen
    doc["@timestamp"] = stamp.isoformat()
    return doc


def _compatible(value: Any, field: dict[str, Any]) -> bool:
    kind = field.get("type", "object")
    if isinstance(value, bool):
        return kind == "boolean"
    if isinstance(value, int | float):
        return kind in NUMBER
    if isinstance(value, dict):  # only geo points stay dicts in leaf_paths
        return kind == "geo_point"
    if isinstance(value, str):
        return kind in KEYWORD | TEXT | DATE
    return False


# --- every field of the records is mapped, with a type that fits ------------------------------------

@pytest.mark.parametrize(("kind", "record"), [("events", sample_event()), ("stories", sample_story())])
def test_deploy_templates_map_every_document_field(kind: str, record: schemas.Record) -> None:
    mapping = mapping_of(kind)
    for path, value in leaf_paths(document(record)).items():  # type: ignore[arg-type]
        field = field_at(mapping, path)
        assert field is not None, f"{kind}: {path} is not mapped"
        assert _compatible(value, field), f"{kind}: {path}={value!r} does not fit {field.get('type')}"


@pytest.mark.parametrize(("kind", "model", "extra"), [
    ("events", schemas.Event, {"@timestamp", "participant_ids", "participant_names", "actor_ids",
                               "target_ids", "location.point"}),
    ("stories", schemas.Story, {"@timestamp", "participant_names", "actor_ids", "target_ids",
                                "location.point"}),
    ("alerts", schemas.Alert, set()),
    # An article's text is indexed in the field of its language.
    ("articles", schemas.Article, {"@timestamp", "event_count", "processed_at", "text_ar", "text_en"}),
])
def test_deploy_templates_map_every_model_field(kind: str, model: type[BaseModel], extra: set[str]) -> None:
    mapping = mapping_of(kind)
    routed = {"text"} if kind == "articles" else set()
    wanted = model_paths(model) - {"attributes"} - routed | extra
    if "attributes" in model.model_fields:
        wanted |= {"attributes.security", "attributes.method", "attributes.kind"}
    missing = sorted(p for p in wanted if field_at(mapping, p) is None)
    assert not missing, f"{kind} mapping lacks {missing}"


def test_deploy_templates_attributes_are_exactly_the_contract() -> None:
    for kind in ("events", "stories"):
        attributes = field_at(mapping_of(kind), "attributes")
        assert attributes is not None
        assert attributes["dynamic"] == "strict"
        assert {k: v["type"] for k, v in attributes["properties"].items()} == \
            {"security": "boolean", "method": "keyword", "kind": "keyword"}


@pytest.mark.parametrize("kind", ["events", "stories"])
def test_deploy_templates_participants_nested_and_flat(kind: str) -> None:
    mapping = mapping_of(kind)
    nested = field_at(mapping, "participants")
    assert nested is not None and nested["type"] == "nested"
    assert set(nested["properties"]) == {"name", "canonical", "kind", "role", "name_en", "name_ar"}
    for flat in ("participant_ids", "participant_names", "actor_ids", "target_ids", "event_type", "realis"):
        assert field_at(mapping, flat) == {"type": "keyword"} | ({"ignore_above": 1024}
                                                                 if flat == "participant_names" else {})
    point = field_at(mapping, "location.point")
    assert point == {"type": "geo_point"}


@pytest.mark.parametrize(("kind", "path"), [
    ("events", "title"), ("events", "evidence.sentence"), ("stories", "title"),
    ("stories", "best_evidence.sentence"), ("articles", "title"),
])
def test_deploy_templates_text_has_arabic_and_english(kind: str, path: str) -> None:
    field = field_at(mapping_of(kind), path)
    assert field is not None and field["type"] == "text"
    assert field["fields"]["ar"] == {"type": "text", "analyzer": "arabic"}
    assert field["fields"]["en"] == {"type": "text", "analyzer": "english"}


def test_deploy_templates_article_text_has_one_field_per_language() -> None:
    mapping = mapping_of("articles")
    assert field_at(mapping, "text") is None
    assert field_at(mapping, "text_ar") == {"type": "text", "analyzer": "arabic"}
    assert field_at(mapping, "text_en") == {"type": "text", "analyzer": "english"}


@pytest.mark.parametrize("kind", KINDS)
def test_deploy_templates_are_strict_everywhere(kind: str) -> None:
    mapping = mapping_of(kind)
    assert mapping["dynamic"] == "strict"

    def walk(node: dict[str, Any], path: str) -> None:
        for name, field in node.get("properties", {}).items():
            if "properties" in field:
                # Objects inherit `strict`; the ones we declare must not loosen it.
                assert field.get("dynamic", "strict") == "strict", f"{kind}: {path}{name} is not strict"
                walk(field, f"{path}{name}.")
    walk(mapping, "")


# --- the files themselves -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(ES_DIR.glob("*.json")), ids=lambda p: p.name)
def test_deploy_templates_files_are_versioned(path: Path) -> None:
    body = json.loads(path.read_text())
    if path.name == "standin.json":
        assert set(body["analyzers"]["arabic"]) == {"replace_with", "reason"}
        return
    meta = body["policy"]["_meta"] if path.name.startswith("ilm-policy-") else body["_meta"]
    version = meta["version"] if path.name.startswith("ilm-policy-") else body["version"]
    assert isinstance(version, int) and version >= 1
    assert meta["managed_by"] == "marsad"


def test_deploy_templates_index_templates_compose_existing_components() -> None:
    files = load_deploy(DEPLOY)
    components = {f"marsad-{name}" for name in files["component"]}
    assert set(files["index_template"]) == set(KINDS)
    for kind, body in files["index_template"].items():
        assert body["index_patterns"] == [f"marsad-{kind}-*"], "the alias itself must not match"
        assert set(body["composed_of"]) <= components
        assert body["template"]["mappings"]["_meta"]["kind"] == kind
        assert "aliases" not in body["template"], "aliases belong to the bootstrap index, not every rollover"


def test_deploy_templates_only_append_only_kinds_roll_over() -> None:
    files = load_deploy(DEPLOY)
    for kind, body in files["index_template"].items():
        rolls = f"marsad-{kind}-lifecycle" in body["composed_of"]
        assert rolls == (kind in ("events", "articles")), kind
        if rolls:
            lifecycle = files["component"][f"{kind}-lifecycle"]["template"]["settings"]["index"]["lifecycle"]
            assert lifecycle == {"name": "marsad-rollover", "rollover_alias": f"marsad-{kind}"}


# --- what setup sends: prefixes, the stand-in, digests -------------------------------------------------

def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("standin", [False, True])
def test_deploy_templates_plan_applies_the_prefix(standin: bool) -> None:
    resources = _resources(standin, prefix="acme")
    assert all(r.name.startswith("acme-") for r in resources if r.kind not in ("analyzer",))
    for r in resources:
        if r.body is None:
            continue
        body = {k: v for k, v in r.body.items() if k != "_meta"}
        leftovers = [s for s in _strings(body) if s.startswith("marsad-")]
        assert not leftovers, f"{r.name} still names {leftovers}"
    events = next(r for r in resources if r.name == "acme-events").body
    assert events is not None and events["index_patterns"] == ["acme-events-*"]
    assert prefixed("marsad-events", "acme") == "acme-events" and prefixed("marsad_x", "acme") == "marsad_x"


def test_deploy_templates_plan_for_the_standin_drops_what_it_lacks() -> None:
    resources = _resources(standin=True)
    sent = json.dumps([r.body for r in resources if r.body is not None])
    for lacking in ('"lifecycle"', '"default_pipeline"', '"analyzer": "arabic"'):
        assert lacking not in sent
    skipped = {r.name for r in resources if r.body is None and not r.substituted}
    assert {"marsad-rollover", "marsad-indexed-at", "marsad-events-lifecycle"} <= skipped
    substituted = [r for r in resources if r.substituted]
    assert [r.name for r in substituted] == ["arabic"] and "standard" in substituted[0].note
    stories = next(r for r in resources if r.name == "marsad-stories").body
    assert stories is not None and "marsad-indexed-at" not in stories["composed_of"]


def test_deploy_templates_plan_for_elasticsearch_keeps_everything() -> None:
    resources = _resources(standin=False)
    assert all(r.body is not None for r in resources)
    events = next(r for r in resources if r.name == "marsad-events").body
    assert events is not None and "marsad-events-lifecycle" in events["composed_of"]
    assert '"analyzer": "arabic"' in json.dumps([r.body for r in resources])


def test_deploy_templates_digests_follow_the_content() -> None:
    first, again = _resources(), _resources()
    assert [r.body for r in first] == [r.body for r in again], "the plan must be deterministic"
    files = load_deploy(DEPLOY)
    files["component"]["stories-mappings"]["template"]["mappings"]["properties"]["extra"] = {"type": "keyword"}
    changed = {r.name: r.body for r in plan(files, DEFAULT_PREFIX, False)}
    before = {r.name: r.body for r in first}
    for name in ("marsad-stories-mappings", "marsad-stories"):
        assert changed[name]["_meta"]["marsad_digest"] != before[name]["_meta"]["marsad_digest"]  # type: ignore[index]
    assert changed["marsad-events"] == before["marsad-events"]
    stories_meta = changed["marsad-stories"]["template"]["mappings"]["_meta"]  # type: ignore[index]
    assert stories_meta["mapping_digest"] != before["marsad-stories"]["template"]["mappings"]["_meta"][  # type: ignore[index]
        "mapping_digest"]
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
