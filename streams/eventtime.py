"""Event time: when an article happened, as every stage reads it (the dedupe window, the event state,
alert times), in the worker and in `wirewatch replay` alike. One rule, applied once, by the normalize
stage (`stamp`), whose result travels with the record (`norm.time`); the later stages only read it.

A feed's `published_at` is a claim by someone else's server, and the clocks every stage keeps (the
newest event time seen: dedupe's window, the event stage's retention) only move forward. One record
dated 9999 used to move them to 9999: the whole dedupe window and every event expired at once, and the
stored time kept dedupe blind after a restart. So the claim is bounded:

    ceiling     = min(fetched_at, processing clock) + SKEW   (whichever of the two is known)
    event time  = published_at, at most the ceiling; a published_at before FLOOR is no date at all:
                  the fetch time stands for it (as the connector does for items without a date), else FLOOR

The processing clock is the worker's wall clock when it normalises the record, and replay's wall clock
when it runs. The flag (`norm.time.flag`) says what was corrected:

    None      published_at as given
    "ahead"   published_at later than fetched_at + SKEW (a feed's clock or time zone is off): the fetch
              time + SKEW stands for it. fetched_at is vouched for by the processing clock, so this event
              time is as good as any and moves the clocks as any does.
    "floor"   published_at before FLOOR: fetched_at (moves the clocks as any), or FLOOR when the record
              has no usable fetched_at (an old time: it moves nothing).
    "clock"   fetched_at, or published_at without one, later than the processing clock + SKEW: a producer
              whose clock is fast, or a forged record. Nothing in the record can be trusted to say when;
              it is processed at the processing clock + SKEW but never moves a stage's clock: each stage
              takes it at its own current clock (`bounded`).

`arrival` (`norm.time.arrival`) is fetched_at bounded the same way; the event stage's storm bound
(`WIREWATCH_ALERT_MIN_INTERVAL`) runs on it.

Not `fetched_at - max_age` as a lower bound: an archive item really is old, and an old time cannot
move a clock (clocks only move forward), so it harms nothing and keeps its true date.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.article import parse_time, rfc3339

SKEW_S = 15 * 60.0                                                  # clocks of feeds and fetchers differ
FLOOR = datetime(1990, 1, 1, tzinfo=UTC).timestamp()                # before this a date is no date
FLAGS = ("ahead", "floor", "clock")
UNTRUSTED = "clock"                                                 # never moves a clock


@dataclass(frozen=True)
class EventTime:
    at: float                   # event time, epoch seconds
    arrival: float              # fetch time, bounded the same way (the event time without fetched_at)
    flag: str | None            # None | "ahead" | "floor" | "clock"
    text: str                   # the event time in RFC 3339: published_at verbatim when not corrected
    arrival_text: str           # the same for arrival: fetched_at verbatim when not corrected

    @property
    def moves_clocks(self) -> bool:
        return self.flag != UNTRUSTED

    def to_json(self) -> dict[str, Any]:
        return {"event": self.text, "arrival": self.arrival_text, "flag": self.flag}


def _seconds(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value).timestamp()
    except (ValueError, OverflowError):
        return None


def rfc3339_seconds(at: float) -> str:
    return rfc3339(datetime.fromtimestamp(at, UTC))


def event_time(published_at: Any, fetched_at: Any = None, now: float | None = None) -> EventTime:
    """The rule (module docstring). `now`: the processing clock (None: unknown, no bound from it)."""
    published = _seconds(published_at)
    fetched = _seconds(fetched_at)
    if fetched is not None and fetched < FLOOR:
        fetched = None                                   # an unusable fetch time is no fetch time
    flag = None
    clock_ceiling = None if now is None else now + SKEW_S
    if fetched is not None and clock_ceiling is not None and fetched > clock_ceiling:
        fetched, flag = clock_ceiling, UNTRUSTED         # the producer's clock is ahead of ours
    if published is None:                                # (the contract makes this impossible; be total)
        published = fetched if fetched is not None else FLOOR
        flag = flag or "floor"
    at = published
    if at < FLOOR:
        at = fetched if fetched is not None else FLOOR
        flag = flag or "floor"
    ceilings = [(fetched + SKEW_S, "ahead")] if fetched is not None else []
    if clock_ceiling is not None:
        ceilings.append((clock_ceiling, UNTRUSTED))
    if ceilings:
        ceiling, why = min(ceilings)
        if at > ceiling:
            at, flag = ceiling, flag or why
    if fetched is None:
        arrival, arrival_text = at, None
    elif flag == UNTRUSTED:
        arrival = float(math.floor(fetched))
        arrival_text = rfc3339_seconds(arrival)
    else:
        arrival, arrival_text = fetched, str(fetched_at)
    if flag is None and isinstance(published_at, str):
        return EventTime(at, arrival, None, published_at, arrival_text or published_at)
    at = float(math.floor(at))                           # corrected times are whole seconds, as written
    text = rfc3339_seconds(at)
    return EventTime(at, float(math.floor(arrival)) if arrival_text is None else arrival, flag, text,
                     arrival_text or text)


def stamp(article: Mapping[str, Any], now: float | None) -> dict[str, Any]:
    """`norm.time` of an article: its event time, arrival and flag (`EventTime.to_json`)."""
    return event_time(article.get("published_at"), article.get("fetched_at"), now).to_json()


def of(record: Mapping[str, Any]) -> EventTime:
    """The event time a later stage reads: the stamp the normalize stage left in `norm.time`, or (a record
    normalised before event times were stamped) the rule without a processing clock."""
    norm = record.get("norm")
    stamped = norm.get("time") if isinstance(norm, Mapping) else None
    if isinstance(stamped, Mapping):
        at = _seconds(stamped.get("event"))
        arrival = _seconds(stamped.get("arrival"))
        if at is not None:
            if arrival is None:
                return EventTime(at, at, stamped.get("flag"), str(stamped["event"]), str(stamped["event"]))
            return EventTime(at, arrival, stamped.get("flag"), str(stamped["event"]), str(stamped["arrival"]))
    return event_time(record.get("published_at"), record.get("fetched_at"), None)


def bounded(moment: EventTime, clock: float | None) -> float:
    """The time a stage whose clock (newest event time seen) is `clock` takes the record at: its event
    time, except that an untrusted one is taken at the stage's clock when it is later."""
    if moment.moves_clocks or clock is None:
        return moment.at
    return min(moment.at, clock)
