"""One living alert per event: when an event's alert is (re-)published, and what it says.

Pure functions over the event documents of `streams.events` (dicts): the event keeps the snapshot
of what its alert last said (`emitted`), so a decision depends on the event alone, and a replayed
article, which changes no event, publishes nothing.

Storm bounds, on the events' arrival clock: an update waits `min_interval` after the previous one
unless it escalates (severity rises, the toll changes) or reaches a milestone (a second, third, fifth,
tenth ... independent outlet, a new language); what waited goes out with the next update past the
interval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.article import parse_time, rfc3339
from streams.escalation import SEVERITIES
from streams.plaintext import http_url, plain, safe_id

RANK = {name: i for i, name in enumerate(SEVERITIES)}
SPREAD_STEPS = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)


def alert_id(key: str) -> str:
    """The alert of an event (or of anything with a stable id): the same key, the same alert id."""
    return "al-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True)
class AlertPolicy:
    min_severity: str = "medium"                   # below this an event is tracked, not alerted
    min_interval: timedelta = timedelta(minutes=10)  # between updates of one alert, unless it escalates

    def __post_init__(self) -> None:
        if self.min_severity not in RANK:
            raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}")


def plan_alert(event: dict[str, Any], policy: AlertPolicy) -> dict[str, Any] | None:
    """The alert version the event's new state calls for, or None; notes it in `event["emitted"]`."""
    if RANK[event["severity"]] < RANK[policy.min_severity] or event.get("merged_into"):
        return None
    last = event.get("emitted")
    if last is None:
        reason = "new"
    else:
        why = _reason(last, event)
        if why is None:
            return None
        reason = why
        if not _urgent(last, event) and _time(event["clock"]) - _time(last["at"]) < policy.min_interval:
            return None  # held back: goes out with the next update past the interval
    version = (last["version"] if last else 0) + 1
    changes = _changes(last, event) if last else []
    event["emitted"] = snapshot(event, version)
    return render(event, version, reason, changes)


def merged_alert(event: dict[str, Any], survivor_id: str) -> dict[str, Any] | None:
    """The last version of an event found to be another (`survivor_id`); None if it never alerted."""
    last = event.get("emitted")
    if last is None:
        return None
    version = last["version"] + 1
    event["emitted"] = snapshot(event, version)
    into = alert_id(survivor_id)
    return render(event, version, "merged", [{"field": "merged_into", "from": None, "to": into}], merged_into=into)


def snapshot(event: Mapping[str, Any], version: int) -> dict[str, Any]:
    return {"version": version, "severity": event["severity"], "casualties": event["casualties"],
            "categories": list(event["categories"]), "sources": len(event["sources"]),
            "languages": list(event["languages"]), "at": event["clock"]}


