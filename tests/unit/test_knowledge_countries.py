"""The country and place gazetteers (processors/knowledge/actors/countries.jsonl, places.jsonl)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pycountry
import pytest

KNOWLEDGE = Path(__file__).resolve().parents[2] / "processors" / "knowledge"
COUNTRIES = KNOWLEDGE / "actors" / "countries.jsonl"
PLACES = KNOWLEDGE / "places.jsonl"

COUNTRY_KEYS = [
    "id", "kind", "name_en", "name_ar", "aliases_en", "aliases_ar", "demonyms_en", "demonyms_ar",
    "ambiguous_aliases_en", "ambiguous_aliases_ar", "country", "source",
]  # fmt: skip
PLACE_KEYS = [
    "id", "kind", "name_en", "name_ar", "aliases_en", "aliases_ar", "ambiguous_aliases_en",
    "ambiguous_aliases_ar", "country", "lat", "lon", "source",
]  # fmt: skip
PLACE_KINDS = {"capital", "city", "base", "region", "sea", "strait"}
# Uninhabited territories: no people, hence no demonym in either language.
UNINHABITED = {"AQ", "BV", "HM", "TF", "GS", "UM"}
# Inhabited, but no demonym is attested in that language (Svalbard, the Holy See; Arabic for the
# Isle of Man and the Turks and Caicos Islands).
NO_DEMONYM = {"en": {"SJ", "VA"}, "ar": {"IM", "TC"}}
# At most this many inhabited countries may have their only demonyms in the ambiguous lists
# (e.g. Mali's مالي = "financial"); more means a regression in the curated table.
MAX_ONLY_AMBIGUOUS_DEMONYMS = 10

HARAKAT = re.compile("[\u064b-\u0652\u0640]")
LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})


def normalise(text: str, lang: str) -> str:
    """Return the form the engine matches on: Arabic orthography folded, English lowercased."""
    if lang == "ar":
        return HARAKAT.sub("", text).translate(LETTERS).strip()
    return text.casefold().strip()


def load(path: Path) -> list[dict[str, Any]]:
    """Return every line of a JSONL file, parsed."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def countries() -> dict[str, dict[str, Any]]:
    return {rec["id"]: rec for rec in load(COUNTRIES)}


@pytest.fixture(scope="module")
def places() -> list[dict[str, Any]]:
    return load(PLACES)


