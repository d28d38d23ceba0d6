"""What one scored article says about the occurrence it reports, as an analyst would note it: when,
where (towns, countries, the rules' watchlist places), who (watchlist actors, names), what kind of
violence (the rules' categories), how many (casualty figures and other numbers), the distinctive
words, and whether the outlet marks it as an update, as a new occurrence, or as a round-up of
several stories.

Each piece of evidence is a key with a weight. Keys are language-neutral where the thing is (a town
id, a watchlist entity, a name's spelling skeleton, a number), so reports in two languages share
them; words are compared within a language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.article import parse_time
from streams.events import gazetteer
from streams.events.text import (
    CONTINUING,
    KINDS,
    NEW_OCCURRENCE,
    SITES,
    UPDATE,
    Token,
    fold,
    is_digest,
    lead,
    skeleton,
    title_case,
    tokens,
)

LEAD_CHARS = 400          # of the body: feed summaries are shorter; a full text's lead says what happened

# Weights of one shared key, by kind (before rarity): a town is the strongest single clue.
TOWN, REGION, COUNTRY, ACTOR, NAME, TERM = 3.0, 2.0, 0.6, 1.5, 1.5, 0.8
NUMBER_SMALL, NUMBER = 0.3, 1.2      # below 10 numbers recur everywhere; larger ones identify
SITE = 1.0                           # what was hit: a market, a hospital, a mosque, a port
TERM_FLAT = 1.7
PHRASE = 0.6                         # two words next to each other in the headline ("aid workers")
COMMON_TERM = 4.4                    # Zipf frequency from which a word is not evidence (weight < 0.2)

# Function words and reporting verbs of both languages that carry nothing about an occurrence.
_STOP_WORDS = """
about after against also among around because been before being between both could during each from
have having here into just last like many more most much must near only other over said says since
some such than that their them then there these they this those through under until upon very were
what when where which while will with within would year years week weeks today yesterday tomorrow
monday tuesday wednesday thursday friday saturday sunday night morning evening according reported
report reports official officials people least told news live update updates video watch photos
avec dans depuis donc elle elles entre leur leurs mais mardi mercredi jeudi vendredi samedi
dimanche lundi nous pour sans selon sont sous tous tout toute toutes cette celui ceux comme deux
trois quatre plus moins alors aussi apres avant encore fait faire selon lors notre votre dont quand
personnes href http https html www quot nbsp amp
"""
_STOP = frozenset(_STOP_WORDS.split())
# Short function words (English and French) and the words of a toll or of reporting that every
# headline of violence has: no part of a headline phrase.
_SHORT_WORDS_TEXT = """
the and for but nor not are was has had its his her him she who how why you our out off per via any all can
may own too les des une aux par sur est ont qui
"""
_SHORT_WORDS = frozenset(_SHORT_WORDS_TEXT.split())
_TOLL_WORDS_TEXT = """
kill kills killed killing dead dies die died death deaths wounded wounds wounding injured injures injuring
hurt least dozens scores more than says said say claims claimed claim told after amid morts blesses tue tues
one two three four five six seven eight nine ten
"""
_TOLL_WORDS = frozenset(_TOLL_WORDS_TEXT.split())
# Words read as what they say of an occurrence: a kind of violence ("k" and the kind), a site (its key);
# a kind's plural or a site's ("strikes", "hospitals") is looked up without its "s".
_LEXICON: dict[str, Any] = {**{word: "s:" + site for word, site in SITES.items()},
                            **{word: ("k", kind) for word, kind in KINDS.items()}}
_TO_A_GOVERNMENT = frozenset({"to", "from", "between", "against"})   # "intelligence to Kyiv", "from Kyiv"
_ARTICLED = re.compile(r"^(?:al|el|ad|ag|ar|as|ash|at|az|an|ez)-[a-z]{3,}$")
# Verbs after which a capital is its government: "Kyiv says", "Moscow accuses", "Washington warns".
_SPEAKING = """says said claims claimed accuses accused denies denied warns warned vows vowed announces announced
insists insisted rejects rejected confirms confirmed blames blamed urges urged dit affirme accuse dement annonce assure
confirme denonce exige"""
_SPEAKS = frozenset(_SPEAKING.split())


@dataclass
class Evidence:
    article_id: str
    at: datetime                              # event time: published_at
    language: str
    keys: dict[str, float]                    # key -> weight
    places: list[tuple[str, str]]             # (key, name) of towns, regions and countries, in order
    towns: list[gazetteer.Place] = field(default_factory=list)
    regions: set[str] = field(default_factory=set)   # keys of watchlist places that are not a town found
    main: set[str] = field(default_factory=set)      # where it happened: the towns and regions of the headline
    speakers: set[str] = field(default_factory=set)  # capitals that speak for their government ("Kyiv says")
    capitals: set[str] = field(default_factory=set)  # the towns it names that are national capitals
    countries: set[str] = field(default_factory=set)
    casualties: int | None = None
    categories: list[str] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)     # the kinds of violence it names (drone, shooting, ...)
    update: bool = False                      # the outlet says it revises an earlier report
    new_occurrence: bool = False              # ... or that this happened again
    continuing: bool = False                  # it reports fighting that goes on (an offensive, clashes)
    digest: bool = False                      # the item carries several stories
    copy: bool = False                        # a copy of an earlier article (dedupe's copy_of)
    quiet: set[str] = field(default_factory=set)   # its countries named by no more than one other recent event

    @property
    def weight(self) -> float:
        return sum(self.keys.values())

    @property
    def sites(self) -> list[str]:
        """Keys of what was hit (a market, a hospital)."""
        return [key for key in self.keys if key.startswith("s:")]

    @property
    def specific(self) -> set[str]:
        """Keys of the towns the report names (places with a position)."""
        return {town.key for town in self.towns}


def evidence_of(article: Mapping[str, Any], gaz: gazetteer.Gazetteer | None = None) -> Evidence:
    gaz = gaz or gazetteer.load()
    norm = article.get("norm") or {}
    title = str(norm.get("title") or article.get("title") or "")
    body = str(norm.get("body") or article.get("summary") or "")[:LEAD_CHARS]
    esc = article.get("escalation") or {}
    digest = is_digest(title, body)
    if digest:
        title, body = lead(title, body)
    found = Evidence(article_id=str(article["id"]), at=parse_time(article["published_at"]),
                     language=str(norm.get("language") or article.get("language") or ""), keys={}, places=[],
                     casualties=esc.get("casualties"), categories=list(esc.get("categories") or ()), digest=digest,
                     copy=bool(article.get("copy_of")))
    folded = fold(title + " . " + body)
    found.update = bool(UPDATE.search(folded))
    # a new occurrence is what a headline says it reports ("another blast hits ..."); a summary that
    # mentions another attack of the day does so as context
    found.new_occurrence = bool(NEW_OCCURRENCE.search(fold(title)))
    found.continuing = "invasion" in found.categories or bool(CONTINUING.search(folded))
    watched = [m for m in esc.get("matches") or ()
               if m.get("category") == "watchlist" and m.get("entity") and _in_lead(m, digest)]
    _read_field(found, title, gaz, TOWN, headline=True)
    _read_watchlist(found, [m for m in watched if m.get("field") == "title"], gaz)
    found.main = {key for key, _ in found.places if not key.startswith("c:")}
    # a town only the summary names, when the headline says where it happened, is context ("hours after
    # Blinken arrived in Kyiv"): it counts for less
    _read_field(found, body, gaz, TOWN / 2 if found.main else TOWN)
    _read_watchlist(found, [m for m in watched if m.get("field") != "title"], gaz)
    # a capital the summary names beside other towns speaks for its government ("as Kyiv and Moscow
    # trade drone attacks", "during Blinken's visit to Kyiv"): where it happened is the other town
    passing = {key for key in found.capitals if key not in found.main}
    if passing and any(town.key not in found.capitals for town in found.towns):
        found.towns = [town for town in found.towns if town.key not in passing]
        found.places = [(key, name) for key, name in found.places if key not in passing]
        for key in passing:
            found.keys.pop(key, None)
        found.capitals -= passing
    for key in [k for k in found.keys if k.startswith("w:")]:
        found.keys.pop("n:" + key[2:], None)      # a watchlist name is not counted twice ...
    for match in watched:                         # ... nor as the words it is written with
        for word in fold(str(match.get("term") or "")).split():
            found.keys.pop("n:" + skeleton(word), None)
            found.keys.pop("t:" + _stem(word), None)
    if found.casualties:
        key = "#" + str(found.casualties)
        found.keys[key] = max(found.keys.get(key, 0.0), NUMBER if found.casualties >= 3 else NUMBER_SMALL)
    return found


def _read_watchlist(found: Evidence, matches: list[Mapping[str, Any]], gaz: gazetteer.Gazetteer) -> None:
    """The rules' watchlist names: actors, and places the text reading did not already count."""
    towns = {town.key[2:] for town in found.towns}
    for match in matches:
        entity, term = str(match["entity"]), str(match.get("term") or "")
        if match.get("kind") != "place":
            key = "w:" + skeleton(entity)
            found.keys[key] = max(found.keys.get(key, 0.0), ACTOR)
        elif skeleton(term) in found.speakers:
            continue   # "Kyiv says": a government speaking
        elif not towns & (gaz.town_ids(entity) | gaz.town_ids(term)):
            # a region ("Nagorno-Karabakh", "Gaza Strip"), or a town the text did not pin down: it
            # places the report in an area, it does not tell one occurrence there from another
            key = "w:" + skeleton(entity)
            _add_place(found, key, entity, REGION)
            found.regions.add(key)
        # else: the watchlist names a town already read from the text (counted once, with its position)


