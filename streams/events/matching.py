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
JOIN_MIN = 3.5                # shared evidence (weighted, rarity-discounted) an article needs to join
LATE_MIN = 4.0                # ... when it comes later than FRESH and says it is an update
STRONG_MIN = 6.5              # ... when it comes later and does not
SHARE_MIN = 0.22              # share of the article's own evidence found in the event
DIGEST_SHARE_MIN = 0.35       # a round-up must match one of its stories well to point to it
AGAIN_GRACE = 6 * HOUR        # "again", "another": a new occurrence unless the event is this recent
NEAR_KM = 60.0                # towns this close can be one occurrence (a strike on a town and its outskirts)
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
    """How much a key says, by the number of recent events that showed it (0 or 1: all of it)."""
    return 1.0 / (1.0 + math.log2(postings)) if postings > 1 else 1.0


def values(evidence: Evidence, counts: Mapping[str, int]) -> dict[str, float]:
    """What each of the article's keys is worth, given how many recent events showed it."""
    # a town is what tells occurrences apart: it keeps its weight however many events name it
    return {key: weight if key.startswith(("p:", "w:")) and weight >= 3.0 else weight * rarity(counts.get(key, 0))
            for key, weight in evidence.keys.items()}


def weigh(evidence: Evidence, event: Mapping[str, Any], worth: Mapping[str, float], total: float,
          story_prior: bool = False) -> Verdict:
    """Whether `evidence` (an article's, its keys worth `worth`, `total` together) reports `event`."""
    profile = event["profile"]
    if len(worth) <= len(profile):
        shared = sum(value for key, value in worth.items() if key in profile)
    else:
        shared = sum(worth[key] for key in profile if key in worth)
    share = shared / total if total else 0.0
    verdict = Verdict(event["id"], round(shared, 3), round(share, 3), False, "")
    conflict = place_conflict(evidence.specific, evidence.towns, evidence.countries, event)
    if conflict:
        return _no(verdict, conflict)
    if story_prior:
        return Verdict(verdict.event_id, verdict.shared, verdict.share, True, "same story")
    since_onset = abs(evidence.at.timestamp() - event["onset"])
    if since_onset > LATEST:
        return _no(verdict, "too long after the event began")
    if evidence.new_occurrence and since_onset > AGAIN_GRACE:
        return _no(verdict, "reported as a new occurrence")
    needed = JOIN_MIN if since_onset <= FRESH else LATE_MIN if evidence.update else STRONG_MIN
    if shared < needed:
        return _no(verdict, f"shares {shared:.1f} < {needed}")
    if share < (DIGEST_SHARE_MIN if evidence.digest else SHARE_MIN):
        return _no(verdict, f"shares {share:.0%} of what it says")
    if event["categories"] and evidence.categories and not set(event["categories"]) & set(evidence.categories) \
            and shared < 1.5 * needed:
        return _no(verdict, "another kind of violence")
    return Verdict(verdict.event_id, verdict.shared, verdict.share, True, "evidence")


def _no(verdict: Verdict, why: str) -> Verdict:
    return Verdict(verdict.event_id, verdict.shared, verdict.share, False, why)


def place_conflict(specific: set[str], towns: list[Place], countries: set[str], event: Mapping[str, Any]) -> str:
    """Why the places say "another occurrence", or "" when they do not."""
    theirs = {town[0] for town in event["towns"]}
    if specific and theirs and not specific & theirs:
        their_places = [Place(t[0], t[1], t[4], t[2], t[3]) for t in event["towns"]]
        if not any(distance_km(a, b) <= NEAR_KM for a in towns for b in their_places):
            return "different towns"
    if countries and event["countries"] and not countries & set(event["countries"]):
        return "different countries"
    return ""


def same_occurrence(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two open events are one: onsets close, places compatible and a town in common (or,
    without towns, strong shared evidence), and much evidence in common."""
    if abs(a["onset"] - b["onset"]) > MERGE_ONSETS:
        return False
    towns_a = {t[0] for t in a["towns"]}
    towns_b = {t[0] for t in b["towns"]}
    if towns_a and towns_b and not towns_a & towns_b:
        return False
    if a["countries"] and b["countries"] and not set(a["countries"]) & set(b["countries"]):
        return False
    shared = sum(min(weight, b["profile"][key]) for key, weight in a["profile"].items() if key in b["profile"])
    smaller = min(sum(a["profile"].values()), sum(b["profile"].values()))
    # much in common, or nearly all of what the smaller one knows (a short first report) and enough
    return shared >= MERGE_MIN or shared >= max(JOIN_MIN, MERGE_CONTAINED * smaller)
