"""A scriptable HTTP server on 127.0.0.1 for connector tests: ETags, 304s, 429s, redirects, slow and huge bodies.

Routes map a path to a `Route` (static body with ETag/Last-Modified handling) or to a callable
`(handler) -> None` that writes the response itself. Every request is recorded (path + headers).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TESTDATA = Path(__file__).resolve().parents[1] / "testdata" / "feeds"


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True                 # answer If-None-Match with 304
    last_modified: str | None = None  # answer If-Modified-Since (exact match) with 304
    gzip: bool = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FeedServer._Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        owner = self.server.owner
        path = self.path.split("?")[0]
        with owner.lock:
            owner.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
            route = owner.routes.get(path)
        if route is None:
            self.reply(404, b"not found", {"Content-Type": "text/plain"})
        elif callable(route):
            route(self)
        else:
            self.serve(route)

    def serve(self, route: Route) -> None:
        headers = {"Content-Type": route.content_type, **route.headers}
        tag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
        if route.status == 200 and route.etag:
            headers["ETag"] = tag
            if self.headers.get("If-None-Match") == tag:
                self.reply(304, b"", {"ETag": tag})
                return
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
            if self.headers.get("If-Modified-Since") == route.last_modified:
                self.reply(304, b"", {})
                return
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self.reply(route.status, body, headers)

    def reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:  # the client may give up (size cap, timeout): that is the point of some tests
            with contextlib.suppress(OSError):
                self.wfile.write(body)


class FeedServer:
    class _Server(ThreadingHTTPServer):
        daemon_threads = True
        owner: FeedServer

    def __init__(self) -> None:
        self.routes: dict[str, Route | Callable[[_Handler], None]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self._server = self._Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="feed-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def hits(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [headers for p, headers in self.requests if p == path]

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def fixture(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()


def rss(items: list[tuple[str, str]], *, title: str = "Test feed", ttl: int | None = None) -> bytes:
    """A small RSS 2.0 document: items are (slug, RFC 822 date)."""
    parts = [f"<item><title>Story {slug}</title><link>https://news.test/{slug}?utm_source=rss</link>"
             f"<guid isPermaLink=\"false\">{slug}</guid><pubDate>{date}</pubDate>"
             f"<description>Text of story {slug}.</description></item>" for slug, date in items]
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>{title}</title>"
            f"<link>https://news.test/</link><description>d</description>{ttl_tag}{''.join(parts)}"
            "</channel></rss>").encode()
