"""Assign each scored article at or above `low` to an event, keep the event, decide its alert.

`EventTracker.plan(article)` reads the state and returns the article's event id, the alert versions to
publish and the state writes, without applying them; `commit(plan)` applies them and sweeps what is
past the retention. Replay does both at once; the worker publishes the alerts in between.

The steps for one article, as an analyst would take them:

1. Already assigned (a replayed record)? Same event, nothing else.
2. A copy or rewrite of a story already in an event follows its story, unless the places say it is
   another occurrence.
3. Otherwise the events that showed its evidence within the candidate window are weighed
   (`matching.weigh`); it joins the best one that passes, or opens a new event.
4. When it also passes for another open event and the two events, with its evidence, are one
   occurrence (`matching.same_occurrence`), the younger is merged into the older: its alert gets a last
   version (reason `merged`). A round-up never merges events: it points to one and leaves the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from streams.alerts import RANK, AlertPolicy, earlier, later, merged_alert, plan_alert
from streams.events import matching
from streams.events.evidence import Evidence, evidence_of
from streams.events.store import CANDIDATE_WINDOW, EVENT_RETENTION, EventIndex, Pending, Sweeper, apply, epoch

MAX_ARTICLES = 20       # article ids listed in an alert, newest last
MAX_MATCHES = 25
MAX_PROFILE = 160       # evidence keys kept per event (the heaviest)
MAX_TOWNS, MAX_PLACES, MAX_TAGS, MAX_FEEDS, MAX_STORIES, MAX_TOLLS = 12, 10, 30, 100, 500, 10
PLACE_KEYS = ("p:", "w:", "r:")
MAX_CANDIDATES = 6      # events weighed per article (those sharing the most evidence)
QUIET_EVENTS = 1        # a country no more than this many events of the last two days named is quiet
RETRIEVAL_POSTINGS = 48  # a key shown by more recent events than this is too common to find candidates by


@dataclass
class Plan:
    article_id: str
    event_id: str | None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    writes: dict[str, Any] = field(default_factory=dict)
    opened: bool = False          # a new event
    merged: list[str] = field(default_factory=list)   # events merged into `event_id`


def event_id_of(article_id: str) -> str:
    return "ev-" + hashlib.sha256(article_id.encode("utf-8")).hexdigest()[:20]


class EventTracker:
    def __init__(self, state: MutableMapping[str, Any] | None = None, policy: AlertPolicy | None = None,
                 retention: Any = EVENT_RETENTION) -> None:
        self.state: MutableMapping[str, Any] = {} if state is None else state
        self.policy = policy or AlertPolicy()
        self.sweeper = Sweeper(retention)

    # -- the two steps --------------------------------------------------------------------------

    def plan(self, article: Mapping[str, Any], rule_version: str | None) -> Plan:
        """The article's event, alerts and state writes; the state itself is not changed."""
        esc = article.get("escalation") or {}
        if RANK[esc.get("severity", "none")] < RANK["low"]:
            return Plan(str(article["id"]), None)
        pending = Pending(self.state)
        index = EventIndex(pending)
        known = index.assigned(str(article["id"]))
        if known is not None:
            event = index.event(known)
            return Plan(str(article["id"]), event["id"] if event else known)
        evidence = evidence_of(article)
        self.sweeper.see(epoch(evidence.at))
        plan = Plan(str(article["id"]), None)
        target, others, candidates, discount = self._choose(index, article, evidence)
        if target is None:
            target = _new_event(event_id_of(evidence.article_id), evidence)
            plan.opened = True
        else:
            target = dict(target)
        contributed = _fold(target, article, evidence, rule_version)
        if contributed and not evidence.digest:
            # with this article's evidence, is another open event it also matches the same occurrence?
            for other in others:
                if matching.same_occurrence(target, other, discount):
                    target = self._merge(index, target, dict(other), plan)
            # and is an event it found but does not report the same occurrence as the one it joined?
            merged = {target["id"], *plan.merged}
            for other in candidates:
                if other["id"] not in merged and matching.same_occurrence(target, other, discount, bridged=False):
                    target = self._merge(index, target, dict(other), plan)
                    merged = {target["id"], *plan.merged}
        self._remember(index, target, article, evidence, contributed)
        alert = plan_alert(target, self.policy)
        if alert is not None:
            plan.alerts.append(alert)
        index.put(target)
        plan.event_id, plan.writes = target["id"], pending.writes
        return plan

    def commit(self, plan: Plan) -> int:
        """Apply the plan's writes, then sweep if due; returns how many events the sweep forgot."""
        apply(self.state, plan.writes)
        if self.sweeper.due():
            return self.sweeper.sweep(self.state)
        return 0

    def update(self, article: Mapping[str, Any], rule_version: str | None) -> Plan:
        plan = self.plan(article, rule_version)
        self.commit(plan)
        return plan

    # -- choosing ------------------------------------------------------------------------------

    def _choose(self, index: EventIndex, article: Mapping[str, Any], evidence: Evidence
                ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]], dict[str, float]]:
        """(the event the article joins or None, other events it would also join, the events it found,
        what each of its keys is worth of its weight)."""
        now = epoch(evidence.at)
        worth, candidates = self._candidates(index, evidence)
        # a headline phrase counts when another report has it; its absence says nothing (the same words
        # again are news, other words are not)
        total = sum(value for key, value in worth.items() if not key.startswith("h:"))
        discount = {key: worth[key] / weight for key, weight in evidence.keys.items() if weight}
        story = index.story_event(str(article.get("story_id") or ""), now)
        story_event = index.event(story) if story else None
        passing = []
        for event in candidates:
            verdict = matching.weigh(evidence, event, worth, total)
            if verdict.joins:
                passing.append((verdict.shared, -abs(now - event["onset"]), event))
        passing.sort(key=lambda p: (p[0], p[1]), reverse=True)
        ranked = [p[2] for p in passing]
        if story_event is not None and not evidence.digest and matching.weigh(
                evidence, story_event, worth, total, story_prior=True).joins:
            return story_event, [e for e in ranked if e["id"] != story_event["id"]], candidates, discount
        if not ranked:
            return None, [], candidates, discount
        return ranked[0], ranked[1:], candidates, discount

    def _candidates(self, index: EventIndex, evidence: Evidence) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """What the article's keys are worth, given how many events showed them before
        (`matching.values`), and the open events sharing the most of that worth with it (resolved
        through merges, each once): every event that could pass is read."""
        now = epoch(evidence.at)
        horizon = now - CANDIDATE_WINDOW.total_seconds()
        background = now - matching.BURST
        counts: dict[str, int] = {}
        recent: dict[str, list[str]] = {}
        survivors: dict[str, str] = {}
        for key in evidence.keys:
            entries = index.postings(key)
            if not entries:
                counts[key] = 0
                recent[key] = []
                if key.startswith("c:"):
                    evidence.quiet.add(key)
                continue
            ids = [entry[0] for entry in entries if entry[1] >= horizon]
            if key.startswith("c:") and len({_survivor(index, e, survivors) for e in ids}) <= QUIET_EVENTS:
                evidence.quiet.add(key)
            # how common the key was before the last hours: the reports of one occurrence now in the news
            # do not make its places common (and events merged into one are one, for any key)
            older = [entry[0] for entry in entries if entry[1] >= horizon and entry[-1] <= background]
            if len(older) > 1:   # any key: one occurrence split in two and merged is one
                counts[key] = len({_survivor(index, e, survivors) for e in older})
            else:
                counts[key] = len(older)
            if len(ids) <= RETRIEVAL_POSTINGS:
                recent[key] = ids
        worth = matching.values(evidence, counts)
        weight: dict[str, float] = {}
        for key, ids in recent.items():
            for event_id in ids:
                weight[event_id] = weight.get(event_id, 0.0) + worth[key]
        # an event sharing less than half of what a join needs cannot pass: not worth reading
        ranked = sorted((e for e in weight if weight[e] >= matching.CANDIDATE_MIN), key=lambda e: (-weight[e], e)
                        )[:MAX_CANDIDATES]
        events, seen = [], set()
        for event_id in ranked:
            event = index.event(event_id)
            if event is not None and event["id"] not in seen and event["last"] >= horizon:
                seen.add(event["id"])
                events.append(event)
        return worth, events

    # -- changing --------------------------------------------------------------------------------

    def _merge(self, index: EventIndex, a: dict[str, Any], b: dict[str, Any], plan: Plan) -> dict[str, Any]:
        """Merge the younger of two events into the older; returns the one that carries on."""
        older, younger = (a, b) if (a["onset"], a["id"]) <= (b["onset"], b["id"]) else (b, a)
        closing = merged_alert(younger, older["id"])
        if closing is not None:
            plan.alerts.append(closing)
        younger["merged_into"] = older["id"]
        index.put(younger)
        _absorb(older, younger)
        plan.merged.append(younger["id"])
        return older

    def _remember(self, index: EventIndex, event: dict[str, Any], article: Mapping[str, Any],
                  evidence: Evidence, contributed: bool) -> None:
        now = epoch(evidence.at)
        index.assign(evidence.article_id, event["id"], now)
        if article.get("story_id") and contributed and not evidence.digest:
            index.tie_story(str(article["story_id"]), event["id"], now)
        if contributed:
            for key in evidence.keys:
                index.post(key, event["id"], now)


