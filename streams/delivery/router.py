"""Per-route delivery decisions: send now, hold (minimum interval, quiet hours, digest), or drop.

Pure: the caller passes the wall clock (`now`; delivery is about people's time, not event time) and
an opaque `token` per alert record (the runner's topic partition and offset). Held alerts keep their
token until they leave in a message, so the runner commits no offset past an alert it still holds:
a crash re-reads it (at-least-once), and `sent` (restored from the delivery log) drops what was
delivered before the crash.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from streams.delivery.changes import WATCHED, changes_of
from streams.delivery.messages import Message, alert_message, digest_message
from streams.delivery.routes import RANK, Route, Routes
from streams.delivery.state import HoldView

MAX_REMEMBERED = 100_000       # (route, alert) pairs remembered as sent; least recently sent forgotten


@dataclass
class Outgoing:
    """A message for a route's destinations and the alert versions it settles."""

    route: Route
    message: Message
    alerts: list[dict[str, Any]]
    tokens: list[Hashable] = field(default_factory=list)


@dataclass
class _Sent:
    version: int
    severity: str
    at: datetime
    snapshot: dict[str, Any]


@dataclass
class _Batch:
    """Alerts held for one digest (a digest period, or the quiet hours): the latest version per alert."""

    due: datetime
    why: str
    alerts: OrderedDict[str, tuple[dict[str, Any], Hashable]] = field(default_factory=OrderedDict)


def snapshot(alert: Mapping[str, Any]) -> dict[str, Any]:
    """What an alert's next update is compared with (bounded: counts and short lists only)."""
    return {"alert_id": alert.get("alert_id"), "version": alert.get("version"),
            **{name: alert.get(name) for name in WATCHED if name in alert}}


