"""Mute and acknowledge: records of a compacted topic, folded into one view that every sink and page shares.

Keys (one record per muted or acknowledged thing; a tombstone lifts it):

    mute:alert:<alert_id>      updates of that alert stop until `until`, unless its severity rises
    mute:event:<event_id>      the same for every alert of an event
    mute:pattern:<digest>      alerts whose title or matched terms contain `target` (any case) until `until`
    ack:<alert_id>             someone is on it: updates stop unless the severity rises; shown on the page

Values are JSON: {"kind", "scope", "target", "until" (RFC 3339 or null), "severity" (at the time of the
mute or ack), "by", "at", "note"}. Pure: the Kafka reading and writing is in streams/delivery/runner.py
and streams/console/feed.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.delivery.routes import RANK, searchable

SCOPES = ("alert", "event", "pattern")
MAX_PATTERN = 200


@dataclass(frozen=True)
class Hold:
    key: str
    kind: str                   # mute | ack
    scope: str                  # alert | event | pattern (ack: alert)
    target: str
    until: datetime | None
    severity: str
    by: str
    at: str
    note: str = ""

    def active(self, now: datetime) -> bool:
        return self.until is None or now < self.until

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "scope": self.scope, "target": self.target,
                "until": _stamp(self.until) if self.until else None, "severity": self.severity, "by": self.by,
                "at": self.at, "note": self.note}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def mute_key(scope: str, target: str) -> str:
    if scope == "pattern":
        return "mute:pattern:" + hashlib.sha256(target.casefold().encode("utf-8")).hexdigest()[:16]
    return f"mute:{scope}:{target}"


def mute(scope: str, target: str, *, seconds: float | None, severity: str = "critical", by: str = "",
         note: str = "", now: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """The (key, value) of a mute record. `seconds` None: until lifted. Raises ValueError on bad input."""
    now = now or datetime.now(UTC)
    target = target.strip()
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    if not target or len(target) > MAX_PATTERN:
        raise ValueError(f"target must be 1 to {MAX_PATTERN} characters")
    if severity not in RANK:
        raise ValueError("unknown severity")
    if seconds is not None and seconds <= 0:
        raise ValueError("a mute lasts a positive time")
    until = now + timedelta(seconds=seconds) if seconds is not None else None
    hold = Hold(mute_key(scope, target), "mute", scope, target, until, severity, by[:80], _stamp(now), note[:300])
    return hold.key, hold.to_json()


def ack(alert_id: str, *, severity: str, by: str = "", note: str = "",
        now: datetime | None = None) -> tuple[str, dict[str, Any]]:
    alert_id = alert_id.strip()
    if not alert_id or len(alert_id) > 100:
        raise ValueError("an alert id")
    if severity not in RANK:
        raise ValueError("unknown severity")
    hold = Hold(f"ack:{alert_id}", "ack", "alert", alert_id, None, severity, by[:80], _stamp(now or datetime.now(UTC)),
                note[:300])
    return hold.key, hold.to_json()


def parse(key: str, value: Mapping[str, Any]) -> Hold:
    """A record read back from the topic. Raises ValueError (KeyError, TypeError) when it is not one."""
    until = value.get("until")
    moment = datetime.fromisoformat(str(until).replace("Z", "+00:00")) if until else None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    hold = Hold(key=key, kind=str(value["kind"]), scope=str(value["scope"]), target=str(value["target"]),
                until=moment, severity=str(value.get("severity", "critical")), by=str(value.get("by", "")),
                at=str(value.get("at", "")), note=str(value.get("note", "")))
    if hold.kind not in ("mute", "ack") or hold.scope not in SCOPES or hold.severity not in RANK:
        raise ValueError(f"not a mute or ack record: {key}")
    return hold


class HoldView:
    """Every mute and ack in force, as read from the state topic (last record per key wins)."""

    def __init__(self) -> None:
        self.holds: dict[str, Hold] = {}
        self.patterns: dict[str, Hold] = {}

    def apply(self, key: str, value: Mapping[str, Any] | None) -> Hold | None:
        """Fold one record in (None: a tombstone, the key is lifted). Returns the hold, if any."""
        self.holds.pop(key, None)
        self.patterns.pop(key, None)
        if value is None:
            return None
        hold = parse(key, value)
        self.holds[key] = hold
        if hold.scope == "pattern":
            self.patterns[key] = hold
        return hold

    def silenced(self, alert: Mapping[str, Any], now: datetime) -> str | None:
        """Why this alert version must not be delivered ("muted", "acknowledged", "muted by pattern"),
        or None. A mute or ack of an alert or event yields to a higher severity than it was given at."""
        rank = RANK.get(str(alert.get("severity", "none")), 0)
        for key, why in ((f"ack:{alert.get('alert_id')}", "acknowledged"),
                         (f"mute:alert:{alert.get('alert_id')}", "muted"),
                         (f"mute:event:{alert.get('event_id')}", "muted (event)")):
            hold = self.holds.get(key)
            if hold is not None and hold.active(now) and rank <= RANK[hold.severity]:
                return why
        if self.patterns:
            text = searchable(alert).casefold()
            for hold in self.patterns.values():
                if hold.active(now) and hold.target.casefold() in text:
                    return f"muted by pattern {hold.target!r}"
        return None

    def of_alert(self, alert_id: str, event_id: str | None, now: datetime) -> list[dict[str, Any]]:
        """The holds in force on one alert (for the page)."""
        keys = [f"ack:{alert_id}", f"mute:alert:{alert_id}"] + ([f"mute:event:{event_id}"] if event_id else [])
        return [hold.to_json() for key in keys if (hold := self.holds.get(key)) is not None and hold.active(now)]

    def active(self, now: datetime) -> list[dict[str, Any]]:
        return [hold.to_json() for hold in self.holds.values() if hold.active(now)]
