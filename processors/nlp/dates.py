"""Resolve when an event happened from the words of its sentence and the article's publication date.

Explicit dates ("19 June 2022", "June 19, 2022", "19 يونيو 2022", "November 2001") win; then
relative expressions ("yesterday", "أمس", "last week", "on Monday", "يوم الاثنين") counted back from
the publication date; otherwise the publication date itself, the best a news report gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from processors.nlp import arabic


@dataclass(frozen=True)
class DateRules:
    """Compiled date expressions of one language."""

    day_month_year: re.Pattern[str]
    month_day_year: re.Pattern[str]
    month_year: re.Pattern[str]
    relative: re.Pattern[str] | None
    weekday: re.Pattern[str] | None
    months: dict[str, int]
    relative_days: dict[str, int]
    weekdays: dict[str, int]


def _values(dates: dict[str, dict[str, Any]], key: str, lang: str) -> dict[str, int]:
    raw = (dates.get(key) or {}).get("values", {})
    fold = (lambda w: arabic.fold(arabic.normalise_word(w))) if lang == "ar" else str.lower
    return {fold(k): int(v) for k, v in raw.items()}


def _alternation(words: dict[str, int]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) or "(?!)"


def compile_date_rules(dates: dict[str, dict[str, Any]], lang: str) -> DateRules:
    """Return the date rules of a language from its knowledge file (processors/knowledge/<lang>/dates.jsonl)."""
    months = _values(dates, "months", lang)
    relative = _values(dates, "relative", lang)
    weekdays = _values(dates, "weekdays", lang)
    m = _alternation(months)
    # Arabic words carry clitics (في، بـ): allow an attached prefix before the month or weekday.
    pre = r"(?:\b|(?<=[وفبل]))" if lang == "ar" else r"\b"
    flags = re.IGNORECASE
    return DateRules(
        day_month_year=re.compile(rf"\b(\d{{1,2}})\s+{pre}({m})\.?,?\s+(\d{{4}})\b", flags),
        month_day_year=re.compile(rf"{pre}({m})\.?\s+(\d{{1,2}}),?\s+(\d{{4}})\b", flags),
        month_year=re.compile(rf"{pre}({m})\.?,?\s+(\d{{4}})\b", flags),
        relative=re.compile(rf"{pre}({_alternation(relative)})\b", flags) if relative else None,
        weekday=re.compile(rf"{pre}({_alternation(weekdays)})\b", flags) if weekdays else None,
        months=months, relative_days=relative, weekdays=weekdays,
    )


def _safe_date(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def resolve_event_date(sentence: str, rules: DateRules, published_at: datetime | None) -> str | None:
    """Return the event's date as YYYY-MM-DD (or YYYY-MM when only the month is known), or None."""
    if match := rules.day_month_year.search(sentence):
        return _safe_date(int(match[3]), rules.months[match[2].lower()], int(match[1]))
    if match := rules.month_day_year.search(sentence):
        return _safe_date(int(match[3]), rules.months[match[1].lower()], int(match[2]))
    if match := rules.month_year.search(sentence):
        return f"{int(match[2]):04d}-{rules.months[match[1].lower()]:02d}"
    if published_at is None:
        return None
    published = published_at.date()
    if rules.relative and (match := rules.relative.search(sentence)):
        return (published + timedelta(days=rules.relative_days[match[1].lower()])).isoformat()
    if rules.weekday and (match := rules.weekday.search(sentence)):
        back = (published.weekday() - rules.weekdays[match[1].lower()]) % 7
        return (published - timedelta(days=back)).isoformat()
    return published.isoformat()
