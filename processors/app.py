"""The faust App, built from Settings, and nothing else (topics, tables and agents import it)."""

from __future__ import annotations

import faust

from processors import compat, delivery
from processors.settings import Settings


def create_app(settings: Settings) -> faust.App:
    """Return the faust App for these settings; workers with the same worker_id share the work."""
    session_timeout = settings.consumer_session_timeout_s
    app = delivery.App(
        settings.worker_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        store=settings.faust_store,
        autodiscover=False,
        # Values travel as our own JSON bytes (schemas.Record.to_json), never as faust Records.
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replicas,
        broker_session_timeout=session_timeout,
        # Kafka's rule of thumb: heartbeat at most a third of the session timeout.
        broker_heartbeat_interval=min(3.0, session_timeout / 3),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=settings.faust_web_port > 0,
        web_port=settings.faust_web_port or 6066,  # MARSAD_FAUST_WEB_PORT=0 turns the web server off
    )
    compat.apply(app, settings)
    return app
