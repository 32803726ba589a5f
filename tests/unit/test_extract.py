"""The extraction engine on real text: the seed article, each event type, realis, bad input."""

from datetime import datetime
from pathlib import Path

import pytest

from processors.extract import _WORD, Extractor, RejectedArticle, with_language
from processors.nlp import arabic
from processors.nlp.headlines import truecase
from processors.schemas import Article

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"


@pytest.fixture(scope="module")
def extractor():
    return Extractor.load()


def _events(extractor, text, lang="en", published="2022-06-22", title=None):
    article = Article(id="t", text=text, language=lang, title=title,
                      published_at=datetime.fromisoformat(published) if published else None)
    return extractor.extract(article)


def _actual(events, event_type=None):
    return [e for e in events if e.realis == "actual" and (event_type is None or e.event_type == event_type)]


def _ids(event):
    return {p.canonical for p in event.participants}


def test_extract_seed_article_yields_exactly_the_three_events(extractor):
    text = (SAMPLES / "seed-article-ar.txt").read_text(encoding="utf-8")
    events = _actual(extractor.extract(Article(id="seed", text=text)))
    assert sorted(e.event_type for e in events) == ["agreement_signed", "cyberattack", "military_operation"]
    by_type = {e.event_type: e for e in events}
    agreement = by_type["agreement_signed"]
    assert _ids(agreement) == {"GB", "QA"}
    assert agreement.attributes["security"] is True
    assert {p.role for p in agreement.participants} == {"signatory"}
    assert agreement.cameo == "057"
    assert "Saudi Aramco" in _ids(by_type["cyberattack"])
    military = by_type["military_operation"]
    assert {"US", "GB", "Islamic State"} <= _ids(military)
    assert {p.role for p in military.participants if p.canonical == "Islamic State"} == {"target"}
    assert military.location is not None and military.location.country == "QA"
    for event in events:  # evidence quotes the original text at its offsets
        assert text[event.evidence.start:event.evidence.end] == event.evidence.sentence
        assert event.evidence.trigger in event.evidence.sentence


@pytest.mark.parametrize(("text", "lang", "event_type", "participants"), [
    ("Britain and Qatar signed a security agreement on intelligence sharing on Monday.", "en",
     "agreement_signed", {"GB", "QA"}),
    ("وقعت السعودية والإمارات اتفاقية تعاون دفاعي في الرياض أمس.", "ar", "agreement_signed", {"SA", "AE"}),
    ("On 19 June 2022, Turkish army warplanes carried out airstrikes against PKK militants in Duhok.", "en",
     "military_operation", {"TR"}),
    ("شن التحالف بقيادة السعودية غارات جوية على مواقع الحوثيين في صنعاء.", "ar", "military_operation",
     {"Houthis"}),
    ("Hackers breached the servers of Saudi Aramco and wiped thousands of computers.", "en", "cyberattack",
     {"Saudi Aramco"}),
    ("تعرضت شركة أرامكو السعودية لهجوم إلكتروني شل أجهزتها.", "ar", "cyberattack", {"Saudi Aramco"}),
    # The signing verb carries its object: "the memorandum that the company concluded with ...".
    ("وأشاد بالمذكرة التي أبرمتها الشركة السعودية للكهرباء مع مدينة الملك عبدالعزيز للعلوم والتقنية أمس.", "ar",
     "agreement_signed", {"Saudi Electricity Company", "King Abdulaziz City for Science and Technology"}),
    # "act of hacking" is a cyberattack on its own; an attack blamed on a hacker group is one
    ("The Orion Logistics group has been the victim of a massive act of hacking, its chief said.", "en",
     "cyberattack", {"Orion Logistics"}),
    ("The federation attributed the attack on Orion Logistics to the Fancy Bear group.", "en", "cyberattack",
     {"APT28", "Orion Logistics"}),
    # troops among the targets, or a strike word that is military on its own, keep it military
    ("Gunmen from the Islamic State attacked a marketplace and a military base in the Sahel region.", "en",
     "military_operation", {"Islamic State"}),
    ("Turkish warplanes carried out airstrikes on a school used by PKK militants in Duhok.", "en",
     "military_operation", {"TR"}),
    # explosives delivered by drones are military force
    ("On 1 June 2022, Russian forces dropped improvised explosive devices using drones on Krasnopillia, Sumy.",
     "en", "military_operation", {"RU"}),
])
def test_extract_each_event_type_in_both_languages(extractor, text, lang, event_type, participants):
    events = _actual(_events(extractor, text, lang), event_type)
    assert len(events) == 1
    assert participants <= _ids(events[0])


