"""The Kibana half of `marsad setup`: saved objects from deploy/kibana/*.ndjson and the alert rule.

Kibana migrates what it imports, so stored objects never equal the files byte for byte; instead the
dashboard's description carries a digest of the whole set, and an import happens only when an object
is missing or that digest differs. The rule is compared field by field on what the file sets.
When Kibana does not answer, setup says so and carries on: indices matter more than dashboards.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import urllib3

from processors.settings import Settings
from processors.setup import SetupReport, safe_url
from processors.setup_plan import digest, prefixed

DIGEST_MARK = "[marsad objects "
_TIMEOUT = urllib3.Timeout(connect=3.0, read=30.0)
# What PUT /api/alerting/rule/<id> accepts; create (POST) takes these plus type, consumer and enabled.
_RULE_UPDATABLE = ("name", "tags", "schedule", "params", "actions")


# --- what deploy/kibana asks for (pure) -------------------------------------------------------------------

def saved_objects(deploy_dir: Path, prefix: str) -> list[dict[str, Any]]:
    """Return the saved objects to import: data views renamed to the prefix, digest in the dashboards."""
    objects = [json.loads(line) for path in sorted((deploy_dir / "kibana").glob("*.ndjson"))
               for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for obj in objects:
        if obj["type"] == "index-pattern":
            obj["attributes"]["title"] = prefixed(obj["attributes"]["title"], prefix)
    mark = f"{DIGEST_MARK}{digest(objects)}]"
    for obj in objects:
        if obj["type"] == "dashboard":
            obj["attributes"]["description"] = f"{obj['attributes'].get('description', '')} {mark}".strip()
    return objects


def to_ndjson(objects: list[dict[str, Any]]) -> bytes:
    """Return the objects as the NDJSON file Kibana's import API takes."""
    return "".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n" for o in objects).encode()


def alert_rule(deploy_dir: Path, prefix: str) -> tuple[str, dict[str, Any]]:
    """Return (rule id, create body) from deploy/kibana/security-agreement-rule.json, prefix applied."""
    spec = json.loads((deploy_dir / "kibana" / "security-agreement-rule.json").read_text(encoding="utf-8"))
    body = copy.deepcopy(spec["rule"])
    body["params"]["index"] = [prefixed(index, prefix) for index in body["params"]["index"]]
    return str(spec["id"]), body


