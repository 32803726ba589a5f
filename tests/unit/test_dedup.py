"""ingest/dedup.py: exact duplicates dropped, near duplicates (re-published stories) marked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.article import normalised_text
from ingest.dedup import Deduplicator, DedupOptions
from processors.schemas import Article

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
VOA = [Article.model_validate(json.loads(line))
       for line in (SAMPLES / "voa-articles-en.jsonl").read_text().splitlines()]
SEED_AR = Article(id="seed-ar", language="ar",
                  text=(SAMPLES / "seed-article-ar.txt").read_text(encoding="utf-8"))


def republished(article: Article, new_id: str, header: str, footer: str, change: str) -> Article:
    """Return the article as another outlet would run it: own header and footer, one sentence rewritten."""
    sentences = re.split(r"(?<=[.!?؟])\s+", article.text)
    sentences[3] = change + "."
    return article.model_copy(update={"id": new_id, "text": f"{header} {' '.join(sentences)} {footer}"})


def test_dedup_distinct_articles_are_new() -> None:
    dedup = Deduplicator()
    verdicts = [dedup.check(a) for a in VOA]
    assert [v for v, _ in verdicts] == ["new"] * len(VOA)
    assert all(a.near_duplicate_of is None for _, a in verdicts)


def test_dedup_exact_duplicate_by_id_and_by_text() -> None:
    dedup = Deduplicator()
    first = VOA[0]
    assert dedup.check(first)[0] == "new"
    assert dedup.check(first.model_copy(update={"text": "Updated text."}))[0] == "duplicate"  # same id
    respaced_text = "  " + first.text.replace(" ", "\n  ") + "\n"
    respaced = first.model_copy(update={"id": "mirror:1", "text": respaced_text})
    assert dedup.check(respaced)[0] == "duplicate"  # same normalised text
    assert dedup.seen_id(first.id) and not dedup.seen_id("mirror:1")


@pytest.mark.parametrize("original", [VOA[0], VOA[5], SEED_AR], ids=["voa-syria", "voa-mosul", "seed-ar"])
def test_dedup_republished_story_is_marked(original: Article) -> None:
    dedup = Deduplicator()
    for article in [*VOA, SEED_AR]:
        dedup.check(article)
    copy = republished(original, "outlet-b:1", "ISTANBUL (Wire) —", "Copyright Wire. All rights reserved.",
                       "This sentence was rewritten by the second outlet's editors")
    verdict, marked = dedup.check(copy)
    assert (verdict, marked.near_duplicate_of) == ("near_duplicate", original.id)
    assert marked.id == "outlet-b:1" and marked.text == copy.text


def test_dedup_chain_points_at_the_first_article() -> None:
    dedup = Deduplicator()
    dedup.check(VOA[1])
    second = republished(VOA[1], "b", "BEIRUT —", "(Wire)", "A rewritten sentence number one")
    third = republished(second, "c", "DUBAI —", "Reporting by staff.", "Another rewritten sentence here")
    assert dedup.check(second)[1].near_duplicate_of == VOA[1].id
    assert dedup.check(third)[1].near_duplicate_of == VOA[1].id


def test_dedup_same_topic_different_story_is_not_marked() -> None:
    # Two VOA reports on the Syrian war share vocabulary but not text.
    dedup = Deduplicator()
    dedup.check(VOA[0])
    assert dedup.check(VOA[3]) == ("new", VOA[3])


def test_dedup_short_texts_only_exact() -> None:
    dedup = Deduplicator(DedupOptions(min_shingles=10))
    dedup.check(Article(id="a", text="Turkey shells Kurdish positions near Azaz.", language="en"))
    later = Article(id="b", text="Turkey shells Kurdish positions near Azaz today.", language="en")
    assert dedup.check(later)[0] == "new"


def test_dedup_threshold_is_an_option() -> None:
    sentences = re.split(r"(?<=[.!?])\s+", VOA[2].text)
    trimmed = " ".join(sentences[: len(sentences) * 4 // 5])  # the second outlet cut the last fifth
    copy = VOA[2].model_copy(update={"id": "x", "text": f"TOKYO (Wire) — {trimmed}"})
    similarity = Deduplicator().signature(normalised_text(VOA[2].text)).jaccard(
        Deduplicator().signature(normalised_text(copy.text)))
    assert 0.75 < similarity < 0.95
    lenient, strict = Deduplicator(), Deduplicator(DedupOptions(threshold=0.95))
    lenient.check(VOA[2])
    strict.check(VOA[2])
    assert (lenient.check(copy)[0], strict.check(copy)[0]) == ("near_duplicate", "new")
