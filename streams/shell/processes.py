"""Long-running commands: the worker, the connector runner, `run` (everything on one machine), alert tail."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from connectors.errors import ConfigError, WirewatchError
from connectors.settings import Settings

log = logging.getLogger("wirewatch")



def run_worker(settings: Settings, loglevel: str = "error") -> int:
    """A Faust worker running the normalize, dedupe and score agents."""
    import faust

    from streams.metrics import StreamMetrics
    from streams.shell.preflight import check_kafka
    from streams.worker.app import create_app

    check_kafka(settings)  # Faust would retry wrong credentials forever: fail fast and clearly instead
    metrics = StreamMetrics()
    app = create_app(settings, metrics=metrics)
    if settings.metrics_port:
        from streams.shell.health import Liveness, serve
        from streams.worker.liveness import watch

        liveness = Liveness()
        watch(app, liveness, settings.liveness_timeout_s)   # /livez: the event loop and the consumer move
        serve(settings.metrics_port, _metrics_addr(), liveness, metrics.registry)
    # override_logging=False: mode would replace the root handlers with its own coloured stdout format;
    # wirewatch's (streams/shell/logs.py: text or JSON, levels) stays in force
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False, override_logging=False)
    worker.spinner = None  # a terminal spinner in log files and in `wirewatch run` output is noise
    if loglevel == "error":
        # A fresh broker answers "coordinator not available" for a few seconds: retried, not an error
        logging.getLogger("aiokafka.consumer.group_coordinator").setLevel(logging.CRITICAL)
    worker.execute_from_commandline()  # returns on SIGTERM/SIGINT after a clean shutdown
    return 0


def run_connectors(settings: Settings, feeds_file: Path, once: bool = False) -> int:
    """`wirewatch connect`: poll the feed list forever (or once), publishing to Kafka."""
    from connectors import article as contract
    from connectors.feeds import load_feeds
    from connectors.metrics import ConnectorMetrics
    from connectors.publisher import is_transactional, make_producer
    from connectors.runner import Runner, load_states
    from streams.shell.preflight import check_kafka
    from streams.shell.topics import ensure_topics

    contract.ready()   # the producer validates every article against the contract, formats included
    feeds = load_feeds(feeds_file)
    check_kafka(settings)
    _until_kafka_answers(settings, "creating topics", lambda: ensure_topics(settings))
    metrics = ConnectorMetrics()
    from streams.shell.health import Liveness, beat_forever, serve

    liveness = Liveness()
    loop_heartbeat = liveness.add("loop", settings.liveness_timeout_s)
    if settings.connector.metrics_port:
        serve(settings.connector.metrics_port, _metrics_addr(), liveness, metrics.registry)
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
        from connectors.reload import FeedListWatcher

        stop, reload_now = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, reload_now.set)   # reload the feed list now
        tasks = [asyncio.create_task(beat_forever(loop_heartbeat), name="liveness")]
        if not once:
            watcher = FeedListWatcher(feeds_file, feeds)
            tasks.append(asyncio.create_task(runner.watch_feeds(watcher, settings.connector.feeds_reload_s,
                                                                reload_now, stop), name="feed-list"))
        try:
            await runner.run(stop, once=once)
        finally:
            for task in tasks:
                task.cancel()

    try:
        asyncio.run(main())
    finally:
        if runner.publisher.producer is producer:   # else it was abandoned (and closed) after a stall
            producer.close(timeout=5 if runner.publisher.fatal is None else 0)
    if runner.publisher.fatal is not None:
        return 3
    return 1 if runner.publisher.failed else 0


def _metrics_addr() -> str:
    return os.environ.get("WIREWATCH_METRICS_ADDR", "127.0.0.1")


def _until_kafka_answers(settings: Settings, what: str, step: Any, timeout: float = 120.0) -> Any:
    """Run a start-up step that needs the broker, retrying while it is unreachable (it may be starting
    or restarting); after `timeout` seconds fail with a clear error instead of a traceback."""
    from kafka.errors import KafkaError


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


def run_all(settings: Settings, feeds_file: Path | None, *, timeout: float | None = None,
            routes_file: Path | None = None) -> int:
    """`wirewatch run`: broker (when none is configured), topics, connectors, a worker, the alert page,
    delivery (with a routes file), alert tail."""
    from streams.resources import default_feeds, seed_feeds
    from streams.shell.localkafka import from_env
    from streams.shell.preflight import check_kafka
    from streams.shell.seedserver import StaticFeedServer
    from streams.shell.tail import format_alert, tail_alerts
    from streams.shell.topics import ensure_topics

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
            server = stack.enter_context(StaticFeedServer(seed_feeds()))
            env["WIREWATCH_SEED_SERVER"] = server.url
            # The SSRF guard stays on: only the seed server's own host:port is let through.
            seed = server.url.split("://", 1)[1]
            env["WIREWATCH_FETCH_ALLOW_HOSTS"] = ",".join(filter(None, (env.get("WIREWATCH_FETCH_ALLOW_HOSTS"), seed)))
            feeds_file = default_feeds()
            _say(f"serving the recorded seed feeds on {server.url}")
        os.environ["WIREWATCH_SEED_SERVER"] = env.get("WIREWATCH_SEED_SERVER", "")
        children = [_spawn(["worker"], env), _spawn(["connect", "--feeds", str(feeds_file)], env)]
        stack.callback(_stop_children, children)
        host, port = console_address()
        children.append(_spawn(["console", "--host", host, "--port", str(port)], env, quiet=True))
        _say(f"alert page: http://{host}:{port}/")
        if routes_file is not None:
            children.append(_spawn(["deliver", "--routes", str(routes_file)], env))
            _say(f"delivering alerts by the routes in {routes_file}")
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


def console_address(environ: dict[str, str] | None = None) -> tuple[str, int]:
    """Where `run` serves the alert page: WIREWATCH_CONSOLE_ADDR (127.0.0.1) and WIREWATCH_CONSOLE_PORT
    (8765; a free port when 8765 is taken, so a second `run` still gets a page)."""
    import socket

    env = os.environ if environ is None else environ
    host = env.get("WIREWATCH_CONSOLE_ADDR", "127.0.0.1").strip() or "127.0.0.1"
    wanted = env.get("WIREWATCH_CONSOLE_PORT", "").strip()
    if wanted:
        if not wanted.isdigit() or not 0 < int(wanted) < 65536:
            raise ConfigError(f"a port number, got {wanted!r}", key="WIREWATCH_CONSOLE_PORT")
        return host, int(wanted)
    for port in (8765, 0):
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return host, int(probe.getsockname()[1])
    raise ConfigError(f"cannot bind {host}", key="WIREWATCH_CONSOLE_ADDR")


def _spawn(args: list[str], env: dict[str, str], quiet: bool = False) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "streams.shell.cli", *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL if quiet else None, start_new_session=True)


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
