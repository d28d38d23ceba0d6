"""The open alerts as the page shows them: latest version, a timeline of versions, outlets and articles.

Pure and bounded: at most `max_alerts` alerts (the least recently updated go first), `max_versions`
versions each, and alerts without a new version within `window` (by the time Kafka received it:
news can be old when it is first seen) leave.
Everything kept is what news.alerts said; the page escapes it (it is other people's text).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.delivery.changes import changes_of, describe_change
from streams.delivery.messages import clean, safe_url
from streams.delivery.router import snapshot

MAX_ALERTS = 2000
MAX_VERSIONS = 50
MAX_ARTICLES = 30


class Board:
    def __init__(self, window: timedelta = timedelta(days=3), max_alerts: int = MAX_ALERTS,
                 max_versions: int = MAX_VERSIONS) -> None:
        self.window, self.max_alerts, self.max_versions = window, max_alerts, max_versions
        self.entries: OrderedDict[str, dict[str, Any]] = OrderedDict()   # alert id -> entry, by last update

    def add(self, alert: Mapping[str, Any], received: datetime | None = None) -> dict[str, Any] | None:
        """Fold one alert version in; return its page entry (None: an old or replayed version)."""
        alert_id = str(alert.get("alert_id") or "")
        if not alert_id:
            return None
        version = _int(alert.get("version"))
        received = received or datetime.now(UTC)
        entry = self.entries.get(alert_id)
        if entry is None:
            entry = {"alert_id": alert_id, "alert": dict(alert), "versions": [], "articles": [], "last": None}
        elif any(v["version"] == version for v in entry["versions"]):
            return None                     # a replay of a version already shown
        if version >= _int(entry["alert"].get("version")):
            entry["alert"] = dict(alert)
        changes = changes_of(alert, entry["last"]) if entry["last"] is not None or alert.get("changes") else []
        entry["versions"] = sorted([*entry["versions"], {
            "version": version, "severity": clean(alert.get("severity"), 10), "reason": clean(alert.get("reason"), 20),
            "updated_at": clean(alert.get("updated_at"), 40), "received_at": _stamp(received),
            "changes": [describe_change(c) for c in changes], "casualties": alert.get("casualties"),
            "sources": len(alert.get("sources") or []), "copies": alert.get("copies")}],
            key=lambda v: v["version"])[-self.max_versions:]
        entry["last"] = snapshot(alert)
        entry["received"] = max(received, entry.get("received") or received)
        url = safe_url(alert.get("url"))
        if url and all(a["url"] != url for a in entry["articles"]):
            entry["articles"] = [*entry["articles"], {"url": url, "source": clean(alert.get("source"), 80),
                                                      "title": clean(alert.get("title"))}][-MAX_ARTICLES:]
        self.entries[alert_id] = entry
        self.entries.move_to_end(alert_id)
        while len(self.entries) > self.max_alerts:
            self.entries.popitem(last=False)
        return public(entry)

    def expire(self, now: datetime) -> list[str]:
        """Drop alerts whose last version reached Kafka before `now - window`; return their ids."""
        cutoff = now - self.window
        gone = [k for k, e in self.entries.items() if e["received"] < cutoff]
        for alert_id in gone:
            del self.entries[alert_id]
        return gone

    def get(self, alert_id: str) -> dict[str, Any] | None:
        entry = self.entries.get(alert_id)
        return public(entry) if entry is not None else None

    def snapshot(self) -> list[dict[str, Any]]:
        """Every entry, newest update first."""
        return [public(e) for e in reversed(self.entries.values())]

    def severity_of(self, scope: str, target: str) -> str | None:
        """The current severity of an alert, or the highest of an event's alerts."""
        order = ("none", "low", "medium", "high", "critical")
        found = [str(e["alert"].get("severity")) for e in self.entries.values()
                 if (scope == "alert" and e["alert_id"] == target)
                 or (scope == "event" and e["alert"].get("event_id") == target)]
        found = [s for s in found if s in order]
        return max(found, key=order.index) if found else None


def public(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in ("last", "received")}


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
