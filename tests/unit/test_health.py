"""/livez answers from heartbeats, not from the server thread being up; /metrics as before."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from streams.shell.health import Heartbeat, Liveness, beat_forever, serve


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_livez_is_503_naming_the_stale_heartbeat_while_metrics_still_answer() -> None:
    clock = Clock()
    loop, consumer = Heartbeat("loop", 30, clock), Heartbeat("consumer", 60, clock)
    registry = CollectorRegistry()
    Counter("wirewatch_test_total", "a counter", registry=registry).inc()
    server = serve(0, "127.0.0.1", Liveness([loop, consumer]), registry)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        status, body = _get(base + "/livez")
        assert status == 200 and json.loads(body) == {"status": "ok", "heartbeats": {"loop": 0.0, "consumer": 0.0}}

        clock.now += 45                                    # the loop stopped beating; the consumer is within 60 s
        status, body = _get(base + "/livez")
        assert status == 503
        assert json.loads(body) == {"status": "stale", "stale": ["loop"],
                                    "heartbeats": {"loop": 45.0, "consumer": 45.0}}
        status, metrics = _get(base + "/metrics")      # what a TCP or /metrics probe saw: all fine
        assert status == 200 and b"wirewatch_test_total 1.0" in metrics

        loop.beat()
        assert _get(base + "/livez")[0] == 200
    finally:
        server.shutdown()
        server.server_close()


def test_the_loop_heartbeat_stops_when_the_loop_is_blocked() -> None:
    heartbeat = Heartbeat("loop", 0.5)

    async def main() -> Any:
        task = asyncio.create_task(beat_forever(heartbeat, every_s=0.05))
        await asyncio.sleep(0.2)
        fresh = heartbeat.stale()
        import time

        time.sleep(0.8)              # a blocking call on the loop: the task cannot beat meanwhile
        blocked = heartbeat.stale()
        await asyncio.sleep(0.1)     # the loop is free again: the next beat lands
        task.cancel()
        return fresh, blocked, heartbeat.stale()

    assert asyncio.run(main()) == (False, True, False)