@pytest.mark.parametrize(("text", "lang"), [
    ("Hamas and Fatah signed a reconciliation agreement brokered by Egypt in Cairo on Thursday.", "en"),
    ("وقعت حركتا فتح وحماس اتفاق مصالحة بوساطة مصرية في القاهرة أمس.", "ar"),
])
def test_extract_agreement_mediator_is_no_signatory(extractor, text, lang):
    events = _actual(_events(extractor, text, lang), "agreement_signed")
    assert len(events) == 1
    roles = {(p.canonical, p.role) for p in events[0].participants}
    assert {("Hamas", "signatory"), ("Fatah", "signatory"), ("EG", "mediator")} <= roles


@pytest.mark.parametrize(("text", "lang", "realis"), [
    ("Britain and Qatar will sign a security agreement next week.", "en", "planned"),
    ("Britain and Qatar are expected to sign a security agreement.", "en", "planned"),
    ("Qatar refused to sign the security agreement with Britain.", "en", "negated"),
    ("Qatar did not sign the agreement with Britain.", "en", "negated"),
    ("ستوقع بريطانيا وقطر اتفاقا أمنيا الأسبوع المقبل.", "ar", "planned"),
    ("لم يوقع الأردن الاتفاق الأمني مع بريطانيا.", "ar", "negated"),
    # the purpose preposition ل, "towards" and "before" put the signing ahead
    ("وصل وزير الخارجية القطري إلى لندن لتوقيع اتفاقية أمنية مع بريطانيا.", "ar", "planned"),
    ("قطر وبريطانيا نحو توقيع اتفاقية للتعاون الأمني.", "ar", "planned"),
    ("دعت قطر إلى مزيد من المشاورات مع بريطانيا قبل إقرار الاتفاقية الأمنية.", "ar", "planned"),
    ("Qatar wants more talks with Britain before signing the security agreement.", "en", "planned"),
    # a request is not a signing, however long; agreeing on a need states a view
    ("The council called on Iran to suspend all enrichment activities and sign an additional protocol.", "en",
     "planned"),
    ("اتفق الوزير ونظراؤه في مجلس التعاون الخليجي على أهمية تطبيق الاتفاق النووي.", "ar", "generic"),
    # a list of past agreements reports no signing
    ("وأضاف أن المذكرة إضافة إلى قائمة المذكرات التي أبرمتها الجامعة مع جامعات عربية.", "ar", "generic"),
    ("The pact adds to a long list of agreements Qatar has signed with Britain.", "en", "generic"),
])
def test_extract_realis_of_non_actual_events_is_reported(extractor, text, lang, realis):
    events = _events(extractor, text, lang)
    assert [e.realis for e in events if e.event_type == "agreement_signed"] == [realis]


@pytest.mark.parametrize(("text", "lang"), [
    ("Protesters clashed with police in the capital on Friday; several were arrested.", "en"),
    ("The company released a patch for the vulnerability discovered by researchers.", "en"),
    ("Officials held talks on a possible trade deal.", "en"),
    ("وقعت حادثة سير في الطريق السريع أمس.", "ar"),
    ("ويلفت التقرير إلى أن دولة قطر تعرضت لهجمات من جاراتها في الخليج بسبب علاقتها مع الإخوان.", "ar"),
    # a habitual verb right after the attack word: a kind of attack, not one that happened
    ("Phishing emails are designed to look like messages from a bank.", "en"),
    ("Ransomware attacks are a costly problem for small hospitals.", "en"),
    # an assault after an online sale is not a cyberattack; "found no signs of hacking" negates it
    ("وقعت مواطنة ضحية احتيال بعد عرضها طقم مجوهرات على موقع بيع إلكتروني، حيث قام شخصان بالاعتداء على شقيقها.",
     "ar"),
    ("قالت الشرطة إنها لم تعثر على إشارات تفيد بتعرض حسابات الضرائب في اليونان للقرصنة الإلكترونية.", "ar"),
    # an attack participle used as an adjective describes how malware works
    ("Once the payload runs on a compromised system, the ransomware encrypts the files on it.", "en"),
    # an attack on civilians is an assault (CAMEO 18x), not the use of military force
    ("Al-Shabab gunmen have attacked a college campus in the town of Garissa, police said.", "en"),
    ("شن مسلحون من تنظيم داعش هجوما على مسجد في المدينة أمس.", "ar"),
    # a grenade or a car bomb is a bombing (CAMEO 183), not the use of military force
    ("Militants carried out two grenade attacks on a police post in Pulwama district, police said.", "en"),
])
def test_extract_no_actual_event_in_look_alike_sentences(extractor, text, lang):
    assert _actual(_events(extractor, text, lang)) == []


