"""deploy/kibana: the saved objects import into Kibana 8.x and only use fields the mappings have.

Each visualisation, saved search, map layer and control names fields; every one must exist in the
index template of its data view with a type that supports its use (aggregations need keyword, date,
number, boolean or geo_point, never text). References must resolve inside the file, and each line must
be what Kibana's saved-objects import API takes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from processors.setup_kibana import DIGEST_MARK, alert_rule, rule_differs, saved_objects, to_ndjson
from processors.setup_plan import DEFAULT_PREFIX, effective_mapping, load_deploy, plan

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NDJSON = sorted((DEPLOY / "kibana").glob("*.ndjson"))
# typeMigrationVersion values Kibana's own 8.x sample data and migrations use: each is a version whose
# migration exists for the type, so 8.8 to 8.19 accept the object and migrate it forward on import.
TYPE_MIGRATION_VERSIONS = {"index-pattern": "7.11.0", "search": "7.9.3", "lens": "8.6.0", "map": "8.1.0",
                           "dashboard": "8.7.0"}
AGGREGATABLE = {"keyword", "date", "boolean", "integer", "long", "float", "double", "geo_point"}
EMBEDDED_JSON = ("panelsJSON", "optionsJSON", "mapStateJSON", "layerListJSON", "uiStateJSON",
                 "fieldFormatMap", "fieldAttrs", "runtimeFieldMap", "fields", "sourceFilters")


def _objects() -> list[dict[str, Any]]:
    return [json.loads(line) for path in NDJSON for line in path.read_text().splitlines() if line.strip()]


OBJECTS = _objects()
BY_ID = {o["id"]: o for o in OBJECTS}
MAPPINGS = {kind: effective_mapping(plan(load_deploy(DEPLOY), DEFAULT_PREFIX, False), f"marsad-{kind}")
            for kind in ("events", "stories")}


def field_type(kind: str, path: str) -> str | None:
    """Return the mapped type of a field (aliases resolved), or None when it is not mapped."""
    node: dict[str, Any] = MAPPINGS[kind]
    for part in path.split("."):
        node = node.get("properties", {}).get(part)  # type: ignore[assignment]
        if node is None:
            return None
    if node.get("type") == "alias":
        return field_type(kind, node["path"])
    return str(node.get("type", "object"))


def data_view_kind(data_view_id: str) -> str:
    title = BY_ID[data_view_id]["attributes"]["title"]
    assert title.startswith("marsad-")
    return title.removeprefix("marsad-")


def kql_fields(query: str) -> list[str]:
    """Return the field names of `field : value` clauses in a KQL query."""
    return re.findall(r"([A-Za-z_@][\w.@]*)\s*:", query)


def ref(obj: dict[str, Any], name: str) -> str:
    return next(r["id"] for r in obj["references"] if r["name"] == name)


def field_uses(obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Return (data view id, field, use) for every field an object names; use is agg|date|geo|any."""
    attrs, uses = obj["attributes"], []
    if obj["type"] == "lens":
        state = attrs["state"]
        for layer_id, layer in state["datasourceStates"]["formBased"]["layers"].items():
            dv = ref(obj, f"indexpattern-datasource-layer-{layer_id}")
            for column in layer["columns"].values():
                op = column["operationType"]
                if column.get("sourceField") not in (None, "___records___"):
                    uses.append((dv, column["sourceField"], "date" if op == "date_histogram" else "agg"))
                for flt in column.get("params", {}).get("filters", []):
                    uses += [(dv, f, "any") for f in kql_fields(flt["input"]["query"])]
            uses += [(dv, f, "any") for f in kql_fields(state["query"]["query"])]
    elif obj["type"] == "search":
        source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
        dv = ref(obj, source["indexRefName"])
        uses += [(dv, column, "any") for column in attrs["columns"]]
        uses += [(dv, sort_field, "date") for sort_field, _ in attrs["sort"]]
        uses += [(dv, f, "any") for f in kql_fields(source["query"]["query"])]
    elif obj["type"] == "map":
        for layer in json.loads(attrs["layerListJSON"]):
            source = layer["sourceDescriptor"]
            if source["type"] != "ES_SEARCH":
                continue
            dv = ref(obj, source["indexPatternRefName"])
            uses.append((dv, source["geoField"], "geo"))
            uses += [(dv, f, "any") for f in source["tooltipProperties"]]
            uses.append((dv, source["sortField"], "date"))
            uses += [(dv, f, "any") for f in kql_fields(layer.get("query", {}).get("query", ""))]
    elif obj["type"] == "dashboard":
        controls = json.loads(attrs["controlGroupInput"]["panelsJSON"])
        for control_id, control in controls.items():
            dv = ref(obj, f"controlGroup_{control_id}:optionsListDataView")
            uses.append((dv, control["explicitInput"]["fieldName"], "agg"))
    elif obj["type"] == "index-pattern":
        uses.append((obj["id"], attrs["timeFieldName"], "date"))
    return uses


