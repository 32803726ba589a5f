"""Checks on the actor gazetteers in processors/knowledge/actors/*.jsonl."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ACTORS = Path(__file__).resolve().parents[2] / "processors" / "knowledge" / "actors"
FILES = {
    "organisations.jsonl": {"organisation"},
    "agencies.jsonl": {"agency"},
    "armed_groups.jsonl": {"armed_group", "organisation"},
    "cyber_groups.jsonl": {"group"},
    "companies.jsonl": {"company"},
    "people.jsonl": {"person"},
    "institutions.jsonl": {"agency", "company", "organisation"},
    "tribes.jsonl": {"armed_group"},
}
KEYS = {
    "id",
    "kind",
    "name_en",
    "name_ar",
    "aliases_en",
    "aliases_ar",
    "ambiguous_aliases_en",
    "ambiguous_aliases_ar",
    "country",
    "source",
}
PERSON_KEYS = KEYS | {"position_en", "position_ar", "from", "to"}
ALIAS_LISTS = ("aliases_en", "aliases_ar", "ambiguous_aliases_en", "ambiguous_aliases_ar")

_HARAKAT = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_ARABIC = re.compile("[\u0600-\u06ff]")


def normalise(alias: str) -> str:
    """Matching key of an alias, as the extractor compares them (see knowledge/README.md)."""
    text = " ".join(alias.replace("-", " ").split())
    if _ARABIC.search(text):
        text = _HARAKAT.sub("", text).translate(_LETTERS)
        # the matcher strips the article from every token, so "الحوثي" and "حوثي" are one key
        return " ".join(t[2:] if t.startswith("ال") and len(t) > 3 else t for t in text.split())
    # English: aliases of 4+ letters match case-insensitively, shorter ones (acronyms) exactly
    return text.lower() if len(text) >= 4 else text


def _load() -> list[tuple[str, int, dict]]:
    rows = []
    for name in FILES:
        with open(ACTORS / name, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                rows.append((name, number, json.loads(line)))
    return rows


ROWS = _load()


def _resolver() -> dict[str, str]:
    index: dict[str, str] = {}
    for _, _, r in ROWS:
        for key in ALIAS_LISTS:
            for alias in r[key]:
                index[normalise(alias)] = r["id"]
    return index


def test_every_file_present_and_nonempty():
    counts = {name: sum(1 for n, _, _ in ROWS if n == name) for name in FILES}
    assert all(c > 0 for c in counts.values()), counts
    assert 400 <= len(ROWS) <= 1400


@pytest.mark.parametrize("name,number,record", ROWS, ids=lambda v: str(v)[:40])
def test_record_shape(name, number, record):
    expected = PERSON_KEYS if record["kind"] == "person" else KEYS
    assert set(record) == expected, f"{name}:{number}"
    assert record["kind"] in FILES[name]
    assert record["id"].strip() and record["name_en"].strip()
    assert _ARABIC.search(record["name_ar"]), f"{name}:{number} name_ar is not Arabic"
    assert record["aliases_en"] and record["aliases_ar"]
    assert record["country"] is None or re.fullmatch("[A-Z]{2}", record["country"])
    assert record["source"].strip()
    for key in ALIAS_LISTS:
        assert isinstance(record[key], list)
        for alias in record[key]:
            assert alias == alias.strip() and alias, f"{name}:{number} {key} {alias!r}"
            assert "(" not in alias
            if key.endswith("_ar"):
                assert _ARABIC.search(alias), f"{name}:{number} {alias!r} is not Arabic"
            else:
                assert not _ARABIC.search(alias), f"{name}:{number} {alias!r} is Arabic"
    if record["kind"] == "person":
        assert record["position_en"] and _ARABIC.search(record["position_ar"])
        assert isinstance(record["from"], int) and 1950 <= record["from"] <= 2030
        assert record["to"] is None or record["from"] <= record["to"] <= 2030


def test_ids_unique():
    ids = [r["id"] for _, _, r in ROWS]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes


def test_ambiguous_aliases_kept_apart_from_plain_aliases():
    for _, _, r in ROWS:
        plain = {normalise(a) for a in r["aliases_en"] + r["aliases_ar"]}
        both = plain & {normalise(a) for a in r["ambiguous_aliases_en"] + r["ambiguous_aliases_ar"]}
        assert not both, (r["id"], both)


def test_no_alias_shared_between_ids():
    owner: dict[str, str] = {}
    clashes = []
    for _, _, r in ROWS:
        for key in ALIAS_LISTS:
            for alias in r[key]:
                k = normalise(alias)
                if owner.setdefault(k, r["id"]) != r["id"]:
                    clashes.append((alias, owner[k], r["id"]))
    assert not clashes


def test_normaliser_folds_arabic_variants():
    assert normalise("الإخوانُ المسلمين") == normalise("الاخوان مسلمين")
    assert normalise("أرامكو السعودية") == normalise("ارامكو السعوديه")
    assert normalise("Daesh") == normalise("DAESH")
    assert normalise("IS") != normalise("is")


@pytest.mark.parametrize(
    "alias,actor",
    [
        ("داعش", "Islamic State"),
        ("تنظيم الدولة", "Islamic State"),
        ("ISIS", "Islamic State"),
        ("ISIL", "Islamic State"),
        ("أرامكو", "Saudi Aramco"),
        ("شركة النفط السعودية أرامكو", "Saudi Aramco"),
        ("Aramco", "Saudi Aramco"),
        ("جي سي أتش كيو", "GCHQ"),
        ("GCHQ", "GCHQ"),
        ("الحوثيون", "Houthis"),
        ("Houthis", "Houthis"),
        ("الإخوان المسلمين", "Muslim Brotherhood"),
        ("القيادة المركزية الأميركية الوسطى", "CENTCOM"),
        ("تميم بن حمد", "Tamim bin Hamad Al Thani"),
        ("ديفيد كاميرون", "David Cameron"),
        ("بشار الأسد", "Bashar al-Assad"),
        ("NATO", "NATO"),
        ("الأمم المتحدة", "United Nations"),
        ("حزب الله", "Hezbollah"),
    ],
)
def test_spot_checks(alias, actor):
    assert _resolver().get(normalise(alias)) == actor


@pytest.mark.parametrize("alias", ["الدولة", "IS", "Target", "Apple", "الشباب", "تميم", "القاعدة"])
def test_common_words_are_only_ambiguous(alias):
    """Common words never resolve on their own: at most they are someone's ambiguous alias."""
    for _, _, r in ROWS:
        assert normalise(alias) not in {normalise(a) for a in r["aliases_en"] + r["aliases_ar"]}, r["id"]


