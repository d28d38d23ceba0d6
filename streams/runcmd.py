"""Long-running commands: the worker, the connector runner, `run` (everything on one machine), alert tail."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from connectors.errors import ConfigError, WirewatchError
from connectors.settings import Settings

log = logging.getLogger("wirewatch")

SEVERITY_COLOURS = {"none": "2", "low": "36", "medium": "33", "high": "31", "critical": "1;41;97"}


def run_worker(settings: Settings, loglevel: str = "error") -> int:
    """A Faust worker running the normalize, dedupe and score agents."""
    import faust

    from streams.app import create_app
    from streams.metrics import StreamMetrics
    from streams.preflight import check_kafka

    check_kafka(settings)  # Faust would retry wrong credentials forever: fail fast and clearly instead
    metrics = StreamMetrics()
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=os.environ.get("WIREWATCH_METRICS_ADDR", "127.0.0.1"))
    app = create_app(settings, metrics=metrics)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.spinner = None  # a terminal spinner in log files and in `wirewatch run` output is noise
    if loglevel == "error":
        # A fresh broker answers "coordinator not available" for a few seconds: retried, not an error
        logging.getLogger("aiokafka.consumer.group_coordinator").setLevel(logging.CRITICAL)
    worker.execute_from_commandline()  # returns on SIGTERM/SIGINT after a clean shutdown
    return 0


def run_connectors(settings: Settings, feeds_file: Path, once: bool = False) -> int:
    """`wirewatch connect`: poll the feed list forever (or once), publishing to Kafka."""
    from connectors.feeds import load_feeds
    from connectors.metrics import ConnectorMetrics
    from connectors.runner import Runner, is_transactional, load_states, make_producer
    from streams.preflight import check_kafka
    from streams.topics import ensure_topics

    feeds = load_feeds(feeds_file)
    check_kafka(settings)
    _until_kafka_answers(settings, "creating topics", lambda: ensure_topics(settings))
    metrics = ConnectorMetrics()
    if settings.connector.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.connector.metrics_port,
                          addr=os.environ.get("WIREWATCH_METRICS_ADDR", "127.0.0.1"), registry=metrics.registry)
    producer = make_producer(settings)
    if is_transactional(producer):
        # Before reading the state: this fences an older instance of this connector (a crashed or
        # partitioned process with the same transactional id) and aborts what it left uncommitted.
        _until_kafka_answers(settings, "starting the transactional producer", producer.init_transactions)
    states = _until_kafka_answers(settings, "reading feed state",
                                  lambda: load_states(settings, [feed.id for feed in feeds]))
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
        if runner.publisher.producer is producer:   # else it was abandoned (and closed) after a stall
            producer.close(timeout=5 if runner.publisher.fatal is None else 0)
    if runner.publisher.fatal is not None:
        return 3
    return 1 if runner.publisher.failed else 0


def _until_kafka_answers(settings: Settings, what: str, step: Any, timeout: float = 120.0) -> Any:
    """Run a start-up step that needs the broker, retrying while it is unreachable (it may be starting
    or restarting); after `timeout` seconds fail with a clear error instead of a traceback."""
    from kafka.errors import KafkaError

    from connectors.errors import ConfigError, WirewatchError

    deadline = time.monotonic() + timeout
    while True:
        try:
            return step()
        except ConfigError:
            raise
        except (KafkaError, WirewatchError, OSError) as exc:
            if time.monotonic() > deadline:
                raise WirewatchError(f"Kafka at {settings.bootstrap_servers} did not answer for {timeout:.0f}s "
                                     f"while {what}: {exc}") from exc
            log.warning("Kafka not answering while %s (%s); retrying", what, exc)
            time.sleep(2.0)


def format_alert(alert: dict[str, Any], colour: bool) -> str:
    """One terminal line per alert version: time, severity (coloured), version, reason, what, where, id."""
    severity = str(alert.get("severity", "none"))
    label = f"{severity.upper():8}"
    if colour:
        label = f"\033[{SEVERITY_COLOURS.get(severity, '0')}m{label}\033[0m"
    casualties = f" {alert['casualties']} casualties" if alert.get("casualties") else ""
    sources = len(alert.get("sources") or [])
    title = " ".join(str(alert.get("title", "")).split())  # a title with newlines must not break the line
    return (f"{alert.get('updated_at', '')} {label} v{alert.get('version')} {alert.get('reason', ''):9} "
            f"[{','.join(alert.get('categories') or [])}]{casualties} {title} "
            f"({alert.get('source', '')}; {sources} sources, {alert.get('copies', 0)} articles) "
            f"{alert.get('alert_id', '')}")


@dataclass(frozen=True)
class AlertFilter:
    """Which alert versions `wirewatch alerts tail` shows. Empty tuples match everything."""

    min_severity: str = "none"
    categories: tuple[str, ...] = ()   # any of them
    sources: tuple[str, ...] = ()      # any of them, in `source` or `sources`
    text: str = ""                     # case-insensitive, in the title or a matched term

    def __call__(self, alert: Mapping[str, Any]) -> bool:
        from streams.alerts import RANK

        if RANK.get(alert.get("severity"), 0) < RANK[self.min_severity]:  # type: ignore[arg-type]
            return False
        if self.categories and not set(self.categories) & set(alert.get("categories") or ()):
            return False
        outlets = {str(alert.get("source", "")).lower(), *(str(s).lower() for s in alert.get("sources") or ())}
        if self.sources and not {s.lower() for s in self.sources} & outlets:
            return False
        if self.text:
            haystack = " ".join([str(alert.get("title", "")),
                                 *(str(m.get("term", "")) for m in alert.get("matches") or ())]).casefold()
            if self.text.casefold() not in haystack:
                return False
        return True


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`--since`: a duration back from now (90s, 15m, 2h, 1d) or an RFC 3339 time."""
    from connectors.article import parse_time

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", value)
    if match:
        seconds = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        return parse_time(value)
    except ValueError:
        raise ConfigError(f"not a duration (30m, 2h, 1d) or an RFC 3339 time: {value!r}", key="--since") from None