# --- the import payload ---------------------------------------------------------------------------------

def test_kibana_objects_lines_are_importable_saved_objects() -> None:
    assert NDJSON, "deploy/kibana has no .ndjson file"
    for obj in OBJECTS:
        assert {"type", "id", "attributes", "references"} <= set(obj), obj.get("id")
        assert obj["coreMigrationVersion"] == "8.8.0"
        assert obj["typeMigrationVersion"] == TYPE_MIGRATION_VERSIONS[obj["type"]], obj["id"]
        assert "migrationVersion" not in obj, "8.8+ exports use typeMigrationVersion only"
        assert isinstance(obj["attributes"]["title"], str) and obj["attributes"]["title"]
        for key in EMBEDDED_JSON:
            if key in obj["attributes"]:
                json.loads(obj["attributes"][key])
    assert len(BY_ID) == len(OBJECTS), "saved object ids must be unique"
    assert {o["type"] for o in OBJECTS} == set(TYPE_MIGRATION_VERSIONS)


def test_kibana_objects_references_resolve() -> None:
    for obj in OBJECTS:
        for reference in obj["references"]:
            target = BY_ID.get(reference["id"])
            assert target is not None, f"{obj['id']} -> missing {reference['id']}"
            assert target["type"] == reference["type"], f"{obj['id']}: {reference}"


def test_kibana_objects_dashboard_panels_resolve() -> None:
    dashboards = [o for o in OBJECTS if o["type"] == "dashboard"]
    assert len(dashboards) == 1
    dashboard = dashboards[0]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dashboard["references"]}
    shown = set()
    for panel in panels:
        reference = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert BY_ID[reference["id"]]["type"] == panel["type"] == reference["type"]
        assert panel["gridData"]["i"] == panel["panelIndex"]
        assert panel["gridData"]["x"] >= 0 and panel["gridData"]["x"] + panel["gridData"]["w"] <= 48
        shown.add(reference["id"])
    assert shown == {o["id"] for o in OBJECTS if o["type"] in ("lens", "search", "map")}, \
        "every visualisation is on the dashboard"
    controls = json.loads(dashboard["attributes"]["controlGroupInput"]["panelsJSON"])
    for control_id in controls:
        assert f"controlGroup_{control_id}:optionsListDataView" in refs


def test_kibana_objects_lens_layers_have_their_data_view() -> None:
    for obj in (o for o in OBJECTS if o["type"] == "lens"):
        state = obj["attributes"]["state"]
        layers = state["datasourceStates"]["formBased"]["layers"]
        assert {f"indexpattern-datasource-layer-{lid}" for lid in layers} == {r["name"] for r in obj["references"]}
        for layer_id, layer in layers.items():
            assert set(layer["columnOrder"]) == set(layer["columns"])
            vis_layers = state["visualization"].get("layers", [state["visualization"]])
            assert any(v["layerId"] == layer_id for v in vis_layers), obj["id"]


# --- every field used exists, with a type that supports the use -----------------------------------------

@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: o["id"])
def test_kibana_objects_use_mapped_fields(obj: dict[str, Any]) -> None:
    for data_view, field, use in field_uses(obj):
        kind = data_view_kind(data_view)
        kind_of_field = field_type(kind, field)
        assert kind_of_field is not None, f"{obj['id']}: {field} is not in the {kind} mapping"
        if use == "agg":
            assert kind_of_field in AGGREGATABLE, f"{obj['id']}: cannot aggregate {field} ({kind_of_field})"
        elif use == "date":
            assert kind_of_field == "date", f"{obj['id']}: {field} is {kind_of_field}, not date"
        elif use == "geo":
            assert kind_of_field == "geo_point", f"{obj['id']}: {field} is {kind_of_field}"


