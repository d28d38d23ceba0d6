"""`wirewatch sink webhook` against the real broker and a local HTTP endpoint (127.0.0.1 only).

The sink runs as a child process, as in production. The endpoint answers per alert version (keyed by
the Idempotency-Key header): 500s before a success, a permanent 400, or 200. Checked: JSON and Slack
bodies, retries until success, a 400 ends in the dead-letter topic with the error, filtered and
duplicate versions are not posted, the metrics count every outcome, and a restarted sink resumes after
the last settled alert (its consumer group) instead of delivering everything again.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers.alerts import publish_alerts
from helpers.procs import read_until, settings_env, wirewatch

from connectors.settings import Settings
from streams.shell.localkafka import free_port

pytestmark = pytest.mark.kafka


@dataclass
class Request:
    path: str
    key: str          # Idempotency-Key: alert_id:version
    body: dict[str, Any]
    status: int


@dataclass
class Endpoint:
    """A webhook endpoint: `plan[key]` holds the statuses of the next attempts for that alert version
    (then 200). Every request is recorded; waiters are woken on each one."""

    url: str = ""
    plan: dict[str, list[int]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def to(self, key: str) -> list[Request]:
        with self.changed:
            return [r for r in self.requests if r.key == key]

    def delivered(self) -> list[str]:
        with self.changed:
            return [r.key for r in self.requests if r.status == 200]

    def wait(self, done: Callable[[], bool], timeout: float, proc: Any, log: Path) -> None:
        """Wait until `done()` holds; fail at the deadline or as soon as the sink process exits."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not done():
                if proc.poll() is not None:
                    pytest.fail(f"the sink exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"timed out; requests: {[(r.key, r.status) for r in self.requests]}\n"
                                f"{log.read_text(errors='replace')[-3000:]}")
                self.changed.wait(min(remaining, 0.5))


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    state = Endpoint()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = self.headers.get("Idempotency-Key", "")
            assert self.headers.get_content_type() == "application/json"
            with state.changed:
                pending = state.plan.get(key) or []
                status = pending.pop(0) if pending else 200
                state.requests.append(Request(self.path, key, body, status))
                state.changed.notify_all()
            reply = b"ok" if status == 200 else f"rejected with {status}".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def alert(story: str, version: int, severity: str, title: str = "Rocket fire kills 4 near the border") -> dict:
    return {"alert_id": f"al-{story}", "version": version, "story_id": story, "severity": severity,
            "score": 9.5, "categories": ["armed_attack", "casualties"], "casualties": 4, "title": title,
            "url": f"https://wire.example/{story}", "source": "wire.example",
            "sources": ["wire.example", "daily.example"], "copies": 2, "first_seen": "2024-05-01T10:00:00Z",
            "updated_at": f"2024-05-01T10:0{version}:00Z", "reason": "new" if version == 1 else "escalated",
            "rule_version": "test", "matches": [{"term": "rocket fire", "category": "armed_attack",
                                                  "field": "title", "start": 0, "end": 11}],
            "articles": [f"art-{story}-{version}"]}


def key_of(value: dict) -> str:
    return f"{value['alert_id']}:{value['version']}"


