"""One living alert per story: fold scored articles into story state, decide when to (re-)emit.

Pure logic: the state is any MutableMapping (a dict in replay, a Faust table in the worker), keyed by
story id. Every decision depends on the input order and event times only, so a replay of the same
input yields the same alerts, and an article already folded into a story changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.article import parse_time, rfc3339
from streams.escalation import SEVERITIES

RANK = {name: i for i, name in enumerate(SEVERITIES)}
MAX_ARTICLES = 20      # ids listed in an alert, newest last
MAX_SEEN = 2000        # article ids remembered per story to drop replays
MAX_MATCHES = 25
# A story with no article for this long (event time) is forgotten. Twice the dedupe window: no new
# article can join it any more, because dedupe has expired every article it could be matched with.
STORY_RETENTION = timedelta(hours=144)


def alert_id(story_id: str) -> str:
    return "al-" + hashlib.sha256(story_id.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class AlertPolicy:
    min_severity: str = "medium"                   # below this a story is tracked, not alerted
    min_interval: timedelta = timedelta(minutes=10)  # between updates of one story, unless it escalates

    def __post_init__(self) -> None:
        if self.min_severity not in RANK:
            raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}")


class StoryTracker:
    """Story state and alert decisions. The state is bounded by event time: `sweep_due` + `expired`
    (per part; `streams.pipeline.commit_story` runs both, in replay and in the worker) forget the
    stories whose newest article is older than the newest event time seen minus `retention`, at
    most once per quarter of `retention` of event time, so the scan costs nothing per article."""

    def __init__(self, state: MutableMapping[str, Any] | None = None,
                 policy: AlertPolicy | None = None, retention: timedelta = STORY_RETENTION) -> None:
        self.state: MutableMapping[str, Any] = {} if state is None else state
        self.policy = policy or AlertPolicy()
        self.retention = retention
        self.watermark: datetime | None = None          # newest event time planned (not persisted)
        self._swept: dict[Any, datetime] = {}           # per part: the watermark at its last sweep

    def sweep_due(self, part: Any = None) -> bool:
        """Whether `part` (a partition, or None for all the state) should be swept now. A part seen
        for the first time starts its clock: a restarted worker first relearns the event time."""
        if self.watermark is None:
            return False
        last = self._swept.setdefault(part, self.watermark)
        return self.watermark - last >= self.retention / 4

    def expired(self, part: Any = None, belongs: Callable[[str], bool] | None = None) -> list[str]:
        """Ids of the stories (of `part`: those `belongs` accepts) whose newest article is older than
        the watermark minus the retention; marks `part` swept."""
        if self.watermark is None:
            return []
        cutoff = self.watermark - self.retention
        self._swept[part] = self.watermark
        return [story_id for story_id, story in self.state.items()
                if (belongs is None or belongs(story_id)) and _time(story["updated_at"]) < cutoff]

    def update(self, story_article: Mapping[str, Any], rule_version: str) -> dict[str, Any] | None:
        """Fold one scored article into its story and store it; return the alert to publish, if any."""
        alert, story = self.plan(story_article, rule_version)
        if story is not None:
            self.state[story["story_id"]] = story
        return alert

    def plan(self, story_article: Mapping[str, Any],
             rule_version: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(alert to publish or None, new story state or None) without writing the state.

        The worker publishes the alert first and stores the state after the broker acknowledged it:
        a crash in between replays the article and re-sends the same (alert_id, version), never loses it.
        None as state means the article was already folded in (a replayed record): nothing to do.
        """
        published = _time(story_article["published_at"])
        if self.watermark is None or published > self.watermark:
            self.watermark = published
        story = self.state.get(story_article["story_id"])
        if story is not None and story_article["id"] in story["seen"]:
            return None, None
        story = _fold(dict(story) if story else _new_story(story_article), story_article, rule_version)
        return self._maybe_emit(story)

    def _maybe_emit(self, story: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        if RANK[story["severity"]] < RANK[self.policy.min_severity]:
            return None, story
        last = story.get("emitted")
        reason: str | None
        if last is None:
            reason = "new"
        else:
            reason = _reason(last, story)
            if reason is None:
                return None, story
            urgent = (RANK[story["severity"]] > RANK[last["severity"]]
                      or (story["casualties"] or 0) > (last["casualties"] or 0)
                      or _spread_step(len(story["sources"])) > _spread_step(last["sources"]))
            elapsed = _time(story["clock"]) - _time(last["at"])
            if not urgent and elapsed < self.policy.min_interval:
                return None, story  # held back; goes out with the next update past the interval
        version = (last["version"] if last else 0) + 1
        story["emitted"] = {"version": version, "severity": story["severity"],
                            "casualties": story["casualties"], "categories": list(story["categories"]),
                            "sources": len(story["sources"]), "at": story["clock"]}
        return _alert(story, version, reason), story


def _title(article: Mapping[str, Any], default: str) -> str:
    """The normalised title (plain text: no markup, scripts or handlers reach an alert)."""
    norm = article.get("norm")
    if isinstance(norm, Mapping) and norm.get("title"):
        return str(norm["title"])
    if "title" not in article:
        return default
    from streams.normalize import MAX_TITLE_CHARS, clean_text

    return clean_text(article["title"], limit=MAX_TITLE_CHARS).replace("\n", " ")


def _new_story(article: Mapping[str, Any]) -> dict[str, Any]:
    return {"story_id": article["story_id"], "title": _title(article, ""), "url": article.get("url", ""),
            "source": article.get("source", ""), "first_seen": article["published_at"],
            "updated_at": article["published_at"], "severity": "none", "score": 0.0, "categories": [],
            "casualties": None, "sources": [], "copies": 0, "articles": [], "seen": [], "matches": [],
            "rule_version": None, "emitted": None}


def _fold(story: dict[str, Any], article: Mapping[str, Any], rule_version: str) -> dict[str, Any]:
    esc = article.get("escalation") or {}
    severity = esc.get("severity", "none")
    story["copies"] += 1
    story["seen"] = (story["seen"] + [article["id"]])[-MAX_SEEN:]
    story["articles"] = (story["articles"] + [article["id"]])[-MAX_ARTICLES:]
    if article.get("source") and article["source"] not in story["sources"]:
        story["sources"] = story["sources"] + [article["source"]]
    published = article["published_at"]
    story["updated_at"] = _later(story["updated_at"], published)
    # The storm bound runs on arrival time (the connector's fetch time, or the event time when the
    # input has none): copies often arrive with older publication times than the first one seen.
    arrival = article.get("fetched_at") or published
    story["clock"] = _later(story.get("clock") or arrival, arrival)
    story["first_seen"] = _earlier(story["first_seen"], published)
    for category in esc.get("categories", []):
        if category not in story["categories"]:
            story["categories"] = story["categories"] + [category]
    casualties = esc.get("casualties")
    if casualties is not None and casualties > (story["casualties"] or 0):
        story["casualties"] = casualties
    if RANK[severity] > RANK[story["severity"]] or (
            RANK[severity] == RANK[story["severity"]] and esc.get("score", 0.0) > story["score"]):
        # The most alarming article speaks for the story.
        story.update(severity=severity, score=float(esc.get("score", 0.0)),
                     matches=list(esc.get("matches", []))[:MAX_MATCHES],
                     title=_title(article, story["title"]), url=article.get("url", story["url"]),
                     source=article.get("source", story["source"]))
    story["rule_version"] = rule_version
    return story


_TIMES: dict[str, datetime] = {}  # timestamp text -> parse_time(text): a story's times recur per article


def _time(text: str) -> datetime:
    moment = _TIMES.get(text)
    if moment is None:
        if len(_TIMES) >= 20_000:
            _TIMES.clear()
        moment = _TIMES[text] = parse_time(text)
    return moment


def _later(a: str, b: str) -> str:
    """max(a, b, key=parse_time): the first of equal times."""
    return a if _time(b) <= _time(a) else b  # (both parsed: a bad timestamp raises, as it did)


def _earlier(a: str, b: str) -> str:
    """min(a, b, key=parse_time): the first of equal times."""
    return a if _time(a) <= _time(b) else b


SPREAD_STEPS = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)


