"""Article -> events: the extraction stage.

The headline is read as the first sentence (it states the main event and often names the victim);
evidence found there carries the `title` flag and offsets in the title. A cheap scan keeps only the
sentences that hold a trigger word; the spaCy pipeline of the article's
language runs over those sentences alone, in batches; the sentence-level candidates are then mapped
back to the article (offsets in the original text) and the mentions of one event are merged.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from spacy.language import Language
from spacy.tokens import Doc

from processors.nlp import arabic
from processors.nlp.components import ArabicNorms
from processors.nlp.dates import DateRules, compile_date_rules, resolve_event_date
from processors.nlp.events import EventCandidate, merge_mentions
from processors.nlp.headlines import truecase
from processors.nlp.knowledge import Knowledge, load_knowledge
from processors.nlp.language import detect_language
from processors.nlp.pipeline import build_nlp
from processors.nlp.sentences import split_sentences
from processors.schemas import Article, Event, Evidence, Location, Participant
from processors.settings import Settings

_WORD = re.compile(r"\w+")
_JUNK = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")
_MAX_JUNK_RATIO = 0.05
_MIN_TEXT_CHARS = 20
TRUNCATED_FLAG = "truncated"
# The evidence sentence is the headline: its offsets are in the title, not in the text.
TITLE_FLAG = "title"
_TITLE_BREAK = "\n\n"  # a blank line always ends a sentence: the headline stands alone
# "Abta website hacked - BBC News": a short tail after the last dash or bar names the site;
# "… Data | Threatpost | The first stop for security news": everything after the first bar does.
_SITE_SUFFIX = re.compile(r"\s+\|\s.*$|\s+[-|–—]\s+(?:\S+\s+){0,4}\S+\s*$")


class RejectedArticle(ValueError):
    """The article cannot be processed; `reason` is a short machine-readable code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


SENTENCE_JOINER = " "  # sentences never share a hit: components bucket hits by sentence


@dataclass(frozen=True)
class Segment:
    """The sentences of one article selected for the pipeline, joined into the text of one Doc.

    `starts[i]` is where sentence i begins in that text and `offsets[i]` where it begins in the
    (normalised) article text; one Doc per article keeps spaCy's per-Doc overhead off the hot path.
    """

    article_index: int
    text: str
    starts: tuple[int, ...]
    offsets: tuple[int, ...]
    lengths: tuple[int, ...]

    def to_article(self, char: int) -> int:
        """Return the article offset of character `char` of the Doc."""
        sentence = bisect.bisect_right(self.starts, char) - 1
        return self.offsets[sentence] + char - self.starts[sentence]


@dataclass
class Prepared:
    """An article ready for the pipeline: language, normalised text, flags.

    `text` is the headline, a blank line, then the article text (normalised for Arabic);
    `source` is the same before normalisation and `prefix` where the article text starts in it.
    """

    article: Article
    language: str
    text: str
    normalised: arabic.Normalised | None
    flags: list[str]
    source: str = ""
    prefix: int = 0

    def to_text(self, offset: int) -> tuple[int, bool]:
        """Return an offset of `source` as one in the article text or the title, and whether in the title."""
        if offset < self.prefix:
            return offset, True
        return offset - self.prefix, False


def language_of(article: Article) -> str | None:
    """Return the article's language: as given, else detected from its text (None: neither ar nor en)."""
    return article.language or detect_language(article.text)


def with_language(article: Article) -> Article:
    """Return the article with its language set when it was missing and can be detected."""
    language = language_of(article)
    return article if language == article.language else article.model_copy(update={"language": language})


def validate(article: Article, max_chars: int) -> Prepared:
    """Return the article prepared for extraction, or raise RejectedArticle with the reason."""
    text = article.text
    if len(text.strip()) < _MIN_TEXT_CHARS:
        raise RejectedArticle("empty_text", f"article {article.id}: text is empty or shorter than "
                                            f"{_MIN_TEXT_CHARS} characters")
    sample = text[:20_000]
    if len(_JUNK.findall(sample)) > _MAX_JUNK_RATIO * len(sample):
        raise RejectedArticle("binary_content", f"article {article.id}: text looks binary or wrongly decoded "
                                                "(control or replacement characters)")
    language = language_of(article)
    if language not in ("ar", "en"):
        raise RejectedArticle("unsupported_language", f"article {article.id}: language is neither Arabic "
                                                      "nor English (or could not be detected)")
    flags = []
    if len(text) > max_chars:
        text = text[:max_chars]
        flags.append(TRUNCATED_FLAG)
    source, prefix = headed(article.title, text)
    if language == "ar":
        normalised = arabic.normalise(source)
        return Prepared(article, language, normalised.text, normalised, flags, source, prefix)
    # The pipeline reads an English headline in the case its text writes the words (same length).
    cased = truecase(source[:prefix], text) + source[prefix:]
    return Prepared(article, language, cased, None, flags, source, prefix)


