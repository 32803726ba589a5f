"""Assemble event candidates from the hits of one sentence (pure functions; token offsets).

A trigger becomes an event when the cues it requires are in the sentence. Its realis comes from
the cues around it, its participants from the gazetteer mentions of the sentence with a role that
depends on the event type and on the marker words before them, its location from the first place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from processors.nlp.knowledge import Cue, Entity, Trigger

REALIS_ORDER = ("negated", "planned", "generic")
ORGANISED_KINDS = ("organisation", "agency", "company")
ATTACKER_KINDS = ("group", "armed_group")
STATE_BACKED_KINDS = ("agency", "person")
ROLE_LABELS = frozenset(["reporting_verb", "source_marker", "non_party", "qualifier_suffix", "qualifier_prefix",
                         "place_marker", "target_marker", "agent_marker", "purpose_marker", "attacker_noun",
                         "attacker_suffix", "analyst_marker", "mediator_marker"])
PLACE_MARKER_WINDOW = 2
SOURCE_WINDOW = 4  # "Doctors Without Borders (MSF) said": room for a bracketed acronym


class Spanned(Protocol):
    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


@dataclass(frozen=True)
class Mention:
    """A gazetteer name found in the sentence."""

    entity: Entity
    start: int
    end: int
    demonym: bool = False
    is_place: bool = False


@dataclass(frozen=True)
class TriggerHit:
    trigger: Trigger
    start: int
    end: int


@dataclass(frozen=True)
class CueHit:
    cue: Cue
    start: int
    end: int


@dataclass
class ParticipantCandidate:
    entity: Entity
    role: str
    start: int
    end: int


@dataclass
class EventCandidate:
    """One event found in one sentence, before it is merged with other mentions in the article."""

    event_type: str
    realis: str
    trigger: TriggerHit
    participants: list[ParticipantCandidate] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    location: Mention | None = None
    confidence: float = 0.0
    sentence: int = 0


S = TypeVar("S", bound=Spanned)


def resolve_overlaps(hits: list[S]) -> list[S]:
    """Return the hits without overlaps, longest first, then actors before places; sorted by start."""
    if len(hits) < 2:
        return hits
    chosen: list[S] = []
    taken: set[int] = set()
    ranked = sorted(hits, key=lambda h: (-(h.end - h.start), getattr(h, "is_place", False), h.start))
    for hit in ranked:
        if taken.isdisjoint(range(hit.start, hit.end)):
            chosen.append(hit)
            taken.update(range(hit.start, hit.end))
    return sorted(chosen, key=lambda h: h.start)


def overlaps(a: Spanned, b: Spanned) -> bool:
    return a.start < b.end and b.start < a.end


def in_non_party(mention: Mention, cues: list[CueHit]) -> bool:
    """Return whether a name is part of a product, a channel or an outlet ("fake Google Docs",
    "posted on Twitter", "Reuters"): then it names no party."""
    return any(c.cue.label == "non_party" and overlaps(c, mention) for c in cues)


def _applies(cue: CueHit, event_type: str) -> bool:
    return not cue.cue.only_for or event_type in cue.cue.only_for


def _near(cue: CueHit, trigger: TriggerHit, default_window: int) -> bool:
    # `window` counts the tokens from the cue to the trigger: 1 means the very next token.
    window = cue.cue.window or default_window
    if cue.cue.scope == "before":
        return cue.end <= trigger.start and trigger.start - cue.end < window
    if cue.cue.scope == "after":
        return cue.start >= trigger.end and cue.start - trigger.end < window
    return True


def requirements_met(trigger: TriggerHit, cues: list[CueHit], mentions: list[Mention]) -> bool:
    """Return whether any of the trigger's required cue labels or actor kinds is in the sentence."""
    required = trigger.trigger.requires
    if not required:
        return True
    labels = {c.cue.label for c in cues if _applies(c, trigger.trigger.label)}
    kinds = {f"actor:{m.entity.kind}" for m in mentions if not m.is_place}
    return any(r in labels or r in kinds for r in required)


def realis_of(trigger: TriggerHit, cues: list[CueHit], window: int) -> str:
    """Return the realis of the event a trigger announces: negated > planned > generic > actual."""
    if trigger.trigger.realis:
        return trigger.trigger.realis
    found = {c.cue.label.removeprefix("realis_") for c in cues
             if c.cue.label.startswith("realis_") and _applies(c, trigger.trigger.label)
             and _near(c, trigger, window) and not overlaps(c, trigger)}
    return next((r for r in REALIS_ORDER if r in found), "actual")