def _survivor(index: EventIndex, event_id: str, known: dict[str, str]) -> str:
    """The id of the event `event_id` ended in (itself unless merged), remembered in `known`."""
    found = known.get(event_id)
    if found is None:
        event = index.event(event_id)
        found = known[event_id] = event["id"] if event else event_id
    return found


def _new_event(event_id: str, evidence: Evidence) -> dict[str, Any]:
    at = evidence.at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": event_id, "onset": epoch(evidence.at), "last": epoch(evidence.at), "first_seen": at,
            "updated_at": at, "clock": None, "profile": {}, "towns": [], "regions": [], "main": [], "countries": [],
            "places": [],
            "stories": {}, "sources": [], "copies": 0, "mentions": 0, "articles": [], "languages": [],
            "tags": [], "feeds": [], "severity": "none", "score": 0.0, "categories": [], "casualties": None,
            "matches": [], "title": "", "url": "", "source": "", "story_id": None, "rule_version": None,
            "emitted": None, "merged_into": None, "again": False, "continuing": 0, "kinds": [], "tolls": []}


def _fold(event: dict[str, Any], article: Mapping[str, Any], evidence: Evidence, rule_version: str | None) -> bool:
    """Fold one article into its event; returns whether it contributed evidence. A round-up that
    joins an existing event only points to it: it adds no evidence, figures or outlet (its figures
    may be another story's), and its story does not follow it."""
    esc = article.get("escalation") or {}
    published = str(article["published_at"])
    arrival = str(article.get("fetched_at") or published)
    mention = evidence.digest and bool(event["articles"])
    event["articles"] = (event["articles"] + [evidence.article_id])[-MAX_ARTICLES:]
    event["updated_at"] = later(event["updated_at"], published)
    event["first_seen"] = earlier(event["first_seen"], published)
    event["last"] = max(event["last"], epoch(evidence.at))
    event["onset"] = min(event["onset"], epoch(evidence.at))
    # The storm bound runs on arrival time: copies often arrive with older publication times.
    event["clock"] = later(event["clock"] or arrival, arrival)
    event["feeds"] = _union(event["feeds"], [article.get("feed")], MAX_FEEDS)
    event["tags"] = _union(event["tags"], [str(t) for t in article.get("tags") or () if isinstance(t, str)], MAX_TAGS)
    event["rule_version"] = rule_version
    if mention:
        event["mentions"] += 1
        return False
    story_id = str(article.get("story_id") or evidence.article_id)
    if story_id in event["stories"]:
        event["copies"] += 1          # a republished copy or rewrite of a story already in the event
    else:
        if len(event["stories"]) < MAX_STORIES:
            event["stories"] = {**event["stories"], story_id: article.get("source", "")}
        event["sources"] = _union(event["sources"], [article.get("source")], MAX_STORIES)
    event["languages"] = _union(event["languages"], [evidence.language], 20)
    event["categories"] = _union(event["categories"], list(esc.get("categories") or ()), 50)
    event["again"] = bool(event.get("again") or evidence.new_occurrence)
    event["kinds"] = _union(event.get("kinds") or [], sorted(evidence.kinds), 20)
    event["continuing"] = int(event.get("continuing") or 0) + evidence.continuing
    _fold_casualties(event, esc.get("casualties"), evidence)
    if evidence.casualties and evidence.casualties not in (event.get("tolls") or ()):
        event["tolls"] = ([*(event.get("tolls") or ()), evidence.casualties])[-MAX_TOLLS:]
    _fold_evidence(event, evidence)
    severity, score = esc.get("severity", "none"), float(esc.get("score", 0.0))
    rank, current = RANK[severity], RANK[event["severity"]]
    if rank > current or (rank == current and score > event["score"]):
        # The most alarming article speaks for the event.
        event.update(severity=severity, score=score, matches=list(esc.get("matches") or ())[:MAX_MATCHES],
                     title=_title(article), url=article.get("url", event["url"]),
                     source=article.get("source", event["source"]), story_id=article.get("story_id"))
    return True


