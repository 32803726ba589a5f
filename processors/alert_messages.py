"""Stage 5 ALERT, messages: an alert and its story said in English and Arabic, with the links.

Pure: `render` writes one language, `compose` both plus the facts that webhooks receive as JSON.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from processors.channels import Message, Notification
from processors.schemas import Alert, Language, Story
from processors.settings import Settings

# The Kibana dashboard of deploy/kibana/marsad-dashboard.ndjson; rules.json can name another.
DEFAULT_DASHBOARD = "marsad-monitoring-dashboard"

# Presentation strings of the two message languages (not extraction knowledge).
_WORDS: dict[str, dict[str, str]] = {
    "en": {"brand": "[marsad]", "security_agreement": "New security agreement",
           "agreement_signed": "New agreement", "cyberattack": "Cyberattack",
           "military_operation": "Military operation", "update": "Update", "participants": "Participants",
           "evidence": "Evidence", "where": "Where", "when": "When", "confidence": "Confidence",
           "sources": "Sources", "articles": "articles", "article": "Article", "dashboard": "Dashboard",
           "rule": "Rule", "signatory": "signatory", "attacker": "attacker", "target": "target",
           "actor": "actor", "mediator": "mediator", "sep": ", ", "unknown": "unknown"},
    "ar": {"brand": "[مرصد]", "security_agreement": "اتفاق أمني جديد", "agreement_signed": "اتفاق جديد",
           "cyberattack": "هجوم سيبراني", "military_operation": "عملية عسكرية", "update": "تحديث",
           "participants": "الأطراف", "evidence": "الدليل", "where": "المكان", "when": "التاريخ",
           "confidence": "الثقة", "sources": "المصادر", "articles": "عدد المقالات", "article": "المقال",
           "dashboard": "لوحة المتابعة", "rule": "القاعدة", "signatory": "موقِّع", "attacker": "مهاجم",
           "target": "هدف", "actor": "منفِّذ", "mediator": "وسيط", "sep": "، ", "unknown": "غير معروف"},
}
_EVIDENCE_CHARS = 400


def _headline(story: Story) -> str:
    if story.event_type == "agreement_signed" and story.attributes.get("security") is True:
        return "security_agreement"
    return story.event_type


def _name(participant: Any, lang: Language) -> str:
    localised = participant.name_ar if lang == "ar" else participant.name_en
    return str(localised or participant.name)


def _participants(story: Story, lang: Language) -> list[str]:
    words = _WORDS[lang]
    return [f"{_name(p, lang)} [{p.canonical}] ({words.get(p.role, p.role)})" for p in story.participants]


def _rison(text: str) -> str:
    # Kibana's URL state is rison: strings in single quotes, with ! and ' escaped by !.
    return "'" + text.replace("!", "!!").replace("'", "!'") + "'"


def dashboard_url(settings: Settings, story: Story, dashboard: str, lookback_days: int = 1) -> str:
    """Return a link to the Kibana dashboard filtered on the story (its document and its events)."""
    query = f'story_id:"{story.story_id}"'
    if story.event_ids:
        query += " or event_id:(" + " or ".join(f'"{e}"' for e in story.event_ids[:20]) + ")"
    start = (story.first_seen - timedelta(days=lookback_days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    g = f"(time:(from:{_rison(start)},to:now))"
    a = f"(query:(language:kuery,query:{_rison(query)}))"
    safe = "(),:!'*/"
    return (f"{settings.kibana_public_url.rstrip('/')}/app/dashboards#/view/{quote(dashboard, safe='')}"
            f"?_g={quote(g, safe=safe)}&_a={quote(a, safe=safe)}")


def render(alert: Alert, story: Story, settings: Settings, lang: Language, *,
           dashboard: str = DEFAULT_DASHBOARD, lookback_days: int = 1) -> Message:
    """Return the alert as a message in `lang`: who, what, the evidence sentence and the links."""
    w = _WORDS[lang]
    names = w["sep"].join(_name(p, lang) for p in story.participants) or w["unknown"]
    prefix = f"{w['update']} — " if alert.kind == "update" else ""
    subject = f"{w['brand']} {prefix}{w[_headline(story)]}: {names}"
    # Articles break lines mid-sentence; a message shows the sentence on one line.
    evidence = " ".join(story.best_evidence.sentence.split())[:_EVIDENCE_CHARS]
    where = story.location.name if story.location else w["unknown"]
    when = story.event_date or story.first_seen.date().isoformat()
    outlets = w["sep"].join(story.sources) or w["unknown"]
    lines = [subject, "",
             f"{w['participants']}: " + (w["sep"].join(_participants(story, lang)) or w["unknown"]),
             f"{w['evidence']}: «{evidence}»",
             f"{w['where']}: {where} — {w['when']}: {when}",
             f"{w['confidence']}: {story.confidence:.2f} — {w['sources']}: {outlets} "
             f"({w['articles']}: {len(story.article_ids)})"]
    if story.best_url:
        lines.append(f"{w['article']}: {story.best_url}")
    lines += [f"{w['dashboard']}: {dashboard_url(settings, story, dashboard, lookback_days)}",
              f"{w['rule']}: {alert.rule} — id {alert.alert_id}"]
    return Message(lang=lang, subject=subject, text="\n".join(lines))


def facts(story: Story, settings: Settings, dashboard: str = DEFAULT_DASHBOARD,
          lookback_days: int = 1) -> dict[str, Any]:
    """Return the story as webhook receivers get it: participants in both languages, evidence and links."""
    return {"story_id": story.story_id, "event_type": story.event_type, "realis": story.realis,
            "attributes": story.attributes, "confidence": story.confidence,
            "participants": [{"id": p.canonical, "kind": p.kind, "role": p.role, "name_en": _name(p, "en"),
                              "name_ar": _name(p, "ar")} for p in story.participants],
            "location": story.location.model_dump(mode="json", exclude_none=True) if story.location else None,
            "event_date": story.event_date, "first_seen": story.first_seen.isoformat(),
            "last_seen": story.last_seen.isoformat(), "evidence": story.best_evidence.sentence,
            "sources": story.sources, "languages": story.languages, "article_count": len(story.article_ids),
            "article_url": story.best_url, "title": story.title,
            "dashboard_url": dashboard_url(settings, story, dashboard, lookback_days)}


def compose(alert: Alert, story: Story, settings: Settings, *, dashboard: str = DEFAULT_DASHBOARD,
            lookback_days: int = 1) -> Notification:
    """Return the notification for one alert: messages in English and Arabic, and the facts."""
    messages = tuple(render(alert, story, settings, lang, dashboard=dashboard, lookback_days=lookback_days)
                     for lang in ("en", "ar"))
    return Notification(alert=alert, messages=messages,
                        facts=facts(story, settings, dashboard, lookback_days))