def rule_differs(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Return the updatable fields whose stored value differs from the wanted one."""
    differing = []
    for key in _RULE_UPDATABLE:
        if key == "params":
            same = all(stored.get("params", {}).get(k) == v for k, v in wanted["params"].items())
        elif key == "actions":
            same = [_action_key(a) for a in stored.get("actions", [])] == \
                [_action_key(a) for a in wanted["actions"]]
        else:
            same = stored.get(key) == wanted[key]
        if not same:
            differing.append(key)
    return differing


def _action_key(action: dict[str, Any]) -> tuple[str, str, str, str]:
    frequency = action.get("frequency") or {}
    return (action["id"], action["group"], json.dumps(action.get("params", {}), sort_keys=True),
            f"{frequency.get('summary')}/{frequency.get('notify_when')}/{frequency.get('throttle')}")


# --- Kibana's HTTP API (I/O) ------------------------------------------------------------------------------

class KibanaError(RuntimeError):
    """Kibana answered, but not as expected."""


class Kibana:
    """A small client for the few Kibana endpoints setup needs; credentials are the Elasticsearch ones."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.kibana_url.rstrip("/")
        self.headers = {"kbn-xsrf": "marsad-setup", "accept": "application/json"}
        if settings.elasticsearch_api_key:
            self.headers["authorization"] = f"ApiKey {settings.elasticsearch_api_key.reveal()}"
        elif settings.elasticsearch_username:
            pair = f"{settings.elasticsearch_username}:{settings.elasticsearch_password.reveal()}"
            self.headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        ca = settings.elasticsearch_ca_file or None
        self.http = urllib3.PoolManager(timeout=_TIMEOUT, retries=False, ca_certs=ca,
                                        cert_reqs="CERT_REQUIRED" if ca else None)

    def call(self, method: str, path: str, body: Any = None,
             fields: dict[str, Any] | None = None) -> tuple[int, Any]:
        """Return (status, decoded JSON or None); raises urllib3 errors when nobody answers."""
        headers = dict(self.headers)
        data = None
        if body is not None:
            headers["content-type"] = "application/json"
            data = json.dumps(body).encode()
        response = self.http.request(method, self.url + path, body=data, fields=fields, headers=headers)
        try:
            return response.status, json.loads(response.data or b"null")
        except json.JSONDecodeError:
            return response.status, None


def install_kibana(settings: Settings, deploy_dir: Path, report: SetupReport) -> None:
    """Import the saved objects and create/update the alert rule, or say why Kibana was skipped."""
    kibana = Kibana(settings)
    where = f"Kibana at {safe_url(kibana.url)}"
    try:
        status, info = kibana.call("GET", "/api/status")
    except urllib3.exceptions.HTTPError as exc:
        report.add("skipped", where, f"not reachable ({type(exc).__name__}): dashboards and the alert rule "
                   "were not installed; run `marsad setup` again once Kibana is up")
        return
    if status in (401, 403):
        report.add("failed", where, f"HTTP {status}: Kibana rejected the credentials")
        return
    level = ((info or {}).get("status", {}).get("overall", {}) or {}).get("level", "unknown")
    if status != 200 or level not in ("available", "degraded"):
        report.add("skipped", where, f"not ready (HTTP {status}, status {level}): dashboards and the alert "
                   "rule were not installed; run `marsad setup` again once Kibana is up")
        return
    try:
        _import_objects(kibana, saved_objects(deploy_dir, settings.index_prefix), report)
        _ensure_rule(kibana, *alert_rule(deploy_dir, settings.index_prefix), report)
    except (KibanaError, urllib3.exceptions.HTTPError) as exc:
        report.add("failed", where, str(exc))


def _import_objects(kibana: Kibana, objects: list[dict[str, Any]], report: SetupReport) -> None:
    target = f"Kibana saved objects ({len(objects)})"
    wanted = {obj["id"]: obj for obj in objects}
    status, found = kibana.call("POST", "/api/saved_objects/_bulk_get",
                                [{"type": o["type"], "id": o["id"]} for o in objects])
    if status != 200:
        raise KibanaError(f"_bulk_get answered HTTP {status}: {found}")
    present = {o["id"]: o for o in found.get("saved_objects", []) if "error" not in o}
    mark = next(o["attributes"]["description"] for o in objects if o["type"] == "dashboard")
    current = all(i in present for i in wanted) and all(
        mark.rpartition(" ")[2] in present[o["id"]].get("attributes", {}).get("description", "")
        for o in objects if o["type"] == "dashboard")
    if current:
        report.add("unchanged", target, "dashboard, data views and visualisations already imported")
        return
    status, result = kibana.call("POST", "/api/saved_objects/_import?overwrite=true",
                                 fields={"file": ("marsad.ndjson", to_ndjson(objects), "application/ndjson")})
    if status != 200 or not (result or {}).get("success"):
        errors = (result or {}).get("errors") or result
        raise KibanaError(f"saved objects import failed (HTTP {status}): {json.dumps(errors)[:500]}")
    action = "updated" if present else "created"
    report.add(action, target, f"imported {result.get('successCount', len(objects))} objects (overwrite)")


def _ensure_rule(kibana: Kibana, rule_id: str, body: dict[str, Any], report: SetupReport) -> None:
    target = f"Kibana alert rule {rule_id}"
    body = dict(body, actions=_usable_actions(kibana, body["actions"], report))
    status, stored = kibana.call("GET", f"/api/alerting/rule/{rule_id}")
    if status == 404:
        status, answer = kibana.call("POST", f"/api/alerting/rule/{rule_id}", body)
        if status != 200:
            raise KibanaError(f"creating rule {rule_id} answered HTTP {status}: {json.dumps(answer)[:500]}")
        report.add("created", target, body["name"])
        return
    if status != 200:
        raise KibanaError(f"reading rule {rule_id} answered HTTP {status}: {json.dumps(stored)[:500]}")
    differing = rule_differs(stored, body)
    if not differing:
        report.add("unchanged", target, body["name"])
        return
    status, answer = kibana.call("PUT", f"/api/alerting/rule/{rule_id}", {k: body[k] for k in _RULE_UPDATABLE})
    if status != 200:
        raise KibanaError(f"updating rule {rule_id} answered HTTP {status}: {json.dumps(answer)[:500]}")
    report.add("updated", target, f"{', '.join(differing)} changed")


def _usable_actions(kibana: Kibana, actions: list[dict[str, Any]], report: SetupReport) -> list[dict[str, Any]]:
    usable = []
    for action in actions:
        status, _ = kibana.call("GET", f"/api/actions/connector/{action['id']}")
        if status == 200:
            usable.append(action)
        else:
            report.add("skipped", f"Kibana connector {action['id']}", "not configured in this Kibana: the "
                       "rule is installed without that action (alerts still show in Kibana's Alerts view)")
    return usable
