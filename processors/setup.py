"""`marsad setup`: install what deploy/ describes (templates, indices, aliases, Kibana objects), idempotently.

deploy/ is the only home of mappings and dashboards; this module only reads it. Every body sent gets a
digest of its own content in `_meta.marsad_digest`, so a second run compares digests and changes
nothing. Each index is created as `<alias>-000001` behind a write alias, which makes a mapping change a
rollover (append-only kinds) or a reindex (kinds updated in place by _id) — `marsad setup --migrate`.
Against the local stand-in (osmem-server) the parts only real Elasticsearch has (ILM, ingest pipelines,
the arabic analyzer) are skipped or replaced as standin.json and the files' `_meta` say, and the
report says so.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from processors.search import connect, index_name
from processors.settings import Settings
from processors.setup_plan import (
    DeployError,
    Resource,
    default_deploy_dir,
    expected_mapping_digest,
    load_deploy,
    plan,
    prefixed,
)

KINDS = ("events", "stories", "articles", "alerts")
# Events and articles are only ever appended; stories and alerts are re-indexed by _id, so a rollover
# would duplicate them in the next backing index: they move by reindex instead.
APPEND_ONLY = frozenset({"events", "articles"})
CHANGES = frozenset({"created", "updated", "migrated", "repaired"})
PROBLEMS = frozenset({"failed", "outdated"})


class SetupError(RuntimeError):
    """The cluster cannot be set up as it is (wrong server, unreachable, unsupported version)."""


# --- the report -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One thing setup looked at and what it did about it."""

    action: str  # created | updated | unchanged | repaired | migrated | skipped | substituted | outdated | failed
    target: str
    detail: str = ""


@dataclass
class SetupReport:
    """What `apply` found and did, in order; `render()` is what `marsad setup` prints."""

    server: str = ""
    steps: list[Step] = field(default_factory=list)

    def add(self, action: str, target: str, detail: str = "") -> None:
        """Record one step."""
        self.steps.append(Step(action, target, detail))

    def count(self, action: str) -> int:
        """Return how many steps ended with `action`."""
        return sum(step.action == action for step in self.steps)

    @property
    def changed(self) -> bool:
        """Return True when this run changed the cluster or Kibana."""
        return any(step.action in CHANGES for step in self.steps)

    @property
    def ok(self) -> bool:
        """Return True when the cluster is ready: nothing failed, no index waits for a migration.

        Kibana is left out: a dashboard problem must not keep the pipeline from starting.
        """
        return not any(s.action in PROBLEMS for s in self.steps if not s.target.startswith("Kibana"))

    @property
    def kibana_ok(self) -> bool:
        """Return True when Kibana answered and its objects and rule are in place."""
        return not any(s.action in PROBLEMS or (s.action == "skipped" and s.target.startswith("Kibana at"))
                       for s in self.steps if s.target.startswith("Kibana"))

    def render(self) -> str:
        """Return the report as the lines `marsad setup` prints."""
        lines = [f"marsad setup: {self.server or 'no server answered'}"]
        lines += [f"  {s.action:<12} {s.target}" + (f" — {s.detail}" if s.detail else "") for s in self.steps]
        counts = ", ".join(f"{self.count(a)} {a}" for a in ("created", "updated", "unchanged", "skipped")
                           if self.count(a) or a in ("created", "unchanged"))
        extra = ", ".join(f"{self.count(a)} {a}" for a in ("substituted", "repaired", "migrated", "outdated",
                                                           "failed") if self.count(a))
        verdict = "changed the cluster" if self.changed else "nothing changed: everything already matches deploy/"
        lines.append(f"marsad setup: {verdict} ({counts}{', ' + extra if extra else ''})")
        return "\n".join(lines)


# --- the cluster (I/O) ------------------------------------------------------------------------------------

def detect_server(client: Elasticsearch, settings: Settings) -> tuple[bool, str]:
    """Return (is the local stand-in, description) after checking the server is one marsad supports."""
    try:
        info = client.info().body
    except (ApiError, TransportError) as exc:
        raise SetupError(f"Elasticsearch at {safe_url(settings.elasticsearch_url)} did not answer: "
                         f"{_error_text(exc)}") from None
    version = info.get("version", {})
    number = str(version.get("number", "?"))
    is_osmem = version.get("build_hash") == "osmem" or info.get("cluster_name") == "osmem"
    if is_osmem or settings.elasticsearch_flavour == "osmem":
        if not is_osmem:
            raise SetupError(f"MARSAD_ELASTICSEARCH_FLAVOUR=osmem, but the server is "
                             f"{version.get('distribution', 'Elasticsearch')} {number}: unset it")
        if settings.elasticsearch_flavour != "osmem":
            raise SetupError("the server is the local stand-in (osmem-server): set MARSAD_ELASTICSEARCH_FLAVOUR=osmem")
        return True, f"osmem-server at {safe_url(settings.elasticsearch_url)}, the local stand-in " \
                     f"(reports OpenSearch {number})"
    if version.get("distribution") == "opensearch":
        raise SetupError(f"OpenSearch {number} is not supported: marsad needs Elasticsearch 8 or 9")
    if number.split(".")[0] not in ("8", "9"):
        raise SetupError(f"Elasticsearch {number} is not supported: marsad needs Elasticsearch 8 or 9")
    return False, f"Elasticsearch {number} at {safe_url(settings.elasticsearch_url)}"


