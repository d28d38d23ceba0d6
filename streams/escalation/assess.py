"""From phrase matches to a severity, the way the policy reads (DESIGN.md, "What counts as escalation").

Severity belongs to the event an article reports, not to its vocabulary. The scan (rules.py) finds
phrases; this module decides what they establish:

1. A phrase is *unambiguous* when it names violence in any context ("air strike", "gunmen opened
   fire", "shot dead") and *ambiguous* when it is violence only in a news report of armed conflict
   or crime ("attack", "killed", "blast", "clash"). An ambiguous phrase counts only when its sentence
   holds armed context: an unambiguous phrase, an armed actor, weapon or force (the rules' `armed`
   list), a watchlist name, or an ambiguous phrase of another kind of violence ("three killed in an
   attack"). So "kill" in a game guide and "dead at 80" in an obituary count for nothing.
2. Modifiers found around a phrase (negation, hedging, drills, history, aftermath, accidents...)
   drop it (factor 0) or cap what it can establish (a trial over a shooting: low).
3. Each counted phrase reaches its category's tier: medium for organised or armed violence and
   orders to use force, critical for invasions, ground offensives and mass violence, low for
   conflict without violence (protests, strikes, arrests, sanctions). A casualty phrase in a sentence
   of violence reaches high; `mass_casualties` people killed in it reach critical.
4. The article's context (context.py) caps the result: a game guide is none, an opinion piece low.

The score orders alerts (the most severe and best-attested first); it never decides the severity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.escalation.context import Assessment
from streams.escalation.model import SEVERITIES, Category

RANK = {name: i for i, name in enumerate(SEVERITIES)}
MEDIUM = RANK["medium"]
BASE_SCORE = {"none": 0.0, "low": 1.0, "medium": 3.0, "high": 6.0, "critical": 10.0}


@dataclass
class Hit:
    """One phrase match, as the scan found it."""

    match: dict[str, Any]            # what `Escalation.matches` reports: term, category, field, offsets, ...
    category: Category
    ambiguous: bool
    sentence: tuple[str, int]        # (field, sentence index)
    factor: float = 1.0              # the modifiers' factor (> 0: dropped phrases never become hits)
    cap: str | None = None           # the modifiers' cap
    soft_cap: str | None = None      # the cap of modifiers for ambiguous phrases (accident, sport, game ...)
    armed: bool = False              # the sentence holds armed context (or a watchlist name)
    count: int | None = None         # the casualty count next to the phrase
    explained: bool = True           # False: the sentence reports violence unambiguously, soft caps lapse

    @property
    def tier(self) -> str:
        tier = self.category.tier
        for cap in (self.cap, self.soft_cap if self.explained else None):
            if cap is not None and RANK[cap] < RANK[tier]:
                tier = cap
        return tier


@dataclass
class Verdict:
    severity: str = "none"
    score: float = 0.0
    categories: list[str] = field(default_factory=list)
    casualties: int | None = None
    counted: list[Hit] = field(default_factory=list)


def assess(hits: list[Hit], context: Assessment, *, mass_casualties: int,
           casualty_bonus: Iterable[tuple[int, float]], category_cap: float, names: int | Callable[[], int],
           watch_weight: float, watch_cap: float, headline_on_conflict: bool | Callable[[], bool] = True,
           repeat_bonus: float = 0.25, headline_soft_cap: str | None = None,
           lead_soft_cap: str | None = None) -> Verdict:
    """The severity the hits establish, under the article's context.

    `headline_on_conflict`: the headline names armed conflict (an armed actor, a weapon, a conflict
    place, "war latest") even where it reports no event itself. A feed item's headline says what it
    is about: where it reports no violence and names no conflict (a lawsuit, a policy, a film, a
    memorial), the violence its summary recounts is background, at most low. A function instead of a
    bool is asked only when the answer can change something.

    `headline_soft_cap`: the headline is about a disaster or an accident and reports no violence; the
    summary's ambiguous phrases reach at most this (the deaths of a flood), unless their sentence
    names violence unambiguously. `lead_soft_cap`: the summary's first sentence says so ("a blast at a
    fuel depot"); where neither it nor the headline names violence unambiguously, every ambiguous phrase
    of the item, the headline's too, reaches at most this.

    `names`: how many watched entities the item names, or a function that finds out (asked only when
    the severity is not none: the names add to the score, never to the severity)."""
    # "a building collapsed after an air strike, killing five": an accident's words explain away an
    # ambiguous death only where nothing in the sentence names violence unambiguously
    violent = {h.sentence for h in hits if not h.ambiguous and RANK[h.category.tier] >= MEDIUM}
    for hit in hits:
        hit.explained = hit.sentence not in violent
    if lead_soft_cap is not None and not any(s[0] == "title" or s[1] == 0 for s in violent):
        for hit in hits:
            if hit.ambiguous and (hit.soft_cap is None or RANK[lead_soft_cap] < RANK[hit.soft_cap]):
                hit.soft_cap = lead_soft_cap
    # a headline that reports violence (even in words it alone does not ground: "a father killed 3 of his
    # kids") opens the item to its summary's details
    headline_event = any(h.sentence[0] == "title" and RANK[h.tier] >= MEDIUM for h in hits)
    if headline_soft_cap is not None and not headline_event:
        for hit in hits:
            if hit.ambiguous and hit.sentence[0] != "title" \
                    and (hit.soft_cap is None or RANK[headline_soft_cap] < RANK[hit.soft_cap]):
                hit.soft_cap = headline_soft_cap
    counted = [h for h in hits if _grounded(h, hits)]
    if any(h.sentence[0] == "title" and RANK[h.tier] >= MEDIUM for h in counted):
        # the headline reports violence: the summary's dead and wounded are its victims ("Deadly explosion
        # hits Gaza rally" / "five Palestinians killed in an explosion next to the fence")
        have = {id(h) for h in counted}
        counted += [h for h in hits if h.category.counts and h.sentence[0] != "title" and id(h) not in have]
    if not headline_event:
        capped = [hit for hit in counted
                  if hit.sentence[0] != "title" and (hit.cap is None or RANK[hit.cap] > RANK["low"])]
        # (asked only when it can cap something: a function here finds watchlist names)
        if capped and not (headline_on_conflict() if callable(headline_on_conflict) else headline_on_conflict):
            for hit in capped:
                hit.cap = "low"
    severity = "none"
    killed = wounded = None
    for hit in counted:
        tier = hit.tier
        if hit.category.counts and hit.count is not None and RANK[tier] >= RANK["high"]:
            if hit.category.counts_killed:
                killed = max(killed or 0, hit.count)
            else:
                wounded = max(wounded or 0, hit.count)
        if RANK[tier] > RANK[severity]:
            severity = tier
    if killed is not None and killed >= mass_casualties and RANK[severity] >= RANK["high"]:
        severity = "critical"
    severity = context.capped(severity)
    # the toll is the people killed; the wounded when no death is reported (a toll revised from six to
    # thirteen dead is followed as such, not lowered by the wounded of the first report)
    casualties = killed if killed is not None else wounded
    if RANK[severity] < MEDIUM:
        casualties = None  # a count means people killed or wounded in a reported event
    contributions = _contributions(counted, category_cap, repeat_bonus)
    score = BASE_SCORE[severity]
    if severity != "none":
        score += min(4.0, math.fsum(contributions.values()) / 3)
        if casualties:
            score += max((add for least, add in casualty_bonus if casualties >= least), default=0.0)
        score += min(watch_cap, watch_weight * (names() if callable(names) else names))
    categories = sorted(contributions, key=lambda c: (-contributions[c], c)) if severity != "none" else []
    return Verdict(severity=severity, score=round(score, 2), categories=categories, casualties=casualties,
                   counted=counted if severity != "none" else [])


def _grounded(hit: Hit, hits: list[Hit]) -> bool:
    """An unambiguous phrase counts as found; an ambiguous one needs armed context in its sentence."""
    return not hit.ambiguous or hit.armed or _supported(hit, hits)


def _supported(hit: Hit, hits: list[Hit]) -> bool:
    """Another phrase of its sentence vouches for it: an unambiguous one, or an ambiguous one of another
    kind ("three killed in an attack": a death and an attack reported together). Categories that need
    armed context (a blast: a gas explosion kills too) neither get nor give that support."""
    if hit.category.needs_armed:
        return False
    for other in hits:
        if other is hit or other.sentence != hit.sentence or other.category.needs_armed \
                or RANK[other.category.tier] < MEDIUM:
            continue
        if not other.ambiguous or other.category.counts != hit.category.counts:
            return True
    return False


def _contributions(counted: list[Hit], category_cap: float, repeat_bonus: float) -> Mapping[str, float]:
    per_category: dict[str, list[float]] = {}
    for hit in counted:
        # the match's weight: the category's, times the field's (scoring.title_factor) and the modifiers'
        per_category.setdefault(hit.category.name, []).append(hit.match["weight"])
    out = {}
    for name, weights in per_category.items():
        weights.sort(reverse=True)
        out[name] = min(weights[0] + repeat_bonus * math.fsum(weights[1:]), weights[0] * category_cap)
    return out