def test_kibana_objects_cover_the_monitoring_views() -> None:
    uses = {(data_view_kind(dv), f, u) for o in OBJECTS for dv, f, u in field_uses(o)}
    for wanted in [("events", "@timestamp", "date"), ("events", "event_type", "agg"),
                   ("stories", "participant_ids", "agg"), ("stories", "location.point", "geo"),
                   ("stories", "attributes.method", "agg"), ("stories", "target_ids", "agg"),
                   ("stories", "actor_ids", "agg"), ("stories", "attributes.kind", "agg"),
                   ("stories", "attributes.security", "any"), ("events", "language", "agg")]:
        assert wanted in uses, wanted


def test_kibana_objects_controls_filter_every_panel() -> None:
    # A control's filter applies to every panel: its field must exist in every data view shown,
    # or the panels of the other data view would go blank when an option is picked.
    dashboard = next(o for o in OBJECTS if o["type"] == "dashboard")
    controls = json.loads(dashboard["attributes"]["controlGroupInput"]["panelsJSON"]).values()
    kinds = {data_view_kind(dv) for o in OBJECTS for dv, _, _ in field_uses(o)}
    for control in controls:
        for kind in kinds:
            assert field_type(kind, control["explicitInput"]["fieldName"]) in AGGREGATABLE, (kind, control)


# --- what setup sends -------------------------------------------------------------------------------------

def test_kibana_objects_setup_renames_data_views_and_marks_the_dashboard() -> None:
    objects = saved_objects(DEPLOY, "acme")
    titles = sorted(o["attributes"]["title"] for o in objects if o["type"] == "index-pattern")
    assert titles == ["acme-events", "acme-stories"]
    dashboard = next(o for o in objects if o["type"] == "dashboard")
    assert DIGEST_MARK in dashboard["attributes"]["description"]
    again = next(o for o in saved_objects(DEPLOY, "acme") if o["type"] == "dashboard")
    other = next(o for o in saved_objects(DEPLOY, "other") if o["type"] == "dashboard")
    assert again["attributes"]["description"] == dashboard["attributes"]["description"]
    assert other["attributes"]["description"] != dashboard["attributes"]["description"]
    lines = to_ndjson(objects).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [o["id"] for o in objects]


def test_kibana_objects_alert_rule_matches_the_contract() -> None:
    rule_id, body = alert_rule(DEPLOY, "acme")
    assert rule_id == "marsad-new-security-agreement"
    assert body["rule_type_id"] == ".es-query" and body["consumer"] == "stackAlerts"
    params = body["params"]
    assert params["index"] == ["acme-stories"] and params["searchType"] == "esQuery"
    assert field_type("stories", params["timeField"]) == "date"
    assert field_type("stories", params["termField"]) == "keyword" and params["groupBy"] == "top"
    query = json.loads(params["esQuery"])["query"]["bool"]["filter"]
    terms = {k: v for clause in query for k, v in clause["term"].items()}
    assert terms == {"event_type": "agreement_signed", "attributes.security": True, "realis": "actual"}
    for name in terms:
        assert field_type("stories", name) in ("keyword", "boolean")
    assert params["excludeHitsFromPreviousRun"] is True and params["threshold"] == [0]
    for action in body["actions"]:
        assert action["group"] == "query matched"
        assert action["frequency"]["notify_when"] == "onActionGroupChange"


def test_kibana_objects_rule_comparison_sees_changes() -> None:
    _, body = alert_rule(DEPLOY, DEFAULT_PREFIX)
    stored = json.loads(json.dumps(body)) | {"id": "x", "enabled": True, "mute_all": False}
    stored["params"]["sourceFields"] = []  # Kibana adds defaults of its own: not a difference
    stored["actions"] = [dict(a, uuid="u1", connector_type_id=".server-log") for a in body["actions"]]
    assert rule_differs(stored, body) == []
    stored["params"]["timeWindowSize"] = 15
    stored["tags"] = ["other"]
    assert rule_differs(stored, body) == ["tags", "params"]
