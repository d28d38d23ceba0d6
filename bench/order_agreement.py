"""How far a worker reading several partitions decides differently from `wirewatch replay`.

    python bench/order_agreement.py                                  # rld-2023-09, first 5,000 items, 4 partitions
    python bench/order_agreement.py --corpus rld-2022-02-ukraine --n 0 --runs 3
    python bench/order_agreement.py --partitions 1                   # the control: one partition

Per run: the first --n items of a real-feed corpus (../shared/data/realfeeds-dev, file order: sorted by
published_at) are produced to `news.articles` (key: article id, --partitions partitions, as the connector
does) on a private local broker before a fresh `wirewatch worker` starts, so the worker reads a backlog
(the catch-up after a deploy or an outage, where partitions are read at different speeds). The same items
go through `streams.pipeline.Pipeline` (what `wirewatch replay` runs) in file order. Then it compares:

- grouping: articles into stories. `pairs F1`: pairwise F1 of the worker's "same story" pairs against the
  replay's (1.0: the same partition of articles into stories, whatever the stories are called);
  `same story`: share of articles whose story holds exactly the same articles in both;
  `story_id` / `copy_of`: share of articles with the identical field (names depend on which copy came first);
- alerts: the final version of every alert (by alert id: the event's first article): ids only in the
  replay, only on the topic, and of those in both the share whose final version says the same
  (severity, casualties, categories, sources, copies);
- disorder: how far the dedupe agent's input order (per by-lang partition) is from event-time order:
  records that came after a record with a later event time, and the largest such gap (places, hours).

The items are third-party text: nothing of them is written anywhere but the private broker's temporary
directory. Without KAFKA_BOOTSTRAP_SERVERS a private broker is started (and stopped) on free ports.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from contextlib import ExitStack
from itertools import combinations
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from connectors.settings import Settings, Topics  # noqa: E402
from streams.shell.localkafka import private_broker  # noqa: E402
from streams.shell.topics import ensure_topics  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "realfeeds-dev"
LAST_ORDER: dict[int, list[tuple[float, str]]] = {}


def read_lines(path: Path, n: int) -> list[bytes]:
    out = []
    with gzip.open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                out.append(line.rstrip(b"\n"))
            if n and len(out) >= n:
                break
    return out


def replay(lines: list[bytes]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Decisions by id and alert versions of the pure pipeline, in file order, from a fresh state."""
    from streams.escalation import Rules
    from streams.pipeline import Pipeline

    pipeline = Pipeline(Rules.load())
    decisions, alerts = {}, []
    for _, decision, published, error in pipeline.run(lines):
        if error is None and decision is not None:
            decisions[decision["id"]] = decision
            alerts.extend(published)
    return decisions, alerts


