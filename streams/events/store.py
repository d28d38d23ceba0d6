"""Event state in any MutableMapping (a dict in replay, a Faust table in the worker), four kinds of key:

    e:<event id>    the event: its members, evidence profile, facts and alert state
    k:<evidence>    the events that showed this evidence recently: [[event id, last seen, first seen], ...]
    s:<story id>    the event a story's articles go to: [event id, last seen]
    a:<article id>  the event an article was assigned to: [event id, seen] (a replayed article is known)

Candidates for an article come from the `k:` lists of its evidence, within a bounded time window, so
the work per article does not grow with the number of events. Everything is bounded by event time:
entries older than the retention are swept away, at most once per quarter of it.

`Pending` buffers the writes of one article on top of the state: the worker publishes the article's
alerts first and writes the state after the broker acknowledged them (a crash in between replays the
article from the same state and re-sends the same alert versions, which the replay guard drops).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from datetime import datetime, timedelta
from typing import Any

# An event with no new article for this long (event time) is forgotten: twice the dedupe window, as
# story state was, so no copy of its stories can still arrive.
EVENT_RETENTION = timedelta(hours=144)
CANDIDATE_WINDOW = timedelta(hours=48)   # an article only joins events seen within this time
POSTING_LIMIT = 64                       # events remembered per key (the most recent)
_DELETED = object()


class Pending(MutableMapping[str, Any]):
    """Writes not yet applied, read through: what `plan` changes and `commit` applies."""

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self.state = state
        self.writes: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        value = self.writes.get(key, None) if key in self.writes else self.state.get(key)
        if value is None or value is _DELETED:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes[key] = value

    def __delitem__(self, key: str) -> None:
        self.writes[key] = _DELETED

    def __iter__(self) -> Iterator[str]:
        raise TypeError("a plan reads keys, it never scans the state")

    def __len__(self) -> int:
        return len(self.writes)


def apply(state: MutableMapping[str, Any], writes: dict[str, Any]) -> None:
    """The writes in order, the article's assignment (`a:`) last: a worker killed part-way (the table's
    changelog keeps a prefix of them) leaves the article unassigned, so it is planned again, instead of
    assigned to an event whose state never arrived."""
    for key, value in sorted(writes.items(), key=lambda item: item[0].startswith("a:")):
        if value is _DELETED:
            if key in state:
                del state[key]
        else:
            state[key] = value


def epoch(moment: datetime) -> float:
    return moment.timestamp()


class EventIndex:
    """Reads and writes of the four key kinds on a mapping (the state, or a Pending over it)."""

    def __init__(self, state: MutableMapping[str, Any]) -> None:
        self.state = state

    def event(self, event_id: str) -> dict[str, Any] | None:
        """The event, following merges to the one that carries on."""
        seen = set()
        event = self.state.get("e:" + event_id)
        while event is not None and event.get("merged_into") and event["id"] not in seen:
            seen.add(event["id"])
            event = self.state.get("e:" + event["merged_into"])
        return event

    def put(self, event: dict[str, Any]) -> None:
        self.state["e:" + event["id"]] = event

    def assigned(self, article_id: str) -> str | None:
        entry = self.state.get("a:" + article_id)
        return entry[0] if entry else None

    def assign(self, article_id: str, event_id: str, at: float) -> None:
        self.state["a:" + article_id] = [event_id, at]

    def story_event(self, story_id: str, now: float) -> str | None:
        entry = self.state.get("s:" + story_id)
        if entry and now - entry[1] <= EVENT_RETENTION.total_seconds():
            return str(entry[0])
        return None

    def tie_story(self, story_id: str, event_id: str, at: float) -> None:
        entry = self.state.get("s:" + story_id)
        self.state["s:" + story_id] = [event_id, max(at, entry[1]) if entry else at]

    def postings(self, key: str) -> list[list[Any]]:
        return self.state.get("k:" + key) or []

    def post(self, key: str, event_id: str, at: float) -> None:
        """Note that `event_id` showed `key` at `at` (an entry keeps when the event first showed it);
        forget entries older than the candidate window."""
        horizon = at - CANDIDATE_WINDOW.total_seconds()
        first = at
        kept = []
        for entry in self.postings(key):
            if entry[0] == event_id:
                first = min(first, entry[-1])
            elif entry[1] >= horizon:
                kept.append(entry)
        kept.append([event_id, at, first])
        kept.sort(key=lambda entry: entry[1])
        self.state["k:" + key] = kept[-POSTING_LIMIT:]


class Sweeper:
    """Forgets what is older than the retention, at most once per quarter of it (event time)."""

    def __init__(self, retention: timedelta = EVENT_RETENTION) -> None:
        self.retention = retention
        self.watermark: float | None = None      # newest event time seen (not persisted)
        self._last: float | None = None

    def see(self, at: float) -> None:
        if self.watermark is None or at > self.watermark:
            self.watermark = at

    def due(self) -> bool:
        """A restarted process first relearns the event time (its clock starts at the first article)."""
        if self.watermark is None:
            return False
        if self._last is None:
            self._last = self.watermark
        return self.watermark - self._last >= self.retention.total_seconds() / 4

    def sweep(self, state: MutableMapping[str, Any]) -> int:
        """Delete what no article can reach any more; returns how many events went."""
        assert self.watermark is not None
        self._last = self.watermark
        cutoff = self.watermark - self.retention.total_seconds()
        horizon = self.watermark - CANDIDATE_WINDOW.total_seconds()
        events = 0
        for key in list(state):
            value = state.get(key)
            if value is None:
                continue
            kind = key[:2]
            if kind == "e:" and value["last"] < cutoff:
                del state[key]
                events += 1
            elif kind in ("s:", "a:") and value[1] < cutoff:
                del state[key]
            elif kind == "k:":
                kept = [entry for entry in value if entry[1] >= horizon]
                if not kept:
                    del state[key]
                elif len(kept) < len(value):
                    state[key] = kept
        return events
