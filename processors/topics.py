"""Every topic the workers read or write, the dead-letter topic included; names come from Settings.

Keys and values are raw bytes: values are our schema records' `.to_json()`, decoded by the agents
themselves, so a malformed message reaches the error policy instead of faust's deserialiser.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from processors.settings import Settings


@dataclass(frozen=True)
class Topics:
    """The pipeline's topics by role (see Settings.topics for the names)."""

    articles: faust.TopicT  # Article JSON, key = article id
    events: faust.TopicT  # Event JSON, key = story key (repartitioned for the stories table)
    stories: faust.TopicT  # Story JSON, key = story id
    dead_letters: faust.TopicT  # DeadLetter JSON, key = the failed message's key
    alerts: faust.TopicT  # Alert JSON, key = alert id


def declare(app: faust.App, settings: Settings) -> Topics:
    """Return the topics, declared on the app with the configured partitions and replicas."""
    names = settings.topics

    def topic(role: str) -> faust.TopicT:
        return app.topic(names[role], key_type=bytes, value_type=bytes, key_serializer="raw",
                         value_serializer="raw", partitions=settings.topic_partitions,
                         replicas=settings.topic_replicas)

    return Topics(articles=topic("articles"), events=topic("events"), stories=topic("stories"),
                  dead_letters=topic("dead_letters"), alerts=topic("alerts"))