def _marked(mention: Mention, cues: list[CueHit], label: str, window: int, event_type: str,
            breaks: frozenset[int]) -> bool:
    # A marker governs the name that follows it within the same clause (no punctuation between).
    return any(c.cue.label == label and _applies(c, event_type) and c.end <= mention.start
               and mention.start - c.end < window and breaks.isdisjoint(range(c.end, mention.start))
               for c in cues)


def _next_to(mention: Mention, cues: list[CueHit], label: str, trigger: TriggerHit) -> bool:
    # "Lazarus hackers", "the hacker group X": the name qualifies the word, on the same side of the
    # trigger; in "hackers hit X" it is the verb's object, in "X paid hackers" the verb's subject.
    return any(c.cue.label == label and (c.start == mention.end or c.end == mention.start)
               and not _between(trigger, c, mention) for c in cues)


def _followed_by(mention: Mention, cues: list[CueHit], label: str, event_type: str) -> bool:
    return any(c.cue.label == label and c.start == mention.end and _applies(c, event_type) for c in cues)


def _modifies(mention: Mention, trigger: TriggerHit, breaks: frozenset[int]) -> bool:
    # "Russian hacks", "a North Korean cyberattack": a demonym just before the attack word says who attacked.
    return mention.demonym and 0 <= trigger.start - mention.end <= 1 and breaks.isdisjoint(
        range(mention.end, trigger.start))


def _between(trigger: TriggerHit, a: Spanned, b: Spanned) -> bool:
    return min(a.end, b.end) <= trigger.start and trigger.end <= max(a.start, b.start)


def _distance(mention: Mention, trigger: TriggerHit) -> int:
    return max(trigger.start - mention.end, mention.start - trigger.end, 0)


def _role(event_type: str, mention: Mention, trigger: TriggerHit, cues: list[CueHit], settings: dict[str, Any],
          breaks: frozenset[int]) -> str | None:
    kind = mention.entity.kind
    window = settings["marker_window"]
    if event_type == "agreement_signed":
        if _marked(mention, cues, "purpose_marker", window, event_type, breaks) or _marked(
                mention, cues, "target_marker", window, event_type, breaks):
            return None
        # "a truce brokered by Qatar", "بوساطة ورعاية قبائل الحساونة": the go-between signs nothing.
        if _marked(mention, cues, "mediator_marker", window, event_type, breaks):
            return "mediator"
        return "signatory"
    if event_type == "cyberattack":
        if kind in ATTACKER_KINDS or _marked(mention, cues, "agent_marker", window, event_type, breaks) \
                or _next_to(mention, cues, "attacker_noun", trigger) or _modifies(mention, trigger, breaks) \
                or _followed_by(mention, cues, "attacker_suffix", event_type):
            return "attacker"
        if kind == "person":
            return None
        # Companies and institutions are the usual victims; a state body or a country far from the
        # attack word is more often the investigator, the regulator or the setting than the target.
        if kind in ("agency", "country") and _distance(mention, trigger) > settings["victim_window"] and not _marked(
                mention, cues, "target_marker", window, event_type, breaks):
            return None
        return "target"
    if _marked(mention, cues, "target_marker", window, event_type, breaks):
        return "target"
    return "actor"


def _stands_for_country(entity: Entity, event_type: str, entities: dict[str, Entity],
                        year: int | None) -> Entity | None:
    # Leaders in office and state bodies (armies, ministries) act for their country in agreements
    # and military operations; the country is what monitoring teams filter on. A former leader
    # (Saleh in 2015) speaks for himself.
    if entity.kind not in STATE_BACKED_KINDS or not entity.country or event_type == "cyberattack":
        return None
    if entity.kind == "person" and not entity.in_office(year):
        return None
    return entities.get(entity.country)


@dataclass(frozen=True)
class PartyFrame:
    """What a sentence offers the events of one type: the cues that bear on roles and the names that
    can be parties, each with whether it names where the event happened. Built once per sentence and
    event type; only the roles depend on the trigger."""

    event_type: str
    cues: list[CueHit]
    candidates: list[tuple[Mention, bool]]


