"""`wirewatch console`: the live alert page (aiohttp, server-sent events, plain JS; no build step).

    GET  /                 the page (static/index.html, app.js, app.css)
    GET  /api/alerts       the same snapshot as JSON
    GET  /api/stream       server-sent events: `snapshot` (every open alert and hold), then `alert`,
                           `holds` and `gone` as they happen
    POST /api/mute         {"scope": "alert"|"event"|"pattern", "target": ..., "duration": "4h"}
    POST /api/unmute       {"key": "mute:alert:al-..."}  (also lifts an ack: {"key": "ack:al-..."})
    POST /api/ack          {"alert_id": "al-..."}
    GET  /healthz          200 once the page has read Kafka up to date

It binds 127.0.0.1 by default and has no accounts: put an authenticating proxy in front of it to
share it. Against other pages in the same browser it checks the Host header (DNS rebinding), and
every POST must be JSON with the `X-Wirewatch: 1` header (a cross-site form cannot send either).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from connectors.settings import Settings
from streams.console.board import Board
from streams.console.feed import AlertFeed
from streams.delivery import state as holds_state
from streams.delivery.state import HoldView
from streams.delivery.timing import parse_duration
from streams.delivery.topics import DeliveryTopics, ensure_topic, publish

log = logging.getLogger("wirewatch.console")
STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
MAX_CLIENT_BACKLOG = 2000
HEARTBEAT_S = 15.0


class Console:
    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 8765,
                 window: timedelta = timedelta(days=3), user: str | None = None) -> None:
        self.settings, self.host, self.port = settings, host, port
        self.topics = DeliveryTopics.from_env()
        self.board, self.holds = Board(window), HoldView()
        self.user = user or _user()
        self.clients: set[asyncio.Queue[tuple[str, Any] | None]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.feed = AlertFeed(settings, self.topics.state, self.board, self.holds, self._from_feed)

    # ---- the feed thread hands changes over to the event loop
    def _from_feed(self, kind: str, payload: Any) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._broadcast, kind, payload)

    def _broadcast(self, kind: str, payload: Any) -> None:
        for queue in list(self.clients):
            if queue.qsize() >= MAX_CLIENT_BACKLOG:
                self.clients.discard(queue)      # a stalled page: it reconnects and gets a new snapshot
                queue.put_nowait(None)
            else:
                queue.put_nowait((kind, payload))

    def _event(self, kind: str, payload: Any) -> bytes:
        with self.feed.lock:
            if kind == "snapshot":
                payload = {"alerts": self.board.snapshot(), "holds": self.holds.active(datetime.now(UTC)),
                           "now": _stamp()}
            elif kind == "holds":
                payload = {"holds": self.holds.active(datetime.now(UTC))}
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return f"event: {kind}\ndata: {data}\n\n".encode()

    # ---- HTTP
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=16 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/api/stream", self._stream)
        app.router.add_get("/api/alerts", self._alerts)
        app.router.add_post("/api/mute", self._mute)
        app.router.add_post("/api/unmute", self._unmute)
        app.router.add_post("/api/ack", self._ack)
        app.router.add_static("/static/", STATIC, show_index=False, follow_symlinks=False)
        app.on_startup.append(self._started)
        app.on_shutdown.append(self._stopping)
        return app

    async def _started(self, app: web.Application) -> None:
        self.loop = asyncio.get_running_loop()
        await self.loop.run_in_executor(None, lambda: ensure_topic(self.settings, self.topics.state, compact=True))
        self.feed.start()

    async def _stopping(self, app: web.Application) -> None:
        for queue in list(self.clients):
            queue.put_nowait(None)
        await asyncio.get_running_loop().run_in_executor(None, self.feed.close)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if _hostname(request.host) not in self.allowed_hosts():
            return web.Response(status=421, text="unknown Host (this page answers only on its own address)")
        if request.method == "POST":
            origin = request.headers.get("Origin")
            if (request.headers.get("X-Wirewatch") != "1" or request.content_type != "application/json"
                    or (origin is not None and _hostname(origin.split("://", 1)[-1]) not in self.allowed_hosts())):
                return web.json_response({"error": "requests come from the page itself"}, status=403)
        response = await handler(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def allowed_hosts(self) -> set[str]:
        """Host names the page answers to (any port: Docker may publish it on another): loopback, this
        machine's names, the bound address, and WIREWATCH_CONSOLE_ALLOW_HOSTS (names behind a proxy)."""
        extra = {h.strip() for h in os.environ.get("WIREWATCH_CONSOLE_ALLOW_HOSTS", "").split(",") if h.strip()}
        names = {self.host, "127.0.0.1", "localhost", "[::1]", socket.gethostname(), *extra}
        return {name.lower() for name in names}

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def _health(self, request: web.Request) -> web.StreamResponse:
        if self.feed.error is not None:
            return web.json_response({"ok": False, "error": str(self.feed.error)[:300]}, status=503)
        live = self.feed.caught_up.is_set()
        return web.json_response({"ok": live, "alerts": len(self.board.entries)}, status=200 if live else 503)

    async def _alerts(self, request: web.Request) -> web.StreamResponse:
        """The snapshot the stream starts with, as one JSON document (for scripts and checks)."""
        with self.feed.lock:
            body = {"alerts": self.board.snapshot(), "holds": self.holds.active(datetime.now(UTC)),
                    "live": self.feed.caught_up.is_set()}
        return web.json_response(body, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()
        self.clients.add(queue)
        try:
            if self.feed.caught_up.is_set():
                await response.write(self._event("snapshot", None))
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if item is None:
                    break
                await response.write(self._event(*item))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.clients.discard(queue)
        return response

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="a JSON object") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="a JSON object")
        return body

    async def _write(self, key: str, value: dict[str, Any] | None) -> web.Response:
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: publish(self.settings, self.topics.state, key, value))
        return web.json_response({"key": key, "value": value}, status=202)

    async def _mute(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        scope, target = str(body.get("scope", "")), str(body.get("target", ""))
        try:
            seconds = parse_duration(body.get("duration", "4h"))
            severity = self.board.severity_of(scope, target) if scope in ("alert", "event") else "critical"
            if severity is None:
                raise ValueError(f"no open {scope} {target!r}")
            key, value = holds_state.mute(scope, target, seconds=seconds, severity=severity, by=self.user,
                                          note=str(body.get("note", "")))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return await self._write(key, value)

    async def _ack(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        alert_id = str(body.get("alert_id", ""))
        severity = self.board.severity_of("alert", alert_id)
        if severity is None:
            return web.json_response({"error": f"no open alert {alert_id!r}"}, status=400)
        key, value = holds_state.ack(alert_id, severity=severity, by=self.user, note=str(body.get("note", "")))
        return await self._write(key, value)

    async def _unmute(self, request: web.Request) -> web.Response:
        key = str((await self._body(request)).get("key", ""))
        if key not in self.holds.holds:
            return web.json_response({"error": "no such mute or acknowledgement"}, status=400)
        return await self._write(key, None)


def _hostname(host: str) -> str:
    """`name:port`, `[v6]:port` or `name` -> the name (lower case)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _user() -> str:
    try:
        return f"{getpass.getuser()}@console"
    except (KeyError, OSError):
        return "console"


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_console(settings: Settings, host: str = "127.0.0.1", port: int = 8765,
                window: timedelta = timedelta(days=3)) -> int:
    console = Console(settings, host, port, window)
    print(f"wirewatch console: http://{'[' + host + ']' if ':' in host else host}:{port}/", flush=True)
    web.run_app(console.app(), host=host, port=port, print=None, access_log=None, shutdown_timeout=5)
    return 0