def test_extract_sentence_filter_lets_every_trigger_pattern_through(extractor):
    # Sentences without a key word never reach spaCy: every trigger pattern must hold one.
    for lang in ("en", "ar"):
        analyse = extractor._analyse(lang)
        for trigger in extractor.knowledge.triggers[lang]:
            for pattern in trigger.patterns:
                text = arabic.normalise_word(pattern) if lang == "ar" else pattern
                words = {analyse(w) for w in _WORD.findall(text if lang == "ar" else text.lower())}
                assert words & extractor._key_words[lang], (trigger.id, pattern)


def test_extract_same_event_mentioned_twice_is_one_event(extractor):
    text = ("Turkish jets carried out airstrikes against PKK positions on Monday. "
            "The airstrikes against the PKK hit several targets, Turkish officials said.")
    events = _actual(_events(extractor, text), "military_operation")
    assert len(events) == 1


def test_extract_event_date_resolved_against_publication(extractor):
    events = _actual(_events(extractor, "وقعت بريطانيا وقطر اتفاقا أمنيا أمس.", "ar", "2015-07-03"))
    assert events[0].event_date == "2015-07-02"


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty_text"),
    ("   \n  ", "empty_text"),
    ("\x00\x01\x02\ufffd" * 100, "binary_content"),
    ("Le gouvernement a signé un accord avec le Qatar pour la sécurité des frontières du pays.",
     "unsupported_language"),
])
def test_extract_rejects_bad_articles_with_a_reason(extractor, text, reason):
    with pytest.raises(RejectedArticle) as info:
        extractor.extract(Article(id="bad", text=text))
    assert info.value.reason == reason


def test_extract_huge_article_is_truncated_and_flagged(extractor):
    sentence = "Turkish jets carried out airstrikes against PKK positions in northern Iraq. "
    text = sentence + "Nothing happened here today at all. " * 150_000  # ~5 MB
    events = extractor.extract(Article(id="big", text=text, language="en"))
    assert events and all("truncated" in e.flags for e in events)


def test_extract_mixed_scripts(extractor):
    text = "Breaking: وقعت بريطانيا وقطر اتفاقا أمنيا (security pact) في الدوحة، وفق رويترز."
    events = _actual(_events(extractor, text, None))
    assert [e.event_type for e in events] == ["agreement_signed"]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_extract_offsets_survive_odd_white_space(extractor, lang):
    text = {"en": "Officials said  on Monday.\n\n   Turkish jets  carried out airstrikes\tagainst  PKK positions.",
            "ar": "قال مسؤولون  أمس.\n\n   شنت  طائرات التحالف غارات جوية  على مواقع  الحوثيين."}[lang]
    events = _actual(_events(extractor, text, lang))
    assert events
    for event in events:
        assert text[event.evidence.start:event.evidence.end] == event.evidence.sentence
        assert event.evidence.trigger and event.evidence.trigger in event.evidence.sentence
        assert all(p.name.strip() == p.name and p.name in event.evidence.sentence for p in event.participants)