def _in_lead(match: Mapping[str, Any], digest: bool) -> bool:
    return not digest or match.get("field") == "title"


def _add_place(found: Evidence, key: str, name: str, weight: float) -> None:
    found.keys[key] = max(found.keys.get(key, 0.0), weight)
    if all(key != k for k, _ in found.places):
        found.places.append((key, name))


def _read_field(found: Evidence, text: str, gaz: gazetteer.Gazetteer, town_weight: float,
                headline: bool = False) -> None:
    words = tokens(text)
    if not words:
        return
    reliable = not title_case(words)
    in_place = [False] * len(words)
    spans = list(gaz.find(words, reliable))
    # the countries the field names (or as the country of a region); where a town name has several
    # senses, the one in a country named, also by nationality ("Belgrade" with "Serbian" troops)
    named = {s[0].country for _, _, s in spans if not s[0].town}
    demonyms = {w.low: gaz.demonym(w.low) for w in words if w.capital and w.number is None}
    nationalities = named | {code for code in demonyms.values() if code}
    places = []
    for n, (start, end, senses) in enumerate(spans):
        place = next((p for p in senses if p.country in nationalities), senses[0])
        code = demonyms.get(words[start].low) if end - start == 1 and place.town else None
        if code and not gaz.prominent(place):   # "Cuban", not Cobán
            place = gaz.country(code)
            spans[n] = (start, end, [place])
        places.append((place, _inside_a_name(words, start, end)))
    # where the report is: the countries it names, else those of places already read (the headline),
    # else the country of its first town
    home = named | found.countries or {p.country for p, in_name in places[:1] if p.town and not in_name}
    for (place, in_name), (start, end, _) in zip(places, spans, strict=True):
        if place.town and not gaz.prominent(place) and (in_name or home and place.country not in home):
            continue   # a person's name ("Viktor Sokolov") or a namesake town abroad: its words are names
        for i in range(start, end):
            in_place[i] = True
        if place.town and gaz.capital(place) and (words[end - 1].possessive or end < len(words) and words[
                end].low in _SPEAKS or start > 0 and words[start - 1].low in _TO_A_GOVERNMENT):
            found.speakers.add(skeleton(" ".join(w.text for w in words[start:end])))
            continue   # "Kyiv says", "Moscow's war", "intelligence to Kyiv": a government, not where it happened
        if place.town:
            _add_place(found, place.key, place.name, town_weight)
            found.towns.append(place)
            if gaz.capital(place):
                found.capitals.add(place.key)
        elif place.region:
            _add_place(found, place.key, place.name, REGION)
            found.regions.add(place.key)
        else:
            _add_place(found, place.key, place.name, COUNTRY)
        found.countries.add(place.country)
    _read_capitals(found, words, spans, places, demonyms, gaz, town_weight)
    if headline:
        _read_phrases(found, words, in_place, demonyms)
    for i, word in enumerate(words):
        if in_place[i]:
            continue
        if word.number is not None:
            if 2 <= word.number < 1_000_000 and not 1900 <= word.number <= 2100:
                key = "#" + str(word.number)
                found.keys[key] = max(found.keys.get(key, 0.0), NUMBER if word.number >= 10 else NUMBER_SMALL)
            continue
        low = word.low
        known = _LEXICON.get(low) or (_LEXICON.get(low[:-1]) if low[-1:] == "s" else None)
        if known:
            if known[0] == "k":    # the kind of violence is compared as a kind, not as a word
                found.kinds.add(known[1])
            else:                  # what was hit
                found.keys[known] = SITE
            continue
        hyphen = "-" in low
        if hyphen and word.capital and _countries_in(found, word.text, gaz):
            continue   # "Russia-Ukraine war", "Armenia-Azerbaijan conflict": two countries, not a name
        if len(low) < 4 or low in _STOP:
            continue
        code = demonyms.get(low) if word.capital else None
        if code:   # "Iraqi", "Syrian": the country it names, as a country
            place = gaz.country(code)
            _add_place(found, place.key, place.name, COUNTRY)
            found.countries.add(code)
            continue
        if hyphen and _ARTICLED.match(low):   # "al-Ahli", "Al-Shifa", "el-Hilweh": a name, however capitalised
            key = "n:" + skeleton(low)
            found.keys[key] = max(found.keys.get(key, 0.0), NAME)
            continue
        zipf = gaz.commonness(low)
        if word.capital and zipf < 4.0 and (reliable and not word.initial or zipf < 3.0):
            key, weight = "n:" + skeleton(low), NAME * min(1.0, 1.25 - zipf / 4)
        elif zipf < COMMON_TERM:
            key, weight = "t:" + _stem(low), TERM * min(1.0, TERM_FLAT - zipf / 4)
        else:
            continue   # a common word says next to nothing about which occurrence, and costs a key
        found.keys[key] = max(found.keys.get(key, 0.0), weight)