def headed(title: str | None, text: str) -> tuple[str, int]:
    """Return the text with its headline before it (the site's name cut off), and where the text starts.

    A headline states the article's main event and often names the victim; it is read as one more sentence.
    """
    headline = _SITE_SUFFIX.sub("", title or "").rstrip()
    if not headline.strip() or _TITLE_BREAK in headline:
        return text, 0
    return headline + _TITLE_BREAK + text, len(headline) + len(_TITLE_BREAK)


class Extractor:
    """The extraction engine for both languages; load once per process."""

    def __init__(self, pipelines: dict[str, Language], knowledge: Knowledge, max_chars: int):
        self.pipelines = pipelines
        self.knowledge = knowledge
        self.max_chars = max_chars
        self._key_words = {lang: self._trigger_key_words(lang) for lang in pipelines}
        self._dates = {lang: compile_date_rules(knowledge.dates[lang], lang) for lang in pipelines}

    @classmethod
    def load(cls, settings: Settings | None = None) -> Extractor:
        """Return an extractor with both language pipelines built (about a second)."""
        max_chars = settings.max_text_chars if settings else Settings().max_text_chars
        return cls({lang: build_nlp(lang) for lang in ("ar", "en")}, load_knowledge(), max_chars)

    def _analyse(self, lang: str) -> Any:
        if lang == "ar":
            return cast(ArabicNorms, self.pipelines["ar"].get_pipe("norms")).analyse
        return str.lower

    def _trigger_key_words(self, lang: str) -> frozenset[str]:
        # One word per trigger pattern: a sentence without any of them cannot hold a trigger and never
        # reaches spaCy. A word that is a trigger on its own ("hacking" of "victims of hacking"), else
        # the longest (the rarest, usually: "strike" of "air strike").
        analyse = self._analyse(lang)
        patterns = [[analyse(t) for t in _WORD.findall(arabic.normalise_word(p) if lang == "ar" else p)]
                    for trigger in self.knowledge.triggers[lang] for p in trigger.patterns]
        single = {tokens[0] for tokens in patterns if len(tokens) == 1}
        return frozenset(next((t for t in tokens if t in single), max(tokens, key=len))
                         for tokens in patterns if tokens)

    def extract(self, article: Article) -> list[Event]:
        """Return the events of one article; raise RejectedArticle when it cannot be processed."""
        result = self.extract_many([article])[0]
        if isinstance(result, RejectedArticle):
            raise result
        return result

    def extract_many(self, articles: list[Article]) -> list[list[Event] | RejectedArticle]:
        """Return, for each article in order, its events or the reason it was rejected."""
        results: list[list[Event] | RejectedArticle] = []
        prepared: list[Prepared | None] = []
        for article in articles:
            try:
                prepared.append(validate(article, self.max_chars))
                results.append([])
            except RejectedArticle as exc:
                prepared.append(None)
                results.append(exc)
        for lang, nlp in self.pipelines.items():
            segments = list(self._segments(prepared, lang))
            docs = nlp.pipe(_make_doc(nlp, s, _year(prepared[s.article_index])) for s in segments)
            for segment, doc in zip(segments, docs, strict=True):
                item = prepared[segment.article_index]
                assert item is not None
                date_of = _sentence_dates(item, segment, self._dates[lang])
                events = [to_event(item, segment, c, doc, self.knowledge, date_of)
                          for c in merge_mentions(doc._.events)]
                results[segment.article_index] = sorted(events, key=lambda e: e.evidence.start)
        return results

    def _segments(self, prepared: list[Prepared | None], lang: str) -> Iterator[Segment]:
        key_words = self._key_words[lang]
        analyse = self._analyse(lang)
        abbreviations = self.knowledge.abbreviations if lang == "en" else frozenset()

        def has_trigger_word(sentence: str) -> bool:
            if lang == "en":
                return not key_words.isdisjoint(_WORD.findall(sentence.lower()))
            return not key_words.isdisjoint(map(analyse, _WORD.findall(sentence)))

        for index, item in enumerate(prepared):
            if item is None or item.language != lang:
                continue
            chosen = [(start, end) for start, end in split_sentences(item.text, abbreviations)
                      if has_trigger_word(item.text[start:end])]
            if chosen:
                yield _segment(index, item.text, chosen)


def _segment(index: int, text: str, spans: list[tuple[int, int]]) -> Segment:
    starts, position = [], 0
    for start, end in spans:
        starts.append(position)
        position += end - start + len(SENTENCE_JOINER)
    joined = SENTENCE_JOINER.join(text[start:end] for start, end in spans)
    return Segment(index, joined, tuple(starts), tuple(s for s, _ in spans), tuple(e - s for s, e in spans))