@pytest.mark.parametrize(("text", "lang", "published", "expected", "absent"), [
    # a quoted organisation is the source, not a party
    ("Turkish jets carried out airstrikes against PKK positions, Human Rights Watch said.", "en", "2022-06-22",
     {"TR", "PKK"}, {"Human Rights Watch"}),
    # an organisation whose report is cited is the source
    ("A Human Rights Watch report describes how Turkish jets carried out airstrikes against PKK positions.", "en",
     "2022-06-22", {"TR", "PKK"}, {"Human Rights Watch"}),
    # a country after "in" is where it happened
    ("Turkish jets carried out airstrikes against PKK positions in Iraq.", "en", "2022-06-22", {"TR"}, {"IQ"}),
    ("شنت الطائرات التركية غارات جوية على مواقع حزب العمال الكردستاني في العراق.", "ar", "2022-06-22",
     {"TR"}, {"IQ"}),
    # a country after a town and a comma, after "northern", or before "city of" / "territory" is a place
    ("Coalition warplanes struck Islamic State positions near Raqqa, Syria, on Monday.", "en", "2022-06-22",
     {"Islamic State"}, {"SY"}),
    ("Turkish jets carried out airstrikes against PKK positions in northern Iraq.", "en", "2022-06-22",
     {"TR", "PKK"}, {"IQ"}),
    ("Turkish jets carried out airstrikes against PKK positions near the Iraqi city of Zakho.", "en", "2022-06-22",
     {"TR", "PKK"}, {"IQ"}),
    # a country that names a border says where the fighting is
    ("Islamic State militants launched an offensive against Kurdish YPG fighters along the Turkish border.", "en",
     "2022-06-22", {"Islamic State", "YPG"}, {"TR"}),
    ("Turkish jets carried out airstrikes against PKK positions on Turkey's border with Iraq.", "en", "2022-06-22",
     {"TR", "PKK"}, {"IQ"}),
    # unnamed state forces fighting in a place of a state are its forces; named ones are the name's
    ("Government forces shelled rebel positions near Aleppo on Monday.", "en", "2022-06-22", {"SY"}, set()),
    ("Turkish troops shelled Kurdish YPG positions near Aleppo on Monday.", "en", "2022-06-22",
     {"TR", "YPG"}, {"SY"}),
    ("قصف الجيش مواقع المسلحين في محافظة إدلب أمس.", "ar", "2022-06-22", {"SY"}, set()),
    # a first-level region gives the country (ACLED: "(Ye-U township, Shwebo district, Sagaing region)")
    ("In In Taw village (Ye-U township, Shwebo district, Sagaing region), the PDF attacked military forces.",
     "en", "2022-01-02", {"MM"}, set()),
    # after a title a country name is a family name
    ("قصفت الطائرات السعودية مواقع الحوثيين، وقال الدكتور السويد إن القصف دقيق.", "ar", "2015-07-20",
     {"SA", "Houthis"}, {"SE"}),
    # a sponsor named after "backed by" is not a party of the operation
    ("Saudi-led coalition jets struck the Houthis, who are believed to be backed by Iran, near Sanaa.", "en",
     "2022-06-22", {"Saudi-led coalition", "Houthis"}, {"IR"}),
    # a leader in office stands for his country; a former one does not
    ("Erdogan ordered airstrikes against PKK positions.", "en", "2022-06-22", {"TR"}, set()),
    ("قصفت قوات علي عبدالله صالح مواقع المقاومة الشعبية في عدن.", "ar", "2015-07-20", {"Saleh forces"}, {"YE"}),
    # a family name after "son of" is not a country; an agency that reports or condemns is a source
    ("شنت الطائرات السعودية غارات جوية على مواقع الحوثيين، بحسب عبدالله بن محمد السويد.", "ar", "2015-07-20",
     {"SA", "Houthis"}, {"SE"}),
    ("شنت الطائرات السعودية غارات جوية على مواقع الحوثيين، وفق وكالة الصحافة الفرنسية.", "ar", "2015-07-20",
     {"SA", "Houthis"}, {"FR"}),
])
def test_extract_participant_roles(extractor, text, lang, published, expected, absent):
    events = _actual(_events(extractor, text, lang, published), "military_operation")
    assert len(events) == 1
    ids = _ids(events[0])
    assert expected <= ids and not (absent & ids), ids