@pytest.mark.parametrize(("path", "keys"), [(COUNTRIES, COUNTRY_KEYS), (PLACES, PLACE_KEYS)])
def test_knowledge_countries_every_line_parses_with_exact_keys(path: Path, keys: list[str]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines, f"{path.name} is empty"
    ids = []
    for lineno, line in enumerate(lines, 1):
        rec = json.loads(line)
        assert list(rec) == keys, f"{path.name}:{lineno} keys {list(rec)}"
        assert rec["name_en"] and rec["name_ar"] and rec["source"], f"{path.name}:{lineno}"
        for key in keys:
            if key.startswith(("aliases_", "demonyms_", "ambiguous_")):
                assert all(isinstance(a, str) and a.strip() == a and a for a in rec[key]), (rec["id"], key)
                assert len(set(rec[key])) == len(rec[key]), (rec["id"], key, "duplicates")
        ids.append(rec["id"])
    assert len(ids) == len(set(ids)), "ids are not unique"
    assert ids == sorted(ids), f"{path.name} is not sorted by id"


def test_knowledge_countries_ids_unique_across_files(countries, places) -> None:
    assert not set(countries) & {p["id"] for p in places}


def test_knowledge_countries_every_iso_country_present(countries) -> None:
    expected = {c.alpha_2 for c in pycountry.countries} | {"XK"}
    missing = expected - set(countries)
    assert not missing, f"missing ISO 3166-1 countries: {sorted(missing)}"
    for code in ("PS", "XK", "TW", "VA"):
        assert code in countries
    for code, rec in countries.items():
        assert rec["kind"] == "country" and rec["country"] == code
        assert re.search("[\u0600-\u06ff]", rec["name_ar"]), f"{code} has no Arabic name"
        assert rec["aliases_en"] or rec["ambiguous_aliases_en"], code
        assert rec["aliases_ar"], f"{code} has no unambiguous Arabic alias"


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_knowledge_countries_every_inhabited_country_has_a_demonym(countries, lang: str) -> None:
    only_ambiguous = []
    for code, rec in countries.items():
        if code in UNINHABITED or code in NO_DEMONYM[lang]:
            continue
        if not rec[f"demonyms_{lang}"]:
            assert rec[f"ambiguous_aliases_{lang}"], f"{code} has no {lang} demonym at all"
            only_ambiguous.append(code)
    assert len(only_ambiguous) <= MAX_ONLY_AMBIGUOUS_DEMONYMS, only_ambiguous


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_knowledge_countries_no_alias_shared_between_ids(countries, places, lang: str) -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for rec in [*countries.values(), *places]:
        for form in [*rec[f"aliases_{lang}"], *rec.get(f"demonyms_{lang}", [])]:
            owners[normalise(form, lang)].add(rec["id"])
    shared = {form: ids for form, ids in owners.items() if len(ids) > 1}
    assert not shared, shared


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_knowledge_countries_ambiguous_forms_are_not_also_plain(countries, places, lang: str) -> None:
    for rec in [*countries.values(), *places]:
        plain = {normalise(a, lang) for a in [*rec[f"aliases_{lang}"], *rec.get(f"demonyms_{lang}", [])]}
        ambiguous = {normalise(a, lang) for a in rec[f"ambiguous_aliases_{lang}"]}
        assert not plain & ambiguous, (rec["id"], plain & ambiguous)


def test_knowledge_countries_places_have_kind_country_and_coordinates(countries, places) -> None:
    assert len(places) >= 300
    for rec in places:
        assert rec["kind"] in PLACE_KINDS, rec["id"]
        assert rec["country"] is None or rec["country"] in countries, rec["id"]
        assert isinstance(rec["lat"], float | int) and -90 <= rec["lat"] <= 90, rec["id"]
        assert isinstance(rec["lon"], float | int) and -180 <= rec["lon"] <= 180, rec["id"]
        assert rec["aliases_en"] or rec["ambiguous_aliases_en"], rec["id"]
        assert rec["aliases_ar"] or rec["ambiguous_aliases_ar"], rec["id"]
    capitals = {rec["country"] for rec in places if rec["kind"] == "capital"}
    for code in ("GB", "QA", "US", "SA", "YE", "SY", "IQ", "AF", "UA", "RU"):
        assert code in capitals, f"no capital for {code}"


@pytest.mark.parametrize(
    ("code", "aliases_en", "demonyms_en", "aliases_ar", "demonyms_ar"),
    [
        ("GB", ["UK", "Britain", "United Kingdom"], ["British"], ["بريطانيا", "المملكة المتحدة"], ["بريطاني"]),
        ("QA", ["Qatar"], ["Qatari"], ["قطر"], ["قطري"]),
        ("US", ["United States", "U.S."], ["American"], ["الولايات المتحدة"], ["أمريكي"]),
        ("SA", ["Saudi Arabia"], ["Saudi"], ["السعودية"], ["سعودي"]),
    ],
)
def test_knowledge_countries_core_forms(countries, code, aliases_en, demonyms_en, aliases_ar, demonyms_ar) -> None:
    rec = countries[code]
    assert set(aliases_en) <= set(rec["aliases_en"])
    assert set(demonyms_en) <= set(rec["demonyms_en"])
    assert set(aliases_ar) <= set(rec["aliases_ar"])
    assert set(demonyms_ar) <= set(rec["demonyms_ar"])


@pytest.mark.parametrize(
    ("rec_id", "lang", "form"),
    [
        ("ML", "ar", "مالي"),  # also "financial"
        ("OM", "ar", "عمان"),  # also Amman
        ("BJ", "ar", "بنين"),  # also "boys"
        ("TD", "en", "Chad"),
        ("JO", "en", "Jordan"),
        ("Al Udeid Air Base", "ar", "العديد"),  # also "many", as in العديد من
        ("Tyre", "ar", "صور"),  # also "pictures"
        ("Tripoli", "en", "Tripoli"),  # Libya's and Lebanon's
    ],
)
def test_knowledge_countries_collisions_are_ambiguous(countries, places, rec_id, lang, form) -> None:
    rec = countries.get(rec_id) or next(p for p in places if p["id"] == rec_id)
    assert form in rec[f"ambiguous_aliases_{lang}"]
    assert form not in rec[f"aliases_{lang}"] + rec.get(f"demonyms_{lang}", [])


def test_knowledge_countries_files_match_a_rebuild() -> None:
    """The committed files are exactly what tools/build_knowledge.py produces from its inputs."""
    import subprocess
    import sys

    root = KNOWLEDGE.parents[1]
    done = subprocess.run(
        [sys.executable, str(root / "tools" / "build_knowledge.py"), "--check"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
