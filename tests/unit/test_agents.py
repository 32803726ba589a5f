"""agents: the extraction side of a batch (decode, extract, dead-letter) runs without a broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors import agents
from processors.agents import Message, extract_messages, load_extractor
from processors.extract import RejectedArticle
from processors.schemas import Article, Event
from processors.settings import Settings

SEED = Path("/work/shared/samples/seed-article-ar.txt")


def message(offset: int, value: bytes, key: bytes | None = None) -> Message:
    return Message("marsad.articles", 2, offset, key, value)


@pytest.fixture(scope="module")
def extractor_loaded() -> None:
    load_extractor(Settings())


def test_agents_extract_messages_events_and_dead_letters(extractor_loaded: None) -> None:
    seed = Article(id="seed", text=SEED.read_text(encoding="utf-8"), language="ar")
    results = extract_messages([
        message(10, b"not json", b"k-bad"),
        message(11, b'{"id": "no-text"}'),
        message(12, Article(id="empty", text=" ").to_json(), b"empty"),
        message(13, seed.to_json(), b"seed"),
    ])
    assert [r.dead_letter.reason if r.dead_letter else None for r in results] == [
        "malformed_json", "invalid_schema", "empty_text", None]
    assert [(r.dead_letter.offset, r.dead_letter.partition) for r in results[:3] if r.dead_letter] == [
        (10, 2), (11, 2), (12, 2)]
    assert results[0].dead_letter is not None and results[0].dead_letter.key == "k-bad"
    assert results[3].article == seed
    assert {e.event_type for e in results[3].events} == {"agreement_signed", "cyberattack",
                                                          "military_operation"}


class OneBadArticle:
    """An extractor whose batch call fails because of one article, as a bug in a component would."""

    def extract_many(self, articles: list[Article]) -> list[list[Event] | RejectedArticle]:
        raise ZeroDivisionError("somewhere in the batch")

    def extract(self, article: Article) -> list[Event]:
        if article.id == "poison":
            raise ZeroDivisionError("this article")
        return []


def test_agents_batch_failure_isolates_the_poison_pill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agents, "_extractor", OneBadArticle())
    results = extract_messages([message(n, Article(id=name, text="x" * 50).to_json())
                                for n, name in enumerate(["a", "poison", "b"])])
    assert [r.dead_letter.reason if r.dead_letter else "ok" for r in results] == ["ok", "extract_failed", "ok"]
    assert [r.article.id for r in results if r.article] == ["a", "b"]


def test_agents_environment_failure_in_extraction_crashes(monkeypatch: pytest.MonkeyPatch) -> None:
    class OutOfMemory(OneBadArticle):
        def extract_many(self, articles: list[Article]) -> list[list[Event] | RejectedArticle]:
            raise MemoryError

    monkeypatch.setattr(agents, "_extractor", OutOfMemory())
    with pytest.raises(MemoryError):
        extract_messages([message(0, Article(id="a", text="x" * 50).to_json())])
