"""Long-running commands: the worker, the connector runner, `run` (everything on one machine), alert tail."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.settings import Settings

log = logging.getLogger("wirewatch")

SEVERITY_COLOURS = {"none": "2", "low": "36", "medium": "33", "high": "31", "critical": "1;41;97"}


def run_worker(settings: Settings, loglevel: str = "error") -> int:
    """A Faust worker running the normalize, dedupe and score agents."""
    import faust

    from streams.app import create_app
    from streams.metrics import StreamMetrics

    metrics = StreamMetrics()
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=os.environ.get("WIREWATCH_METRICS_ADDR", "127.0.0.1"))
    app = create_app(settings, metrics=metrics)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()  # returns on SIGTERM/SIGINT after a clean shutdown
    return 0


def run_connectors(settings: Settings, feeds_file: Path, once: bool = False) -> int:
    """`wirewatch connect`: poll the feed list forever (or once), publishing to Kafka."""
    from connectors.feeds import load_feeds
    from connectors.metrics import ConnectorMetrics
    from connectors.runner import Runner, load_states, make_producer
    from streams.topics import ensure_topics

    feeds = load_feeds(feeds_file)
    ensure_topics(settings)
    metrics = ConnectorMetrics()
    if settings.connector.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.connector.metrics_port,
                          addr=os.environ.get("WIREWATCH_METRICS_ADDR", "127.0.0.1"), registry=metrics.registry)
    states = load_states(settings, [feed.id for feed in feeds])
    producer = make_producer(settings)
    runner = Runner(feeds, settings, producer, metrics=metrics, states=states)
    log.info("polling %d feeds (%d with saved state)", len(feeds), len(states))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await runner.run(stop, once=once)

    try:
        asyncio.run(main())
    finally:
        producer.flush()
        producer.close()
    return 1 if runner.publisher.failed else 0


def format_alert(alert: dict[str, Any], colour: bool) -> str:
    severity = alert.get("severity", "none")
    label = f"{severity.upper():8}"
    if colour:
        label = f"\033[{SEVERITY_COLOURS.get(severity, '0')}m{label}\033[0m"
    casualties = f" {alert['casualties']} dead" if alert.get("casualties") else ""
    sources = len(alert.get("sources") or [])
    return (f"{alert.get('updated_at', '')} {label} v{alert.get('version')} {alert.get('reason', ''):9} "
            f"[{','.join(alert.get('categories') or [])}]{casualties} {alert.get('title', '')!s} "
            f"({alert.get('source', '')}; {sources} sources, {alert.get('copies', 0)} articles) "
            f"{alert.get('alert_id', '')}")


def tail_alerts(settings: Settings, *, from_beginning: bool, as_json: bool, min_severity: str = "none",
                until: float | None = None) -> Iterator[dict[str, Any]]:
    """Yield alerts from the alert topic as they arrive (no consumer group, nothing committed)."""
    from kafka import KafkaConsumer

    from streams.alerts import RANK

    consumer = KafkaConsumer(settings.topics.alerts, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest" if from_beginning else "latest",
                             client_id=f"{settings.client_id}-tail", consumer_timeout_ms=500,
                             **settings.kafka_options())
    try:
        while until is None or time.monotonic() < until:
            for message in consumer:
                try:
                    alert = json.loads(message.value)
                except ValueError:
                    log.warning("unreadable alert at offset %s", message.offset)
                    continue
                if RANK.get(alert.get("severity"), 0) >= RANK[min_severity]:
                    yield alert
    finally:
        consumer.close()


def run_all(settings: Settings, feeds_file: Path | None, *, timeout: float | None = None) -> int:
    """`wirewatch run`: broker (when none is configured), topics, connectors, a worker, alert tail."""
    from connectors.feeds import DEFAULT_FEEDS, SEEDS
    from connectors.seedserver import StaticFeedServer
    from streams.localkafka import from_env
    from streams.topics import ensure_topics

    started_broker = None
    with contextlib.ExitStack() as stack:
        if not settings.bootstrap_servers:
            broker = from_env()
            _say(f"no KAFKA_BOOTSTRAP_SERVERS: starting the local broker ({broker.bootstrap}) ...")
            outcome = broker.up()
            _say(f"local broker {outcome}")
            if outcome.startswith("started"):
                started_broker = broker
            settings = settings.with_bootstrap(broker.bootstrap)
            if started_broker is not None:  # registered first, so it runs after the children stopped
                stack.callback(lambda: _say(f"local broker {broker.down()}"))
        created = ensure_topics(settings)
        if created:
            _say(f"created topics: {', '.join(created)}")
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers or ""}
        if feeds_file is None:
            server = stack.enter_context(StaticFeedServer(SEEDS / "feeds"))
            env["WIREWATCH_SEED_SERVER"] = server.url
            feeds_file = DEFAULT_FEEDS
            _say(f"serving the recorded seed feeds on {server.url}")
        os.environ["WIREWATCH_SEED_SERVER"] = env.get("WIREWATCH_SEED_SERVER", "")
        children = [_spawn(["worker"], env), _spawn(["connect", "--feeds", str(feeds_file)], env)]
        stack.callback(_stop_children, children)
        _say("watching news.alerts (Ctrl-C stops everything this command started)")
        colour = sys.stdout.isatty()
        deadline = time.monotonic() + timeout if timeout else None
        try:
            for alert in tail_alerts(settings, from_beginning=True, as_json=False, until=deadline):
                print(format_alert(alert, colour), flush=True)
                for child in children:
                    if child.poll() is not None:
                        raise RuntimeError(f"{' '.join(child.args[-2:])} exited with {child.returncode}")
        except KeyboardInterrupt:
            _say("stopping ...")
    return 0


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "streams.cli", *args], env=env, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _say(text: str) -> None:
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    print(f"{stamp} wirewatch: {text}", file=sys.stderr, flush=True)