def _spread_step(sources: int) -> int:
    """Which spread milestone a source count has reached: reaching a new one is news at once
    (a second and third outlet, then 5, 10, 20, ...); growth in between waits for the interval."""
    return sum(1 for step in SPREAD_STEPS if sources >= step)


def _reason(last: Mapping[str, Any], story: Mapping[str, Any]) -> str | None:
    if (RANK[story["severity"]] > RANK[last["severity"]]
            or (story["casualties"] or 0) > (last["casualties"] or 0)
            or set(story["categories"]) - set(last["categories"])):
        return "escalated"
    if len(story["sources"]) > last["sources"]:
        return "spread"
    return None


def _alert(story: Mapping[str, Any], version: int, reason: str) -> dict[str, Any]:
    return {"alert_id": alert_id(story["story_id"]), "version": version, "story_id": story["story_id"],
            "severity": story["severity"], "score": story["score"], "categories": list(story["categories"]),
            "casualties": story["casualties"], "title": story["title"], "url": story["url"],
            "source": story["source"], "sources": list(story["sources"]), "copies": story["copies"],
            "first_seen": story["first_seen"], "updated_at": story["updated_at"], "reason": reason,
            "rule_version": story["rule_version"], "matches": list(story["matches"]),
            "articles": list(story["articles"])}


__all__ = ["STORY_RETENTION", "AlertPolicy", "StoryTracker", "alert_id", "rfc3339"]