def test_ambiguous_spot_checks():
    by_id = {r["id"]: r for _, _, r in ROWS}
    assert "IS" in by_id["Islamic State"]["ambiguous_aliases_en"]
    assert "الدولة" in by_id["Islamic State"]["ambiguous_aliases_ar"]
    assert "تميم" in by_id["Tamim bin Hamad Al Thani"]["ambiguous_aliases_ar"]
    assert "Target" in by_id["Target Corporation"]["ambiguous_aliases_en"]


def test_display_names_are_plain_aliases():
    """The loader matches name_en/name_ar too, so they must be unambiguous plain aliases."""
    for _, _, r in ROWS:
        for lang in ("en", "ar"):
            assert normalise(r[f"name_{lang}"]) in {normalise(a) for a in r[f"aliases_{lang}"]}, r["id"]


def test_no_alias_shared_with_places():
    places = ACTORS.parent / "places.jsonl"
    if not places.exists():
        pytest.skip("places.jsonl not written yet")
    actor_keys = _resolver()
    clashes = []
    with open(places, encoding="utf-8") as f:
        for line in f:
            place = json.loads(line)
            names = [place.get("name_en"), place.get("name_ar")]
            for key in (*ALIAS_LISTS, "demonyms_en", "demonyms_ar"):
                names += place.get(key) or []
            clashes += [(n, place["id"], actor_keys[normalise(n)]) for n in names if n and normalise(n) in actor_keys]
    assert not clashes