def _read_capitals(found: Evidence, words: list[Token], spans: list[Any], places: list[Any],
                   demonyms: Mapping[str, Any], gaz: gazetteer.Gazetteer, town_weight: float) -> None:
    """"The Ukrainian capital", "Sudan's capital", "la capitale ukrainienne": the capital town of that
    country, as an analyst reads it (the town itself, not its government)."""
    for i, word in enumerate(words):
        if word.low not in _CAPITAL_WORDS:
            continue
        code = None
        if i > 0:
            code = demonyms.get(words[i - 1].low) if words[i - 1].capital else None
            code = code or next((place.country for (start, end, _), (place, _) in zip(spans, places, strict=True)
                                 if end == i and not place.town and not place.region), None)
        if not code and i + 1 < len(words):   # French: "la capitale ukrainienne"
            code = demonyms.get(words[i + 1].low) or gaz.demonym(words[i + 1].low)
        town = gaz.capital_of(code) if code else None
        if town is None or any(t.key == town.key for t in found.towns):
            continue
        _add_place(found, town.key, town.name, town_weight)
        found.towns.append(town)
        found.capitals.add(town.key)
        found.countries.add(town.country)


_CAPITAL_WORDS = frozenset({"capital", "capitale"})
# British and American spellings of one word meet in a phrase: "air defence" / "air defense".
_SPELLINGS = {"ence": "ense", "our": "or", "ise": "ize", "isation": "ization", "tre": "ter", "yse": "yze"}
_SPELLING = re.compile(r"(?<=\w{3})(?:ence|our|isation|ise|tre|yse)(?=s?$)")