def _make_doc(nlp: Language, segment: Segment, year: int | None) -> Doc:
    doc = nlp.make_doc(segment.text)
    doc.user_data["sentence_starts"] = segment.starts
    doc.user_data["year"] = year  # who holds which office depends on when the news was written
    return doc


def _year(item: Prepared | None) -> int | None:
    published = item.article.published_at if item else None
    return published.year if published else None


def _original(item: Prepared, offset: int) -> int:
    return item.normalised.original_offset(offset) if item.normalised else offset


def _span(item: Prepared, segment: Segment, doc: Doc, start: int, end: int) -> tuple[int, int]:
    last = doc[end - 1]
    begin = segment.to_article(doc[start].idx)
    finish = segment.to_article(last.idx + len(last.text) - 1) + 1
    return _original(item, begin), _original(item, finish - 1) + 1


def _participant(item: Prepared, segment: Segment, doc: Doc, candidate: Any, knowledge: Knowledge) -> Participant:
    start, end = _span(item, segment, doc, candidate.start, candidate.end)
    entity = candidate.entity
    name = item.source[start:end]
    if item.normalised and entity.id not in knowledge.entities:
        # A name the Arabic article introduced itself (no gazetteer id): its canonical form is the
        # name as written, not the matcher's folded spelling (ة, ى and hamzas kept, marks removed).
        written = arabic.strip_marks(name)
        return Participant(name=name, canonical=written, kind=entity.kind, role=candidate.role,
                           name_en=written, name_ar=written)
    return Participant(name=name, canonical=entity.id, kind=entity.kind, role=candidate.role,
                       name_en=entity.name_en, name_ar=entity.name_ar)


def _location(candidate: EventCandidate) -> Location | None:
    place = candidate.location
    if place is None:
        return None
    entity = place.entity
    country = entity.id if entity.kind == "country" else entity.country
    return Location(name=entity.name_en, country=country, lat=entity.lat, lon=entity.lon)


def _codes(knowledge: Knowledge, event_type: str, attributes: dict[str, Any]) -> tuple[str, str]:
    spec = knowledge.event_types.get(event_type, {})
    cameo, plover = spec.get("cameo", ""), spec.get("plover", "")
    for name, by_value in (spec.get("by_attribute") or {}).items():
        override = by_value.get(str(attributes.get(name)), {})
        cameo, plover = override.get("cameo", cameo), override.get("plover", plover)
    return cameo, plover


def event_id(article_id: str, event_type: str, start: int) -> str:
    """Return the deterministic id of the event announced at `start` in an article."""
    return hashlib.sha1(f"{article_id}|{event_type}|{start}".encode(), usedforsecurity=False).hexdigest()[:20]


def _sentence_dates(item: Prepared, segment: Segment, rules: DateRules) -> Callable[[int], str | None]:
    """Return a function giving the event date of each selected sentence, resolved once per sentence."""
    @functools.cache
    def date_of(sentence: int) -> str | None:
        offset = segment.offsets[sentence]
        text = item.text[offset:offset + segment.lengths[sentence]]
        return resolve_event_date(arabic.fold(text) if item.normalised else text, rules, item.article.published_at)
    return date_of


def to_event(item: Prepared, segment: Segment, candidate: EventCandidate, doc: Doc, knowledge: Knowledge,
             date_of: Callable[[int], str | None]) -> Event:
    """Return the schema Event of a sentence-level candidate, with offsets in the original text."""
    article = item.article
    sentence = candidate.sentence
    offset = segment.offsets[sentence]
    sentence_start = _original(item, offset)
    sentence_end = _original(item, offset + segment.lengths[sentence] - 1) + 1
    trigger_start, trigger_end = _span(item, segment, doc, candidate.trigger.start, candidate.trigger.end)
    cameo, plover = _codes(knowledge, candidate.event_type, candidate.attributes)
    start, in_title = item.to_text(sentence_start)
    return Event(
        # Headline triggers get negative positions, so that they never share an id with the text's.
        event_id=event_id(article.id, candidate.event_type, trigger_start - item.prefix),
        article_id=article.id, event_type=candidate.event_type,  # type: ignore[arg-type]
        realis=candidate.realis,  # type: ignore[arg-type]
        participants=[_participant(item, segment, doc, p, knowledge) for p in candidate.participants],
        attributes=candidate.attributes, location=_location(candidate),
        event_date=date_of(sentence),
        evidence=Evidence(sentence=item.source[sentence_start:sentence_end], start=start,
                          end=start + sentence_end - sentence_start, trigger=item.source[trigger_start:trigger_end]),
        confidence=candidate.confidence, cameo=cameo, plover=plover,
        language=item.language,  # type: ignore[arg-type]
        title=article.title, url=article.url, source=article.source, published_at=article.published_at,
        near_duplicate_of=article.near_duplicate_of, flags=item.flags + [TITLE_FLAG] * in_title,
    )
