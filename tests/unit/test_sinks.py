"""Webhook sink without Kafka: retries and backoff, dead letters, idempotency, filters, bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from connectors.errors import ConfigError
from streams.metrics import SinkMetrics
from streams.shell.sinks import AlertForwarder, Interrupted, RetryPolicy, Webhook, slack_body


def alert(version: int = 1, severity: str = "high", **extra: Any) -> dict[str, Any]:
    return {"alert_id": "al-0123456789abcdef0123", "version": version, "story_id": "s1", "severity": severity,
            "score": 9.0, "categories": ["armed_attack"], "casualties": 17, "title": "US strikes <kill> 17 & more",
            "url": "https://wire.example/a", "source": "wire.example", "sources": ["wire.example"], "copies": 1,
            "first_seen": "2021-02-26T01:00:00Z", "updated_at": "2021-02-26T01:00:00Z", "reason": "new",
            "rule_version": "1", "matches": [], "articles": ["a1"], **extra}


class Endpoint:
    """A scripted HTTP endpoint: answers the given statuses in order, then 200."""

    def __init__(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        self.statuses, self.headers, self.requests = list(statuses), headers or {}, []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status, headers=self.headers if status != 200 else {}, text="nope")


def webhook(endpoint: Endpoint, fmt: str = "json", attempts: int = 4, waits: list[float] | None = None,
            registry: CollectorRegistry | None = None) -> Webhook:
    waits = [] if waits is None else waits
    return Webhook("http://hooks.test/in", fmt, client=httpx.Client(transport=httpx.MockTransport(endpoint)),
                   retry=RetryPolicy(attempts=attempts, base_s=1, max_s=8),
                   wait=lambda s: waits.append(s) or True,
                   metrics=SinkMetrics("webhook", registry or CollectorRegistry()))


def test_retries_server_errors_with_growing_capped_backoff_then_delivers() -> None:
    endpoint, waits = Endpoint(503, 502, 500), []
    assert webhook(endpoint, waits=waits).post(alert()) == 4
    assert len(endpoint.requests) == 4
    assert all(0 <= w <= cap for w, cap in zip(waits, (1, 2, 4), strict=True))
    body = json.loads(endpoint.requests[-1].content)
    assert body == alert()
    assert endpoint.requests[-1].headers["Idempotency-Key"] == "al-0123456789abcdef0123:1"


def test_retry_after_is_honoured_and_capped() -> None:
    waits: list[float] = []
    webhook(Endpoint(429, 429, headers={"Retry-After": "3"}), waits=waits).post(alert())
    assert waits == [3.0, 3.0]
    waits.clear()
    webhook(Endpoint(503, headers={"Retry-After": "3600"}), waits=waits).post(alert())
    assert waits == [8.0]


def test_client_errors_are_not_retried_and_exhausted_retries_dead_letter() -> None:
    registry = CollectorRegistry()
    dead: list[tuple[bytes | None, bytes, str]] = []
    endpoint = Endpoint(400)
    forwarder = AlertForwarder(webhook(endpoint, registry=registry), "high", SinkMetrics("x", CollectorRegistry()),
                               lambda k, v, e: dead.append((k, v, e)))
    assert forwarder.handle(b"s1", json.dumps(alert()).encode()) == "dead_lettered"
    assert len(endpoint.requests) == 1 and "HTTP 400" in dead[0][2]
    endpoint = Endpoint(503, 503, 503, 503)
    forwarder.webhook = webhook(endpoint)
    assert forwarder.handle(b"s1", json.dumps(alert(version=2)).encode()) == "dead_lettered"
    assert len(endpoint.requests) == 4 and "gave up after 4 attempts" in dead[1][2]
    assert forwarder.handle(b"junk", b"\xff") == "dead_lettered"
    assert dead[2][0] == b"junk"


def test_delivery_is_idempotent_by_alert_id_and_version_and_filters_by_severity() -> None:
    registry = CollectorRegistry()
    endpoint = Endpoint()
    forwarder = AlertForwarder(webhook(endpoint), "high", SinkMetrics("webhook", registry), lambda *a: None)
    outcomes = [forwarder.handle(b"s1", json.dumps(a).encode()) for a in
                (alert(1), alert(1), alert(2), alert(1), alert(3, severity="medium"), alert(4, severity="critical"))]
    assert outcomes == ["delivered", "duplicate", "delivered", "duplicate", "filtered", "delivered"]
    assert [json.loads(r.content)["version"] for r in endpoint.requests] == [1, 2, 4]
    sample = registry.get_sample_value
    assert sample("wirewatch_sink_deliveries_total", {"sink": "webhook", "outcome": "delivered"}) == 3
    assert sample("wirewatch_sink_deliveries_total", {"sink": "webhook", "outcome": "duplicate"}) == 2


def test_shutdown_while_waiting_to_retry_interrupts_without_dead_lettering() -> None:
    endpoint = Endpoint(503)
    hook = Webhook("http://hooks.test/in", client=httpx.Client(transport=httpx.MockTransport(endpoint)),
                   wait=lambda s: False)
    dead: list[Any] = []
    forwarder = AlertForwarder(hook, "none", SinkMetrics("w", CollectorRegistry()), lambda *a: dead.append(a))
    with pytest.raises(Interrupted):
        forwarder.handle(b"s1", json.dumps(alert()).encode())
    assert not dead


def test_slack_body_escapes_links_and_carries_severity() -> None:
    endpoint = Endpoint()
    webhook(endpoint, fmt="slack").post(alert())
    body = json.loads(endpoint.requests[0].content)
    assert body["text"] == "[HIGH] US strikes <kill> 17 & more"
    section = body["attachments"][0]["blocks"][0]["text"]["text"]
    assert section == "*HIGH* <https://wire.example/a|US strikes &lt;kill&gt; 17 &amp; more>"
    assert body["attachments"][0]["color"] == "#e53935"
    assert "17 casualties" in body["attachments"][0]["blocks"][1]["elements"][0]["text"]
    assert slack_body(alert(url="javascript:x"))["attachments"][0]["blocks"][0]["text"]["text"].count("<") == 0


def test_bad_configuration_fails_with_the_option_name() -> None:
    with pytest.raises(ConfigError, match="--url"):
        Webhook("ftp://x")
    with pytest.raises(ConfigError, match="--format"):
        Webhook("http://x", "xml")


def test_slack_context_says_places_languages_and_what_a_merged_alert_became() -> None:
    body = slack_body(alert(places=["Abu Kamal", "<Syria>"], languages=["en", "fr"], copies=2, reason="merged",
                            merged_into="al-0123456789abcdef0123"))
    context = body["attachments"][0]["blocks"][1]["elements"][0]["text"]
    assert "Abu Kamal, &lt;Syria&gt;" in context and "en/fr" in context and "2 copies" in context
    assert context.endswith("merged into al-0123456789abcdef0123")
