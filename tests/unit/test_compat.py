"""compat: the Tansu workarounds are installed for the Tansu flavour only (no sockets here)."""

from __future__ import annotations

import asyncio

import pytest

from processors.app import create_app
from processors.compat import FETCH_MAX_WAIT_MS, TansuConsumerThread, TansuTransport
from processors.settings import Settings


@pytest.mark.parametrize(("flavour", "patched"), [("tansu", True), ("kafka", False)])
def test_compat_only_for_tansu(flavour: str, patched: bool) -> None:
    async def build() -> tuple[object, object, int]:
        app = create_app(Settings(kafka_flavour=flavour, worker_id=f"compat-{flavour}", faust_web_port=0))
        thread = app.consumer._thread
        consumer = thread._create_worker_consumer(app.transport)  # built, not started: no connection
        return app.transport, thread, consumer._fetch_max_wait_ms

    transport, thread, fetch_wait = asyncio.run(build())
    assert isinstance(transport, TansuTransport) is patched
    assert isinstance(thread, TansuConsumerThread) is patched
    assert fetch_wait == (FETCH_MAX_WAIT_MS if patched else 1500)
