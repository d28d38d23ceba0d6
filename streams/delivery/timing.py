"""Durations and quiet hours: the time arithmetic of routes, pure (the caller passes `now`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_duration(value: object) -> float:
    """Seconds from `90`, `90s`, `15m`, `2h` or `1d`. Raises ValueError with the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 90s, 15m, 2h or 1d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration must not be negative")
        return float(value)
    match = _DURATION.match(str(value)) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"a duration such as 90s, 15m, 2h or 1d, got {value!r}")
    return float(match.group(1)) * _UNIT[match.group(2)]


def parse_clock(value: object) -> time:
    """`HH:MM` (24 h). YAML 1.1 reads an unquoted 22:00 as the number 1320 (sexagesimal): accept that too."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"a time of day as HH:MM, got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def zone(name: object) -> ZoneInfo:
    if not isinstance(name, str):
        raise ValueError(f"an IANA time zone such as Europe/Paris, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Paris or UTC)") from None


@dataclass(frozen=True)
class QuietHours:
    """A daily span (in a time zone) when a route holds its messages; one digest goes out when it ends.
    `start` after `end` spans midnight (22:00-07:00). Alerts at or above `urgent` are never held."""

    start: time
    end: time
    tz: ZoneInfo
    urgent: str = "critical"

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(self.tz).time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends(self, now: datetime) -> datetime:
        """When the quiet span that contains `now` ends (the next `end` time after `now`), in UTC."""
        local = now.astimezone(self.tz)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end = (local + timedelta(days=1)).replace(hour=self.end.hour, minute=self.end.minute, second=0,
                                                      microsecond=0)
        return end.astimezone(now.tzinfo)