def _read_phrases(found: Evidence, words: list[Token], in_place: list[bool], demonyms: Mapping[str, Any]) -> None:
    """Headline phrases: pairs of words next to each other (function words skipped), as outlets that
    write up one occurrence name it in the same words ("foreign aid workers", "sheriff's deputy",
    "from east to west"), common words included. A place, a number, a nationality, the kind of
    violence, what was hit or a toll word breaks a phrase: they are compared as what they are."""
    previous = None
    for i, word in enumerate(words):
        if in_place[i] or word.number is not None or demonyms.get(word.low):
            previous = None
            continue
        for low in word.low.split("-") if "-" in word.low else (word.low,):   # "air-defense": two words
            if low in _STOP or low in _SHORT_WORDS or len(low) < 3:
                continue
            if low in _TOLL_WORDS or _LEXICON.get(low) or (_LEXICON.get(low[:-1]) if low[-1:] == "s" else None):
                previous = None
                continue
            stem = _stem(_SPELLING.sub(lambda m: _SPELLINGS[m.group(0)], low))
            if previous is not None:
                found.keys["h:" + previous + " " + stem] = PHRASE
            previous = stem


def _countries_in(found: Evidence, compound: str, gaz: gazetteer.Gazetteer) -> bool:
    """Adds the countries of a hyphenated compound ("Russia-Ukraine"); whether it had any."""
    codes = [gaz.countries.get(skeleton(part)) for part in compound.split("-")]
    for code in filter(None, codes):
        place = gaz.country(code)
        _add_place(found, place.key, place.name, COUNTRY)
        found.countries.add(code)
    return any(codes)


def _inside_a_name(words: list[Token], start: int, end: int) -> bool:
    """Whether a one-word place stands inside a longer run of capitalised words (a person's or an
    organisation's name) in a field where capitals mean something."""
    following = end < len(words) and words[end].capital and not words[end].pause
    if end - start > 1:   # "New York Times": a name that holds a place name
        return following and not words[end].initial
    before = (start > 0 and words[start - 1].capital and not words[start - 1].initial and not words[start].pause
              and not words[start - 1].possessive)   # "Ukraine's Poltava" is a town of Ukraine
    return before or following and not words[start].initial


def _stem(word: str) -> str:
    """Plural and feminine endings off, so "strikes"/"strike" and "tués"/"tué" meet."""
    for ending in ("ies", "es", "s", "e"):
        if len(word) > len(ending) + 3 and word.endswith(ending):
            return word[: -len(ending)]
    return word