def test_extract_location_is_the_region_that_holds_the_places(extractor):
    # a trailing place set off by a bracket or comma holds the others: Rafah here is Egypt's
    text = "On 20 May 2022, Egyptian army forces clashed with IS militants in Rafah (Rafah, North Sinai)."
    events = _actual(_events(extractor, text, "en", "2022-05-20"), "military_operation")
    assert [(e.location.name, e.location.country) for e in events if e.location] == [("North Sinai", "EG")]


def test_extract_location_is_not_the_dateline(extractor):
    # where the story was filed is not where it happened, when the sentence names another place
    text = "Gaziantep, Turkey — Turkish troops shelled Kurdish YPG positions in northern Syria on Saturday."
    events = _actual(_events(extractor, text, "en", "2016-02-14"), "military_operation")
    assert [(e.location.name, e.location.country) for e in events if e.location] == [("Syria", "SY")]
    assert "TR" in _ids(events[0])


@pytest.mark.parametrize(("name", "lang", "canonical"), [
    ("Britain", "en", "GB"), ("the United Kingdom", "en", "GB"), ("the UK", "en", "GB"), ("British", "en", "GB"),
    ("بريطانيا", "ar", "GB"), ("المملكة المتحدة", "ar", "GB"), ("البريطانية", "ar", "GB"),
    ("والبريطانيين", "ar", "GB"), ("Qatari", "en", "QA"), ("القطرية", "ar", "QA"), ("ISIS", "en", "Islamic State"),
    ("داعش", "ar", "Islamic State"), ("تنظيم الدولة", "ar", "Islamic State"), ("the Houthis", "en", "Houthis"),
    ("الحوثيين", "ar", "Houthis"), ("أرامكو", "ar", "Saudi Aramco"),
])
def test_extract_entities_resolve_to_one_id_across_languages(extractor, name, lang, canonical):
    text = {"en": f"Troops and warplanes launched airstrikes against positions held by {name} on Monday.",
            "ar": f"شنت الطائرات الحربية غارات جوية على مواقع {name} يوم الاثنين."}[lang]
    if canonical == "Saudi Aramco":
        text = f"تعرضت شركة {name} لهجوم إلكتروني شل أجهزتها."
    events = _actual(_events(extractor, text, lang))
    assert canonical in {p.canonical for e in events for p in e.participants}, events


@pytest.mark.parametrize(("title", "text", "lang"), [
    ("Hackers hit Greendale Community College with ransomware - Campus Daily",
     "The college said on Tuesday that classes would resume next week.", "en"),
    ("شنت طائرات التحالف غارات جوية على مواقع الحوثيين في صعدة",
     "قال مسؤولون إن الحياة عادت إلى طبيعتها في المدينة.", "ar"),
])
def test_extract_headline_is_read_as_a_sentence(extractor, title, text, lang):
    events = _actual(_events(extractor, text, lang, title=title))
    assert len(events) == 1
    event = events[0]
    assert "title" in event.flags  # the evidence offsets are in the title, not in the text
    assert title[event.evidence.start:event.evidence.end] == event.evidence.sentence
    assert "Campus Daily" not in event.evidence.sentence  # the site's name is cut off
    assert event.evidence.trigger in event.evidence.sentence


def test_extract_headline_and_text_events_have_distinct_ids(extractor):
    title = "Turkish jets strike PKK positions in northern Iraq"
    text = "Turkish jets carried out airstrikes against PKK positions in northern Iraq on Monday."
    events = _events(extractor, text, title=title)
    assert len({e.event_id for e in events}) == len(events)
    assert _actual(events, "military_operation")
    for event in events:
        source = title if "title" in event.flags else text
        assert source[event.evidence.start:event.evidence.end] == event.evidence.sentence