def _fold_casualties(event: dict[str, Any], casualties: int | None, evidence: Evidence) -> None:
    """The highest toll reported, except that an outlet's explicit revision (an update marker) sets
    the figure, down as well as up: the alert follows the latest revised figure."""
    if casualties is None:
        return
    if event["casualties"] is None or casualties > event["casualties"] or evidence.update:
        event["casualties"] = casualties


def _fold_evidence(event: dict[str, Any], evidence: Evidence) -> None:
    profile = dict(event["profile"])
    for key, weight in evidence.keys.items():
        if weight > profile.get(key, 0.0):
            profile[key] = weight
    if len(profile) > MAX_PROFILE:
        profile = dict(sorted(profile.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_PROFILE])
    event["profile"] = profile
    known = {town[0] for town in event["towns"]}
    new_towns = [[t.key, t.name, t.lat, t.lon, t.country] for t in evidence.towns if t.key not in known]
    event["towns"] = (event["towns"] + _unique(new_towns))[:MAX_TOWNS]
    event["regions"] = _union(event.get("regions") or [], sorted(evidence.regions), MAX_TOWNS)
    event["main"] = _union(event.get("main") or [], sorted(evidence.main), MAX_TOWNS)
    event["countries"] = _union(event["countries"], sorted(evidence.countries), 20)
    event["places"] = _union(event["places"], [name for _, name in evidence.places], MAX_PLACES)