def tail_alerts(settings: Settings, *, from_beginning: bool = False, as_json: bool = False,
                min_severity: str = "none", until: float | None = None, since: datetime | None = None,
                match: AlertFilter | None = None, follow: bool = True) -> Iterator[dict[str, Any]]:
    """Yield alerts from the alert topic as they arrive, oldest first per partition.

    No consumer group and nothing committed: a tail is a read-only view that never takes records from
    a sink. Starts at the end, at the beginning, or at the first record at or after `since`; stops at
    `until` (time.monotonic()) when given, or at the end of the topic when not `follow`ing.
    `as_json` is kept for callers; the caller formats.
    """
    from kafka import KafkaConsumer

    match = match or AlertFilter(min_severity=min_severity)
    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, client_id=f"{settings.client_id}-tail",
                             consumer_timeout_ms=500, **settings.kafka_options())
    try:
        assigned = _seek(consumer, settings.topics.alerts, from_beginning, since, until)
        ends = consumer.end_offsets(assigned) if not follow else {}
        while until is None or time.monotonic() < until:
            if ends and all(consumer.position(tp) >= end for tp, end in ends.items()):
                return
            for message in consumer:
                try:
                    alert = json.loads(message.value)
                except ValueError:
                    log.warning("unreadable alert at offset %s", message.offset)
                    continue
                if isinstance(alert, dict) and match(alert):
                    yield alert
                if until is not None and time.monotonic() >= until:
                    return
    finally:
        consumer.close()


def _seek(consumer: Any, topic: str, from_beginning: bool, since: datetime | None, until: float | None) -> list[Any]:
    from kafka import TopicPartition

    deadline = min(until or math.inf, time.monotonic() + 30)
    partitions = consumer.partitions_for_topic(topic)
    while not partitions and time.monotonic() < deadline:
        time.sleep(0.2)  # metadata of a topic being created: poll with a deadline
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise WirewatchError(f"topic {topic} does not exist on {consumer.config['bootstrap_servers']}")
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    if since is not None:
        found = consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in assigned})
        for tp in assigned:
            if found.get(tp) is None:
                consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, found[tp].offset)
    elif from_beginning:
        consumer.seek_to_beginning(*assigned)
    else:
        consumer.seek_to_end(*assigned)
    return assigned


def run_all(settings: Settings, feeds_file: Path | None, *, timeout: float | None = None) -> int:
    """`wirewatch run`: broker (when none is configured), topics, connectors, a worker, alert tail."""
    from connectors.feeds import DEFAULT_FEEDS, SEEDS
    from connectors.seedserver import StaticFeedServer
    from streams.localkafka import from_env
    from streams.preflight import check_kafka
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
        check_kafka(settings)
        created = ensure_topics(settings)
        if created:
            _say(f"created topics: {', '.join(created)}")
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers or ""}
        if feeds_file is None:
            server = stack.enter_context(StaticFeedServer(SEEDS / "feeds"))
            env["WIREWATCH_SEED_SERVER"] = server.url
            # The SSRF guard stays on: only the seed server's own host:port is let through.
            seed = server.url.split("://", 1)[1]
            env["WIREWATCH_FETCH_ALLOW_HOSTS"] = ",".join(filter(None, (env.get("WIREWATCH_FETCH_ALLOW_HOSTS"), seed)))
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
                        command = " ".join(cast("list[str]", child.args)[-2:])  # _spawn passes a list of str
                        raise RuntimeError(f"{command} exited with {child.returncode}")
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