@pytest.mark.parametrize(("text", "title", "expected", "absent"), [
    # the object of "hit" after "hackers" is the victim, not the attacker
    ("", "Hackers hit Greendale Community College with ransomware", {("Greendale Community College", "target")},
     set()),
    ("Lazarus hackers breached Orion Logistics last year.", None,
     {("Lazarus Group", "attacker"), ("Orion Logistics", "target")}, set()),
    # a security firm quoted is a source, and a state named after "in" is where the victim is
    ("The hackers breached Orion Logistics, according to security firm Brightwater Analytics.", None,
     {("Orion Logistics", "target")}, {"Brightwater Analytics"}),
    ("Ransomware hit Riverside General Hospital in Ohio last week.", None,
     {("Riverside General Hospital", "target")}, {"Ohio"}),
    # protocols, platforms and event words are not organisations, even when capitalised
    ("Attackers gained access to the network of Mercy Hospital by brute-forcing RDP connections.", None,
     set(), {"RDP"}),
    ("", "Hacker Leaks Episodes After Extortion Attempt Fails", set(), {"Hacker Leaks Episodes"}),
    # a malware family is the weapon, not a party
    ("Hackers used SamSam to attack Mercy Hospital last week.", None, {("Mercy Hospital", "target")}, {"SamSam"}),
    # a named hacker group is as good a sign of a cyberattack as the word "hackers"
    ("The Lazarus Group hacked Orion Logistics last year.", None,
     {("Lazarus Group", "attacker"), ("Orion Logistics", "target")}, set()),
    # the habitual reading is only for a verb right after the attack word
    ("Phishing emails tricked staff at Orion Logistics into paying fake invoices last week.", None,
     {("Orion Logistics", "target")}, set()),
    # a Title Case headline is read in the case its text writes the words: the victim's name stands out
    ("Officials said the hackers infected the computers with ransomware and demanded payment.",
     "Hackers Infect Greendale Bank Computers With Ransomware, Demand Payment", {("Greendale Bank", "target")},
     {"Ransomware"}),
    # a demonym before the attack word, "X-linked" and "X is behind" say who attacked; "X-based" says where
    ("Russian hacks crippled the computers of Orion Logistics last year.", None,
     {("RU", "attacker"), ("Orion Logistics", "target")}, set()),
    ("Russia-linked hackers breached Orion Logistics, Brightwater, a UK-based company, said.", None,
     {("RU", "attacker"), ("Orion Logistics", "target")}, {"GB"}),
    ("Experts believe Iran is behind the hacking of the computers of Orion Logistics last year.", None,
     {("IR", "attacker")}, set()),
    # a name right before the attacker noun qualifies it; the subject of a verb before it does not
    ("North Korean state hackers breached Orion Logistics last year.", None,
     {("KP", "attacker"), ("Orion Logistics", "target")}, set()),
    ("Indiana-based Hancock Health paid hackers 4 bitcoin to unlock its network after a ransomware attack.", None,
     {("Hancock Health", "target")}, {"Indiana"}),
    # investigators, products and channels are not parties
    ("Hackers breached Equifax last week and officials informed the FBI.", None, {("Equifax", "target")}, {"FBI"}),
    ("Hackers targeted Orion Logistics staff with fake Google Docs links posted on Twitter.", None,
     {("Orion Logistics", "target")}, {"Google", "X Corp"}),
    # a place followed by capitalised words starts an institution's name; a list's last two names part
    ("The assault on Hollywood Presbyterian occurred when hackers infected the hospital's computers.", None,
     {("Hollywood Presbyterian", "target")}, {"Hollywood"}),
    ("The hackers claim to have stolen unreleased content from ABC, Fox, National Geographic and IFC.", None,
     {("ABC", "target"), ("National Geographic", "target"), ("IFC", "target")}, {"National Geographic and IFC"}),
    # what is stolen "from" a name was that name's; the firm that reports an attack is no party
    ("Hackers stole files from Orion Logistics last week.", None, {("Orion Logistics", "target")}, set()),
    ("A report from security firm Brightwater Analytics says hackers breached Orion Logistics.", None,
     {("Orion Logistics", "target")}, {"Brightwater Analytics"}),
    # a dateline and the outlets that report a story are not parties
    ("TORONTO, April 19 (Reuters) - Hackers breached the payment systems of Orion Logistics, WIRED reported.",
     None, {("Orion Logistics", "target")}, {"TORONTO", "Reuters", "WIRED"}),
    ("TORONTO, April 19 (Reuters) - Hackers breached the payment systems of Orion Logistics.",
     "Orion Logistics Hit By Cyber Attack", {("Orion Logistics", "target")}, {"TORONTO"}),
    # a state after a town and a comma says where the town is; a handle is not a name
    ("", "Spring Hill, Tenn., Hit With Ransomware Attack", set(), {"Tenn."}),
])
def test_extract_cyberattack_parties_found_by_the_tagger(extractor, text, title, expected, absent):
    events = _actual(_events(extractor, text or "Officials gave no further details on Tuesday.", title=title),
                     "cyberattack")
    assert events
    found = {(p.canonical, p.role) for e in events for p in e.participants}
    assert expected <= found and not absent & {name for name, _ in found}, found