def install(client: Elasticsearch, resource: Resource, report: SetupReport) -> None:
    """Create or update one resource unless the cluster already holds the same digest."""
    target = f"{resource.kind} {resource.name}"
    if resource.body is None:
        report.add("substituted" if resource.substituted else "skipped", target, resource.note)
        return
    try:
        current = _current_meta(client, resource)
        wanted = _meta_of(resource.kind, resource.body)
        if current is not None and current.get("marsad_digest") == wanted["marsad_digest"]:
            report.add("unchanged", target, _version_text(wanted))
            return
        _put(client, resource)
    except ApiError as exc:
        report.add("failed", target, _error_text(exc))
        return
    action = "created" if current is None else "updated"
    detail = _version_text(wanted) if current is None else \
        f"{_version_text(current) or 'unversioned'} → {_version_text(wanted)}"
    report.add(action, target, f"{detail}; {resource.note}" if resource.note and resource.kind ==
               "index template" else detail)


def _meta_of(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    meta = dict(body["policy"].get("_meta", {}) if kind == "ILM policy" else body.get("_meta", {}))
    if "version" in body:
        meta.setdefault("version", body["version"])
    return meta


def _version_text(meta: dict[str, Any]) -> str:
    return f"version {meta['version']}" if "version" in meta else ""


def _current_meta(client: Elasticsearch, resource: Resource) -> dict[str, Any] | None:
    try:
        if resource.kind == "ILM policy":
            found = client.ilm.get_lifecycle(name=resource.name).body[resource.name]
            return _meta_of(resource.kind, found)
        if resource.kind == "ingest pipeline":
            return _meta_of(resource.kind, client.ingest.get_pipeline(id=resource.name).body[resource.name])
        if resource.kind == "component template":
            found = client.cluster.get_component_template(name=resource.name).body["component_templates"]
            return _meta_of(resource.kind, found[0]["component_template"])
        found = client.indices.get_index_template(name=resource.name).body["index_templates"]
        return _meta_of(resource.kind, found[0]["index_template"])
    except NotFoundError:
        return None


def _put(client: Elasticsearch, resource: Resource) -> None:
    body = resource.body
    assert body is not None
    if resource.kind == "ILM policy":
        client.ilm.put_lifecycle(name=resource.name, policy=body["policy"])
    elif resource.kind == "ingest pipeline":
        client.ingest.put_pipeline(id=resource.name, body=body)
    elif resource.kind == "component template":
        client.cluster.put_component_template(name=resource.name, body=body)
    else:
        client.indices.put_index_template(name=resource.name, body=body)


def ensure_index(client: Elasticsearch, alias: str, kind: str, wanted_digest: str, standin: bool,
                 migrate: bool, report: SetupReport) -> None:
    """Make `alias` point at a write index built from the current template (see module docstring)."""
    try:
        members = _alias_members(client, alias)
        if not members:
            _create_first(client, alias, report)
            return
        write = next((i for i, is_write in members.items() if is_write), max(members))
        mapping = client.indices.get_mapping(index=write).body[write]["mappings"]
        if mapping.get("_meta", {}).get("mapping_digest") == wanted_digest:
            report.add("unchanged", f"alias {alias}", f"write index {write}")
        elif migrate:
            _migrate(client, alias, kind, write, sorted(members), standin, report)
        else:
            report.add("outdated", f"alias {alias}", f"{write} was made from an older template (mappings or "
                       "analyzers changed): stop the workers, then run `marsad setup --migrate`")
    except ApiError as exc:
        report.add("failed", f"alias {alias}", _error_text(exc))


def _alias_members(client: Elasticsearch, alias: str) -> dict[str, bool]:
    try:
        found = client.indices.get_alias(name=alias).body
    except NotFoundError:
        return {}
    return {index: bool(entry["aliases"][alias].get("is_write_index", len(found) == 1))
            for index, entry in found.items()}


def _create_first(client: Elasticsearch, alias: str, report: SetupReport) -> None:
    if client.indices.exists(index=alias):
        report.add("failed", f"alias {alias}", f"a concrete index named {alias} exists (written before setup "
                   "ran?): reindex it into the alias or delete it, then run setup again")
        return
    backing = sorted(client.indices.get(index=f"{alias}-*", expand_wildcards="all").body)
    if backing:  # an earlier run stopped between creating the index and its alias
        client.indices.update_aliases(actions=[{"add": {"index": backing[-1], "alias": alias,
                                                        "is_write_index": True}}])
        report.add("repaired", f"alias {alias}", f"pointed at existing index {backing[-1]}")
        return
    first = f"{alias}-000001"
    client.indices.create(index=first, aliases={alias: {"is_write_index": True}})
    report.add("created", f"index {first}", f"behind write alias {alias}")


def _next_index(name: str) -> str:
    base, _, number = name.rpartition("-")
    return f"{base}-{int(number) + 1:06d}" if number.isdigit() else f"{name}-000002"


def _migrate(client: Elasticsearch, alias: str, kind: str, write: str, members: list[str],
             standin: bool, report: SetupReport) -> None:
    target = _next_index(max(members))
    if kind in APPEND_ONLY and not standin:
        result = client.indices.rollover(alias=alias).body
        report.add("migrated", f"alias {alias}", f"rolled over {result['old_index']} → {result['new_index']}"
                   " (older indices stay searchable through the alias)")
        return
    client.indices.create(index=target)
    if kind in APPEND_ONLY:  # the stand-in has no _rollover: the same two steps by hand
        client.indices.update_aliases(actions=[
            {"add": {"index": write, "alias": alias, "is_write_index": False}},
            {"add": {"index": target, "alias": alias, "is_write_index": True}}])
        report.add("migrated", f"alias {alias}", f"created {target} and moved the write alias to it "
                   "(the stand-in has no _rollover API)")
        return
    result = client.reindex(source={"index": ",".join(members)}, dest={"index": target}, refresh=True,
                            wait_for_completion=True).body
    if result.get("failures"):
        report.add("failed", f"alias {alias}", f"reindex into {target} failed: {result['failures'][0]}")
        return
    client.indices.update_aliases(actions=[{"remove": {"index": i, "alias": alias}} for i in members] +
                                  [{"add": {"index": target, "alias": alias, "is_write_index": True}}])
    report.add("migrated", f"alias {alias}", f"reindexed {result.get('total', 0)} documents from "
               f"{', '.join(members)} into {target} and moved the alias; delete the old indices when satisfied")


def safe_url(url: str) -> str:
    """Return the URL without any user:password@ part."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url.rpartition("@")[2]


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        if exc.status_code == 401:
            return "authentication failed (check MARSAD_ELASTICSEARCH_USERNAME/PASSWORD or API key)"
        return f"HTTP {exc.status_code}: {exc.message}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


# --- entry points -----------------------------------------------------------------------------------------

def apply(settings: Settings, *, deploy_dir: Path | None = None, migrate: bool = False,
          kibana: bool = True) -> SetupReport:
    """Install templates, indices and aliases, then the Kibana objects; return what was done."""
    deploy_dir = deploy_dir or default_deploy_dir()
    report = SetupReport()
    client = connect(settings)
    try:
        standin, report.server = detect_server(client, settings)
    except SetupError as exc:
        report.add("failed", "Elasticsearch", str(exc))
        return report
    files = load_deploy(deploy_dir)
    resources = plan(files, settings.index_prefix, standin)
    for resource in resources:
        install(client, resource, report)
    if report.ok:
        for kind in KINDS:
            template = prefixed(f"marsad-{kind}", settings.index_prefix)
            ensure_index(client, index_name(settings, kind), kind, expected_mapping_digest(resources, template),
                         standin, migrate, report)
    if kibana:
        from processors.setup_kibana import install_kibana

        install_kibana(settings, deploy_dir, report)
    return report


def run(args: argparse.Namespace, settings: Settings) -> int:
    """`marsad setup`: apply, print the report, return 0 when the cluster is ready."""
    try:
        report = apply(settings, deploy_dir=args.deploy_dir, migrate=args.migrate, kibana=not args.skip_kibana)
    except (SetupError, DeployError) as exc:
        print(f"marsad setup: {exc}")
        return 1
    print(report.render(), flush=True)
    if not report.ok:
        return 1
    return 1 if args.require_kibana and (args.skip_kibana or not report.kibana_ok) else 0