def _absorb(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    """`other`'s members and facts, into the event that carries on."""
    into["stories"] = {**other["stories"], **into["stories"]}
    into["sources"] = _union(into["sources"], other["sources"], MAX_STORIES)
    into["copies"] += other["copies"]
    into["again"] = bool(into.get("again") or other.get("again"))
    into["tolls"] = _union(list(into.get("tolls") or ()), list(other.get("tolls") or ()), 2 * MAX_TOLLS)[-MAX_TOLLS:]
    into["continuing"] = int(into.get("continuing") or 0) + int(other.get("continuing") or 0)
    into["mentions"] += other["mentions"]
    into["articles"] = _union(list(other["articles"]), into["articles"], 2 * MAX_ARTICLES)[-MAX_ARTICLES:]
    for name, cap in (("languages", 20), ("tags", MAX_TAGS), ("feeds", MAX_FEEDS), ("categories", 50),
                      ("countries", 20), ("places", MAX_PLACES), ("regions", MAX_TOWNS), ("main", MAX_TOWNS),
                      ("kinds", 20)):
        into[name] = _union(into.get(name) or [], other.get(name) or [], cap)
    into["towns"] = (into["towns"] + [t for t in other["towns"] if t[0] not in {x[0] for x in into["towns"]}]
                     )[:MAX_TOWNS]
    into["profile"] = dict(sorted({**other["profile"], **into["profile"]}.items(),
                                  key=lambda kv: (-kv[1], kv[0]))[:MAX_PROFILE])
    into["first_seen"] = earlier(into["first_seen"], other["first_seen"])
    into["updated_at"] = later(into["updated_at"], other["updated_at"])
    into["onset"], into["last"] = min(into["onset"], other["onset"]), max(into["last"], other["last"])
    into["clock"] = later(into["clock"], other["clock"]) if into["clock"] and other["clock"] else (
        into["clock"] or other["clock"])
    if other["casualties"] is not None and (into["casualties"] is None or other["casualties"] > into["casualties"]):
        into["casualties"] = other["casualties"]
    if RANK[other["severity"]] > RANK[into["severity"]] or (
            RANK[other["severity"]] == RANK[into["severity"]] and other["score"] > into["score"]):
        for name in ("severity", "score", "matches", "title", "url", "source", "story_id"):
            into[name] = other[name]


def _title(article: Mapping[str, Any]) -> str:
    """The normalised title (plain text: no markup, scripts or handlers reach an alert)."""
    norm = article.get("norm")
    if isinstance(norm, Mapping) and norm.get("title"):
        return str(norm["title"])
    from streams.normalize import MAX_TITLE_CHARS, clean_text

    return clean_text(article.get("title"), limit=MAX_TITLE_CHARS, boilerplate=False).replace("\n", " ")


def _union(have: list[Any], more: list[Any], cap: int) -> list[Any]:
    """`have` followed by what of `more` it lacks, in order, at most `cap` items (never None or "")."""
    out = list(have)
    for item in more:
        if item and item not in out and len(out) < cap:
            out.append(item)
    return out


def _unique(rows: list[list[Any]]) -> list[list[Any]]:
    seen, out = set(), []
    for row in rows:
        if row[0] not in seen:
            seen.add(row[0])
            out.append(row)
    return out