def test_with_language_fills_in_only_a_missing_detectable_language() -> None:
    english = Article(id="e", text="The ministry said the attack on the port was carried out by rebels.")
    assert with_language(english).language == "en"
    arabic = Article(id="a", text="قالت الوزارة إن الهجوم على الميناء نفذه المتمردون أمس في المدينة")
    assert with_language(arabic).language == "ar"
    given = Article(id="g", text=english.text, language="ar")
    assert with_language(given) is given
    unknown = Article(id="u", text="Le ministère a déclaré que l'attaque contre le port a été menée hier.")
    assert with_language(unknown).language is None


@pytest.mark.parametrize(("text", "lang", "signatories", "absent"), [
    ("وقع المركز مذكرة تفاهم مع برنامج الغذاء العالمي التابع للأمم المتحدة أمس.", "ar", {"WFP"}, {"United Nations"}),
    ("Egypt signed an agreement with the World Food Programme, an agency of the United Nations, on Monday.", "en",
     {"EG", "WFP"}, {"United Nations"}),
    ("وقع المندوب الدائم للسعودية لدى الأمم المتحدة اتفاقية إقامة علاقات دبلوماسية مع ناميبيا.", "ar", {"SA", "NA"},
     {"United Nations"}),
    ("Saudi Arabia and Namibia signed a protocol on diplomatic relations at the headquarters of the United Nations.",
     "en", {"SA", "NA"}, {"United Nations"}),
])
def test_extract_owner_of_a_signatory_is_not_a_signatory(extractor, text, lang, signatories, absent):
    events = _actual(_events(extractor, text, lang), "agreement_signed")
    ids = {p.canonical for e in events for p in e.participants}
    assert signatories <= ids and not absent & ids, ids


@pytest.mark.parametrize(("text", "lang", "security"), [
    # defence procurement is security cooperation, named weapons systems included
    ("وقعت مصر وفرنسا اتفاقية لشراء طائرات رافال في القاهرة أمس.", "ar", True),
    ("Egypt and France signed a contract for two Mistral helicopter carriers on Monday.", "en", True),
    ("وقعت مصر وفرنسا اتفاقية لشراء قطارات في القاهرة أمس.", "ar", False),
    # a security word in a university's name is its field; in a defence ministry's it is the topic
    ("أبرمت جامعة نايف العربية للعلوم الأمنية مذكرة تفاهم علمي مع جامعة الشرق الأوسط الأردنية أمس.", "ar", False),
    ("Qatar and the British Ministry of Defence signed a memorandum of understanding on Monday.", "en", True),
])
def test_extract_security_flag_of_defence_procurement(extractor, text, lang, security):
    events = _actual(_events(extractor, text, lang), "agreement_signed")
    assert events and any(e.attributes.get("security") for e in events) is security


@pytest.mark.parametrize(("title", "body", "cased"), [
    ("Hackers Infect PGA Computers With Ransomware", "The computers of the PGA were infected with ransomware.",
     "Hackers infect PGA computers with ransomware"),
    ("U.S. Says North Korea Was Behind the Attack", "Officials in North Korea denied it.",
     "U.S. Says North Korea was behind the Attack"),
    ("Hackers hit the Greendale college", "The Greendale college said so.", "Hackers hit the Greendale college"),
])
def test_truecase_headline_from_the_body(title, body, cased):
    assert truecase(title, body) == cased


def test_truecase_leaves_a_title_too_long_for_a_headline():
    title = " ".join(["Hackers Breach City Network Again"] * 20)
    assert truecase(title, "the hackers breached the city network again") == title


