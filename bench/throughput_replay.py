"""Replay throughput and memory with a full window of synthetic articles.

    python bench/throughput_replay.py --n 100000 [--store dict|rocksdict] [--hours 72] [--pipeline]
                                      [--pipeline-last N]

All --n articles fall inside one --hours window (default 72 h), so the window holds all of them at
the end. Every article goes through the stage functions `wirewatch replay` runs
(`streams.pipeline`): `normalize_stage` (timed in two parts: JSON decode + contract validation,
owned by connectors/, then `normalize`) and `dedupe_stage`; with --pipeline also `score_stage` and
`event_stage` (escalation rules, events and their alerts), for all articles or, with --pipeline-last N, for the last N
only (the window is then full: bounded runs at 1M). Prints CPU time per article (time.process_time,
so other processes on a shared machine inflate it less than wall time) per stage for each tenth of the
run (it must stay flat as the window fills), the totals, and the peak resident memory of the process.
Article generation is not timed. With --store rocksdict the dedupe state lives in a RocksDB
(streams.diskstore.DiskStore) in a temporary folder, as in `wirewatch replay` and the worker; with
dict it is in memory. The event state is an in-memory dict.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synth import Synth  # noqa: E402

from connectors import article as contract  # noqa: E402
from streams.alerts import AlertPolicy  # noqa: E402
from streams.dedupe import DedupeIndex  # noqa: E402
from streams.diskstore import DiskStore  # noqa: E402
from streams.events.tracker import EventTracker  # noqa: E402
from streams.normalize import normalize  # noqa: E402
from streams.pipeline import dedupe_stage, event_stage, score_stage  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=72.0)
    parser.add_argument("--store", choices=("dict", "rocksdict"), default="dict")
    parser.add_argument("--copies", type=float, default=0.25, help="share of republished copies")
    parser.add_argument("--pipeline", action="store_true", help="also run escalation + alerts (score_stage)")
    parser.add_argument("--pipeline-last", type=int, default=0, help="score only the last N articles")
    parser.add_argument("--bulk-prefill", action="store_true",
                        help="articles before the last tenth skip the JSON round trip and contract validation "
                             "(same normalize and dedupe code; keeps a 1M run bounded)")
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="wirewatch-bench-") if args.store == "rocksdict" else None
    store: MutableMapping[str, Any] = DiskStore(tmp) if tmp else {}
    index = DedupeIndex(store, window_s=args.hours * 3600.0)
    score_from = args.n + 1
    rules = tracker = None
    if args.pipeline or args.pipeline_last:
        from streams.escalation import Rules

        rules, tracker = Rules.load(), EventTracker({}, AlertPolicy())
        score_from = args.n - args.pipeline_last + 1 if args.pipeline_last else 1
    synth = Synth()
    # one-time start-up (compiled kernels loaded from the numba cache, lookup tables): not per article
    t = time.perf_counter()
    warm = normalize(contract.decode(json.dumps(next(Synth(seed=99).articles(1)))))
    DedupeIndex({}).decide(warm)
    if rules is not None:
        rules.score(dedupe_stage(warm, DedupeIndex({})))
    print(f"start-up (kernels, tables): {time.perf_counter() - t:.1f} s")
    base_rss = rss_mb()
    tenth = max(1, args.n // 10)
    clock = time.process_time
    totals = [0.0, 0.0, 0.0, 0.0]
    chunk = [0.0, 0.0, 0.0, 0.0]
    scored = chunk_scored = chunk_validated = copies = alerts = validated = 0
    digest = hashlib.sha256()  # of every decision + alert: a code change must not change it
    print(f"n={args.n} window={args.hours:g} h store={args.store} scored from article {min(score_from, args.n + 1):,}")
    print("| articles so far | decode+validate us/article | normalize us/article | dedupe us/article "
          "| escalation+alerts us/article | peak RSS MB |\n|---|---|---|---|---|---|")
    wall = time.perf_counter()
    for i, article in enumerate(synth.articles(args.n, hours=args.hours, copy_share=args.copies), 1):
        if args.bulk_prefill and i <= args.n - max(tenth, args.pipeline_last):
            valid = article
            tv = None  # (not decoded: nothing to time; the clock calls alone read 1-5 us)
        else:
            line = json.dumps(article)  # what replay reads
            tv = clock()
            valid = contract.decode(line)  # normalize_stage = contract.decode + normalize
            validated += 1
        t0 = clock()
        normed = normalize(valid)
        t1 = clock()
        if tv is not None:
            chunk[3] += t0 - tv
            chunk_validated += 1
        story_article = dedupe_stage(normed, index)
        t2 = clock()
        chunk[0] += t1 - t0
        chunk[1] += t2 - t1
        copies += story_article["copy_of"] is not None
        if i >= score_from:
            t2 = clock()
            decision, published = event_stage(*score_stage(story_article, rules), tracker)
            chunk[2] += clock() - t2
            digest.update(json.dumps([decision, published], sort_keys=True, default=str).encode())  # not timed
            chunk_scored += 1
            alerts += len(published)
        if i % tenth == 0 or i == args.n:
            size = tenth if i % tenth == 0 else i % tenth
            esc = f"{chunk[2] / chunk_scored * 1e6:.0f}" if chunk_scored else "-"
            decode = f"{chunk[3] / chunk_validated * 1e6:.0f}" if chunk_validated else "-"
            us = [decode] + [f"{chunk[k] / size * 1e6:.0f}" for k in (0, 1)]
            print(f"| {i:,} | {' | '.join(us)} | {esc} | {rss_mb():.0f} |", flush=True)
            for k in range(4):
                totals[k] += chunk[k]
            scored += chunk_scored
            chunk = [0.0, 0.0, 0.0, 0.0]
            chunk_scored = chunk_validated = 0
    wall = time.perf_counter() - wall
    norm_us, dedupe_us = totals[0] / args.n * 1e6, totals[1] / args.n * 1e6
    valid_us = totals[3] / max(1, validated) * 1e6
    print(f"\nnormalize+dedupe: {1e6 / (norm_us + dedupe_us):,.0f} articles/s of CPU "
          f"({norm_us:.0f} + {dedupe_us:.0f} us/article); copies found {copies:,}")
    if scored:
        esc_us = totals[2] / scored * 1e6
        whole = valid_us + norm_us + dedupe_us + esc_us
        print(f"whole replay pipeline (decode+validate, normalize, dedupe, escalation+alerts): {1e6 / whole:,.0f} "
              f"articles/s of CPU ({valid_us:.0f} + {norm_us:.0f} + {dedupe_us:.0f} + {esc_us:.0f} us/article; "
              f"shares {valid_us / whole:.0%} / {norm_us / whole:.0%} / {dedupe_us / whole:.0%} / {esc_us / whole:.0%};"
              f" escalation measured on {scored:,} articles); alerts {alerts:,}")
        print(f"decisions+alerts sha256 {digest.hexdigest()}")
    else:
        print(f"decode+validate (connectors.article.decode, part of normalize_stage): {valid_us:.0f} us/article "
              f"(on {validated:,} articles)")
    print(f"peak RSS {rss_mb():.0f} MB (at start {base_rss:.0f} MB); wall time {wall:.0f} s incl. generation")
    if tmp:
        store.close()  # type: ignore[attr-defined]
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
