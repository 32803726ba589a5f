"""Checks on the trigger and cue lexicons in processors/knowledge/{en,ar}/ and event_types.jsonl."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

KNOWLEDGE = Path(__file__).resolve().parents[2] / "processors" / "knowledge"
LANGS = ("en", "ar")
EVENT_TYPES = {"agreement_signed", "cyberattack", "military_operation"}
ATTRIBUTES = {
    "agreement_signed": {"security": {True}},
    "cyberattack": {"method": {"ransomware", "ddos", "phishing", "breach", "malware", "defacement", "wiper",
                               "espionage", "other"}},
    "military_operation": {"kind": {"air_strike", "drone_strike", "shelling", "missile", "ground_assault", "clash",
                                    "raid", "naval", "operation"}},
}
CUE_LABELS = {"agreement_noun", "security_topic", "cyber_context", "military_context", "attacker_noun",
              "realis_planned", "realis_negated", "realis_generic", "agent_marker", "target_marker",
              "purpose_marker", "partner_marker", "place_marker", "reporting_verb", "source_marker", "non_party",
              "qualifier_suffix", "attacker_suffix", "malware_noun", "naming_phrase", "group_noun",
              "qualifier_prefix", "academic_noun", "analyst_marker", "group_suffix",
              "civilian_target", "military_target", "mediator_marker",
              "state_forces", "person_title", "bombing",
              "military_means"}
# English puts these after the name ("UK-based", "Russia-linked"), where Arabic puts a marker before it
# (مقرها، مرتبطة ب، agent markers); malware nouns serve the English-only statistical NER fallback, and
# English writes a group's name before its noun ("the Coinhoarder group").
ENGLISH_ONLY_LABELS = {"qualifier_suffix", "attacker_suffix", "malware_noun", "group_suffix"}
ACTOR_KINDS = {"country", "organisation", "agency", "armed_group", "group", "company", "person"}
TRIGGER_KEYS = {"id", "label", "patterns", "requires", "attributes", "realis", "weight", "lang", "source"}
CUE_KEYS = {"id", "label", "patterns", "scope", "window", "lang", "source"}

_HARAKAT = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_ARABIC = re.compile("[\u0600-\u06ff]")
_CLITIC_ARTICLE = re.compile("^(?:[وفبك]?ال|لل)")
# words that start with the letters of the article but do not carry it
_ARTICLE_LIKE_WORDS = {"باليستي", "باليستية", "باليستيا", "الذي", "التي", "الذين", "اللذين"}


def key(pattern: str) -> str:
    """Matching key of a pattern as the engine sees it (normalised, lowercased)."""
    text = " ".join(pattern.split())
    if _ARABIC.search(text):
        return _HARAKAT.sub("", text).translate(_LETTERS)
    return text.lower()


def _load(name: str) -> list[tuple[str, dict]]:
    rows = []
    for lang in LANGS:
        with open(KNOWLEDGE / lang / name, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                assert line.strip(), f"{lang}/{name}:{number} is blank"
                rows.append((lang, json.loads(line)))
    return rows


TRIGGERS = _load("triggers.jsonl")
CUES = _load("cues.jsonl")


def test_files_are_not_empty() -> None:
    for lang in LANGS:
        assert sum(1 for lg, _ in TRIGGERS if lg == lang) >= 20
        assert sum(1 for lg, _ in CUES if lg == lang) >= 12


@pytest.mark.parametrize("lang,row", TRIGGERS, ids=[r["id"] for _, r in TRIGGERS])
def test_trigger_record(lang: str, row: dict) -> None:
    assert set(row) == TRIGGER_KEYS
    assert row["lang"] == lang and row["id"].startswith(lang + ".")
    assert row["label"] in EVENT_TYPES
    assert isinstance(row["weight"], float) and 0.0 < row["weight"] <= 1.0
    assert row["realis"] in (None, "planned", "generic")
    assert row["source"]
    allowed = ATTRIBUTES[row["label"]]
    for name, value in row["attributes"].items():
        assert name in allowed and value in allowed[name], (name, value)
    for req in row["requires"]:
        if req.startswith("actor:"):
            assert req.removeprefix("actor:") in ACTOR_KINDS, req
        else:
            assert req in {c["label"] for lg, c in CUES if lg == lang}, req


@pytest.mark.parametrize("lang,row", CUES, ids=[r["id"] for _, r in CUES])
def test_cue_record(lang: str, row: dict) -> None:
    assert set(row) - {"only_for"} == CUE_KEYS
    assert row["lang"] == lang and row["id"].startswith(f"{lang}.cue.")
    assert row["label"] in CUE_LABELS
    assert row["scope"] in {"sentence", "before", "after"}
    assert isinstance(row["window"], int)
    assert (row["window"] == 0) == (row["scope"] == "sentence")
    for event_type in row.get("only_for", []):
        assert event_type in EVENT_TYPES


@pytest.mark.parametrize("lang,row", TRIGGERS + CUES, ids=[r["id"] for _, r in TRIGGERS + CUES])
def test_patterns_are_clean(lang: str, row: dict) -> None:
    assert row["patterns"], "no patterns"
    keys = [key(p) for p in row["patterns"]]
    assert len(keys) == len(set(keys)), "duplicate patterns after normalisation"
    for pattern in row["patterns"]:
        assert pattern == " ".join(pattern.split()) and pattern, repr(pattern)
        if lang == "ar" and _ARABIC.search(pattern):
            # the engine strips clitics and the article from text, so patterns must not carry them
            for token in pattern.split():
                if token not in _ARTICLE_LIKE_WORDS:
                    assert not (_CLITIC_ARTICLE.match(token) and len(token) > 4), (pattern, token)


def test_ids_unique() -> None:
    ids = [r["id"] for _, r in TRIGGERS + CUES]
    assert len(ids) == len(set(ids))


def test_no_pattern_twice_for_one_event_type() -> None:
    """One surface form belongs to one trigger entry per event type, or the matcher would double-count."""
    seen: dict[tuple[str, str, str], str] = {}
    for lang, row in TRIGGERS:
        for pattern in row["patterns"]:
            k = (lang, row["label"], key(pattern))
            assert k not in seen, f"{pattern!r} in {seen.get(k)} and {row['id']}"
            seen[k] = row["id"]


def test_every_event_type_has_triggers_in_both_languages() -> None:
    for lang in LANGS:
        assert {r["label"] for lg, r in TRIGGERS if lg == lang} == EVENT_TYPES


def test_every_cue_label_exists_in_both_languages() -> None:
    for lang in LANGS:
        expected = CUE_LABELS if lang == "en" else CUE_LABELS - ENGLISH_ONLY_LABELS
        assert {r["label"] for lg, r in CUES if lg == lang} == expected


def test_event_types() -> None:
    with open(KNOWLEDGE / "event_types.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert {r["id"] for r in rows} == EVENT_TYPES
    for r in rows:
        assert re.fullmatch(r"\d{3,4}", r["cameo"]) and r["plover"].isupper() and r["source"]
        for name, values in r["by_attribute"].items():
            if r["id"] == "agreement_signed":
                continue
            assert set(values) == ATTRIBUTES[r["id"]][name]
            assert all(re.fullmatch(r"\d{3,4}", v["cameo"]) for v in values.values())


def test_requirements_do_not_satisfy_themselves() -> None:
    """A trigger whose own word is one of its required cues would fire unconditionally."""
    cue_keys: dict[tuple[str, str], set[str]] = {}
    for lang, c in CUES:
        cue_keys.setdefault((lang, c["label"]), set()).update(key(p) for p in c["patterns"])
    for lang, row in TRIGGERS:
        for pattern in row["patterns"]:
            for req in row["requires"]:
                assert key(pattern) not in cue_keys.get((lang, req), set()), (row["id"], pattern, req)