@pytest.mark.parametrize(("text", "lang", "expected", "absent"), [
    # a group the article names itself is the attacker; its canonical form is the name as written
    # (letters as written: ة is not folded to ه, only the tatweel goes)
    ("اخترقت مجموعة قراصنة تطلق على نفسها «كتيبة الظـلام» الموقع الرسمي لشركة أرامكو يوم الاثنين.", "ar",
     {("كتيبة الظلام", "attacker"), ("Saudi Aramco", "target")}, set()),
    ("اخترق هكرز أطلقوا على مجموعتهم اسم (Cyber_Falcons) حساب شركة سابك على تويتر.", "ar",
     {("Cyber_Falcons", "attacker"), ("SABIC", "target")}, set()),
    ("اخترق هكرز يطلقون على أنفسهم اسم Team Poison حساب الوزارة الرسمي.", "ar", {("Team Poison", "attacker")}, set()),
    # a name the gazetteer knows, in a transliteration variant, or behind a bracketed gloss, is its entity
    ("أدين مراهق بالمشاركة مع مجموعة تطلق على نفسها “ليزارد سكويد” في هجوم إلكتروني على شبكتي بلاي ستيشن"
     " وإكس بوكس لايف.", "ar",
     {("Lizard Squad", "attacker"), ("PlayStation Network", "target"), ("Xbox Live", "target")}, set()),
    ("نشرت مجموعة قراصنة تطلق على نفسها «فريق التأثير» (إمباكت تيم) بيانات مستخدمي موقع آشلي ماديسون بعد"
     " اختراق إلكتروني.", "ar", {("Impact Team", "attacker")}, {"فريق التأثير"}),
    ("A hacker group calling itself Stealth Ravens launched DDoS attacks against Orion Logistics.", "en",
     {("Stealth Ravens", "attacker")}, set()),
    ("A hacker using the alias Peace_of_Mind breached the servers of Orion Logistics last week.", "en",
     {("Peace_of_Mind", "attacker"), ("Orion Logistics", "target")}, set()),
    # a name written before a lower-case group noun is the group's; not before "team" or a plural
    ("The Coinhoarder hacking group has targeted users of Orion Logistics with phishing emails.", "en",
     {("Coinhoarder", "attacker"), ("Orion Logistics", "target")}, set()),
    ("Hackers breached the servers of Orion Logistics, the company's Trust and Safety team said.", "en",
     {("Orion Logistics", "target")}, {"Safety"}),
    ("Russian hackers approached over a dozen Democratic groups with ransom demands.", "en", set(), {"Democratic"}),
    # malware and companies "called X" are no group: only after a group or attacker noun
    ("أصاب فيروس إلكتروني يدعى “ShadowPad” أجهزة كمبيوتر في شركة أرامكو.", "ar", set(), {"ShadowPad"}),
    ("قالت شركة تدعى “Nordex” إنها تعرضت لهجوم إلكتروني شل أنظمتها.", "ar", set(), {"Nordex"}),
    # the country after the object of a targeting verb is the victim; after the hackers, where they are
    ("ضبطت الشرطة ثلاثة قراصنة نيجيريين استهدفوا حسابات مصرفية في الولايات المتحدة.", "ar",
     {("NG", "attacker"), ("US", "target")}, set()),
    ("استهدف قراصنة في الصين حسابات مصرفية عبر برمجيات خبيثة.", "ar", set(), {"CN"}),
])
def test_extract_cyberattack_parties_named_by_the_article(extractor, text, lang, expected, absent):
    events = _actual(_events(extractor, text, lang, "2015-08-20"), "cyberattack")
    assert events
    found = {(p.canonical, p.role) for e in events for p in e.participants}
    assert expected <= found and not absent & {name for name, _ in found}, found


def test_extract_introduced_name_is_found_again_later_in_the_article(extractor):
    text = ("اخترق هكرز يطلقون على أنفسهم اسم (Desert_Wolves) الموقع الرسمي لوزارة الصحة، "
            "وقال متحدث إن Desert_Wolves اخترقوا حسابات رسمية أخرى في الشهر الماضي.")
    doc = extractor.pipelines["ar"](arabic.normalise(text).text)  # as extract feeds it
    found = [(m.start, m.entity.kind) for m in doc._.mentions if m.entity.id == "Desert_Wolves"]
    assert len(found) == 2 and {kind for _, kind in found} == {"group"}, found
