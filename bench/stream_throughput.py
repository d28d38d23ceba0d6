"""Throughput and latency through Kafka + Faust: one real worker, one real broker.

    throughput: pre-load N synthetic articles into news.articles, start one worker, and time how fast
                it processes them through all three agents (from its first by-lang record until its score
                agent has processed every story, read from its metrics endpoint), with its CPU time over
                the same span. `stories_per_s` is the older measure: first by-lang record to last story.
    latency:    with a running worker, produce articles at a fixed rate and measure produce time ->
                news.stories per article, and per alert version produce time of the article that caused
                it -> the version on news.alerts (count, median, p95, p99, max). The traffic is real feed
                items (../shared/data/realfeeds-dev/rld-2023-09, title + summary) in file order, made live
                news (fresh ids, published_at and fetched_at = now): a month's feeds in which ~2.5-4 % of
                the items open or update an alert. Synthetic articles (--traffic synth) barely alert: the
                headline gate and the event stage fold their violent leads into a handful of events.
                It stops by itself: --seconds of traffic, then at most --drain seconds for the rest.
    soak:       latency at a fixed rate for a long time, sampling the worker's resident memory and
                the consumer lag of its three source topics every --sample seconds.

Usage:
    python bench/stream_throughput.py throughput --n 20000
    python bench/stream_throughput.py throughput --n 10000 --floor   # trivial stages: the framework's own cost
    python bench/stream_throughput.py latency --rate 100 --seconds 60
    python bench/stream_throughput.py latency --rate 100 --seconds 60 --traffic synth
    python bench/stream_throughput.py soak --rate 50 --seconds 600 --sample 15
Without KAFKA_BOOTSTRAP_SERVERS a private local broker is started (and stopped) on free ports.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from synth import Synth  # noqa: E402

from connectors.article import encode, rfc3339  # noqa: E402
from connectors.settings import Settings, Topics  # noqa: E402
from streams.shell.localkafka import free_port, private_broker  # noqa: E402
from streams.shell.topics import ensure_topics  # noqa: E402

# latency: real feed items (title + summary), read at run time from the evaluation data beside the repository
CORPUS = REPO.parent / "shared" / "data" / "realfeeds-dev" / "rld-2023-09.jsonl.gz"
TOWNS = ("Ardmore", "Belcastle", "Corrin", "Dunvale", "Eastwick", "Fenmoor")


def articles(n: int, seed: int = 3, violent_share: float = 0.1, hours: float = 72.0) -> list[dict[str, Any]]:
    """Synthetic wire traffic over `hours` of event time (published_at); a share of the originals lead
    with an attack and a death toll."""
    out = []
    synth = Synth(seed=seed)
    for i, article in enumerate(synth.articles(n, hours=hours)):
        if i % int(1 / violent_share) == 0:
            lead = f"Rockets struck {TOWNS[i % len(TOWNS)]} on Monday, killing {3 + i % 40} people, officials said."
            article["content"] = lead + "\n\n" + article["content"]
        article["id"] = f"{uuid.uuid4().hex[:8]}-{article['id']}"
        out.append(article)
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / os.sysconf("SC_CLK_TCK"), int(fields[12]) / os.sysconf("SC_CLK_TCK")


def dir_mb(path: Path) -> float:
    """Size of the files under `path` (the worker's RocksDB stores)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # RocksDB deletes files while compacting
                total += os.stat(os.path.join(root, name)).st_size
    return total / 2**20


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_worker(settings: Settings, log: Path, metrics_port: int = 0, floor: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers or "",
           "WIREWATCH_METRICS_PORT": str(metrics_port),
           "WIREWATCH_APP_ID": settings.app_id, "WIREWATCH_DATA_DIR": settings.data_dir,
           "WIREWATCH_PARTITIONS": str(settings.partitions), "PYTHONPATH": str(REPO)}
    env.update({f"WIREWATCH_TOPIC_{k.upper()}": v for k, v in settings.topics.__dict__.items()})
    command = [str(REPO / "bench" / "floor_worker.py")] if floor else ["-m", "streams.shell.cli", "worker"]
    return subprocess.Popen([sys.executable, *command], env=env, stdin=subprocess.DEVNULL,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def consumer(settings: Settings, topic: str) -> Any:
    from kafka import KafkaConsumer

    return KafkaConsumer(topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                         consumer_timeout_ms=200, **settings.kafka_options())


def warm_numba(data: list[dict[str, Any]]) -> None:
    """Compile and cache the numba kernels now (cache=True), so that a worker started after an edit of
    streams/_accel does not compile them on the clock (table growth kernels only run after a few
    thousand articles, hence a pass over that many)."""
    from streams.escalation import Rules
    from streams.pipeline import Pipeline

    pipeline = Pipeline(Rules.load())
    for article in data[:4000]:
        pipeline.process(article)


def throughput(settings: Settings, n: int, workdir: Path, profile: str | None = None,
               floor: bool = False) -> dict[str, Any]:
    from kafka import KafkaProducer

    data = articles(n)
    producer = KafkaProducer(acks="all", linger_ms=50, compression_type="gzip", **settings.kafka_options())
    for article in data:
        producer.send(settings.topics.articles, key=article["id"].encode(), value=encode(article))
    producer.flush()
    producer.close()
    print(f"loaded {n} articles into {settings.topics.articles}", file=sys.stderr)
    if not floor:
        warm_numba(data)
    metrics_port = free_port()
    worker = start_worker(settings, workdir / "worker.log", metrics_port, floor)
    stories = consumer(settings, settings.topics.stories)
    seen: set[str] = set()
    first = last = None
    spy = None
    per_second: dict[int, int] = {}  # stories by broker timestamp second, to see stalls
    deadline = time.monotonic() + 1800
    # The clock and the CPU count start at the worker's first by-lang record (it has started and
    # normalize is running), so that all three agents' work is inside the window.
    by_lang = consumer(settings, settings.topics.by_lang)
    try:
        while first is None and time.monotonic() < deadline:
            if worker.poll() is not None:
                raise SystemExit(f"worker exited with {worker.returncode}; see {workdir / 'worker.log'}")
            for message in by_lang:
                first = message.timestamp / 1000
                break
    finally:
        by_lang.close()
    cpu_start, split_start = cpu_seconds(worker.pid), cpu_split(worker.pid)
    if profile:  # sample the worker while it works through the backlog
        spy = subprocess.Popen(["py-spy", "record", "--pid", str(worker.pid), "--rate", "200",
                                "--format", "raw", "--output", profile, "--nonblocking", "--gil"],
                               env={**os.environ, "PATH": f"{Path(sys.executable).parent}:"
                                    + os.environ.get("PATH", "")},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = time.monotonic()
    try:
        while len(seen) < n and time.monotonic() < deadline:
            if worker.poll() is not None:
                raise SystemExit(f"worker exited with {worker.returncode}; see {workdir / 'worker.log'}")
            if time.monotonic() - progress > 120:
                raise SystemExit(f"no new story for 120 s at {len(seen)}/{n} (records in a DLQ?)")
            before = len(seen)
            for message in stories:
                seen.add(json.loads(message.value)["id"])
                last = message.timestamp / 1000
                second = max(0, int(last - first))
                per_second[second] = per_second.get(second, 0) + 1
            if len(seen) > before:
                progress = time.monotonic()
            print(f"\rstories: {len(seen)}/{n}", end="", file=sys.stderr)
        print(file=sys.stderr)
        stories_done = last
        # The end: the score agent has processed every story (its counter on the worker's metrics
        # endpoint), not the last story record, which the dedupe agent writes before scoring starts on it.
        count, progress = 0.0, time.monotonic()
        while count < len(seen):
            if worker.poll() is not None:
                raise SystemExit(f"worker exited with {worker.returncode}; see {workdir / 'worker.log'}")
            if time.monotonic() - progress > 60:
                raise SystemExit(f"score agent stuck at {count:.0f}/{len(seen)} for 60 s (records in a DLQ?)")
            time.sleep(0.05)  # (each scrape costs the worker ~0.5 ms of CPU)
            now = scored(metrics_port)
            if now > count:
                count, progress = now, time.monotonic()
        last = time.time()
        cpu = cpu_seconds(worker.pid) - cpu_start
        user, system = (b - a for a, b in zip(split_start, cpu_split(worker.pid), strict=True))
        memory = rss_mb(worker.pid)
    finally:
        stories.close()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    elapsed = (last or 0) - (first or 0)
    stories_span = (stories_done or 0) - (first or 0)
    return {"mode": "throughput", "stages": "trivial (floor)" if floor else "real", "articles": len(seen),
            "seconds": round(elapsed, 2),
            "articles_per_s": round(len(seen) / elapsed, 1) if elapsed else None,
            "stories_per_s": round(len(seen) / stories_span, 1) if stories_span else None,
            "worker_cpu_s_per_1000": round(1000 * cpu / max(len(seen), 1), 3),
            "worker_user_sys_s_per_1000": [round(1000 * x / max(len(seen), 1), 3) for x in (user, system)],
            "worker_rss_mb": round(memory),
            "stories_per_second": [per_second.get(s, 0) for s in range(int(elapsed) + 1)]}


def scored(port: int) -> float:
    """Articles the worker's score agent has processed (wirewatch_articles_processed_total{stage="score"})."""
    from urllib.request import urlopen

    with contextlib.suppress(OSError), urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith('wirewatch_articles_processed_total{stage="score"}'):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def lag(settings: Settings, admin: Any, probe: Any) -> int:
    """Messages not yet committed by the worker's consumer group on its four source topics."""
    committed = admin.list_group_offsets(settings.app_id).get(settings.app_id, {})
    topics = (settings.topics.articles, settings.topics.by_lang, settings.topics.stories, settings.topics.scored)
    tps = [tp for tp in committed if tp.topic in topics]
    if not tps:
        return -1
    try:
        ends = probe.end_offsets(tps)
    except KeyError:  # kafka-python before it has metadata for a topic the worker only just committed on
        return -1
    return sum(max(0, ends[tp] - committed[tp].offset) for tp in tps)


def feed_items(path: Path, n: int) -> list[dict[str, Any]]:
    """The first `n` items of a real-feed corpus (JSONL, gzip or not) in file order, read at run time
    (third-party text: it goes to the private broker only); from the top again if the file is shorter."""
    opener = gzip.open if path.suffix == ".gz" else open
    items: list[dict[str, Any]] = []
    while len(items) < n:
        before = len(items)
        with opener(path, "rb") as fh:
            for line in fh:
                if line.strip():
                    items.append(json.loads(line))
                if len(items) >= n:
                    break
        if len(items) == before:
            raise SystemExit(f"no items in {path}")
    return items


def live(item: dict[str, Any], run: str, i: int) -> dict[str, Any]:
    """A corpus item as live news: a fresh id (the run's), published and fetched now."""
    now = rfc3339(datetime.now(UTC))
    return {**item, "id": f"lat{run}-{i:06d}", "published_at": now, "fetched_at": now}


class Reader(threading.Thread):
    """Reads news.stories and news.alerts in a thread of its own, so that producing keeps its pace; keeps
    each record's broker timestamp (the worker's produce time) and what links it to its articles."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.stories: list[tuple[float, str]] = []                       # (timestamp s, article id)
        self.alerts: list[tuple[float, dict[str, Any]]] = []             # (timestamp s, alert)
        self.error: BaseException | None = None

    def run(self) -> None:
        from kafka import KafkaConsumer

        topics = self.settings.topics
        cons = KafkaConsumer(topics.stories, topics.alerts, group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False, **self.settings.kafka_options())
        try:
            while not self.stop.is_set():
                batches = cons.poll(timeout_ms=100)
                self.ready.set()
                for tp, messages in batches.items():
                    for message in messages:
                        value = json.loads(message.value)
                        if tp.topic == topics.stories:
                            self.stories.append((message.timestamp / 1000, value["id"]))
                        else:
                            keep = ("alert_id", "version", "reason", "articles", "event_id", "severity")
                            self.alerts.append((message.timestamp / 1000, {k: value.get(k) for k in keep}))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
        finally:
            cons.close()


def latency(settings: Settings, rate: float, seconds: float, workdir: Path, traffic: str = "real",
            corpus: Path | None = None, drain: float = 60.0, sample_every: float | None = None,
            event_speedup: float | None = None) -> dict[str, Any]:
    """Produce articles at `rate` for `seconds` to a running worker; per article, produce time -> its
    news.stories record, and per alert version, produce time of the article that caused it -> the
    version on news.alerts (both the records' broker timestamps, stamped by the worker's producer).

    The article that caused an alert version is the newest article of its `articles` (the event's
    article ids, newest last: the article that joined it and called for the version). A `merged`
    version (the younger of two events found to be one) names only its own event's articles, not the
    one that joined them: counted, not timed."""
    from kafka import KafkaProducer

    run = uuid.uuid4().hex[:8]
    n = int(rate * seconds) + 1
    if traffic == "real":
        items = feed_items(corpus or CORPUS, n)
        warm_numba([dict(item) for item in items[:4000]])
        data: list[dict[str, Any]] = items
    else:
        # event time: 72 h over the run, or `event_speedup` times as fast as the wall clock (1000: the
        # 72 h dedupe window fills in 4.3 minutes and articles leave it from then on)
        data = articles(n, seed=11, hours=n / rate * event_speedup / 3600 if event_speedup else 72.0)
        warm_numba([dict(article) for article in data[:4000]])
    worker = start_worker(settings, workdir / "worker.log")
    producer = KafkaProducer(acks="all", linger_ms=0, **settings.kafka_options())
    reader = Reader(settings)
    reader.start()
    sent: dict[str, float] = {}
    samples: list[tuple[float, float, float, int]] = []  # (s since start, worker RSS MB, data dir MB, lag)
    admin = probe = None
    if sample_every:
        from kafka import KafkaAdminClient, KafkaConsumer

        admin = KafkaAdminClient(**settings.kafka_options())
        probe = KafkaConsumer(**settings.kafka_options())
    drained = True
    load = os.getloadavg()
    try:
        # wait until the worker is assigned and processing: one article through to news.stories
        warm = live(data.pop(0), run, 0) if traffic == "real" else data.pop(0)
        producer.send(settings.topics.articles, key=warm["id"].encode(), value=encode(warm)).get(30)
        deadline = time.monotonic() + 300
        while not reader.stories:
            if worker.poll() is not None:
                raise SystemExit(f"worker exited; see {workdir / 'worker.log'}")
            if reader.error or time.monotonic() > deadline:
                raise SystemExit(f"no story within 300 s ({reader.error}); see {workdir / 'worker.log'}")
            time.sleep(0.05)
        start = time.monotonic()
        next_sample = start
        for i, item in enumerate(data, 1):
            if sample_every and time.monotonic() >= next_sample:
                samples.append((round(time.monotonic() - start), round(rss_mb(worker.pid), 1),
                                round(dir_mb(Path(settings.data_dir)), 1),
                                lag(settings, admin, probe)))
                print(f"t={samples[-1][0]}s rss={samples[-1][1]}MB data={samples[-1][2]}MB lag={samples[-1][3]}",
                      file=sys.stderr)
                next_sample += sample_every
            wait = start + (i - 1) / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            article = live(item, run, i) if traffic == "real" else item
            value = encode(article)
            sent[article["id"]] = time.time()
            producer.send(settings.topics.articles, key=article["id"].encode(), value=value)
            if i % max(1, int(rate)) == 0 and worker.poll() is not None:
                raise SystemExit(f"worker exited; see {workdir / 'worker.log'}")
        producer.flush()
        produced_s = time.monotonic() - start
        load = os.getloadavg()
        # drain: every article's story, then alerts until none came for 3 s; at most `drain` seconds
        deadline = time.monotonic() + drain
        quiet_since, alerts_seen = None, -1
        while time.monotonic() < deadline:
            if len(reader.stories) > len(sent):
                if len(reader.alerts) != alerts_seen:
                    quiet_since, alerts_seen = time.monotonic(), len(reader.alerts)
                elif time.monotonic() - quiet_since > 3:
                    break
            time.sleep(0.1)
        else:
            drained = False
    finally:
        reader.stop.set()
        reader.join(timeout=10)
        producer.close()
        if admin is not None:
            admin.close()
            probe.close()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    story_lat = [at - sent[article_id] for at, article_id in reader.stories if article_id in sent]
    story_at = {article_id: at for at, article_id in reader.stories}
    alert_lat: list[float] = []
    slowest: list[tuple[float, str, int, float | None]] = []  # (s, reason, version, the cause's story s)
    reasons: dict[str, int] = {}
    versions: set[tuple[str, int]] = set()
    causes: set[str] = set()
    for at, alert in reader.alerts:
        if (alert["alert_id"], alert["version"]) in versions:
            continue  # delivery is at-least-once: a version seen again
        versions.add((alert["alert_id"], alert["version"]))
        reasons[alert["reason"]] = reasons.get(alert["reason"], 0) + 1
        ours = [a for a in alert["articles"] or () if a in sent]
        if alert["reason"] == "merged" or not ours:
            continue
        cause = max(ours, key=sent.__getitem__)
        causes.add(cause)
        alert_lat.append(at - sent[cause])
        story = story_at.get(cause)
        slowest.append((at - sent[cause], alert["reason"], alert["version"],
                        None if story is None else story - sent[cause]))
    result: dict[str, Any] = {
        "mode": "soak" if sample_every else "latency", "traffic": traffic, "rate": rate, "seconds": seconds,
        "produced": len(sent), "produced_per_s": round(len(sent) / produced_s, 1) if sent else None,
        "drained": drained, "load_avg_1_5_15": [round(x, 2) for x in load],
        "stories": _stats(story_lat), "alert_versions": len(versions), "alert_reasons": reasons,
        "alerting_articles": len(causes), "alerts": _stats(alert_lat),
        "slowest_alerts": [{"ms": round(1000 * lat), "reason": reason, "version": version,
                            "its_story_ms": None if story is None else round(1000 * story)}
                           for lat, reason, version, story in sorted(slowest, key=lambda x: -x[0])[:3]]}
    if traffic == "real":
        result["corpus"] = (corpus or CORPUS).name
    if event_speedup and traffic != "real":
        result["event_speedup"] = event_speedup
        result["event_hours"] = round(len(data) / rate * event_speedup / 3600, 1)
    if samples:
        result["rss_mb"] = {"first": samples[0][1], "max": max(x[1] for x in samples), "last": samples[-1][1]}
        result["data_dir_mb"] = {"first": samples[0][2], "max": max(x[2] for x in samples), "last": samples[-1][2]}
        result["lag"] = {"max": max(x[3] for x in samples), "last": samples[-1][3]}
        result["samples"] = samples
    return result


def _stats(values: list[float]) -> dict[str, Any]:
    """count, and median, p95, p99 and max in milliseconds."""
    out: dict[str, Any] = {"count": len(values)}
    for name, pct in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99), ("max_ms", 100)):
        out[name] = _pct(values, pct)
    return out


def _pct(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("throughput", "latency", "soak"))
    parser.add_argument("--sample", type=float, default=15.0, help="soak: seconds between samples")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--event-speedup", type=float, help="latency/soak: published_at advances this many "
                        "times faster than the wall clock (default: 72 h of event time over the run)")
    parser.add_argument("--profile", metavar="FILE", help="throughput: sample the worker with py-spy (must be "
                        "installed; not a project dependency) into FILE (collapsed stacks)")
    parser.add_argument("--floor", action="store_true", help="throughput: the worker with trivial stages of the "
                        "same record sizes (bench/floor_worker.py): what Faust, aiokafka and the broker cost alone")
    parser.add_argument("--traffic", choices=("real", "synth"), help="latency/soak: real feed items from --corpus, "
                        "live (fresh ids, published now), in file order (default for latency); or the synthetic "
                        "articles (default for soak, whose --event-speedup fills the dedupe window)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="latency/soak: a real-feed corpus (JSONL[.gz])")
    parser.add_argument("--drain", type=float, default=60.0, help="latency/soak: seconds at most to wait, after "
                        "the last article, for its story and the last alerts")
    parser.add_argument("--keep-log", metavar="FILE", help="copy the worker's log to FILE at the end")
    args = parser.parse_args()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ww-bench-")))
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or stack.enter_context(private_broker(
            workdir / "kafka", report=lambda status: print(f"local broker: {status}", file=sys.stderr))).bootstrap
        run = uuid.uuid4().hex[:8]
        settings = Settings(bootstrap_servers=bootstrap, partitions=args.partitions, app_id=f"bench-{run}",
                            topics=Topics(**{k: f"b{run}.{v}" for k, v in Topics().__dict__.items()}),
                            data_dir=str(workdir / "worker"))
        ensure_topics(settings)
        if args.mode == "throughput":
            result = throughput(settings, args.n, workdir, args.profile, args.floor)
        else:
            traffic = args.traffic or ("synth" if args.mode == "soak" else "real")
            result = latency(settings, args.rate, args.seconds, workdir, traffic, args.corpus, args.drain,
                             sample_every=args.sample if args.mode == "soak" else None,
                             event_speedup=args.event_speedup)
        if args.keep_log and (workdir / "worker.log").exists():
            shutil.copyfile(workdir / "worker.log", args.keep_log)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