def party_frame(event_type: str, mentions: list[Mention], cues: list[CueHit], settings: dict[str, Any],
                breaks: frozenset[int]) -> PartyFrame:
    """Return the role cues and the possible parties of the events of `event_type` in a sentence."""
    # Only the cues that bear on roles, once: a sentence holds many more (realis, topic, context).
    cues = [c for c in cues if c.cue.label in ROLE_LABELS and _applies(c, event_type)]
    # "stolen from X" marks the victim where "from X" alone marks the attacker, "positions held by
    # X" a target where "by X" an agent: a longer marker ending on the same word overrides an agent.
    cues = [c for c in cues if c.cue.label != "agent_marker" or not any(
        o.end == c.end and o.start < c.start and o.cue.label != "agent_marker" for o in cues)]
    actors = [m for m in mentions if not m.is_place]
    organised = [m for m in actors if m.entity.kind in ORGANISED_KINDS and m.entity.country]
    candidates = []
    for mention in actors:
        # "Human Rights Watch said", "according to the UN": an organisation quoted is a source; in a
        # cyberattack so is a state body ("the FBI said", "officials informed the FBI").
        if _quotable(mention.entity.kind, event_type) and _is_source(mention, cues, breaks):
            continue
        # "security firm CrowdStrike", "a report from Kaspersky": the analyst of an attack, of any kind.
        if _marked(mention, cues, "analyst_marker", SOURCE_WINDOW, event_type, breaks):
            continue
        if in_non_party(mention, cues):
            continue
        # "a UK-based company", "US$300", "the WFP, an agency of the United Nations", "at the UN
        # headquarters", "ambassador to the UN": the name describes another party or a place.
        if _followed_by(mention, cues, "qualifier_suffix", event_type) or _marked(
                mention, cues, "qualifier_prefix", settings["marker_window"], event_type, breaks):
            continue
        # "شركة النفط السعودية أرامكو", "Saudi Aramco": a country adjective next to one of its own
        # organisations describes the organisation; it is not a party of its own.
        if mention.demonym and any(o.entity.country == mention.entity.id and abs(o.start - mention.start)
                                   <= settings["modifier_window"] for o in organised):
            continue
        # "in Syria", "في أفغانستان", "الحدود اليمنية": a country named as where something
        # happened is a place (unless it is the victim of a cyberattack: see participants_of).
        placed = mention.entity.kind == "country" and (_marked(
            mention, cues, "place_marker", PLACE_MARKER_WINDOW, event_type, breaks) or _after_town(
            mention, mentions, breaks))
        candidates.append((mention, placed))
    return PartyFrame(event_type, cues, candidates)


def participants_of(trigger: TriggerHit, frame: PartyFrame, settings: dict[str, Any],
                    entities: dict[str, Entity], breaks: frozenset[int]) -> list[ParticipantCandidate]:
    """Return the participants of the event `trigger` announces in a sentence, one per entity."""
    event_type, cues = frame.event_type, frame.cues
    found: dict[str, tuple[ParticipantCandidate, bool]] = {}
    for mention, placed in frame.candidates:
        if placed and not _victim_country(mention, trigger, cues, settings["marker_window"], breaks):
            continue
        role = _role(event_type, mention, trigger, cues, settings, breaks)
        if role is None:
            continue
        country = _stands_for_country(mention.entity, event_type, entities, settings.get("year"))
        entity = country or mention.entity
        if entity.kind == "person":
            continue
        candidate = ParticipantCandidate(entity, role, mention.start, mention.end)
        explicit = _explicit(mention, role, cues, settings["marker_window"], event_type, breaks)
        kept = found.get(entity.id)
        # One role per party: the first mention decides, unless a later one is marked explicitly
        # (against X, by X) and the first was not.
        if kept is None or (explicit and not kept[1]):
            found[entity.id] = (candidate, explicit)
    return _most_specific_targets(event_type, [candidate for candidate, _ in found.values()])


def _after_town(mention: Mention, mentions: list[Mention], breaks: frozenset[int]) -> bool:
    # "Raqqa, Syria", "Peshawar, Pakistan": a country after a place and a comma says where the place is.
    return not mention.demonym and (mention.start - 1) in breaks and any(
        m.is_place and m.end == mention.start - 1 for m in mentions)


def _quotable(kind: str, event_type: str) -> bool:
    return kind == "organisation" or (kind == "agency" and event_type == "cyberattack")


