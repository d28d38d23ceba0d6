"""The metrics port of every long-running process: Prometheus metrics, and `/livez`, the liveness probe.

The server answers from a daemon thread of its own, so it keeps answering while the process's event
loop is stuck: a TCP check, or any page the thread serves by itself, proves nothing about the loop.
`/livez` therefore reads heartbeats that the loop itself (and, in a worker, the Kafka consumer's fetch
loop) update, and answers 503 with the stale ones named once any is older than its timeout:

    GET /livez    200 {"status": "ok", "heartbeats": {"loop": 0.4, "consumer": 0.8}}
                  503 {"status": "stale", "stale": ["loop"], "heartbeats": {"loop": 97.1, ...}}
    GET /metrics  Prometheus text format (any other path too, as prometheus_client serves it)

A heartbeat is a wall-clock-free timestamp (time.monotonic) written by one thread and read by
another: a float assignment, atomic in CPython, so no lock. Lag is not liveness: a worker far behind
but moving beats on every record; only one that stopped moving goes stale.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import MetricsHandler

LIVEZ = "/livez"


@dataclass
class Heartbeat:
    """Something that must keep moving: `beat()` on every sign of progress."""

    name: str
    timeout_s: float
    clock: Callable[[], float] = time.monotonic
    last: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.last = self.clock()  # (a process gets one timeout from its start to its first beat)

    def beat(self) -> None:
        self.last = self.clock()

    def age(self) -> float:
        return max(0.0, self.clock() - self.last)

    def stale(self) -> bool:
        return self.age() > self.timeout_s


class Liveness:
    """The heartbeats of one process; alive while none is stale."""

    def __init__(self, heartbeats: Iterable[Heartbeat] = ()) -> None:
        self.heartbeats = {h.name: h for h in heartbeats}

    def add(self, name: str, timeout_s: float) -> Heartbeat:
        heartbeat = self.heartbeats[name] = Heartbeat(name, timeout_s)
        return heartbeat

    def report(self) -> tuple[bool, dict[str, Any]]:
        ages = {name: round(h.age(), 3) for name, h in self.heartbeats.items()}
        stale = [name for name, h in self.heartbeats.items() if h.stale()]
        body: dict[str, Any] = {"status": "stale" if stale else "ok", "heartbeats": ages}
        if stale:
            body["stale"] = stale
        return not stale, body


def serve(port: int, addr: str, liveness: Liveness, registry: CollectorRegistry = REGISTRY
          ) -> ThreadingHTTPServer:
    """Serve /metrics and /livez on addr:port from a daemon thread; returns the server (shutdown() stops it)."""
    metrics_handler: Any = MetricsHandler.factory(registry)

    class Handler(metrics_handler):
        def do_GET(self) -> None:
            if urlsplit(self.path).path != LIVEZ:
                super().do_GET()
                return
            alive, body = liveness.report()
            payload = json.dumps(body).encode()
            self.send_response(200 if alive else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    server = Server((addr, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server


async def beat_forever(heartbeat: Heartbeat, every_s: float = 1.0) -> None:
    """The event loop's own heartbeat: a task that can only run while the loop is free."""
    import asyncio

    while True:
        heartbeat.beat()
        await asyncio.sleep(every_s)
