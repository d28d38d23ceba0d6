"""A forward HTTP proxy on 127.0.0.1 for egress-proxy tests: absolute-form GET only, loopback only.

Names in `hosts` are resolved by the proxy itself (as a real egress proxy resolves names the client
machine cannot); anything that is not a loopback address after that is refused with 502, so a test
can never make it reach the internet. Every request is recorded (absolute URL + headers).
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class ForwardProxy:
    def __init__(self, hosts: dict[str, str] | None = None) -> None:
        self.hosts = dict(hosts or {})
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                headers = {k.lower(): v for k, v in self.headers.items()}
                with owner.lock:
                    owner.requests.append((self.path, headers))
                target = urlsplit(self.path)
                address = owner.hosts.get(target.hostname or "", target.hostname or "")
                if target.scheme != "http" or address not in ("127.0.0.1", "localhost"):
                    self._reply(502, b"proxy: not a loopback target")
                    return
                upstream = http.client.HTTPConnection(address, target.port or 80, timeout=10)
                try:
                    forwarded = {k: v for k, v in self.headers.items()
                                 if k.lower() not in ("proxy-connection", "connection", "proxy-authorization")}
                    upstream.request("GET", target.path + (f"?{target.query}" if target.query else ""),
                                     headers=forwarded)
                    response = upstream.getresponse()
                    body = response.read()
                    self.send_response(response.status)
                    for name, value in response.getheaders():
                        if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    upstream.close()

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