def _victim_country(mention: Mention, trigger: TriggerHit, cues: list[CueHit], window: int,
                    breaks: frozenset[int]) -> bool:
    """Return whether a country after "in" is the victim of a cyberattack: "استهدفوا حسابات مصرفية في
    الولايات المتحدة" (targeted bank accounts in the US) names where the victims are, and a hacker
    abroad attacks them there. Only right after a targeting verb and its short object, in one clause;
    after the hackers themselves ("استهدف قراصنة في الصين") it is where the attackers are."""
    if trigger.trigger.label != "cyberattack" or not trigger.end <= mention.start <= trigger.end + window:
        return False
    targeting = any(c.cue.label == "target_marker" and _inside(c, trigger) for c in cues)
    subject = any(c.cue.label == "attacker_noun" and trigger.end <= c.start < mention.start for c in cues)
    return targeting and not subject and breaks.isdisjoint(range(trigger.end, mention.start))


def _is_source(mention: Mention, cues: list[CueHit], breaks: frozenset[int]) -> bool:
    # "Human Rights Watch said", "Doctors Without Borders (MSF) said"; in "… breached Orion, Reuters
    # reported" the verb belongs to the outlet between them.
    outlets = [c.start for c in cues if c.cue.label == "non_party"]
    said = any(c.cue.label == "reporting_verb" and 0 <= c.start - mention.end < SOURCE_WINDOW
               and not any(mention.end <= o < c.start for o in outlets) for c in cues)
    return said or _marked(mention, cues, "source_marker", SOURCE_WINDOW, "", breaks)


def _explicit(mention: Mention, role: str, cues: list[CueHit], window: int, event_type: str,
              breaks: frozenset[int]) -> bool:
    marker = {"target": "target_marker", "attacker": "agent_marker"}.get(role)
    return marker is not None and _marked(mention, cues, marker, window, event_type, breaks)


def _most_specific_targets(event_type: str, participants: list[ParticipantCandidate]) -> list[ParticipantCandidate]:
    # A cyberattack hits an organisation; a country named beside it (its home, a neighbour that
    # reacts) is context, not a second victim.
    if event_type != "cyberattack" or not any(
            p.role == "target" and p.entity.kind != "country" for p in participants):
        return participants
    return [p for p in participants if not (p.role == "target" and p.entity.kind == "country")]


def _confidence(trigger: TriggerHit, participants: list[ParticipantCandidate], realis: str) -> float:
    score = trigger.trigger.weight * (1.0 if participants else 0.8)
    if len(participants) >= 2:
        score = min(1.0, score + 0.05)
    return round(score if realis == "actual" else score * 0.9, 3)


def build_events(triggers: list[TriggerHit], cues: list[CueHit], mentions: list[Mention],
                 settings: dict[str, Any], entities: dict[str, Entity],
                 breaks: frozenset[int] = frozenset()) -> list[EventCandidate]:
    """Return the event candidates of one sentence; `breaks` are the token positions of punctuation."""
    places = [m for m in mentions if m.is_place] or [
        m for m in mentions if m.entity.kind == "country" and not m.demonym
        and _marked(m, cues, "place_marker", PLACE_MARKER_WINDOW, "", breaks)]
    where = _where(places, breaks)
    events = []
    frames: dict[str, PartyFrame] = {}
    state_forces = _state_forces(cues, mentions, where, entities)
    # Requirements first: "هجوم" is both a cyber and a military trigger, and the one whose context
    # is missing must not shadow the other.
    for trigger in resolve_overlaps([t for t in triggers if requirements_met(t, cues, mentions)]):
        event_type = trigger.trigger.label
        if event_type == "military_operation" and _not_military_force(trigger, cues, breaks):
            continue
        realis = realis_of(trigger, cues, settings["marker_window"])
        if event_type not in frames:
            parties = mentions + state_forces if event_type == "military_operation" else mentions
            frames[event_type] = party_frame(event_type, parties, cues, settings, breaks)
        participants = participants_of(trigger, frames[event_type], settings, entities, breaks)
        attributes = dict(trigger.trigger.attributes)
        if event_type == "agreement_signed":
            attributes.setdefault("security", _about_security(cues, mentions))
        confidence = _confidence(trigger, participants, realis)
        if confidence < settings["min_confidence"]:
            continue
        events.append(EventCandidate(event_type, realis, trigger, participants, attributes,
                                     where, confidence))
    return events


def _country_of(entity: Entity) -> str | None:
    return entity.id if entity.kind == "country" else entity.country


def _where(places: list[Mention], breaks: frozenset[int]) -> Mention | None:
    """Return the place of a sentence: the first one named, unless the last one, set off by a comma
    or a bracket, lies in another country. Such a trailing place is the region that holds the
    others ("near Gire Bihar area (Amedi, Duhok)", "Rafah (North Sinai)"), so the first place of its
    country is meant."""
    if not places:
        return None
    country = _country_of(places[-1].entity)
    if country and (places[-1].start - 1) in breaks and _country_of(places[0].entity) != country:
        return next(p for p in places if _country_of(p.entity) == country)
    return places[0]


