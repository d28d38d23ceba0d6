"""Escalation scoring speed: process CPU µs per article for `Rules.score` alone (after normalisation).

    .venv/bin/python bench/escalation_speed.py [DATA_DIR] [--rules FILE] [--repeat N] [--profile] [--evict-mb 16]
    .venv/bin/python bench/escalation_speed.py --feeds rld.jsonl --only feeds [--root /tmp/other-checkout]

Corpora:
  seed     the 3.3 kB seed article (seeds/000_*.txt), scored many times
  seed-big the seed article repeated to ~20 kB (the scanned maximum per body)
  dev      escalation-dev sentences (DATA_DIR/escalation-dev/articles.jsonl, ../shared/data by default)
  bbc      the first 500 dedup-dev articles (BBC News, ~2 kB: business, politics, sport, tech -
           what a typical feed article looks like); data corpora are skipped when the folder is missing
  feeds    the first --feeds-limit (2,000) items of --feeds FILE, a real-feed corpus in the article contract
           (a slice of realfeeds-dev/*.jsonl.gz, unzipped): what the monitor really scores
  synth    500 synthetic articles (bench/synth.py, ~2.2 kB, the replay benchmark's traffic)
  bbc-cold / synth-cold / feeds-cold  2,000 articles each (first dedup-dev / synthetic / --feeds), every
           article scored once by freshly loaded rules: caches start empty as in a stream of new articles
           (best of 3 rounds)

Each corpus is scored `--repeat` times; the figure is the best round (process CPU time, so other
processes on a shared machine do not count), plus the median. The first round also fills the
watchlist caches, as a long-running worker does (the -cold corpora measure new text instead).
`--profile` prints a cProfile of the seed rounds (`--profile-corpus NAME` for another corpus).
`--evict-mb 16` writes over a 16 MB buffer before each article (not timed), so every article starts with
cold CPU caches as in the replay benchmark, where the other stages run in between.
`--root DIR` imports another checkout's code (e.g. `git worktree add /tmp/base COMMIT`), so that two
trees can be timed in turn on the same machine with the same corpora.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if "--root" in sys.argv[:-1]:  # another checkout's code (read before the imports below)
    ROOT = Path(sys.argv[sys.argv.index("--root") + 1]).resolve()
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synth import Synth  # noqa: E402

from streams.escalation import DEFAULT_RULES, Rules  # noqa: E402
from streams.normalize import normalize  # noqa: E402

SEED = next((ROOT / "seeds").glob("000_*.txt"))


def seed_article(times: int = 1) -> dict:
    title, _, body = SEED.read_text("utf-8").partition("\n")
    return normalize({"id": "seed", "url": "https://example.org/seed", "title": title,
                      "content": "\n".join([body] * times), "published_at": "2021-02-26T00:00:00Z",
                      "source": "example.org", "feed": "seed", "language": "en"})


def score_all(rules: Rules, items: list[dict], evict: bytearray | None = None) -> float:
    """µs of process CPU time per article. With `evict`, a buffer is written over before each article
    (not timed): the CPU caches are then cold as in the replay, where normalize and dedupe run between
    two articles (Rules.score costs ~1.5-2x more there than in a loop of articles)."""
    if evict is None:
        started = time.process_time()
        for item in items:
            rules.score(item)
        return (time.process_time() - started) / len(items) * 1e6
    view = memoryview(evict)
    spent = 0.0
    for n, item in enumerate(items):
        view[n % 64::64] = bytes(len(range(n % 64, len(evict), 64)))  # one byte per cache line
        started = time.process_time()
        rules.score(item)
        spent += time.process_time() - started
    return spent / len(items) * 1e6


def rounds(rules: Rules, items: list[dict], repeat: int, evict: bytearray | None = None) -> list[float]:
    """µs of process CPU time per article, one figure per round."""
    return [score_all(rules, items, evict) for _ in range(repeat)]


def load_rules(path: str) -> Rules:
    """The rules with their matchers compiled (`prepared`; a checkout from before it compiles on load)."""
    rules = Rules.load(path)
    return rules.prepared() if hasattr(rules, "prepared") else rules


def cold_rounds(path: str, items: list[dict], repeat: int, evict: bytearray | None = None) -> list[float]:
    """µs per article, each article scored once by freshly loaded rules (empty caches; the matchers
    compiled before the clock starts, as a worker's are)."""
    return [score_all(load_rules(path), items, evict) for _ in range(repeat)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--rules", default=str(DEFAULT_RULES))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-corpus", default="seed")
    parser.add_argument("--only", help="comma-separated corpus names")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--feeds", help="a real-feed corpus (JSON lines in the article contract): corpus 'feeds'")
    parser.add_argument("--feeds-limit", type=int, default=2000)
    parser.add_argument("--root", help="the checkout whose code is timed (default: this one)")
    parser.add_argument("--evict-mb", type=int, default=0,
                        help="write over a buffer of this many MB before each article (not timed): cold CPU "
                             "caches, as in the replay benchmark (16 is more than the last-level cache)")
    args = parser.parse_args(argv)
    evict = bytearray(args.evict_mb << 20) if args.evict_mb else None

    started = time.process_time()
    rules = load_rules(args.rules)
    load_ms = (time.process_time() - started) * 1e3
    corpora = {"seed": [seed_article()] * 200, "seed-big": [seed_article(6)] * 30}
    dev = Path(args.data) / "escalation-dev" / "articles.jsonl"
    if dev.is_file():
        corpora["dev"] = [normalize(json.loads(line)) for line in dev.open("rb") if line.strip()]
    bbc = Path(args.data) / "dedup-dev" / "articles.jsonl"
    if bbc.is_file():
        with bbc.open("rb") as lines:
            corpora["bbc"] = [normalize(json.loads(line)) for _, line in zip(range(500), lines, strict=False)]
    if args.feeds:
        with open(args.feeds, "rb") as lines:
            corpora["feeds"] = [normalize(json.loads(line)) for _, line in zip(range(args.feeds_limit), lines,
                                                                               strict=False)]
    corpora["synth"] = [normalize(a) for a in Synth(seed=3).articles(500)]
    cold = {"synth-cold": [normalize(a) for a in Synth(seed=5).articles(2000)]}
    if bbc.is_file():
        with bbc.open("rb") as lines:
            cold["bbc-cold"] = [normalize(json.loads(line)) for _, line in zip(range(2000), lines, strict=False)]
    if args.feeds:
        cold["feeds-cold"] = corpora["feeds"]
    if args.only:
        keep = set(args.only.split(","))
        corpora = {k: v for k, v in corpora.items() if k in keep}
        cold = {k: v for k, v in cold.items() if k in keep}

    if args.profile:
        import cProfile
        import pstats

        if args.profile_corpus in cold:
            profiler = cProfile.Profile()
            profiler.enable()
            cold_rounds(args.rules, cold[args.profile_corpus], 1)  # (the compile of the matchers included)
        else:
            rounds(rules, corpora[args.profile_corpus], 1)
            profiler = cProfile.Profile()
            profiler.enable()
            rounds(rules, corpora[args.profile_corpus], 3)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)

    summary: dict[str, object] = {"rules": args.rules, "load_ms": round(load_ms, 1)}
    for name, items in corpora.items():
        chars = sum(len(i["norm"]["title"]) + len(i["norm"]["body"]) for i in items) / len(items)
        figures = rounds(rules, items, args.repeat, evict)
        summary[name] = {"articles": len(items), "avg_chars": round(chars),
                         "best_us": round(min(figures), 1), "median_us": round(statistics.median(figures), 1)}
    for name, items in cold.items():
        chars = sum(len(i["norm"]["title"]) + len(i["norm"]["body"]) for i in items) / len(items)
        figures = cold_rounds(args.rules, items, min(3, args.repeat), evict)
        summary[name] = {"articles": len(items), "avg_chars": round(chars),
                         "best_us": round(min(figures), 1), "median_us": round(statistics.median(figures), 1)}
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"rules {args.rules}: loaded in {load_ms:.0f} ms CPU")
    print(f"{'corpus':<10} {'articles':>8} {'chars':>7} {'best µs':>9} {'median µs':>10} {'articles/s':>11}")
    for name in [*corpora, *cold]:
        row = summary[name]
        assert isinstance(row, dict)
        print(f"{name:<10} {row['articles']:>8} {row['avg_chars']:>7} {row['best_us']:>9.1f} "
              f"{row['median_us']:>10.1f} {1e6 / row['best_us']:>11,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
