"""Commands of delivery and the alert page: `deliver`, `routes check`, `mute`, `unmute`, `ack`, `mutes`,
`console`. Wiring only: the work is in streams/delivery and streams/console."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.errors import ConfigError

SEVERITIES = ("none", "low", "medium", "high", "critical")


def _cluster() -> Any:
    from streams.shell.cluster import checked_cluster

    return checked_cluster()


def _deliver(args: argparse.Namespace) -> int:
    from streams.delivery.runner import run_delivery
    from streams.shell.sinks import RetryPolicy

    return run_delivery(_cluster(), Path(args.routes), group_id=args.group, dlq_topic=args.dlq_topic,
                        retry=RetryPolicy(attempts=args.attempts, base_s=args.backoff, max_s=args.max_backoff),
                        reload_s=args.reload)


def _routes_check(args: argparse.Namespace) -> int:
    from streams.delivery.routes import describe, load_routes

    routes = load_routes(args.file)
    for name, destination in routes.destinations.items():
        print(f"destination {name}: {', '.join(destination.shown)}")
    for line in describe(routes):
        print(f"route {line}")
    return 0


def _severity_now(settings: Any, scope: str, target: str) -> str:
    """The alert's (or event's highest) severity now, from news.alerts: what a mute or ack yields to."""
    from streams.console.board import Board
    from streams.delivery.topics import read_compacted

    board = Board(window=timedelta(days=3650))
    print(f"looking up {scope} {target} in {settings.topics.alerts} ...", file=sys.stderr)
    read_compacted(settings, settings.topics.alerts, lambda _k, v: board.add(v) if isinstance(v, dict) else None,
                   timeout=600)
    severity = board.severity_of(scope, target)
    if severity is None:
        raise ConfigError(f"no {scope} {target!r} in {settings.topics.alerts}", key=scope)
    return severity


def _mute(args: argparse.Namespace) -> int:
    from streams.delivery import state
    from streams.delivery.timing import parse_duration
    from streams.delivery.topics import DeliveryTopics, ensure_topic, publish

    settings = _cluster()
    try:
        seconds = parse_duration(args.duration) if args.duration != "forever" else None
    except ValueError as exc:
        raise ConfigError(str(exc), key="--for") from None
    severity = args.severity or ("critical" if args.scope == "pattern" else _severity_now(settings, args.scope,
                                                                                          args.target))
    try:
        key, value = state.mute(args.scope, args.target, seconds=seconds, severity=severity, by=args.by,
                                note=args.note or "")
    except ValueError as exc:
        raise ConfigError(str(exc), key=args.scope) from None
    topic = DeliveryTopics.from_env().state
    ensure_topic(settings, topic, compact=True)
    publish(settings, topic, key, value)
    print(f"{key}: muted {'until ' + value['until'] if value['until'] else 'until lifted'}"
          + (f" (updates resume if severity rises above {severity})" if args.scope != "pattern" else ""))
    return 0


def _unmute(args: argparse.Namespace) -> int:
    from streams.delivery.state import mute_key
    from streams.delivery.topics import DeliveryTopics, publish

    key = f"ack:{args.target}" if args.scope == "ack" else mute_key(args.scope, args.target)
    publish(_cluster(), DeliveryTopics.from_env().state, key, None)
    print(f"{key}: lifted")
    return 0


def _ack(args: argparse.Namespace) -> int:
    from streams.delivery import state
    from streams.delivery.topics import DeliveryTopics, ensure_topic, publish

    settings = _cluster()
    severity = args.severity or _severity_now(settings, "alert", args.alert_id)
    key, value = state.ack(args.alert_id, severity=severity, by=args.by, note=args.note or "")
    topic = DeliveryTopics.from_env().state
    ensure_topic(settings, topic, compact=True)
    publish(settings, topic, key, value)
    print(f"{key}: acknowledged at {severity}")
    return 0


def _mutes(args: argparse.Namespace) -> int:
    from streams.delivery.state import HoldView
    from streams.delivery.topics import DeliveryTopics, read_compacted

    view = HoldView()
    read_compacted(_cluster(), DeliveryTopics.from_env().state, view.apply)
    for hold in view.active(datetime.now(UTC)):
        print(f"{hold['key']}\t{hold['kind']}\t{hold['target']}\tuntil {hold['until'] or 'lifted'}\t"
              f"at {hold['severity']}\tby {hold['by']} {hold['at']}")
    return 0


def _console(args: argparse.Namespace) -> int:
    from streams.console.server import run_console
    from streams.delivery.timing import parse_duration

    try:
        window = timedelta(seconds=parse_duration(args.window))
    except ValueError as exc:
        raise ConfigError(str(exc), key="--window") from None
    return run_console(_cluster(), host=args.host, port=args.port, window=window)


def add_delivery_commands(sub: Any, user: str) -> None:
    deliver = sub.add_parser("deliver", help="route alerts to Slack, Teams, e-mail, PagerDuty, ntfy, ...",
                             description="Consumer group on news.alerts; every route of the routes file that "
                                         "matches an alert delivers it (Apprise URLs); retries, dead-letter "
                                         "topic, reload of the routes file without restart.")
    deliver.add_argument("--routes", required=True, help="routes YAML (see seeds/routes.yaml)")
    deliver.add_argument("--group", help="consumer group (default: <app id>-deliver)")
    deliver.add_argument("--dlq-topic", help="dead-letter topic (default: <alerts topic>.deliver.dlq)")
    deliver.add_argument("--attempts", type=int, default=6, help="delivery attempts before dead-lettering")
    deliver.add_argument("--backoff", type=float, default=0.5, help="first retry delay, doubled per attempt (s)")
    deliver.add_argument("--max-backoff", type=float, default=30.0, help="longest retry delay (s)")
    deliver.add_argument("--reload", type=float, default=10.0, help="seconds between checks of the routes file "
                                                                    "(0: never); a broken file keeps the routes")
    deliver.set_defaults(func=_deliver)

    routes = sub.add_parser("routes", help="check a routes file")
    routes_sub = routes.add_subparsers(dest="routes_command", required=True)
    check = routes_sub.add_parser("check", help="validate a routes file (exit 2: file:line: key: reason)")
    check.add_argument("file")
    check.set_defaults(func=_routes_check)

    mute = sub.add_parser("mute", help="mute an alert, an event or a pattern for a time (all sinks and pages)")
    mute.add_argument("scope", choices=("alert", "event", "pattern"))
    mute.add_argument("target", help="alert id, event id, or text (any case) in titles and matched terms")
    mute.add_argument("--for", dest="duration", default="4h", help="90m, 4h, 2d, or `forever` (default 4h)")
    mute.add_argument("--severity", choices=SEVERITIES,
                      help="updates resume above this severity (default: the alert's severity now)")
    mute.add_argument("--by", default=user, help=argparse.SUPPRESS)
    mute.add_argument("--note")
    mute.set_defaults(func=_mute)

    unmute = sub.add_parser("unmute", help="lift a mute (or an acknowledgement: `unmute ack ALERT_ID`)")
    unmute.add_argument("scope", choices=("alert", "event", "pattern", "ack"))
    unmute.add_argument("target")
    unmute.set_defaults(func=_unmute)

    ack = sub.add_parser("ack", help="acknowledge an alert: its updates stop unless its severity rises")
    ack.add_argument("alert_id")
    ack.add_argument("--severity", choices=SEVERITIES, help="default: the alert's severity now")
    ack.add_argument("--by", default=user, help=argparse.SUPPRESS)
    ack.add_argument("--note")
    ack.set_defaults(func=_ack)

    mutes = sub.add_parser("mutes", help="list the mutes and acknowledgements in force")
    mutes.set_defaults(func=_mutes)

    console = sub.add_parser("console", help="the live alert page (http://127.0.0.1:8765/)")
    console.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    console.add_argument("--port", type=int, default=8765)
    console.add_argument("--window", default="3d", help="alerts updated within this time are open (default 3d)")
    console.set_defaults(func=_console)