def run_worker(settings: Settings, lines: list[bytes], expected: set[str], workdir: Path
               ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Produce the lines, start a worker, read back its decisions and alerts once it is idle."""
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    producer = KafkaProducer(acks="all", linger_ms=20, compression_type="gzip", **settings.kafka_options())
    for line in lines:
        key = json.loads(line).get("id")
        producer.send(settings.topics.articles, key=str(key).encode(), value=line)
    producer.flush()
    producer.close()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers or "",
           "WIREWATCH_APP_ID": settings.app_id, "WIREWATCH_DATA_DIR": settings.data_dir,
           "WIREWATCH_PARTITIONS": str(settings.partitions), "PYTHONPATH": str(REPO),
           "WIREWATCH_RULES_RELOAD": "0"}
    env.update({f"WIREWATCH_TOPIC_{k.upper()}": v for k, v in settings.topics.__dict__.items()})
    log = (workdir / f"worker-{settings.app_id}.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "streams.shell.cli", "worker"], env=env,
                              stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stories: dict[str, dict[str, Any]] = {}
    order: dict[int, list[tuple[float, str]]] = defaultdict(list)  # by-lang partition -> (event time, id)
    alerts: list[dict[str, Any]] = []
    admin = KafkaAdminClient(**settings.kafka_options())
    probe = KafkaConsumer(**settings.kafka_options())
    readers = {topic: KafkaConsumer(topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                                    consumer_timeout_ms=200, **settings.kafka_options())
               for topic in (settings.topics.stories, settings.topics.by_lang, settings.topics.alerts)}
    started = time.monotonic()
    try:
        idle_since = None
        while True:
            if worker.poll() is not None:
                raise SystemExit(f"worker exited with {worker.returncode}; see {log.name}")
            if time.monotonic() - started > 1800:
                raise SystemExit("worker did not finish within 30 minutes")
            for message in readers[settings.topics.stories]:
                value = json.loads(message.value)
                stories.setdefault(value["id"], value)
            for message in readers[settings.topics.by_lang]:
                value = json.loads(message.value)
                order[message.partition].append((_event_time(value), value["id"]))
            for message in readers[settings.topics.alerts]:
                alerts.append(json.loads(message.value))
            # done when every article is decided and the group has committed everything on all topics
            if set(stories) >= expected and _lag(settings, admin, probe) == 0:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 3:
                    break
            else:
                idle_since = None
        seconds = time.monotonic() - started
    finally:
        for reader in readers.values():
            reader.close()
        admin.close()
        probe.close()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
    global LAST_ORDER
    LAST_ORDER = order
    return stories, alerts, {"seconds": round(seconds, 1), **disorder(order)}


def _event_time(value: dict[str, Any]) -> float:
    from streams.dedupe import parse_time

    norm = value.get("norm") or {}
    return parse_time(norm.get("event_time") or value.get("published_at"))


def _lag(settings: Settings, admin: Any, probe: Any) -> int:
    committed = admin.list_group_offsets(settings.app_id).get(settings.app_id, {})
    topics = (settings.topics.articles, settings.topics.by_lang, settings.topics.stories, settings.topics.scored)
    tps = [tp for tp in committed if tp.topic in topics]
    if len({tp.topic for tp in tps}) < len(topics):
        return -1
    try:
        ends = probe.end_offsets(tps)
    except KeyError:
        return -1
    return sum(max(0, ends[tp] - committed[tp].offset) for tp in tps)


def disorder(order: dict[int, list[tuple[float, str]]]) -> dict[str, Any]:
    """Records of a by-lang partition that came after one with a later (event time, id), and the largest
    displacement, in places and in hours of event time."""
    late = 0
    places = 0
    hours = 0.0
    for records in order.values():
        seen: dict[str, int] = {}
        unique = [r for r in records if not (r[1] in seen or seen.setdefault(r[1], 0))]
        rank = {r: i for i, r in enumerate(sorted(unique))}
        newest = None
        for position, record in enumerate(unique):
            if newest is not None and record < newest:
                late += 1
                places = max(places, position - rank[record])
                hours = max(hours, (newest[0] - record[0]) / 3600)
            newest = record if newest is None or record > newest else newest
    return {"late_records": late, "max_places": places, "max_hours": round(hours, 2)}


def groups(decisions: dict[str, dict[str, Any]], ids: Iterable[str]) -> dict[str, frozenset[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    for article_id in ids:
        members[decisions[article_id]["story_id"]].add(article_id)
    return {article_id: frozenset(members[decisions[article_id]["story_id"]]) for article_id in ids}


def pairs(grouping: dict[str, frozenset[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for members in set(grouping.values()):
        out.update(combinations(sorted(members), 2))
    return out


def final(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        if alert["alert_id"] not in latest or alert["version"] > latest[alert["alert_id"]]["version"]:
            latest[alert["alert_id"]] = alert
    return latest


def share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return round(sum(values) / max(1, len(values)), 4)


def compare(replayed: dict[str, dict[str, Any]], replay_alerts: list[dict[str, Any]],
            worked: dict[str, dict[str, Any]], worker_alerts: list[dict[str, Any]]) -> dict[str, Any]:
    ids = sorted(set(replayed) & set(worked))
    a, b = groups(replayed, ids), groups(worked, ids)
    pa, pb = pairs(a), pairs(b)
    both = len(pa & pb)
    precision = both / len(pb) if pb else 1.0
    recall = both / len(pa) if pa else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    fa, fb = final(replay_alerts), final(worker_alerts)

    def says(alert: dict[str, Any]) -> tuple[Any, ...]:
        return (alert["severity"], alert["casualties"], tuple(sorted(alert["categories"])),
                tuple(sorted(alert["sources"])), alert["copies"])

    common = set(fa) & set(fb)
    return {
        "articles": len(ids), "missing_on_topic": len(set(replayed) - set(worked)),
        "pairs_replay": len(pa), "pairs_worker": len(pb),
        "pairs_f1": round(f1, 4), "pairs_precision": round(precision, 4), "pairs_recall": round(recall, 4),
        "same_story": round(sum(a[i] == b[i] for i in ids) / max(1, len(ids)), 4),
        "same_story_id": share(replayed[i]["story_id"] == worked[i]["story_id"] for i in ids),
        "same_copy_of": share(replayed[i]["copy_of"] == worked[i]["copy_of"] for i in ids),
        "story_ids_differ": sum(replayed[i]["story_id"] != worked[i]["story_id"] for i in ids),
        "copy_of_differ": sum(replayed[i]["copy_of"] != worked[i]["copy_of"] for i in ids),
        "alerts_replay": len(fa), "alerts_worker": len(fb), "alerts_only_replay": len(set(fa) - set(fb)),
        "alerts_only_worker": len(set(fb) - set(fa)),
        "alerts_same_final": round(sum(says(fa[k]) == says(fb[k]) for k in common) / max(1, len(common)), 4),
        "alert_versions_replay": len(replay_alerts), "alert_versions_worker": len(worker_alerts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="the realfeeds-dev folder")
    parser.add_argument("--corpus", default="rld-2023-09", help="corpus file name without .jsonl.gz")
    parser.add_argument("--n", type=int, default=5000, help="first N items (0: all)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--runs", type=int, default=1, help="worker runs (each on fresh topics and state)")
    args = parser.parse_args()
    lines = read_lines(args.data / f"{args.corpus}.jsonl.gz", args.n)
    replayed, replay_alerts = replay(lines)
    print(f"replay: {len(replayed)} decisions, {len(replay_alerts)} alert versions", file=sys.stderr)
    results = []
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ww-order-")))
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or stack.enter_context(private_broker(
            workdir / "kafka", report=lambda status: print(f"local broker: {status}", file=sys.stderr))).bootstrap
        for run in range(args.runs):
            tag = uuid.uuid4().hex[:8]
            settings = Settings(bootstrap_servers=bootstrap, partitions=args.partitions, app_id=f"order-{tag}",
                                topics=Topics(**{k: f"o{tag}.{v}" for k, v in Topics().__dict__.items()}),
                                data_dir=str(workdir / f"worker-{tag}"))
            ensure_topics(settings)
            worked, worker_alerts, extra = run_worker(settings, lines, set(replayed), workdir)
            result = {"corpus": args.corpus, "items": len(lines), "partitions": args.partitions, "run": run + 1,
                      **compare(replayed, replay_alerts, worked, worker_alerts), **extra}
            results.append(result)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
