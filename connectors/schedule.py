"""Scheduling decisions as pure functions: next state from state + outcome + clock (+ a random draw).

No I/O here, so every rule is unit-tested directly (tests/unit/test_scheduler.py):

- interval: the feed's own `interval`, else adaptive from its posting rate (poll about twice per
  typical gap between items), else the default; always within [min_interval, max_interval];
- cache hints (RSS ttl, Cache-Control max-age, Expires) can only lengthen it, up to max_interval;
- errors back off exponentially with jitter, capped (24 h), and never give up; Retry-After (429/503)
  is honoured up to the cap;
- 410 Gone disables a feed at once, `not_found_limit` consecutive 404s disable it; both say why;
- health: new / ok / quiet / failing / disabled; `quiet` when no new item arrived for much longer
  than the feed's usual gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from connectors.state import FeedState

OutcomeKind = Literal["ok", "not_modified", "unchanged", "error", "gone", "parse_error"]
HEALTHS = ("new", "ok", "quiet", "failing", "disabled")


@dataclass(frozen=True)
class Policy:
    default_interval: float = 900.0
    min_interval: float = 60.0
    max_interval: float = 6 * 3600.0
    backoff_base: float = 60.0
    backoff_cap: float = 24 * 3600.0
    jitter: float = 0.1                  # +- fraction applied to normal intervals
    not_found_limit: int = 5
    failing_after: int = 3               # consecutive failures before health says `failing`
    quiet_factor: float = 4.0
    quiet_min: float = 6 * 3600.0
    seen_limit: int = 1000
    history: int = 50                    # item times kept for the posting-rate estimate


@dataclass(frozen=True)
class Outcome:
    """What one poll found, as the runner hands it to `advance`."""

    kind: OutcomeKind
    status: int | None = None
    error: str | None = None
    error_kind: str | None = None
    retry_after: float | None = None
    cache_seconds: float | None = None
    current_ids: tuple[str, ...] = ()    # every article id in the feed body now
    new_ids: tuple[str, ...] = ()        # ids published by this poll
    item_times: tuple[float, ...] = ()   # publish times of the new items
    etag: str | None = None              # validators, set only when the body changed
    last_modified: str | None = None
    body_hash: str | None = None
    moved_to: str | None = None
    duration: float = 0.0
    bytes: int = 0


def clamp(value: float, policy: Policy) -> float:
    return min(policy.max_interval, max(policy.min_interval, value))


def typical_gap(item_times: tuple[float, ...]) -> float | None:
    """Mean gap between distinct item times, None with fewer than two."""
    times = sorted(set(item_times))
    if len(times) < 2:
        return None
    return (times[-1] - times[0]) / (len(times) - 1)


def base_interval(feed_interval: float | None, item_times: tuple[float, ...], policy: Policy) -> float:
    if feed_interval:
        return clamp(feed_interval, policy)
    gap = typical_gap(item_times)
    return clamp(gap / 2 if gap is not None else policy.default_interval, policy)


def backoff(failures: int, policy: Policy, rand: float) -> float:
    """Exponential backoff with equal jitter: half fixed, half random, capped."""
    ceiling = min(policy.backoff_cap, policy.backoff_base * 2 ** min(max(failures - 1, 0), 40))
    return max(policy.min_interval, ceiling / 2 + ceiling / 2 * rand)


def merge_seen(seen: tuple[str, ...], current: tuple[str, ...], limit: int) -> tuple[str, ...]:
    """Ids in the feed now first (never forgotten while they are served), then older ones up to the limit."""
    merged = dict.fromkeys(current)
    for item in seen:
        if len(merged) >= max(limit, len(current)):
            break
        merged.setdefault(item, None)
    return tuple(merged)


def advance(state: FeedState, outcome: Outcome, now: float, policy: Policy, feed_interval: float | None,
            rand: float) -> FeedState:
    """The feed's next state, `next_due` included; `rand` in [0, 1) is the jitter draw."""
    common: dict[str, Any] = {"last_attempt": now, "last_status": outcome.status, "last_duration": outcome.duration,
              "last_bytes": outcome.bytes, "fetches": state.fetches + 1}
    if outcome.kind in ("ok", "not_modified", "unchanged"):
        new = _success(state, outcome, now, policy, feed_interval, rand, common)
    else:
        new = _failure(state, outcome, now, policy, rand, common)
    return replace(new, health=health_of(new, now, policy))


