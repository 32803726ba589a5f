"""`marsad demo`: the main job on the local default stack, end to end, as a newcomer first runs it.

Starts the local broker and search server (or reuses the running ones), installs the index
templates, starts a stream worker, ingests the bundled sample articles, waits until every article
has been processed, then prints the events found, read back from the search index. Each step is
the same `marsad` command a user would run by hand; the worker is stopped at the end and the stack
is left running for queries (`marsad stack down` stops it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from processors.search import connect, index_name
from processors.settings import Settings

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
MARSAD = [sys.executable, "-m", "processors.cli"]


def _marsad(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MARSAD, *args], env=env, text=True, check=False, **kwargs)  # noqa: S603 (our own CLI)


def _stack_env(state_dir: Path, env: dict[str, str]) -> dict[str, str]:
    result = _marsad("stack", "up", "--dir", str(state_dir), env=env, capture_output=True, timeout=60)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        raise RuntimeError("the local stack did not start (see above)")
    pairs = [line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines() if "=" in line]
    return {key: value for key, value in pairs}


def _count(client: Elasticsearch, index: str) -> int:
    client.indices.refresh(index=index)
    return int(client.count(index=index)["count"])


def _events_expected(client: Elasticsearch, articles: str) -> int:
    result = client.search(index=articles, size=0, aggs={"events": {"sum": {"field": "event_count"}}})
    return int(result["aggregations"]["events"]["value"] or 0)


def _wait_for(client: Elasticsearch, settings: Settings, expected: int, timeout_s: float) -> int:
    """Wait until every article is processed and all of their events are searchable; return the articles done."""
    articles, events = index_name(settings, "articles"), index_name(settings, "events")
    deadline = time.monotonic() + timeout_s
    done = 0
    while time.monotonic() < deadline:
        done = _count(client, articles)
        # The articles index records how many events each article gave; the events themselves reach
        # the index a moment later, through the stories agent.
        if done >= expected and _count(client, events) >= _events_expected(client, articles):
            return done
        time.sleep(1.0)
    return done


def _expected_articles(samples: Path) -> int:
    jsonl = sum(1 for f in samples.glob("*.jsonl") for line in f.read_text(encoding="utf-8").splitlines()
                if line.strip())
    return jsonl + len(list(samples.glob("*.txt")))


def format_event(doc: dict[str, Any]) -> str:
    """Return one event document as a readable block of lines."""
    parties = ", ".join(f"{p.get('name_en') or p['name']} ({p['canonical']}, {p['role']})"
                        for p in doc.get("participants", []))
    extra = ", ".join(f"{k}={v}" for k, v in doc.get("attributes", {}).items())
    where = doc.get("location", {}).get("name", "")
    sentence = " ".join(doc["evidence"]["sentence"].split())
    return (f"{doc['event_type']:<19} {doc['realis']:<8} {doc.get('event_date') or '':<10} "
            f"conf {doc['confidence']:.2f}  [{doc['language']}] {doc['article_id']}\n"
            f"    participants: {parties or '-'}\n    {extra}{'  where: ' + where if where else ''}\n"
            f"    evidence: {sentence[:160]}{'…' if len(sentence) > 160 else ''}")


def print_events(client: Elasticsearch, settings: Settings, out: Any = sys.stdout) -> int:
    """Print every event in the index, grouped by article; return how many."""
    index = index_name(settings, "events")
    client.indices.refresh(index=index)
    hits = client.search(index=index, size=500, sort=[{"article_id": "asc"}, {"evidence.start": "asc"}],
                         query={"match_all": {}})["hits"]["hits"]
    for hit in hits:
        print(format_event(hit["_source"]), file=out)
    return len(hits)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the main job: stack, setup, worker, ingest, then print the events from the index."""
    state_dir = Path(args.dir)
    samples = Path(args.samples) if args.samples else SAMPLES
    env = dict(os.environ)
    env.update(_stack_env(state_dir, env))
    env.setdefault("MARSAD_CONSUMER_SESSION_TIMEOUT_S", "6")  # the local broker's slow group joins
    settings = replace(settings, kafka_bootstrap=env["MARSAD_KAFKA_BOOTSTRAP"], kafka_flavour="tansu",
                       elasticsearch_url=env["MARSAD_ELASTICSEARCH_URL"], elasticsearch_flavour="osmem")
    if _marsad("setup", "--skip-kibana", env=env, timeout=120).returncode != 0:
        return 1
    log = (state_dir / "worker.log").open("ab")
    worker = subprocess.Popen([*MARSAD, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        files = [arg for f in sorted(samples.glob("*")) if f.suffix in (".jsonl", ".txt") for arg in ("--file", str(f))]
        if _marsad("ingest", *files, "--no-progress", env=env, timeout=300).returncode != 0:
            return 1
        client = connect(settings)
        expected = _expected_articles(samples)
        done = _wait_for(client, settings, expected, args.timeout)
        print(f"\nmarsad demo: {done} of {expected} articles processed; events in the index "
              f"{index_name(settings, 'events')}:\n", file=sys.stderr)
        count = print_events(client, settings)
        print(f"\nmarsad demo: {count} events. The stack keeps running for queries "
              f"({settings.elasticsearch_url}); stop it with `marsad stack down`. Worker log: "
              f"{state_dir / 'worker.log'}", file=sys.stderr)
        return 0 if done >= expected else 1
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
