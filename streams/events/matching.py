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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.events.evidence import Evidence
from streams.events.gazetteer import Place, distance_km

HOUR = 3600.0
FRESH = 10 * HOUR             # within this of an event's onset the usual evidence is enough
LATEST = 36 * HOUR            # after this nothing joins an event (but copies of its stories)
CANDIDATE_MIN = 1.75          # evidence in common below which an event is not even weighed
BURST = 12 * HOUR            # how common a key is, is counted over the events seen before this
TOWN_FLOOR = 0.5              # a busy town is worth at least this part of a quiet one
JOIN_MIN = 2.5                # shared evidence (weighted, rarity-discounted) an article needs to join
LATE_MIN = 4.0                # ... when it comes later than FRESH and says it is an update
STRONG_MIN = 6.5              # ... when it comes later and does not
SHARE_MIN = 0.22              # share of the article's own evidence found in the event
DIGEST_SHARE_MIN = 0.35       # a round-up must match one of its stories well to point to it; so must a
IDENTIFYING_MIN = 0.5         # report sharing less than this besides the places
AGAIN_GRACE = 6 * HOUR        # "again", "another": a new occurrence unless the event is this recent
NEAR_KM = 60.0                # towns this close can be one occurrence (a strike on a town and its outskirts)
TOLL_NEAR = 1.0               # the event's toll, revised: within a quarter of the article's
KIND = 0.5                    # both report the same kind of violence (the rules' categories)
KINDS = frozenset({"armed_attack", "rocket_missile", "bombing", "explosion", "hostage_kidnapping", "sabotage",
                   "riot", "force_order", "invasion", "mass_violence"})
MERGE_MIN = 5.0               # evidence two events must share to be one
MERGE_CONTAINED = 0.7        # ... or the share of the smaller event's evidence the other has
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
    profile = event["profile"]
    common = [key for key in worth if key in profile] if len(worth) <= len(profile) else [
        key for key in profile if key in worth]
    shared = sum(worth[key] for key in common)
    # what tells this occurrence from others at the same place: names, figures, sites, rare words
    identifying = sum(worth[key] for key in common if not key.startswith(_PLACE_KEYS))
    if _same_kind(evidence.categories, event["categories"]):
        shared += KIND
    if _close_tolls(evidence.casualties, event.get("casualties")) and f"#{evidence.casualties}" not in profile:
        shared += TOLL_NEAR
    share = shared / total if total else 0.0
    verdict = Verdict(event["id"], round(shared, 3), round(share, 3), False, "")
    conflict = place_conflict(evidence, event)
    if conflict:
        return _no(verdict, conflict)
    since_onset = abs(evidence.at.timestamp() - event["onset"])
    if evidence.new_occurrence and not event.get("again") and (since_onset > AGAIN_GRACE or shared < STRONG_MIN):
        # "another blast", "again": not the occurrence its reports so far describe (unless they said so too)
        return _no(verdict, "reported as a new occurrence")
    if story_prior:
        return Verdict(verdict.event_id, verdict.shared, verdict.share, True, "same story")
    if since_onset > LATEST:
        return _no(verdict, "too long after the event began")
    if since_onset <= FRESH or (evidence.continuing and continuing(event)
                                and evidence.at.timestamp() - event["last"] <= FRESH):
        needed = JOIN_MIN   # fresh, or fighting that goes on and is still being reported
    else:
        needed = LATE_MIN if evidence.update else STRONG_MIN
    if shared < needed:
        return _no(verdict, f"shares {shared:.1f} < {needed}")
    if share < (DIGEST_SHARE_MIN if evidence.digest or identifying < IDENTIFYING_MIN else SHARE_MIN):
        # a round-up, or a report that shares only the place with the event while it tells much else
        return _no(verdict, f"shares {share:.0%} of what it says")
    return Verdict(verdict.event_id, verdict.shared, verdict.share, True, "evidence")


_PLACE_KEYS = ("p:", "w:", "r:", "c:")


def continuing(event: Mapping[str, Any]) -> bool:
    """Whether most of an event's reports describe fighting that goes on (an offensive, clashes)."""
    return 2 * int(event.get("continuing") or 0) >= max(1, len(event["stories"]))


def _close_tolls(mine: int | None, theirs: int | None) -> bool:
    """A toll of 10 or more, and the event's within a quarter of it: "16 killed", "17 killed"."""
    return bool(mine and theirs and min(mine, theirs) >= 10 and abs(mine - theirs) <= 0.25 * max(mine, theirs))


def _same_kind(mine: list[str], theirs: list[str]) -> bool:
    """Whether two reports name the same kind of violence (a shooting and a shooting, a strike and a
    strike): the rules' categories of violence, not their tallies of dead and wounded."""
    return bool(KINDS.intersection(mine).intersection(theirs))


def _no(verdict: Verdict, why: str) -> Verdict:
    return Verdict(verdict.event_id, verdict.shared, verdict.share, False, why)


def place_conflict(evidence: Evidence, event: Mapping[str, Any]) -> str:
    """Why the places say "another occurrence", or "" when they do not. Where it happened is what the
    headlines say (`main`: a town the summary names in passing is context). Towns have a position: two
    reports placed in towns far apart are two occurrences. A region (a watchlist area such as
    Nagorno-Karabakh) holds many towns, so it contradicts none. Countries: a report naming only
    Azerbaijan and one naming only Armenia may report one war's occurrence, but not when nothing
    else places them together."""
    main = event.get("main")
    their_towns = [t for t in event["towns"] if t[2] is not None and (main is None or t[0] in main)]
    theirs = {town[0] for town in their_towns}
    mine = [town for town in evidence.towns if town.key in evidence.main]
    same_region = bool(evidence.regions & set(event.get("regions") or ()))
    if mine and theirs and not {town.key for town in mine} & theirs and not same_region:
        their_places = [Place(t[0], t[1], t[4], t[2], t[3]) for t in their_towns]
        if not any(distance_km(a, b) <= NEAR_KM for a in mine for b in their_places):
            return "different towns"
    if evidence.countries and event["countries"] and not evidence.countries & set(event["countries"]):
        if not (same_region or evidence.specific & {town[0] for town in event["towns"]}):
            return "different countries"
    return ""


def same_occurrence(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two open events are one: onsets close, places compatible and a town in common (or,
    without towns, strong shared evidence), and much evidence in common."""
    if abs(a["onset"] - b["onset"]) > MERGE_ONSETS:
        return False
    towns_a = {t[0] for t in a["towns"] if t[2] is not None}
    towns_b = {t[0] for t in b["towns"] if t[2] is not None}
    if towns_a and towns_b and not towns_a & towns_b:
        return False
    if a["countries"] and b["countries"] and not set(a["countries"]) & set(b["countries"]):
        return False
    shared = sum(min(weight, b["profile"][key]) for key, weight in a["profile"].items() if key in b["profile"])
    smaller = min(sum(a["profile"].values()), sum(b["profile"].values()))
    # much in common, or nearly all of what the smaller one knows (a short first report) and enough
    return shared >= MERGE_MIN or shared >= max(JOIN_MIN, MERGE_CONTAINED * smaller)
