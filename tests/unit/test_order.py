"""The order buffer (streams/order.py): production order restored within its bounds, lanes never reordered."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from streams.order import LIVE_S, UNKNOWN, Reorder, key_of, source_partition


def key(ms: int, name: str = "") -> tuple[int, float, str]:
    return (ms, 0.0, name or f"a{ms}")


@given(st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=10_000), st.data())
def test_lanes_read_at_different_speeds_come_out_in_production_order(lanes: int, seed: int,
                                                                     data: st.DataObject) -> None:
    """A producer wrote records 0..n-1 round the lanes (partitions); a consumer reads the lanes at random
    speeds. With room for the furthest a lane runs ahead, the buffer gives back the production order."""
    rng = random.Random(seed)
    n = data.draw(st.integers(min_value=0, max_value=300))
    produced = [(i, rng.randrange(lanes)) for i in range(n)]
    queues = {lane: [i for i, where in produced if where == lane] for lane in range(lanes)}
    arrival = []
    while any(queues.values()):
        lane = rng.choice([lane for lane, q in queues.items() if q])
        arrival.append((queues[lane].pop(0), lane))
    ahead = max((sum(1 for j, _ in arrival[:p] if j > i) for p, (i, _) in enumerate(arrival)), default=0)
    buffer: Reorder[int] = Reorder(capacity=ahead + 1, hold_s=1e9)
    out: list[int] = []
    for i, lane in arrival:
        buffer.add(key(i), i, now=0.0, lane=lane)
        out += buffer.ready(0.0)
    out += buffer.drain()
    assert out == list(range(n))


def test_a_lane_keeps_its_order_whatever_its_timestamps() -> None:
    buffer: Reorder[str] = Reorder(capacity=100, hold_s=1e9)
    for ms, name in ((5, "first"), (3, "second"), (4, "third")):    # a producer's clock stepped back
        buffer.add(key(ms, name), name, 0.0, lane="p0")
    buffer.add(key(1, "other"), "other", 0.0, lane="p1")
    assert buffer.drain() == ["other", "first", "second", "third"]
    for ms, name in ((5, "a"), (3, "b")):                            # without lanes: by key alone
        buffer.add(key(ms, name), name, 0.0)
    assert buffer.drain() == ["b", "a"]


def test_a_lane_with_a_sequence_is_released_in_its_sequence() -> None:
    """The event stage's lanes: a source partition's records arrive out of order (through the story
    partitions); within the lane they go by offset whatever their keys, the lanes merge by key."""
    buffer: Reorder[str] = Reorder(capacity=100, hold_s=1e9)
    for offset, ms, name in ((12, 7, "c"), (10, 7, "a"), (13, 7, "d"), (11, 7, "b")):
        buffer.add((ms, 100.0 - offset, name), name, 0.0, lane=0, sequence=offset)   # event times go back
    buffer.add((7, 50.0, "x"), "x", 0.0, lane=1, sequence=4)
    buffer.add((6, 0.0, "w"), "w", 0.0, lane=1, sequence=3)
    assert buffer.drain() == ["w", "x", "a", "b", "c", "d"]
    assert len(buffer) == 0 and buffer.bytes == 0
    rng = random.Random(3)
    for _ in range(200):                      # any arrival order: each lane in its sequence, nothing lost
        records = [(lane, offset) for lane in range(3) for offset in range(rng.randrange(8))]
        rng.shuffle(records)
        for n, (lane, offset) in enumerate(records):
            buffer.add((rng.randrange(3), rng.random(), str(n)), (lane, offset), 0.0, lane=lane, sequence=offset)
        out = buffer.drain()
        assert sorted(out) == sorted(records) and len(buffer) == 0
        assert all([o for ln, o in out if ln == lane] == sorted(o for ln, o in records if ln == lane)
                   for lane in range(3))


def test_ties_within_a_millisecond_go_by_event_time_then_id() -> None:
    buffer: Reorder[str] = Reorder(capacity=100, hold_s=1e9)
    buffer.add((7, 20.0, "b"), "late", 0.0, lane="p0")
    buffer.add((7, 10.0, "z"), "early", 0.0, lane="p1")
    buffer.add((7, 10.0, "a"), "early-a", 0.0, lane="p2")
    assert buffer.drain() == ["early-a", "early", "late"]


def test_released_when_full_or_when_held_long_enough() -> None:
    buffer: Reorder[int] = Reorder(capacity=2, hold_s=0.25, catch_up_hold_s=5.0, max_bytes=1000)
    now_ms = 1_000_000_000_000
    wall = now_ms / 1000
    for i in range(3):
        buffer.add(key(now_ms + i), i, now=10.0)
    assert buffer.ready(10.0, wall) == [0]                     # over capacity
    assert buffer.ready(10.2, wall) == []                      # live: waits 0.25 s
    assert buffer.ready(10.25, wall) == [1, 2]
    buffer.add(key(now_ms), 9, now=20.0, size=2000)            # over the bytes bound
    assert buffer.ready(20.0, wall) == [9]
    # catching up (records produced more than LIVE_S ago): up to 5 s for a partition that comes late
    buffer.add(key(now_ms), 1, now=30.0)
    assert buffer.ready(30.3, wall + LIVE_S + 1) == []
    assert buffer.ready(35.0, wall + LIVE_S + 1) == [1]
    assert len(buffer) == 0 and buffer.bytes == 0


def test_keys_of_records() -> None:
    record = {"id": "a1", "published_at": "2023-09-01T10:00:00Z",
              "norm": {"produced": [1700000000123, 3, 42], "time": {"event": "2023-09-01T10:00:00Z",
                                                                     "arrival": "2023-09-01T10:00:00Z", "flag": None}}}
    assert key_of(record) == (1700000000123, 1693562400.0, "a1") and source_partition(record) == 3
    assert key_of({"id": "x", "norm": {}}) == UNKNOWN and source_partition({"id": "x"}) is None
