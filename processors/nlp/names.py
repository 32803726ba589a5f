"""Names that an article introduces itself: "a group calling itself “X”", "هكرز أطلقوا على مجموعتهم اسم (X)".

Hacker groups come and go faster than any gazetteer; news introduces a new one with a naming
phrase and a quoted (or Latin-script) name. Pure functions over the tokens and hits of one Doc.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from spacy.lang.en.stop_words import STOP_WORDS

from processors.nlp.events import CueHit, Mention, Spanned
from processors.nlp.knowledge import Entity

NAMING_LABEL = "naming_phrase"
# Words after which a naming phrase names a group: the generic nouns, and the attacker nouns.
GROUP_LABELS = ("group_noun", "attacker_noun")
# Nouns a name is written before ("the Coinhoarder hacking group"); English only.
GROUP_SUFFIX_LABEL = "group_suffix"
# Quotes and brackets around a name; Arabic news mixes them freely (“X”, ”X“, «X», (X), "X″).
OPENERS = frozenset("«“”\"'‘’„([")
CLOSERS = frozenset("»”“\"'’‘″)]")
# A word that names the name ("calling itself the name X", "أطلقوا على مجموعتهم اسم X").
NAME_WORDS = frozenset(["اسم", "name"])
_LATIN_WORD = re.compile(r"[A-Za-z0-9_$@]+")
_LATIN_JOINERS = frozenset("-._&")
_WORD = re.compile(r"\w")


def _quoted(words: Sequence[str], start: int, max_tokens: int) -> tuple[int, int] | None:
    """Return the span inside the quotes or brackets that open at `start`."""
    if start >= len(words) or words[start] not in OPENERS:
        return None
    for end in range(start + 1, min(len(words), start + max_tokens + 2)):
        if words[end] in CLOSERS:
            inside = words[start + 1:end]
            return (start + 1, end) if any(_WORD.search(w) for w in inside) else None
    return None


def _named_word(word: str) -> bool:
    # An unquoted Latin name is capitalised or holds digits: "Cyber__Emotion", "APT28", not "hackers".
    return bool(_LATIN_WORD.fullmatch(word)) and any(c.isupper() or c.isdigit() for c in word)


def _latin_run(words: Sequence[str], start: int, max_tokens: int) -> tuple[int, int] | None:
    """Return the run of Latin-script name words (joined by - . _ &) that starts at `start`."""
    if start >= len(words) or not _named_word(words[start]):
        return None
    end = start + 1
    while end < len(words) and end - start < max_tokens:
        # Capitalised words go on a name ("Team Poison"); a lower-case one only after a joiner ("Snapsaved.com").
        if _named_word(words[end]):
            end += 1
        elif words[end] in _LATIN_JOINERS and end + 1 < len(words) and _LATIN_WORD.fullmatch(words[end + 1]):
            end += 2
        else:
            break
    return start, end


def name_after(words: Sequence[str], start: int, max_tokens: int) -> tuple[int, int] | None:
    """Return the span of the name a naming phrase ending at `start` introduces, if it is quoted or Latin."""
    if start < len(words) and words[start].lower() in NAME_WORDS:
        start += 1
    return _quoted(words, start, max_tokens) or _latin_run(words, start, max_tokens)


def _gloss(words: Sequence[str], end: int, max_tokens: int) -> tuple[int, int] | None:
    # «فريق التأثير» (ذا إمباكت تيم): a translation or transliteration in brackets right after the name.
    if end < len(words) and words[end] in CLOSERS:
        end += 1
    return _quoted(words, end, max_tokens)


def group_naming_phrases(cues: Sequence[CueHit], window: int) -> list[CueHit]:
    """Return the naming phrases that follow a group or attacker noun: "مجموعة تطلق على نفسها",
    "هكرز أطلقوا على مجموعتهم اسم", "a hacker group calling itself" name a group, not a company,
    a website or a piece of malware."""
    groups = [c.end for c in cues if c.cue.label in GROUP_LABELS]
    return [phrase for phrase in cues if phrase.cue.label == NAMING_LABEL
            and any(end <= phrase.start and phrase.start - end < window for end in groups)]


def named_before(words: Sequence[str], cue: CueHit, max_tokens: int) -> tuple[int, int] | None:
    """Return the span of a Latin name written right before a lower-case group noun: "the
    Coinhoarder hacking group", "the XMR Squad gang" (a firm writes its "Group" capitalised, as part
    of its name). Function words ("The gang", "This hacking group") name nothing."""
    if not words[cue.end - 1].islower() or not _LATIN_WORD.fullmatch(words[cue.end - 1]):
        return None
    start = cue.start
    while start > 0 and cue.start - start < max_tokens and _named_word(words[start - 1]) \
            and words[start - 1].lower() not in STOP_WORDS:
        start -= 1
    return (start, cue.start) if start < cue.start else None


def _overlaps(span: tuple[int, int], hits: Sequence[Spanned]) -> bool:
    return any(m.start < span[1] and span[0] < m.end for m in hits)


def _text(words_ws: Sequence[str], span: tuple[int, int]) -> str:
    return "".join(words_ws[span[0]:span[1]]).strip()


def introduced_names(words_ws: Sequence[str], cues: Sequence[CueHit], mentions: Sequence[Mention],
                     window: int, max_tokens: int) -> list[Mention]:
    """Return mentions of the groups that naming phrases introduce, and of their later repetitions.

    `words_ws` are the Doc's tokens with their trailing white space. A name that a gazetteer
    already knows (in the name or in its bracketed gloss) is left to the gazetteer's mention.
    """
    words = [w.strip() or w for w in words_ws]
    found: list[Mention] = []
    spans = [span for phrase in group_naming_phrases(cues, window)
             if (span := name_after(words, phrase.end, max_tokens))]
    # Unquoted, a name before its noun holds no lexicon word ("Ransomware crew", "Hackers gang").
    words_of_lexicon = [c for c in cues if c.cue.label not in (GROUP_SUFFIX_LABEL, "group_noun")]
    spans += [span for c in cues if c.cue.label == GROUP_SUFFIX_LABEL
              and (span := named_before(words, c, max_tokens)) and not _overlaps(span, words_of_lexicon)]
    for span in spans:
        gloss = _gloss(words, span[1], max_tokens)
        if _overlaps(span, mentions) or (gloss and _overlaps(gloss, mentions)) or _overlaps(span, found):
            continue
        name = _text(words_ws, span)
        entity = Entity(id=name, kind="group", name_en=name, name_ar=name)
        found.append(Mention(entity, *span))
        found += _repeated(words, found[-1], [*mentions, *found])
    return found


def _repeated(words: Sequence[str], mention: Mention, taken: Sequence[Mention]) -> list[Mention]:
    """Return the later bare mentions of an introduced name (the article goes on to use it alone)."""
    name = [w.lower() for w in words[mention.start:mention.end]]
    size = len(name)
    spans = [(i, i + size) for i in range(len(words) - size + 1)
             if [w.lower() for w in words[i:i + size]] == name]
    return [Mention(mention.entity, *span) for span in spans if not _overlaps(span, taken)]
