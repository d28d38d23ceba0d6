"""`wirewatch` command line: one entry point for every process and tool."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from connectors.errors import WirewatchError
from streams.escalation import SEVERITIES

log = logging.getLogger("wirewatch")


def _replay(args: argparse.Namespace) -> int:
    import tempfile

    from connectors import article as contract
    from streams.escalation import Rules
    from streams.resources import default_rules

    if (args.articles is None) == (not args.seed):
        raise WirewatchError("give an ARTICLES file or --seed (the shipped seed feeds' articles), not both")
    contract.ready()
    rules = Rules.load(args.rules or default_rules())
    # the dedupe window on disk, as in the worker's RocksDB table (a million articles hold ~3 GB of
    # records); scratch state of this run, in $TMPDIR
    with tempfile.TemporaryDirectory(prefix="wirewatch-replay-") as scratch:
        return _replay_with(args, rules, Path(scratch))


def _replay_with(args: argparse.Namespace, rules: Any, scratch: Path) -> int:
    from tqdm import tqdm

    from streams.diskstore import DiskStore
    from streams.pipeline import Pipeline

    store = DiskStore(scratch / "dedupe")
    pipeline = Pipeline(rules, dedupe_store=store)
    source = Path(args.articles) if args.articles else scratch / "seed-articles.jsonl"
    if args.seed:
        from streams.resources import seed_articles

        source.write_text("".join(line + "\n" for line in seed_articles()), "utf-8")
    errors = decisions = alerts = 0
    alerts_out = open(args.alerts, "w", encoding="utf-8") if args.alerts else None  # noqa: SIM115
    try:
        with source.open("rb") as lines, open(args.output, "w", encoding="utf-8") as out, tqdm(
                total=source.stat().st_size, unit="B", unit_scale=True, desc="replay",
                disable=not sys.stderr.isatty()) as bar:
            for number, decision, published, error in pipeline.run(_tracked(lines, bar)):
                if error is not None:
                    errors += 1
                    log.info("bad record skipped", extra={"line": number, "error": str(error)})
                    print(f"{source}:{number}: {_reason(error)}", file=sys.stderr)
                    continue
                out.write(_dumps(decision) + "\n")
                decisions += 1
                alerts += len(published)
                if alerts_out is not None:
                    for alert in published:
                        alerts_out.write(_dumps(alert) + "\n")
    finally:
        store.close()
        if alerts_out is not None:
            alerts_out.close()
    print(f"replay: {decisions} decisions, {alerts} alerts, {errors} bad records", file=sys.stderr)
    return REPLAY_BAD_RECORDS if errors else 0


# `wirewatch replay` exit status when some records were bad (each reported as FILE:LINE: reason, the
# summary line counting them): the run went on, its outputs hold every good record. 2 stays "could not
# run" (a bad rule file, a bad option).
REPLAY_BAD_RECORDS = 3


def _reason(error: Exception) -> str:
    """A bad record's error as the worker's DLQ header gives it: the contract's message, or the error's
    class and message for a failure in a later stage."""
    from connectors.errors import InvalidRecord

    text = str(error)[:2000]
    return text if isinstance(error, InvalidRecord) else f"{type(error).__name__}: {text}"


def _tracked(lines: Any, bar: Any) -> Any:
    for line in lines:
        bar.update(len(line))
        yield line


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _settings() -> Any:
    from connectors.settings import Settings

    return Settings.from_env()


def _kafka(args: argparse.Namespace) -> int:
    from streams.shell.localkafka import from_env

    broker = from_env()
    action = {"up": broker.up, "down": broker.down, "status": broker.status}[args.action]
    print(f"local Kafka broker: {action()}")
    return 0


def _topics(args: argparse.Namespace) -> int:
    from streams.shell.preflight import check_kafka
    from streams.shell.topics import ensure_topics

    settings = _settings()
    check_kafka(settings)
    created = ensure_topics(settings, replication=args.replication)
    print(f"created: {', '.join(created)}" if created else "all topics exist")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from streams.shell.processes import run_worker

    return run_worker(_require_cluster(), loglevel=("error", "info", "debug")[min(args.verbose, 2)])


def _connect(args: argparse.Namespace) -> int:
    from streams.shell.processes import run_connectors

    return run_connectors(_require_cluster(), Path(args.feeds), once=args.once)


def _run(args: argparse.Namespace) -> int:
    from streams.shell.processes import run_all

    return run_all(_settings(), Path(args.feeds) if args.feeds else None, timeout=args.timeout,
                   routes_file=Path(args.routes) if args.routes else None)


def _require_cluster() -> Any:
    from streams.shell.cluster import require_cluster

    return require_cluster()


def _checked_cluster() -> Any:
    from streams.shell.cluster import checked_cluster

    return checked_cluster()


def _tail(args: argparse.Namespace) -> int:
    from streams.shell.tail import AlertFilter, format_alert, parse_since, tail_alerts

    colour = {"always": True, "never": False, "auto": sys.stdout.isatty()}[args.colour] and not args.json
    match = AlertFilter(min_severity=args.min_severity, categories=tuple(args.category or ()),
                        sources=tuple(args.source or ()), text=args.text or "")
    since = parse_since(args.since) if args.since else None
    alerts = tail_alerts(_checked_cluster(), from_beginning=args.from_beginning, as_json=args.json,
                         since=since, match=match, follow=not args.no_follow)
    for shown, alert in enumerate(alerts, 1):
        print(_dumps(alert) if args.json else format_alert(alert, colour), flush=True)
        if args.limit and shown >= args.limit:
            break
    return 0


def _sink_webhook(args: argparse.Namespace) -> int:
    from streams.shell.sinks import RetryPolicy, run_webhook_sink

    return run_webhook_sink(_checked_cluster(), args.url, min_severity=args.min_severity, fmt=args.format,
                            group_id=args.group, dlq_topic=args.dlq_topic, replication=args.replication,
                            retry=RetryPolicy(attempts=args.attempts, base_s=args.backoff, max_s=args.max_backoff))


def _add_ops_commands(sub: Any) -> None:
    """`alerts tail` and `sink webhook`: how people and other systems read news.alerts."""
    alerts = sub.add_parser("alerts", help="follow the alert topic")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    tail = alerts_sub.add_parser("tail", help="one line per alert update, coloured by severity",
                                 description="Follow news.alerts (read-only: no consumer group, nothing "
                                             "committed). Filters combine with AND; repeated options with OR.")
    start = tail.add_mutually_exclusive_group()
    start.add_argument("--from-beginning", action="store_true", help="start at the oldest retained alert")
    start.add_argument("--since", metavar="WHEN", help="start at alerts published since WHEN: a duration "
                                                       "(90s, 15m, 2h, 1d) or an RFC 3339 time")
    tail.add_argument("--json", action="store_true", help="one JSON alert per line (for jq and pipes)")
    tail.add_argument("--min-severity", default="none", choices=SEVERITIES)
    tail.add_argument("--category", action="append", metavar="NAME", help="only alerts with this category")
    tail.add_argument("--source", action="append", metavar="OUTLET", help="only stories carried by this outlet")
    tail.add_argument("--text", help="only alerts whose title or matched terms contain TEXT (any case)")
    tail.add_argument("--colour", "--color", choices=("auto", "always", "never"), default="auto")
    tail.add_argument("--limit", type=int, default=0, metavar="N", help="exit after N alerts")
    tail.add_argument("--no-follow", action="store_true", help="exit at the end of the topic instead of waiting")
    tail.set_defaults(func=_tail)

    sink = sub.add_parser("sink", help="forward alerts to other systems")
    sink_sub = sink.add_subparsers(dest="sink_command", required=True)
    webhook = sink_sub.add_parser("webhook", help="POST alerts at or above a severity to an HTTP endpoint",
                                  description="Consumer group, resumes after a restart; idempotent by "
                                              "(alert_id, version); retries with backoff; dead-letter topic.")
    webhook.add_argument("--url", required=True, help="http(s) endpoint")
    webhook.add_argument("--min-severity", default="high", choices=SEVERITIES)
    webhook.add_argument("--format", choices=("json", "slack"), default="json",
                         help="json: the alert as the body; slack: a Slack incoming-webhook message")
    webhook.add_argument("--group", help="consumer group (default: <app id>-sink-webhook)")
    webhook.add_argument("--dlq-topic", help="dead-letter topic (default: <alerts topic>.webhook.dlq)")
    webhook.add_argument("--replication", type=int, default=1, help="replication of a dead-letter topic it creates")
    webhook.add_argument("--attempts", type=int, default=6, help="delivery attempts before dead-lettering")
    webhook.add_argument("--backoff", type=float, default=0.5, help="first retry delay, doubled per attempt (s)")
    webhook.add_argument("--max-backoff", type=float, default=30.0, help="longest retry delay (s)")
    webhook.set_defaults(func=_sink_webhook)


def _add_feed_commands(sub: Any) -> None:
    """`feeds check|list|import-opml|export-opml` (streams/shell/feeds.py): add, inspect and debug feeds."""

    def check(args: argparse.Namespace) -> int:
        from streams.shell.feeds import check as run_check

        return run_check(args.target, kind=args.kind, items=args.items)

    def list_(args: argparse.Namespace) -> int:
        from connectors.feeds import load_feeds
        from connectors.runner import load_states
        from streams.shell.feeds import list_feeds

        feeds = load_feeds(Path(args.feeds))
        return list_feeds(feeds, load_states(_checked_cluster(), [f.id for f in feeds]))

    def import_opml(args: argparse.Namespace) -> int:
        from streams.shell.feeds import import_opml as run_import

        return run_import(Path(args.opml), Path(args.output))

    def export_opml(args: argparse.Namespace) -> int:
        from streams.shell.feeds import export_opml as run_export

        if not args.output:
            return run_export(Path(args.feeds))
        with open(args.output, "w", encoding="utf-8") as out:
            return run_export(Path(args.feeds), out)

    feeds = sub.add_parser("feeds", help="check, list and import feeds")
    feeds_sub = feeds.add_subparsers(dest="feeds_command", required=True)
    p = feeds_sub.add_parser("check", help="fetch and parse a feed (URL, feed list or saved file); "
                                           "show its items and every diagnostic")
    p.add_argument("target", help="an http(s) URL, a feed list YAML, or a feed file")
    p.add_argument("--kind", default="rss", help="connector kind for a URL or file (default: rss)")
    p.add_argument("--items", type=int, default=20, help="items to show per feed")
    p.set_defaults(func=check)
    p = feeds_sub.add_parser("list", help="every feed of a feed list with its health (from the state topic)")
    p.add_argument("--feeds", required=True, help="feed list YAML")
    p.set_defaults(func=list_)
    p = feeds_sub.add_parser("import-opml", help="merge an OPML export into a feed list (folders and `category` "
                                                 "attributes become tags)")
    p.add_argument("opml")
    p.add_argument("--output", required=True, help="feed list YAML to create or extend")
    p.set_defaults(func=import_opml)
    p = feeds_sub.add_parser("export-opml", help="write a feed list as OPML 2.0 (tags as `category`; no "
                                                 "headers or credentials)")
    p.add_argument("feeds", help="feed list YAML")
    p.add_argument("--output", help="OPML file to write (default: standard output)")
    p.set_defaults(func=export_opml)


def _reference_implementation_for_this_process() -> None:
    """`rules test` and `rules check` score a text or two, or none: the reference implementation of the
    stages does that at once, where loading their compiled kernels would take most of the command's
    time. WIREWATCH_IMPL, when set, still decides; so does a process that has loaded the kernels already
    (a test session calling main()). The choice is read once, when streams._accel is imported, and is
    not passed on to child processes."""
    if "WIREWATCH_IMPL" in os.environ or "streams._accel" in sys.modules:
        return
    os.environ["WIREWATCH_IMPL"] = "python"
    try:
        importlib.import_module("streams._accel")
    finally:
        del os.environ["WIREWATCH_IMPL"]


def _add_rules_commands(sub: Any) -> None:
    """`rules test` and `rules check`: what a rule author runs while editing escalation rules."""

    def test(args: argparse.Namespace) -> int:
        _reference_implementation_for_this_process()
        from streams.shell.rules import rules_test

        return rules_test(rules_path=args.rules, text=args.text, source=args.source, as_json=args.json,
                          language=args.language)

    def check(args: argparse.Namespace) -> int:
        _reference_implementation_for_this_process()
        from streams.shell.rules import rules_check

        return rules_check(args.file)

    rules = sub.add_parser("rules", help="test and check escalation rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    p = rules_sub.add_parser("test", help="score a text or articles and explain every match",
                             description="Prints severity, score, categories, casualties and every match "
                                         "(term, category, field, offsets, weight, modifier, sentence).")
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument("--text", help="the text to score (the body of one article)")
    given.add_argument("source", nargs="?", help="a file: Article JSON, Article JSONL or plain text; - = stdin")
    p.add_argument("--rules", help="escalation rules YAML (default: the shipped rules)")
    p.add_argument("--language", help="ISO 639-1 code instead of the article's or the detected one")
    p.add_argument("--json", action="store_true", help="one JSON object per article")
    p.set_defaults(func=test)
    p = rules_sub.add_parser("check", help="validate a rule file and its includes (exit 2: file:line: reason)")
    p.add_argument("file", nargs="?", help="main rule file (default: the shipped rules)")
    p.set_defaults(func=check)


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def build_parser() -> argparse.ArgumentParser:
    from streams import __version__
    from streams.shell.delivery import add_delivery_commands

    parser = argparse.ArgumentParser(prog="wirewatch", description=__doc__)
    parser.add_argument("--version", action="version", version=f"wirewatch {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    replay = sub.add_parser("replay", help="run dedupe, escalation and events over a JSONL file, no Kafka")
    replay.add_argument("articles", nargs="?", help="articles, one JSON object per line")
    replay.add_argument("--seed", action="store_true",
                        help="replay the articles of the shipped seed feeds instead of a file (a quick self-test)")
    replay.add_argument("--output", required=True, help="decisions JSONL to write")
    replay.add_argument("--alerts", help="alerts JSONL to write")
    replay.add_argument("--rules", help="escalation rules YAML (default: the shipped rules)")
    replay.set_defaults(func=_replay)

    run = sub.add_parser("run", help="run everything: local broker if needed, connectors, a worker, alerts")
    run.add_argument("--feeds", help="feed list YAML (default: the recorded seed feeds, served locally)")
    run.add_argument("--routes", help="also deliver alerts by this routes file (see seeds/routes.yaml)")
    run.add_argument("--timeout", type=float, help=argparse.SUPPRESS)
    run.set_defaults(func=_run)

    kafka = sub.add_parser("kafka", help="the local single-node Kafka broker (no Docker)")
    kafka.add_argument("action", choices=("up", "down", "status"))
    kafka.set_defaults(func=_kafka)

    topics = sub.add_parser("topics", help="create the wirewatch topics on the configured cluster")
    topics.add_argument("action", choices=("create",))
    topics.add_argument("--replication", type=int, help="default: WIREWATCH_REPLICATION (1)")
    topics.set_defaults(func=_topics)

    worker = sub.add_parser("worker", help="a stream worker (normalize, dedupe, score, events agents)")
    worker.set_defaults(func=_worker)

    connect = sub.add_parser("connect", help="the feed connector runner")
    connect.add_argument("--feeds", required=True, help="feed list YAML")
    connect.add_argument("--once", action="store_true", help="poll every feed once and exit")
    connect.set_defaults(func=_connect)

    _add_ops_commands(sub)
    add_delivery_commands(sub, _user())
    _add_feed_commands(sub)
    _add_rules_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from streams.shell.logs import configure

    args = build_parser().parse_args(argv)
    try:
        configure(args.verbose)  # WIREWATCH_LOG_FORMAT=text|json, WIREWATCH_LOG_LEVEL (streams/shell/logs.py)
        return int(args.func(args) or 0)
    except WirewatchError as exc:
        print(f"wirewatch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