def create_alert_topic(settings: Settings) -> None:
    """One partition, so the sink settles the alerts in the order the test publishes them."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(**settings.kafka_options())
    try:
        admin.create_topics([NewTopic(settings.topics.alerts, 1, 1)])
    finally:
        admin.close()



def scrape(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("wirewatch_sink_deliveries_total{"):
            labels, value = line.rsplit(" ", 1)
            outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
            assert 'sink="webhook"' in labels, line
            counts[outcome] = float(value)
    assert counts, "no wirewatch_sink_deliveries_total samples in the metrics"
    return counts


def sink_args(endpoint: Endpoint, path: str, fmt: str) -> list[str]:
    return ["sink", "webhook", "--url", endpoint.url + path, "--format", fmt, "--min-severity", "high",
            "--attempts", "4", "--backoff", "0.05", "--max-backoff", "0.2"]


def test_delivers_retries_dead_letters_and_resumes_after_restart(settings: Settings, endpoint: Endpoint,
                                                                  tmp_path: Path) -> None:
    create_alert_topic(settings)
    first = alert("s1", 1, "high")
    flaky = alert("s2", 1, "critical")          # 500, 500, then accepted
    quiet = alert("s3", 1, "low")               # below --min-severity: never posted
    rejected = alert("s4", 1, "high")           # 400: not retryable, dead-lettered
    escalated = alert("s1", 2, "critical")
    endpoint.plan = {key_of(flaky): [500, 500], key_of(rejected): [400]}
    publish_alerts(settings, first, flaky, quiet, rejected, first, escalated)  # `first` twice: a replayed version

    env = settings_env(settings)
    metrics_port = free_port()
    env["WIREWATCH_METRICS_PORT"] = str(metrics_port)
    log = tmp_path / "sink.log"
    dlq = f"{settings.topics.alerts}.webhook.dlq"
    with wirewatch(sink_args(endpoint, "/hook", "json"), env, log) as sink:
        endpoint.wait(lambda: key_of(escalated) in endpoint.delivered(), 60, sink, log)
        dead = read_until(settings, dlq, lambda r: len(r) >= 1, timeout=30, decode=lambda m: m, alive=(sink,))
        counts = scrape(metrics_port)
    assert sink.returncode == 0, log.read_text(errors="replace")[-3000:]

    assert endpoint.delivered() == [key_of(first), key_of(flaky), key_of(escalated)]
    for value in (first, flaky, escalated):
        (accepted,) = [r for r in endpoint.to(key_of(value)) if r.status == 200]
        assert accepted.body == value and accepted.path == "/hook"    # json: the alert itself
    assert [r.status for r in endpoint.to(key_of(flaky))] == [500, 500, 200]
    assert endpoint.to(key_of(quiet)) == []
    assert [r.status for r in endpoint.to(key_of(rejected))] == [400]  # no retry of a client error

    (record,) = dead
    assert record.key == b"s4" and json.loads(record.value) == rejected
    headers = {name: value.decode() for name, value in record.headers}
    assert "400" in headers["error"] and "rejected with 400" in headers["error"], headers
    assert headers["source.topic"] == settings.topics.alerts
    assert counts == {"delivered": 3, "retried": 2, "dead_lettered": 1, "duplicate": 1, "filtered": 1}

    # Restart with the same consumer group: it resumes after the settled alerts. Without committed
    # offsets it would start from the earliest record and post s1, s2 and the 400 again.
    latest = alert("s5", 1, "high")
    publish_alerts(settings, latest)
    requests_before = len(endpoint.requests)
    with wirewatch(sink_args(endpoint, "/hook", "json"), settings_env(settings), tmp_path / "sink2.log") as sink:
        endpoint.wait(lambda: key_of(latest) in endpoint.delivered(), 60, sink, tmp_path / "sink2.log")
    assert sink.returncode == 0
    assert [r.key for r in endpoint.requests[requests_before:]] == [key_of(latest)]
    assert len(read_until(settings, dlq, lambda r: len(r) >= 1, timeout=30)) == 1


def test_slack_format(settings: Settings, endpoint: Endpoint, tmp_path: Path) -> None:
    create_alert_topic(settings)
    value = alert("s9", 3, "critical", title="Strikes <kill> 12 & wound dozens")
    publish_alerts(settings, value)
    log = tmp_path / "sink.log"
    with wirewatch(sink_args(endpoint, "/slack", "slack"), settings_env(settings), log) as sink:
        endpoint.wait(lambda: key_of(value) in endpoint.delivered(), 60, sink, log)
    (request,) = endpoint.to(key_of(value))
    body = request.body
    assert request.path == "/slack"
    assert body["text"] == "[CRITICAL] Strikes <kill> 12 & wound dozens"
    (attachment,) = body["attachments"]
    section, context = attachment["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    # Slack mrkdwn: the headline links to the article, with <, > and & escaped.
    assert "<https://wire.example/s9|Strikes &lt;kill&gt; 12 &amp; wound dozens>" in section["text"]["text"]
    context_text = context["elements"][0]["text"]
    assert context_text.startswith("CRITICAL · v3 escalated · ")
    assert "4 casualties" in context_text and "2 sources (wire.example, daily.example)" in context_text
    assert context_text.endswith("al-s9")
    assert attachment["color"].startswith("#")