def _success(state: FeedState, outcome: Outcome, now: float, policy: Policy, feed_interval: float | None,
             rand: float, common: dict[str, Any]) -> FeedState:
    times = state.item_times
    changes: dict[str, Any] = {}
    if outcome.kind == "ok":
        times = tuple(sorted(set(times) | set(outcome.item_times), reverse=True)[:policy.history])
        seen = merge_seen(tuple(outcome.new_ids) + state.seen, outcome.current_ids, policy.seen_limit)
        changes = {"etag": outcome.etag, "last_modified": outcome.last_modified, "body_hash": outcome.body_hash,
                   "seen": seen, "item_times": times, "items_published": state.items_published + len(outcome.new_ids)}
    interval = base_interval(feed_interval, times, policy)
    wait = interval * (1 + policy.jitter * (2 * rand - 1))
    if outcome.cache_seconds:
        wait = max(wait, min(outcome.cache_seconds, policy.max_interval))
    return replace(state, **common, **changes, next_due=now + wait, interval=interval, consecutive_failures=0,
                   not_found=0, last_error=None, last_error_kind=None, last_success=now,
                   moved_to=outcome.moved_to or state.moved_to,
                   not_modified=state.not_modified + (outcome.kind != "ok"))


def _failure(state: FeedState, outcome: Outcome, now: float, policy: Policy, rand: float,
             common: dict[str, Any]) -> FeedState:
    failures = state.consecutive_failures + 1
    not_found = state.not_found + 1 if outcome.status == 404 else 0
    disabled = None
    if outcome.kind == "gone":
        disabled = f"HTTP {outcome.status or 410} Gone: the publisher removed the feed"
    elif not_found >= policy.not_found_limit:
        disabled = f"HTTP 404 Not Found {not_found} times in a row"
    wait = max(backoff(failures, policy, rand), min(outcome.retry_after or 0.0, policy.backoff_cap))
    return replace(state, **common, consecutive_failures=failures, not_found=not_found, disabled=disabled,
                   next_due=None if disabled else now + wait, last_error=outcome.error,
                   last_error_kind=outcome.error_kind or outcome.kind)


def health_of(state: FeedState, now: float, policy: Policy) -> str:
    if state.disabled:
        return "disabled"
    if state.consecutive_failures >= policy.failing_after:
        return "failing"
    if state.last_success is None:
        return "new"
    return "quiet" if is_quiet(state, now, policy) else "ok"


def is_quiet(state: FeedState, now: float, policy: Policy) -> bool:
    """No new item for much longer than the feed's usual gap (needs three items of history)."""
    if len(set(state.item_times)) < 3:
        return False
    gap = typical_gap(state.item_times) or 0.0
    return now - max(state.item_times) > max(policy.quiet_min, policy.quiet_factor * gap)


_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def cache_seconds(headers: dict[str, str] | object, now: datetime, ttl_seconds: float | None = None) -> float | None:
    """The longest of RSS ttl, Cache-Control max-age and Expires; None when nothing asks us to wait."""
    get = getattr(headers, "get", lambda _k, _d=None: None)
    hints = [ttl_seconds or 0.0]
    control = get("cache-control") or ""
    if "no-cache" not in control.lower() and "no-store" not in control.lower():
        match = _MAX_AGE.search(control)
        if match:
            hints.append(float(match.group(1)))
        elif get("expires"):
            try:
                expires = parsedate_to_datetime(str(get("expires")))
                if expires.tzinfo is None:
                    expires = expires.replace(tzinfo=UTC)
                hints.append((expires - now).total_seconds())
            except (TypeError, ValueError):
                pass
    best = max(hints)
    return best if best > 0 else None