class Router:
    def __init__(self, routes: Routes, holds: HoldView | None = None) -> None:
        self.routes = routes
        self.holds = holds or HoldView()
        self.sent: OrderedDict[tuple[str, str], _Sent] = OrderedDict()
        self.seen: OrderedDict[str, dict[str, Any]] = OrderedDict()   # last version seen per alert id
        self.pending: dict[tuple[str, str], tuple[dict[str, Any], Hashable, datetime]] = {}  # interval holds
        self.batches: dict[str, _Batch] = {}                          # per route: digest or quiet hours

    def replace_routes(self, routes: Routes) -> None:
        """Reloaded routes: held alerts of a route that is gone are released (their tokens too)."""
        names = {route.name for route in routes.routes}
        self.pending = {k: v for k, v in self.pending.items() if k[0] in names}
        self.batches = {k: v for k, v in self.batches.items() if k in names}
        self.routes = routes

    def route(self, alert: dict[str, Any], now: datetime, token: Hashable = None) -> tuple[list[Outgoing], list[str]]:
        """Decide for one alert version. Returns the messages to send now and one outcome per route
        that matched (delivered later by the caller, or held, muted, duplicate)."""
        out: list[Outgoing] = []
        outcomes: list[str] = []
        alert_id, version = str(alert.get("alert_id")), int(alert.get("version") or 0)
        for route in self.routes.matching(alert):
            outcome = self._decide(route, alert, alert_id, version, now, token, out)
            outcomes.append(f"{route.name}:{outcome}")
        self.seen[alert_id] = snapshot(alert)
        self.seen.move_to_end(alert_id)
        while len(self.seen) > MAX_REMEMBERED:
            self.seen.popitem(last=False)
        return out, outcomes

    def _decide(self, route: Route, alert: dict[str, Any], alert_id: str, version: int, now: datetime,
                token: Hashable, out: list[Outgoing]) -> str:
        sent = self.sent.get((route.name, alert_id))
        if sent is not None and version <= sent.version:
            return "duplicate"
        if self.holds.silenced(alert, now):
            return "muted"
        rank = RANK.get(str(alert.get("severity")), 0)
        if route.digest_s:
            self._batch(route, now, "digest", route.digest_s).alerts[alert_id] = (alert, token)
            return "digest"
        if route.quiet is not None and route.quiet.contains(now) and rank < RANK[route.quiet.urgent]:
            batch = self._batch(route, now, "held in quiet hours", 0)
            batch.due = route.quiet.ends(now)
            batch.alerts[alert_id] = (alert, token)
            return "quiet"
        if sent is not None and route.min_interval_s and rank <= RANK.get(sent.severity, 0):
            due = sent.at + timedelta(seconds=route.min_interval_s)
            if now < due:
                self.pending[(route.name, alert_id)] = (alert, token, due)
                return "held"
        self.pending.pop((route.name, alert_id), None)
        out.append(self._single(route, alert, token))
        return "send"

    def _batch(self, route: Route, now: datetime, why: str, period_s: float) -> _Batch:
        batch = self.batches.get(route.name)
        if batch is None:
            batch = self.batches[route.name] = _Batch(now + timedelta(seconds=period_s), why)
        return batch

    def _single(self, route: Route, alert: dict[str, Any], token: Hashable) -> Outgoing:
        return Outgoing(route, alert_message(alert, self._changes(route, alert), route.name), [alert], [token])

    def _changes(self, route: Route, alert: Mapping[str, Any]) -> list[dict[str, Any]]:
        alert_id = str(alert.get("alert_id"))
        sent = self.sent.get((route.name, alert_id))
        previous = sent.snapshot if sent is not None else self.seen.get(alert_id)
        if previous is not None and previous.get("version") != (alert.get("version") or 0) - 1:
            # versions in between were not delivered here: the alert's own changes cover only the last step
            return changes_of({k: v for k, v in alert.items() if k != "changes"}, previous)
        return changes_of(alert, previous)

    def due(self, now: datetime) -> list[Outgoing]:
        """Held messages whose time has come: digests, the end of quiet hours, interval holds."""
        out = []
        for key, (alert, token, due) in list(self.pending.items()):
            if now >= due:
                del self.pending[key]
                route = self._route(key[0])
                if route is not None and not self.holds.silenced(alert, now):
                    out.append(self._single(route, alert, token))
                elif route is not None:
                    out.append(Outgoing(route, _NOTHING, [], [token]))   # muted meanwhile: settled
        for name, batch in list(self.batches.items()):
            if now < batch.due:
                continue
            del self.batches[name]
            route = self._route(name)
            if route is None:
                continue
            live = [(a, t) for a, t in batch.alerts.values() if not self.holds.silenced(a, now)]
            tokens = [t for _, t in batch.alerts.values()]
            if not live:
                out.append(Outgoing(route, _NOTHING, [], tokens))
                continue
            live.sort(key=lambda item: (RANK.get(str(item[0].get("severity")), 0), str(item[0].get("updated_at"))),
                      reverse=True)
            items = [(a, self._changes(route, a)) for a, _ in live]
            out.append(Outgoing(route, digest_message(items, route.name, route.digest_max, batch.why),
                                [a for a, _ in live], tokens))
        return out

    def next_due(self) -> datetime | None:
        times = [due for _, _, due in self.pending.values()] + [b.due for b in self.batches.values()]
        return min(times) if times else None

    def held_tokens(self) -> list[Hashable]:
        return [t for _, t, _ in self.pending.values()] + [
            t for batch in self.batches.values() for _, t in batch.alerts.values()]

    def delivered(self, outgoing: Outgoing, now: datetime) -> list[tuple[str, dict[str, Any]]]:
        """Record a delivered message; returns (key, value) records for the delivery log."""
        records = []
        for alert in outgoing.alerts:
            alert_id = str(alert.get("alert_id"))
            entry = _Sent(int(alert.get("version") or 0), str(alert.get("severity")), now, snapshot(alert))
            self._remember(outgoing.route.name, alert_id, entry)
            records.append((f"{outgoing.route.name}|{alert_id}",
                            {"version": entry.version, "severity": entry.severity, "at": now.isoformat(),
                             "snapshot": entry.snapshot}))
        return records

    def restore(self, key: str, value: Mapping[str, Any]) -> None:
        """One record of the delivery log (written by `delivered`), read back at start."""
        route, _, alert_id = key.partition("|")
        self._remember(route, alert_id, _Sent(int(value["version"]), str(value["severity"]),
                                              datetime.fromisoformat(value["at"]), dict(value.get("snapshot") or {})))

    def _remember(self, route: str, alert_id: str, entry: _Sent) -> None:
        self.sent[(route, alert_id)] = entry
        self.sent.move_to_end((route, alert_id))
        while len(self.sent) > MAX_REMEMBERED:
            self.sent.popitem(last=False)

    def _route(self, name: str) -> Route | None:
        return next((r for r in self.routes.routes if r.name == name), None)


_NOTHING = Message(subject="", text="", html="", severity="none", key="")
