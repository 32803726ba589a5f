"""What deploy/elasticsearch asks for, adapted to the server: the pure half of `marsad setup`.

`plan()` turns the JSON files into the bodies setup sends, in dependency order: the index prefix applied
to every name, a digest of each body in its `_meta.marsad_digest` (a second run compares digests), and
for the local stand-in what standin.json and the files' `_meta.requires` say it lacks left out or
replaced. Nothing here talks to a server.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PREFIX = "marsad"
# Settings whose values name other installed resources, so they carry the index prefix.
_PREFIXED_SETTINGS = (("lifecycle", "name"), ("lifecycle", "rollover_alias"), ("default_pipeline",))


class DeployError(RuntimeError):
    """deploy/ is missing or incomplete."""


# --- plan -------------------------------------------------------------------------

@dataclass(frozen=True)
class Resource:
    """One thing to install: its API kind, its name on the cluster and the body to send (None: skipped)."""

    kind: str  # "ILM policy" | "ingest pipeline" | "component template" | "index template"
    name: str
    body: dict[str, Any] | None
    note: str = ""  # why it is skipped, or what was substituted on the stand-in
    substituted: bool = False  # a stand-in replacement, reported as such (body is None)


def digest(value: Any) -> str:
    """Return a short, stable digest of a JSON value."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def prefixed(value: str, prefix: str) -> str:
    """Return a resource name from deploy/ (written with the `marsad` prefix) under the configured prefix."""
    return prefix + value[len(DEFAULT_PREFIX):] if value.startswith(DEFAULT_PREFIX + "-") else value


def load_deploy(deploy_dir: Path) -> dict[str, dict[str, Any]]:
    """Return the JSON files of deploy/elasticsearch by file kind, keyed by the name after the kind."""
    es_dir = deploy_dir / "elasticsearch"
    if not es_dir.is_dir():
        raise DeployError(f"{es_dir} does not exist: pass --deploy-dir pointing at the repository's deploy/")
    kinds = {"component": "component-", "index_template": "index-template-", "ilm": "ilm-policy-",
             "pipeline": "ingest-pipeline-"}
    files = {kind: {p.stem.removeprefix(stem): json.loads(p.read_text(encoding="utf-8"))
                    for p in sorted(es_dir.glob(f"{stem}*.json"))} for kind, stem in kinds.items()}
    # standin.json: what the local stand-in lacks and what to install there instead.
    files["standin"] = json.loads((es_dir / "standin.json").read_text(encoding="utf-8"))
    return files


def plan(files: dict[str, dict[str, Any]], prefix: str, standin: bool) -> list[Resource]:
    """Return the resources to install, in dependency order, adapted to the server."""
    resources: list[Resource] = []
    for name, body in files["ilm"].items():
        resources.append(_ilm_resource(prefixed(f"marsad-{name}", prefix), body, standin))
    for name, body in files["pipeline"].items():
        resources.append(_pipeline_resource(prefixed(f"marsad-{name}", prefix), body, standin))
    replaced = files["standin"].get("analyzers", {}) if standin else {}
    used = {name: 0 for name in replaced}
    components = {name: _component_resource(prefixed(f"marsad-{name}", prefix), body, prefix, standin,
                                            replaced, used)
                  for name, body in files["component"].items()}
    resources += [Resource("analyzer", name, None, f"replaced by {spec['replace_with']} in {used[name]} "
                           f"fields: {spec['reason']}", substituted=True)
                  for name, spec in replaced.items() if used[name]]
    resources += components.values()
    installed = {r.name: r for r in components.values() if r.body is not None}
    for kind, body in files["index_template"].items():
        resources.append(_index_template_resource(prefixed(f"marsad-{kind}", prefix), body, prefix, installed))
    return resources


def _with_digest(body: dict[str, Any], meta_path: tuple[str, ...] = ()) -> dict[str, Any]:
    body = copy.deepcopy(body)
    holder = body
    for key in meta_path:
        holder = holder[key]
    holder.setdefault("_meta", {}).pop("marsad_digest", None)
    holder["_meta"]["marsad_digest"] = digest(body)
    return body


def _ilm_resource(name: str, body: dict[str, Any], standin: bool) -> Resource:
    if standin:
        return Resource("ILM policy", name, None, "the stand-in has no _ilm API: events and articles do "
                        "not roll over here (on Elasticsearch they roll over at 30 GB or 30 days)")
    return Resource("ILM policy", name, _with_digest(body, ("policy",)))


