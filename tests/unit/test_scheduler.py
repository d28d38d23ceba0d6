"""Scheduling decisions are pure: next state from state + outcome + clock + a jitter draw."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.schedule import (
    Outcome,
    Policy,
    advance,
    backoff,
    base_interval,
    cache_seconds,
    health_of,
    merge_seen,
)
from connectors.state import FeedState

NOW = 1_700_000_000.0
P = Policy()


def ok(**kw: object) -> Outcome:
    return Outcome("ok", status=200, **kw)  # type: ignore[arg-type]


def test_interval_comes_from_the_feed_then_the_posting_rate_then_the_default() -> None:
    assert base_interval(120, (), P) == 120
    assert base_interval(5, (), P) == P.min_interval                   # bounded below
    assert base_interval(10 ** 7, (), P) == P.max_interval             # and above
    hourly = tuple(NOW - 3600 * i for i in range(10))
    assert base_interval(None, hourly, P) == 1800                       # twice per typical gap
    assert base_interval(None, (NOW,), P) == P.default_interval


def test_a_success_schedules_within_jitter_of_the_interval() -> None:
    state = FeedState("f", "u")
    low = advance(state, ok(), NOW, P, 600, rand=0.0)
    high = advance(state, ok(), NOW, P, 600, rand=0.999)
    assert low.next_due == pytest.approx(NOW + 540)
    assert high.next_due == pytest.approx(NOW + 660, rel=1e-3)
    assert low.health == "ok" and low.last_success == NOW


def test_cache_hints_lengthen_but_never_beyond_the_maximum() -> None:
    state = FeedState("f", "u")
    assert advance(state, ok(cache_seconds=3600), NOW, P, 600, 0.5).next_due == NOW + 3600
    assert advance(state, ok(cache_seconds=10 ** 6), NOW, P, 600, 0.5).next_due == NOW + P.max_interval
    assert advance(state, ok(cache_seconds=10), NOW, P, 600, 0.5).next_due == NOW + 600


def test_cache_seconds_reads_ttl_max_age_and_expires() -> None:
    now = datetime.fromtimestamp(NOW, UTC)
    assert cache_seconds({"cache-control": "public, max-age=300"}, now) == 300
    assert cache_seconds({"expires": "Tue, 14 Nov 2023 22:23:20 GMT"}, now) == pytest.approx(600, abs=1)
    assert cache_seconds({"cache-control": "no-cache, max-age=300"}, now) is None
    assert cache_seconds({}, now, ttl_seconds=1800) == 1800
    assert cache_seconds({"expires": "garbage"}, now) is None


def test_errors_back_off_exponentially_with_jitter_capped_and_never_give_up() -> None:
    state = FeedState("f", "u")
    waits = []
    for _ in range(30):
        state = advance(state, Outcome("error", status=500, error="HTTP 500"), NOW, P, 600, rand=0.999)
        assert state.next_due is not None and not state.disabled
        waits.append(state.next_due - NOW)
    assert waits[:4] == pytest.approx([60, 120, 240, 480], rel=1e-2)
    assert max(waits) <= P.backoff_cap
    assert waits[-1] == pytest.approx(P.backoff_cap, rel=1e-2)
    assert state.health == "failing" and state.consecutive_failures == 30
    assert backoff(3, P, 0.0) == 120            # equal jitter: half of 240 at the least


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    state = FeedState("f", "u")
    limited = advance(state, Outcome("error", status=429, retry_after=7200), NOW, P, 600, 0.0)
    assert limited.next_due == NOW + 7200
    huge = advance(state, Outcome("error", status=503, retry_after=10 ** 8), NOW, P, 600, 0.0)
    assert huge.next_due == NOW + P.backoff_cap


def test_a_success_resets_the_backoff() -> None:
    state = FeedState("f", "u")
    for _ in range(5):
        state = advance(state, Outcome("error", status=500), NOW, P, 600, 0.5)
    state = advance(state, Outcome("not_modified", status=304), NOW, P, 600, 0.5)
    assert state.consecutive_failures == 0 and state.health == "ok" and state.not_modified == 1


def test_410_disables_at_once_and_says_why() -> None:
    state = advance(FeedState("f", "u"), Outcome("gone", status=410), NOW, P, 600, 0.5)
    assert state.next_due is None and "410" in (state.disabled or "") and state.health == "disabled"


def test_repeated_404_disables_but_a_single_one_does_not() -> None:
    state = FeedState("f", "u")
    for i in range(P.not_found_limit):
        assert state.disabled is None, i
        state = advance(state, Outcome("error", status=404), NOW, P, 600, 0.5)
    assert "404" in (state.disabled or "") and state.next_due is None
    other = advance(advance(FeedState("f", "u"), Outcome("error", status=404), NOW, P, 600, 0.5),
                    Outcome("error", status=500), NOW, P, 600, 0.5)
    assert other.not_found == 0


def test_validators_and_seen_ids_change_only_with_a_new_body() -> None:
    state = advance(FeedState("f", "u"), ok(etag='"a"', body_hash="h1", current_ids=("1", "2"), new_ids=("1", "2")),
                    NOW, P, 600, 0.5)
    assert (state.etag, state.body_hash, state.seen, state.items_published) == ('"a"', "h1", ("1", "2"), 2)
    same = advance(state, Outcome("unchanged", status=200), NOW, P, 600, 0.5)
    assert (same.etag, same.body_hash, same.seen) == ('"a"', "h1", ("1", "2"))


def test_seen_ids_are_bounded_but_keep_every_id_still_in_the_feed() -> None:
    current = tuple(str(i) for i in range(50))
    old = tuple(f"old{i}" for i in range(100))
    merged = merge_seen(old, current, limit=60)
    assert merged[:50] == current and len(merged) == 60
    assert merge_seen(old, current, limit=10) == current


def test_a_feed_that_went_quiet_is_reported() -> None:
    hourly = tuple(NOW - 3600 * i for i in range(24))
    state = FeedState("f", "u", item_times=hourly, last_success=NOW)
    assert health_of(state, NOW + 3600, P) == "ok"
    assert health_of(state, NOW + P.quiet_min + 1, P) == "quiet"
    daily = tuple(NOW - 86400 * i for i in range(10))
    state = FeedState("f", "u", item_times=daily, last_success=NOW)
    assert health_of(state, NOW + 2 * 86400, P) == "ok"          # usual gap is a day: not yet
    assert health_of(state, NOW + 5 * 86400, P) == "quiet"


def test_state_round_trips_through_json() -> None:
    state = advance(FeedState("f", "u"), ok(etag='"x"', current_ids=("a",), new_ids=("a",), item_times=(NOW,)),
                    NOW, P, 600, 0.5)
    assert FeedState.from_json(state.to_json()) == state


def test_a_changed_url_starts_clean_but_keeps_seen_ids() -> None:
    state = FeedState("f", "old", etag='"e"', seen=("a",), disabled="HTTP 410 Gone", next_due=None)
    moved = state.for_url("new")
    assert (moved.etag, moved.disabled, moved.seen, moved.url) == (None, None, ("a",), "new")
    assert state.for_url("old") is state
