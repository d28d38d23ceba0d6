"""`wirewatch` command line: one entry point for every process and tool."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from connectors.errors import WirewatchError

log = logging.getLogger("wirewatch")


def _replay(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from streams.escalation import Rules
    from streams.pipeline import Pipeline

    pipeline = Pipeline(Rules.load(args.rules) if args.rules else Rules.load())
    source = Path(args.articles)
    errors = decisions = alerts = 0
    alerts_out = open(args.alerts, "w", encoding="utf-8") if args.alerts else None  # noqa: SIM115
    try:
        with source.open("rb") as lines, open(args.output, "w", encoding="utf-8") as out, tqdm(
                total=source.stat().st_size, unit="B", unit_scale=True, desc="replay",
                disable=not sys.stderr.isatty()) as bar:
            for number, decision, alert, error in pipeline.run(_tracked(lines, bar)):
                if error is not None:
                    errors += 1
                    log.warning("skipped invalid article", extra={"line": number, "error": str(error)})
                    print(f"{source}:{number}: {error}", file=sys.stderr)
                    continue
                out.write(_dumps(decision) + "\n")
                decisions += 1
                if alert is not None and alerts_out is not None:
                    alerts_out.write(_dumps(alert) + "\n")
                    alerts += 1
    finally:
        if alerts_out is not None:
            alerts_out.close()
    print(f"replay: {decisions} decisions, {alerts} alerts, {errors} invalid lines", file=sys.stderr)
    return 1 if errors and not decisions else 0


def _tracked(lines: Any, bar: Any) -> Any:
    for line in lines:
        bar.update(len(line))
        yield line


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wirewatch", description=__doc__)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    replay = sub.add_parser("replay", help="run dedupe and escalation over a JSONL file, no Kafka")
    replay.add_argument("articles", help="articles, one JSON object per line")
    replay.add_argument("--output", required=True, help="decisions JSONL to write")
    replay.add_argument("--alerts", help="alerts JSONL to write")
    replay.add_argument("--rules", help="escalation rules YAML (default: the shipped rules)")
    replay.set_defaults(func=_replay)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except WirewatchError as exc:
        print(f"wirewatch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