def _pipeline_resource(name: str, body: dict[str, Any], standin: bool) -> Resource:
    if standin:
        return Resource("ingest pipeline", name, None, "the stand-in has no ingest pipelines: indexed_at is "
                        "not stamped here (only the Kibana alert rule reads it)")
    return Resource("ingest pipeline", name, _with_digest(body))


def _component_resource(name: str, body: dict[str, Any], prefix: str, standin: bool,
                        replaced: dict[str, Any], used: dict[str, int]) -> Resource:
    meta = body.get("_meta", {})
    if standin and meta.get("requires") == "elasticsearch":
        settings = _dotted(body.get("template", {}).get("settings", {}))
        return Resource("component template", name, None, f"sets {', '.join(settings)}, which only real "
                        "Elasticsearch supports: left out of the index templates here")
    body = copy.deepcopy(body)
    index_settings = body.get("template", {}).get("settings", {}).get("index", {})
    for path in _PREFIXED_SETTINGS:
        holder = index_settings
        for key in path[:-1]:
            holder = holder.get(key, {})
        if isinstance(holder.get(path[-1]), str):
            holder[path[-1]] = prefixed(holder[path[-1]], prefix)
    _replace_analyzers(body.get("template", {}).get("mappings", {}), replaced, used)
    return Resource("component template", name, _with_digest(body))


def _replace_analyzers(node: Any, replaced: dict[str, Any], used: dict[str, int]) -> None:
    # Walks a mapping and swaps analyzers the stand-in lacks for the ones standin.json names.
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("analyzer", "search_analyzer") and value in replaced:
                node[key] = replaced[value]["replace_with"]
                used[value] += 1
            else:
                _replace_analyzers(value, replaced, used)
    elif isinstance(node, list):
        for item in node:
            _replace_analyzers(item, replaced, used)


def _dotted(node: dict[str, Any], path: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in node.items():
        name = f"{path}.{key}" if path else key
        keys += _dotted(value, name) if isinstance(value, dict) else [name]
    return keys


def _index_template_resource(name: str, body: dict[str, Any], prefix: str,
                             installed: dict[str, Resource]) -> Resource:
    body = copy.deepcopy(body)
    body["index_patterns"] = [prefixed(p, prefix) for p in body["index_patterns"]]
    wanted = [prefixed(c, prefix) for c in body["composed_of"]]
    body["composed_of"] = [c for c in wanted if c in installed]
    left_out = [c for c in wanted if c not in installed]
    # What a backing index cannot change in place: mappings and analysis. Indices record this digest in
    # their mapping _meta, so setup can tell an index made from an older template.
    layout = [_layout(installed[c].body) for c in body["composed_of"]] + [_layout(body)]
    mappings = body.setdefault("template", {}).setdefault("mappings", {})
    mappings.setdefault("_meta", {})["mapping_digest"] = digest(layout)
    note = f"without {', '.join(left_out)}" if left_out else ""
    return Resource("index template", name, _with_digest(body), note)


def _layout(body: dict[str, Any] | None) -> dict[str, Any]:
    template = (body or {}).get("template", {})
    mappings = {k: v for k, v in template.get("mappings", {}).items() if k != "_meta"}
    analysis = template.get("settings", {}).get("index", {}).get("analysis", {})
    return {"mappings": mappings, "analysis": analysis}


def expected_mapping_digest(resources: list[Resource], template: str) -> str:
    """Return the mapping digest that indices made from index template `template` should carry."""
    body = next(r.body for r in resources if r.kind == "index template" and r.name == template)
    assert body is not None
    return str(body["template"]["mappings"]["_meta"]["mapping_digest"])


def effective_mapping(resources: list[Resource], template: str) -> dict[str, Any]:
    """Return the mapping an index made from index template `template` gets (components merged in order)."""
    by_name = {r.name: r.body for r in resources if r.body is not None}
    merged: dict[str, Any] = {}
    for name in [*by_name[template]["composed_of"], template]:
        _merge_mapping(merged, by_name[name].get("template", {}).get("mappings", {}))
    return merged


def _merge_mapping(into: dict[str, Any], mapping: dict[str, Any]) -> None:
    for key, value in mapping.items():
        if key == "properties":
            for name, field in value.items():
                _merge_mapping(into.setdefault("properties", {}).setdefault(name, {}), field)
        else:
            into[key] = copy.deepcopy(value)


def default_deploy_dir() -> Path:
    """Return deploy/ of the source tree, else ./deploy (the container image copies it to /app/deploy)."""
    beside_package = Path(__file__).resolve().parents[1] / "deploy"
    return beside_package if beside_package.is_dir() else Path.cwd() / "deploy"
