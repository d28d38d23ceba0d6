"""Does this article report that event? Does that event turn out to be this one?

The weighing an analyst does, in numbers. An article and an event share evidence keys (towns, names,
numbers, distinctive words, ...); what they share counts by its weight and by how rare it is among the
events of the last two days (a town named in one event identifies it; "Ukraine" in fifty does not).
The share must be large in absolute terms (a near-empty item shares too little to join anything)
and as a part of what the article says (a round-up shares a little with many events).

Time is hours, not days. Reports of one occurrence arrive within hours; a follow-up may come the next
day with a revised toll. Past the first hours the article needs more: the outlet's own update marker
with the usual evidence, or much stronger evidence (a town and names and figures), and no words saying
it happened again; the same town on another day is otherwise another occurrence. Past a day and a
half nothing joins. Two
occurrences in different towns far apart, or in different countries, are different events whatever
else they share.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.events.evidence import Evidence
from streams.events.gazetteer import Place, distance_km

HOUR = 3600.0
FRESH = 10 * HOUR             # within this of an event's onset the usual evidence is enough
LATEST = 36 * HOUR            # after this nothing joins an event (but copies of its stories)
CANDIDATE_MIN = 0.5           # evidence in common below which an event is not even weighed
BURST = 12 * HOUR            # how common a key is, is counted over the events seen before this
TOWN_FLOOR = 0.5              # a busy town is worth at least this part of a quiet one
JOIN_MIN = 2.5                # shared evidence (weighted, rarity-discounted) an article needs to join
LATE_MIN = 4.0                # ... when it comes later than FRESH and says it is an update
LATE_IDENTIFYING = 1.5        # ... or when it shares this much besides places: a toll, a site, names
STRONG_MIN = 6.5              # ... when it comes later and does not
SHARE_MIN = 0.22              # share of the article's own evidence found in the event
DIGEST_SHARE_MIN = 0.35       # a round-up must match one of its stories well to point to it; so must a
IDENTIFYING_MIN = 0.5         # report sharing less than this besides the places
AGAIN_GRACE = 6 * HOUR        # "again", "another": a new occurrence unless the event is this recent
NEAR_KM = 60.0                # towns this close can be one occurrence (a strike on a town and its outskirts)
TOLL, TOLL_SMALL = 1.5, 0.6   # the event's toll (10 or more: within a quarter), or a small one exactly
KIND = 0.8                    # both report the same kind of violence (the rules' categories)
KINDS = frozenset({"armed_attack", "rocket_missile", "bombing", "explosion", "hostage_kidnapping", "sabotage",
                   "riot", "force_order", "invasion", "mass_violence"})
MERGE_MIN = 5.0               # evidence two events must share to be one
MERGE_CONTAINED = 0.7        # ... or the share of the smaller event's evidence the other has
QUIET = 0.5                   # a region named by so few recent events that it keeps this part of its weight
MERGE_IDENTIFYING = 1.5       # what two events found (not bridged) must share besides places to be one
UNSEEN = 0.5                  # what a key the bridging article lacks is worth of its weight, in a merge
MERGE_ONSETS = 12 * HOUR      # ... and how close their onsets must be


@dataclass(frozen=True)
class Verdict:
    event_id: str
    shared: float             # weighted evidence in common
    share: float              # shared / the article's own evidence
    joins: bool
    why: str


def rarity(postings: int) -> float:
    """How much a key says, by the number of events that showed it before (0 or 1: all of it)."""
    return 1.0 / (1.0 + math.log2(postings)) if postings > 1 else 1.0


def values(evidence: Evidence, counts: Mapping[str, int]) -> dict[str, float]:
    """What each of the article's keys is worth, given how many events showed it before the last
    hours (`counts`). A town named by many events of the last days (a besieged city) says less about
    which occurrence, but never less than half: it still tells occurrences apart."""
    return {key: weight * (max(TOWN_FLOOR, rarity(counts.get(key, 0))) if key.startswith("p:")
                           else rarity(counts.get(key, 0)))
            for key, weight in evidence.keys.items()}


def weigh(evidence: Evidence, event: Mapping[str, Any], worth: Mapping[str, float], total: float,
          story_prior: bool = False) -> Verdict:
    """Whether `evidence` (an article's, its keys worth `worth`, `total` together) reports `event`."""
    conflict = place_conflict(evidence, event)
    if conflict:
        return Verdict(event["id"], 0.0, 0.0, False, conflict)
    profile = event["profile"]
    common = [key for key in worth if key in profile] if len(worth) <= len(profile) else [
        key for key in profile if key in worth]
    toll = _toll(evidence.casualties, event.get("tolls") or ())
    if toll:   # the toll counts as a toll, not as the number it is written with
        common = [key for key in common if key != f"#{evidence.casualties}"]
    shared = sum(worth[key] for key in common) + toll
    # what tells this occurrence from others at the same place: names, figures, sites, rare words
    identifying = sum(worth[key] for key in common if not key.startswith(_PLACE_KEYS)) + toll
    # ... of which headline phrases tell one occurrence only together with its place ("sheriff's deputy" in
    # Los Angeles), not anywhere in a war ("air defence system" in Crimea, the next day)
    phrases = sum(worth[key] for key in common if key.startswith("h:"))
    same_kind = _same_kind(evidence, event)
    if same_kind:
        shared += KIND
    if same_kind and evidence.kinds and event.get("kinds") and not evidence.towns and not event["towns"]:
        # where neither names a town, a country that no other event of the last two days named (Bahrain,
        # Portugal; not Ukraine in a war) tells the occurrence as a region does: the same kind of
        # violence there, both named in words, counts it twice (where towns are named, they decide: a
        # strike and the retaliation name the same two countries)
        shared += sum(worth[key] for key in common if key in evidence.quiet)
    # both name the kind of violence, and kinds that do not go together: a shooting and a bombing in one
    # town are two occurrences (strikes and fighting are one war's, and go together)
    other_kind = not same_kind and bool(evidence.kinds) and bool(event.get("kinds")) and not (
        _widen(evidence.kinds) & _WAR and _widen(event["kinds"]) & _WAR)
    # `total` leaves out the article's headline phrases: one counts when the event has it too
    total += sum(worth[key] for key in common if key.startswith("h:"))
    share = shared / total if total else 0.0
    verdict = Verdict(event["id"], round(shared, 3), round(share, 3), False, "")
    since_onset = abs(evidence.at.timestamp() - event["onset"])
    goes_on = evidence.continuing and continuing(event)   # "for a second day" of an offensive is the offensive
    if evidence.new_occurrence and not event.get("again") and not goes_on and (
            since_onset > AGAIN_GRACE or shared < STRONG_MIN):
        # "another blast", "again": not the occurrence its reports so far describe (unless they said so too)
        return _no(verdict, "reported as a new occurrence")
    if story_prior and (evidence.copy or since_onset <= FRESH or evidence.update or (
            identifying >= IDENTIFYING_MIN and not _other_site(evidence, profile))):
        # a copy follows its story; so does a rewrite, unless it comes the next day and shares nothing
        # that tells the occurrence apart (another strike on the town, written up as the same story)
        return Verdict(verdict.event_id, verdict.shared, verdict.share, True, "same story")
    if since_onset > LATEST:
        return _no(verdict, "too long after the event began")
    place = _same_place(evidence, event, worth) if same_kind else False
    if since_onset <= FRESH and place and not _other_site(evidence, profile) and evidence.kinds and event.get("kinds"):
        # one strike or wave of strikes (one shooting, ...) on one place and day; the kind as both name it
        # in words (an event opened by a reaction, "attacks are war crimes, says ...", names none: the
        # rules' categories say only that it is about violence, not which)
        needed = 0.0
    elif since_onset <= FRESH or (continuing(event) and evidence.at.timestamp() - event["last"] <= FRESH and (
            evidence.continuing or place)):
        needed = JOIN_MIN   # fresh, or fighting that goes on and is still being reported
    elif same_kind and identifying >= LATE_IDENTIFYING and not _other_site(evidence, profile) and (
            place or identifying - phrases >= 2 * LATE_IDENTIFYING):
        needed = JOIN_MIN   # a later report of it: the same place and kind, and its toll, site or names
    else:
        needed = LATE_MIN if evidence.update else STRONG_MIN
    if other_kind:
        needed = max(needed, JOIN_MIN) + KIND
    if shared < needed:
        return _no(verdict, f"shares {shared:.1f} < {needed}")
    if share < (DIGEST_SHARE_MIN if evidence.digest or identifying < IDENTIFYING_MIN else SHARE_MIN):
        # a round-up, or a report that shares only the place with the event while it tells much else
        return _no(verdict, f"shares {share:.0%} of what it says")
    return Verdict(verdict.event_id, verdict.shared, verdict.share, True, "evidence")


_PLACE_KEYS = ("p:", "w:", "r:", "c:")


def _same_place(evidence: Evidence, event: Mapping[str, Any], worth: Mapping[str, float]) -> bool:
    """Whether the article and the event happened in one town (or towns close together): where the
    headline of one says it happened (else a town other than a capital it names, which is often its
    government), the other names too. A region holds many towns; it is one place only while few
    other events name it (Nagorno-Karabakh on the day of its offensive, not Crimea in a war)."""
    towns = {t[0] for t in event["towns"] if t[2] is not None}
    regions = {key for key in set(event.get("regions") or ()) & evidence.regions
               if worth.get(key, 0.0) >= QUIET * evidence.keys.get(key, 0.0)}
    if regions:
        return True
    mine = {key for key in evidence.main if key.startswith("p:")} or {
        town.key for town in evidence.towns if town.key not in evidence.capitals}
    if mine & towns:
        return True
    theirs = {key for key in event.get("main") or () if key.startswith("p:")}
    if theirs & evidence.specific:
        return True
    where = [t for t in event["towns"] if t[0] in theirs] if theirs else []
    return any(distance_km(a, Place(t[0], t[1], t[4], t[2], t[3])) <= NEAR_KM
               for a in evidence.towns if a.key in mine for t in where)


def _other_site(evidence: Evidence, profile: Mapping[str, float]) -> bool:
    """Whether the article names what was hit and the event names only other sites (a hospital, a
    mosque): another occurrence in the same place, or a detail; either way not enough to join on."""
    mine = evidence.sites
    return bool(mine) and not any(key in profile for key in mine) and any(key.startswith("s:") for key in profile)


def continuing(event: Mapping[str, Any]) -> bool:
    """Whether most of an event's reports describe fighting that goes on (an offensive, clashes)."""
    return 2 * int(event.get("continuing") or 0) >= max(1, len(event["stories"]))


def _toll(mine: int | None, theirs: Iterable[int]) -> float:
    """What the article's toll says: the same toll as a report of the event (within a quarter of it
    from 10 up, as tolls are revised: 16 killed, 17 killed), as outlets count the same dead. Not
    discounted by how common the number is: "16 killed" in one country on one day is one occurrence."""
    if not mine or mine < 3:
        return 0.0
    if mine >= 10:
        return TOLL if any(t >= 10 and abs(mine - t) <= 0.25 * max(mine, t) for t in theirs) else 0.0
    return TOLL_SMALL if mine in theirs else 0.0


def _same_kind(evidence: Evidence, event: Mapping[str, Any]) -> bool:
    """Whether two reports name the same kind of violence (a drone attack and drones, a shooting and a
    gunman), by their words; where either names none, by the rules' categories of violence."""
    theirs = event.get("kinds")
    if evidence.kinds and theirs:
        return bool(_widen(evidence.kinds) & _widen(theirs))
    return bool(KINDS.intersection(evidence.categories).intersection(event["categories"]))


def _no(verdict: Verdict, why: str) -> Verdict:
    return Verdict(verdict.event_id, verdict.shared, verdict.share, False, why)


def place_conflict(evidence: Evidence, event: Mapping[str, Any]) -> str:
    """Why the places say "another occurrence", or "" when they do not. Where it happened is what the
    headlines say (`main`: a town the summary names in passing is context). Towns have a position: two
    reports placed in towns far apart are two occurrences. A region (a watchlist area such as
    Nagorno-Karabakh) holds many towns, so it contradicts none. Countries: a report naming only
    Azerbaijan and one naming only Armenia may report one war's occurrence, but not when nothing
    else places them together."""
    their_towns = _where(event)
    theirs = {town[0] for town in their_towns}
    mine = [town for town in evidence.towns if town.key in evidence.main] or evidence.towns
    same_region = bool(evidence.regions & set(event.get("regions") or ()))
    # the headline town of one is named by the other (in passing or not): no contradiction
    named = {town.key for town in mine} & {t[0] for t in event["towns"]} or theirs & evidence.specific
    if mine and theirs and not named and not same_region:
        their_places = [Place(t[0], t[1], t[4], t[2], t[3]) for t in their_towns]
        if not any(distance_km(a, b) <= NEAR_KM for a in mine for b in their_places):
            return "different towns"
    if evidence.countries and event["countries"] and not evidence.countries & set(event["countries"]) and not (
            same_region or evidence.specific & {town[0] for town in event["towns"]}):
        return "different countries"
    return ""


def same_occurrence(a: Mapping[str, Any], b: Mapping[str, Any], discount: Mapping[str, float],
                    bridged: bool = True) -> bool:
    """Whether two open events are one: onsets close, the places of their headlines compatible, and
    much evidence in common, each key discounted as the bridging article's keys were for how common
    they are (`discount`: its worth over its weight; keys it lacks count half). `bridged`: an article
    just reported both; otherwise (two events the article's evidence found) they must be one as an
    analyst would join two reports: the same kind of violence, in the same place, and what tells the
    occurrence apart (a toll, a site, names) in common."""
    if abs(a["onset"] - b["onset"]) > MERGE_ONSETS or _apart(a, b):
        return False
    if not bridged:
        if bool(a.get("again")) != bool(b.get("again")) or not _kinds_meet(a, b):
            return False
        common = [key for key in a["profile"] if key in b["profile"] and not key.startswith(_PLACE_KEYS)]
        tolls = [t for t in a.get("tolls") or () if _toll(t, b.get("tolls") or ())]
        identifying = sum(min(a["profile"][k], b["profile"][k]) * discount.get(k, UNSEEN) for k in common) + (
            TOLL if tolls else 0.0)
        return identifying >= MERGE_IDENTIFYING and (
            _places_meet(a, b) or identifying >= 2 * MERGE_IDENTIFYING)

    def worth(profile: Mapping[str, float], keys: Iterable[str]) -> float:
        return sum(profile[key] * discount.get(key, UNSEEN) for key in keys)

    common = [key for key in a["profile"] if key in b["profile"]]
    shared = sum(min(a["profile"][key], b["profile"][key]) * discount.get(key, UNSEEN) for key in common)
    smaller = min(worth(a["profile"], a["profile"]), worth(b["profile"], b["profile"]))
    needed = MERGE_MIN if bool(a.get("again")) == bool(b.get("again")) else 2 * MERGE_MIN   # "another blast"
    # much in common, or nearly all of what the smaller one knows (a short first report) and enough
    return shared >= needed or shared >= max(JOIN_MIN, MERGE_CONTAINED * smaller, needed - MERGE_MIN)


def _apart(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether the places of two events' headlines say two occurrences: towns far apart and no region
    in common, or no country in common."""
    if set(a.get("regions") or ()) & set(b.get("regions") or ()):
        return False
    towns_a, towns_b = _where(a), _where(b)
    if towns_a and towns_b and not {t[0] for t in towns_a} & {t[0] for t in b["towns"]} and not (
            {t[0] for t in towns_b} & {t[0] for t in a["towns"]}):
        near = [distance_km(Place(x[0], x[1], x[4], x[2], x[3]), Place(y[0], y[1], y[4], y[2], y[3]))
                for x in towns_a for y in towns_b]
        if min(near) > NEAR_KM:
            return True
    # headlines placing them in different regions only ("in Crimea", "in Odesa region")
    heads_a, heads_b = set(a.get("main") or ()), set(b.get("main") or ())
    if heads_a and heads_b and not heads_a & heads_b and not (towns_a and towns_b):
        return True
    return bool(a["countries"] and b["countries"] and not set(a["countries"]) & set(b["countries"]))


_WAR = frozenset({"strike", "fighting"})


def _widen(kinds: Iterable[str]) -> set[str]:
    """A blast is heard where missiles land and where bombs go off: it meets strikes and bombings."""
    wide = set(kinds)
    if "blast" in wide:
        wide |= {"strike", "bombing"}
    return wide | ({"blast"} if wide & {"strike", "bombing"} else set())


def _kinds_meet(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.get("kinds") and b.get("kinds"):
        return bool(_widen(a["kinds"]) & _widen(b["kinds"]))
    return bool(KINDS.intersection(a["categories"]).intersection(b["categories"]))


def _places_meet(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether where one event happened (its headlines' towns and regions) is named by the other."""
    named_a = {t[0] for t in a["towns"]} | set(a.get("regions") or ())
    named_b = {t[0] for t in b["towns"]} | set(b.get("regions") or ())
    return bool(set(a.get("main") or ()) & named_b or set(b.get("main") or ()) & named_a)


def _where(event: Mapping[str, Any]) -> list[list[Any]]:
    """The towns (with a position) where an event happened: those its headlines name, else all it names."""
    towns = [t for t in event["towns"] if t[2] is not None]
    main = event.get("main")
    return [t for t in towns if t[0] in main] or towns if main else towns
