"""The one reader of MARSAD_* environment variables: read once, validate, freeze.

Defaults point at the local default stack (`marsad stack up`); production sets the same variables
(docker-compose.yml, deploy/k8s) to real Kafka and Elasticsearch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path


class Secret(str):
    """A string that never prints its value (logs, reprs, tracebacks)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def __str__(self) -> str:
        return "***" if self else ""

    def reveal(self) -> str:
        """Return the secret value itself."""
        return str.__str__(self)


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Field `foo_bar` is read from MARSAD_FOO_BAR."""

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = "marsad"
    topic_partitions: int = 4
    topic_replicas: int = 1
    consumer_session_timeout_s: float = 10.0
    # Set to "tansu" only for the local stand-in broker: scopes its workarounds (processors/compat.py).
    kafka_flavour: str = "kafka"
    # Faust
    worker_id: str = "marsad"
    faust_store: str = "memory://"
    faust_web_port: int = 6066
    extract_batch_size: int = 64
    extract_batch_seconds: float = 0.5
    # Extraction processes per worker (spaCy is CPU-bound); 0 runs it in one thread of the worker.
    extract_processes: int = 1
    # Elasticsearch
    elasticsearch_url: str = "http://127.0.0.1:19200"
    elasticsearch_api_key: Secret = field(default_factory=lambda: Secret(""))
    elasticsearch_username: str = ""
    elasticsearch_password: Secret = field(default_factory=lambda: Secret(""))
    elasticsearch_ca_file: str = ""
    # Set to "osmem" only for the local stand-in search server: scopes its workarounds.
    elasticsearch_flavour: str = "elasticsearch"
    index_prefix: str = "marsad"
    bulk_chunk_size: int = 500
    # Kibana
    kibana_url: str = "http://127.0.0.1:5601"
    kibana_public_url: str = "http://127.0.0.1:5601"
    # Extraction
    max_text_chars: int = 200_000
    # Alerts
    alert_rules_file: str = ""
    alert_channels_file: str = ""

    @property
    def topics(self) -> Mapping[str, str]:
        """Return the topic names by role."""
        roles = ("articles", "events", "stories", "dead_letters", "alerts")
        return {role: f"{self.topic_prefix}.{role.replace('_', '-')}" for role in roles}


def as_environment(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return `base` (default: this process's environment) with the MARSAD_* variables that make a
    subprocess load exactly `settings` (the inverse of `load_settings`; secrets included)."""
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if not k.startswith("MARSAD_")}
    for f in fields(Settings):
        value = getattr(settings, f.name)
        env[f"MARSAD_{f.name.upper()}"] = value.reveal() if isinstance(value, Secret) else str(value)
    return env


def _coerce(raw: str, default: object) -> object:
    if isinstance(default, Secret):
        return Secret(raw)
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def _read_secret_file(name: str, env: Mapping[str, str]) -> str | None:
    # Docker/k8s secrets: MARSAD_FOO_FILE points at a file holding the value.
    path = env.get(f"MARSAD_{name.upper()}_FILE")
    return Path(path).read_text().strip() if path else None


def read_secret(name: str, env: Mapping[str, str] | None = None) -> Secret:
    """Return the secret in MARSAD_* variable `name` (or the file its `name`_FILE names); '' if unset.

    For secrets whose names come from a config file (alert channels), not from a Settings field.
    """
    if not name.startswith("MARSAD_"):
        raise ValueError(f"{name!r}: secret variables must be named MARSAD_*")
    env = os.environ if env is None else env
    value = env.get(name)
    if value is None and env.get(f"{name}_FILE"):
        value = Path(env[f"{name}_FILE"]).read_text().strip()
    return Secret(value or "")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Return Settings read from the environment (or the mapping given), validated."""
    env = os.environ if env is None else env
    defaults = Settings()
    values: dict[str, object] = {}
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        raw = env.get(f"MARSAD_{f.name.upper()}")
        if raw is None and isinstance(default, Secret):
            raw = _read_secret_file(f.name, env)
        if raw is None:
            continue
        try:
            values[f.name] = _coerce(raw, default)
        except ValueError as exc:
            raise ValueError(f"MARSAD_{f.name.upper()}={raw!r} is not a valid {type(default).__name__}") from exc
    settings = Settings(**values)  # type: ignore[arg-type]
    problems = [f"MARSAD_{name.upper()} must be >= {low}" for name, low in _MINIMA.items()
                if getattr(settings, name) < low]
    if problems:
        raise ValueError("; ".join(problems))
    return settings


_MINIMA = {"topic_partitions": 1, "extract_batch_size": 1, "extract_processes": 0, "max_text_chars": 1000,
           "bulk_chunk_size": 1}