def _state_forces(cues: list[CueHit], mentions: list[Mention], where: Mention | None,
                  entities: dict[str, Entity]) -> list[Mention]:
    """Return "the military", "government forces", "الجيش" as mentions of the state where the
    sentence takes place: unnamed state forces fighting on a state's soil are that state's ("military
    forces clashed with the PDF in Sagaing region"). Forces a name qualifies ("Turkish
    troops", "الجيش اليمني") are that name's."""
    state = entities.get(_country_of(where.entity) or "") if where else None
    if state is None:
        return []
    named = [m for m in mentions if not m.is_place]
    forces = [c for c in cues if c.cue.label == "state_forces"]
    unnamed = [c for c in forces if not any(m.start <= c.end and c.start <= m.end for m in named)]
    # "ambushes on the Egyptian army … killing 17 members of the armed forces": once a sentence names
    # whose forces fight, its unnamed forces are those.
    if len(unnamed) < len(forces):
        return []
    return [Mention(state, c.start, c.end) for c in unnamed]


def _not_military_force(trigger: TriggerHit, cues: list[CueHit], breaks: frozenset[int]) -> bool:
    """Return whether a generic attack word reports an assault rather than the use of military force
    (CAMEO 18x, not 19x): its objects are civilians ("gunmen attacked a college campus", "هجوم على
    مسجد"), or the weapon is a bomb or a grenade ("a grenade attack on a police post"). Troops among
    the objects keep it military, and so does a word that is military on its own (an air strike
    that hits a school is still one)."""
    if not trigger.trigger.requires:
        return False
    objects = {c.cue.label for c in cues if c.cue.label in ("civilian_target", "military_target")
               and _near(c, trigger, 0) and breaks.isdisjoint(range(trigger.end, c.start))}
    if "military_target" in objects:
        return False
    # A bomb dropped from a drone or fired by artillery is military force; one planted, thrown or
    # driven in a car is not.
    labels = {c.cue.label for c in cues}
    return "civilian_target" in objects or ("bombing" in labels and "military_means" not in labels)


def _about_security(cues: list[CueHit], mentions: list[Mention]) -> bool:
    # A security word in the name of a university ("Naif Arab University for Security Sciences",
    # "جامعة نايف العربية للعلوم الأمنية") names its field, not what the agreement covers; in the
    # name of a defence ministry or of a military alliance it does.
    academic = [m for m in mentions if not m.is_place and any(
        c.cue.label == "academic_noun" and _inside(c, m) for c in cues)]
    return any(c.cue.label == "security_topic" and not any(_inside(c, m) for m in academic) for c in cues)


def _inside(inner: Spanned, outer: Spanned) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def _same_event(a: EventCandidate, b: EventCandidate) -> bool:
    # Two mentions are one event when their parties mostly agree (at least half of the smaller
    # side is shared) or one names no party at all; a shared name alone (the US in two unrelated
    # strikes) is not enough, or one long article would chain into one big event.
    if a.event_type != b.event_type or a.realis != b.realis:
        return False
    ids_a = {p.entity.id for p in a.participants}
    ids_b = {p.entity.id for p in b.participants}
    if not ids_a or not ids_b:
        return True
    return 2 * len(ids_a & ids_b) >= min(len(ids_a), len(ids_b))


def _absorb(kept: EventCandidate, other: EventCandidate) -> None:
    known = {p.entity.id for p in kept.participants}
    kept.participants += [p for p in other.participants if p.entity.id not in known]
    security = kept.attributes.get("security") or other.attributes.get("security")
    kept.attributes = other.attributes | kept.attributes
    if kept.event_type == "agreement_signed":
        kept.attributes["security"] = bool(security)
    kept.location = kept.location or other.location


def merge_mentions(candidates: list[EventCandidate]) -> list[EventCandidate]:
    """Return one candidate per real event of an article: mentions of the same type and realis whose
    parties agree merge into the strongest one (highest confidence, then first in the text)."""
    merged: list[EventCandidate] = []
    for candidate in sorted(candidates, key=lambda c: (-c.confidence, c.trigger.start)):
        kept = next((m for m in merged if _same_event(m, candidate)), None)
        if kept is None:
            merged.append(candidate)
        else:
            _absorb(kept, candidate)
    return merged
