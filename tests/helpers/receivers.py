"""Local servers that speak the protocols of notification services, on 127.0.0.1 only.

- `Receiver`: an HTTP server recording every request (ntfy, JSON webhooks, ...). `plan[path]` holds
  the statuses of the next answers on that path (then 200).
- `InterceptingProxy`: an HTTPS proxy for the services whose host is fixed in their client (Slack's
  hooks.slack.com, PagerDuty, Opsgenie, Teams Workflows on logic.azure.com). It answers CONNECT for
  those host names only, terminates TLS with a certificate of a test CA (the client trusts it via
  REQUESTS_CA_BUNDLE) and records the requests as a `Receiver` does. Any other host is refused: the
  tests never reach the internet.
- `SmtpServer`: aiosmtpd on a free port, recording every message.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Request:
    host: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    plan: dict[str, list[int]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    answers: dict[str, bytes] = field(default_factory=dict)     # host -> body of a 2xx answer

    def record(self, host: str, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.changed:
            pending = self.plan.get(path.split("?")[0]) or []
            status = pending.pop(0) if pending else 200
            self.requests.append(Request(host, path, headers, body, status))
            self.changed.notify_all()
        return status

    def to(self, host_or_path: str, ok: bool = True) -> list[Request]:
        with self.changed:
            return [r for r in self.requests if (r.host == host_or_path or r.path.startswith(host_or_path))
                    and (r.status < 300 or not ok)]

    def wait(self, done: Callable[[], bool], timeout: float, what: str, alive: Callable[[], str | None]) -> None:
        """Wait until `done()`; fail at the deadline or when `alive()` says the process under test died."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not done():
                died = alive()
                if died:
                    raise AssertionError(f"{what}: {died}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{what}: not within {timeout}s; requests: "
                                         f"{[(r.host, r.path, r.status) for r in self.requests]}")
                self.changed.wait(min(remaining, 0.5))


def _handler(recorder: Recorder, host_of: Callable[[Any], str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            host = host_of(self)
            status = recorder.record(host, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            reply = recorder.answers.get(host, b"ok") if status < 300 else f"refused with {status}".encode()
            self.send_response(status)
            kind = "application/json" if reply.startswith(b"{") else "text/plain; version=0.0.4"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = do_PUT = _serve  # noqa: N815 (http.server's naming)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiver(recorder: Recorder | None = None) -> Iterator[tuple[str, Recorder]]:
    """(base URL, recorder) of a local HTTP server."""
    recorder = recorder or Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder, lambda h: "127.0.0.1"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class _ProxyHandler(BaseHTTPRequestHandler):
    server: Any

    def do_CONNECT(self) -> None:  # noqa: N802
        host = self.path.rsplit(":", 1)[0].lower()
        if host not in self.server.hosts:
            self.send_error(403, f"the test proxy does not reach {host}")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = self.server.context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        inner = _handler(self.server.recorder, lambda h: host)
        with contextlib.suppress(ssl.SSLError, OSError):   # the client hung up
            inner(tls, self.client_address, self.server)
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - plain-HTTP proxying would reach other servers: refused
        self.send_error(403, "only CONNECT to the intercepted hosts")

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def intercepting_proxy(cert: Path, key: Path, hosts: tuple[str, ...],
                       recorder: Recorder | None = None) -> Iterator[tuple[str, Recorder]]:
    """(proxy URL, recorder). `cert` must name every host in `hosts` (subjectAltName)."""
    recorder = recorder or Recorder()
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
    server.hosts, server.recorder = {h.lower() for h in hosts}, recorder
    server.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.context.load_cert_chain(cert, key)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@dataclass
class SmtpServer:
    port: int = 0
    messages: list[EmailMessage] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.changed:
            self.messages.append(message)  # type: ignore[arg-type]
            self.changed.notify_all()
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = SmtpServer(port)
    controller = Controller(state, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