def _urgent(last: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    return (RANK[event["severity"]] > RANK[last["severity"]]
            or event["casualties"] != last["casualties"]
            or _spread_step(len(event["sources"])) > _spread_step(last["sources"])
            or bool(set(event["languages"]) - set(last.get("languages", ()))))


def _spread_step(sources: int) -> int:
    """Which spread milestone a count of independent outlets has reached: reaching a new one is news
    at once (a second and third outlet, then 5, 10, 20, ...); growth in between waits for the interval."""
    return sum(1 for step in SPREAD_STEPS if sources >= step)


def _reason(last: Mapping[str, Any], event: Mapping[str, Any]) -> str | None:
    if (RANK[event["severity"]] > RANK[last["severity"]] or event["casualties"] != last["casualties"]
            or set(event["categories"]) - set(last["categories"])):
        return "escalated"
    if len(event["sources"]) > last["sources"] or set(event["languages"]) - set(last.get("languages", ())):
        return "spread"
    return None


def _changes(last: Mapping[str, Any], event: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What changed since the previous version: casualties 6 -> 13, sources 3 -> 5, ..."""
    now = {"severity": event["severity"], "casualties": event["casualties"], "sources": len(event["sources"]),
           "categories": list(event["categories"]), "languages": list(event["languages"])}
    changes = []
    for field_name, after in now.items():
        before = last.get(field_name)
        if field_name in ("categories", "languages"):
            if set(after) == set(before or ()):
                continue
        elif before == after:
            continue
        changes.append({"field": field_name, "from": before, "to": after})
    return changes


def render(event: Mapping[str, Any], version: int, reason: str, changes: list[dict[str, Any]],
           merged_into: str | None = None) -> dict[str, Any]:
    """The alert message (streams/schemas/alert.schema.json): text only (`plain_alert`)."""
    return plain_alert({
        "alert_id": alert_id(event["id"]), "version": version, "event_id": event["id"],
        "story_id": event["story_id"], "severity": event["severity"], "score": event["score"],
        "categories": list(event["categories"]), "casualties": event["casualties"], "title": event["title"],
        "url": event["url"], "source": event["source"], "sources": list(event["sources"]),
        "copies": event["copies"], "first_seen": event["first_seen"], "updated_at": event["updated_at"],
        "reason": reason, "rule_version": event["rule_version"], "matches": list(event["matches"]),
        "articles": list(event["articles"]), "languages": list(event["languages"]),
        "places": list(event["places"]), "tags": list(event["tags"]), "feeds": list(event["feeds"]),
        "merged_into": merged_into, "changes": changes})


# The longest text each field of an alert carries (characters).
TEXT_LIMITS = {"title": 1000, "source": 512, "sources": 512, "categories": 100, "languages": 16, "places": 200,
               "tags": 200, "feeds": 256, "rule_version": 100}
_ID_LISTS = ("articles",)
_IDS = ("event_id", "story_id")


def plain_alert(alert: dict[str, Any]) -> dict[str, Any]:
    """Every text field plain text (`streams.plaintext.plain`: no tags, entities, control or bidi
    characters, within TEXT_LIMITS), `url` http(s) or "", ids of the contract's characters. Events keep
    what the articles said; an alert says it as text, however the article was written."""
    out = dict(alert)
    for name, limit in TEXT_LIMITS.items():
        value = out.get(name)
        if isinstance(value, list):
            out[name] = _unique(plain(item, limit) for item in value)
        elif value is not None:
            out[name] = plain(value, limit)
    out["url"] = http_url(out.get("url"))
    for name in _IDS:
        if out.get(name) is not None:
            out[name] = safe_id(out[name])
    for name in _ID_LISTS:
        out[name] = _unique(safe_id(item) for item in out.get(name) or ())
    out["matches"] = [{k: _plain_value(v, 200) for k, v in match.items()} for match in out.get("matches") or ()
                      if isinstance(match, Mapping)]
    out["changes"] = [{k: _plain_value(v, 200) for k, v in change.items()} for change in out.get("changes") or ()
                      if isinstance(change, Mapping)]
    return out


def _plain_value(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return plain(value, limit)
    if isinstance(value, list):
        return [_plain_value(item, limit) for item in value]
    return value


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


_TIMES: dict[str, datetime] = {}  # timestamp text -> parse_time(text): an event's times recur per article


def _time(text: str) -> datetime:
    moment = _TIMES.get(text)
    if moment is None:
        if len(_TIMES) >= 20_000:
            _TIMES.clear()
        moment = _TIMES[text] = parse_time(text)
    return moment


def later(a: str, b: str) -> str:
    """max(a, b, key=parse_time): the first of equal times."""
    return a if _time(b) <= _time(a) else b  # (both parsed: a bad timestamp raises)


def earlier(a: str, b: str) -> str:
    """min(a, b, key=parse_time): the first of equal times."""
    return a if _time(a) <= _time(b) else b


__all__ = ["RANK", "TEXT_LIMITS", "AlertPolicy", "alert_id", "earlier", "later", "merged_alert", "plain_alert",
           "plan_alert", "render", "rfc3339"]
