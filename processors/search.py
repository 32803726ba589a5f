"""The Elasticsearch client, built from Settings; the only place that knows about the local stand-in.

Production talks to real Elasticsearch 8/9 with an API key or user/password over TLS. The local
search server (osmem-server) rejects the client's `compatible-with` media type (HTTP 406), so for
`MARSAD_ELASTICSEARCH_FLAVOUR=osmem` alone a node class sends plain `application/json`.
"""

from __future__ import annotations

from typing import Any

from elastic_transport import HttpHeaders, Urllib3HttpNode
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import Elasticsearch

from processors.settings import Settings

_COMPAT_MEDIA_TYPE = "application/vnd.elasticsearch+"


class PlainJsonNode(Urllib3HttpNode):
    """Compatibility layer for osmem-server: rewrite the versioned media type to application/json."""

    def perform_request(self, method: str, target: str, body: bytes | None = None,
                        headers: HttpHeaders | None = None,
                        request_timeout: DefaultType | float | None = DEFAULT) -> NodeApiResponse:
        if headers is not None:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                value = headers.get(name)
                if value and value.startswith(_COMPAT_MEDIA_TYPE):
                    headers[name] = "application/x-ndjson" if "ndjson" in value else "application/json"
        return super().perform_request(method, target, body=body, headers=headers, request_timeout=request_timeout)


def client_options(settings: Settings) -> dict[str, Any]:
    """Return the keyword arguments for Elasticsearch(), secrets included (never log them)."""
    options: dict[str, Any] = {"hosts": [settings.elasticsearch_url], "request_timeout": 30,
                               "retry_on_timeout": True, "max_retries": 3}
    if settings.elasticsearch_api_key:
        options["api_key"] = settings.elasticsearch_api_key.reveal()
    elif settings.elasticsearch_username:
        options["basic_auth"] = (settings.elasticsearch_username, settings.elasticsearch_password.reveal())
    if settings.elasticsearch_ca_file:
        options["ca_certs"] = settings.elasticsearch_ca_file
    if settings.elasticsearch_flavour == "osmem":
        options["node_class"] = PlainJsonNode
    return options


def connect(settings: Settings) -> Elasticsearch:
    """Return a client for the configured cluster (no request is made yet)."""
    return Elasticsearch(**client_options(settings))


def index_name(settings: Settings, kind: str) -> str:
    """Return the alias that readers and writers use for `kind` (events, stories, articles, alerts)."""
    return f"{settings.index_prefix}-{kind}"
