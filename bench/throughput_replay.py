"""Replay throughput and memory of normalize + dedupe with a full window of synthetic articles.

    python bench/throughput_replay.py --n 100000 [--store dict|rocksdict] [--hours 72]

All --n articles fall inside one --hours window (default 72 h), so the window holds all of them at
the end. Prints the cost per article for each tenth of the run (it must stay flat as the window
fills), the total, and the peak resident memory of the process. Article generation is not timed.
With --store rocksdict the dedupe state lives in a RocksDB (rocksdict.Rdict) in a temporary folder,
as in the worker; with dict it is in memory.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synth import Synth  # noqa: E402

from streams.dedupe import DedupeIndex  # noqa: E402
from streams.normalize import normalize  # noqa: E402


class RdictStore(MutableMapping[str, Any]):
    """A MutableMapping over rocksdict.Rdict (what a Faust RocksDB table gives the worker)."""

    def __init__(self, path: str) -> None:
        from rocksdict import Rdict

        self.db = Rdict(path)

    def __getitem__(self, key: str) -> Any:
        return self.db[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.db[key] = value

    def __delitem__(self, key: str) -> None:
        del self.db[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.db.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.db.keys())

    def __len__(self) -> int:
        return sum(1 for _ in self.db)

    def items(self) -> Any:
        return self.db.items()

    def close(self) -> None:
        self.db.close()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=72.0)
    parser.add_argument("--store", choices=("dict", "rocksdict"), default="dict")
    parser.add_argument("--copies", type=float, default=0.25, help="share of republished copies")
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="wirewatch-bench-") if args.store == "rocksdict" else None
    store: MutableMapping[str, Any] = RdictStore(tmp) if tmp else {}
    index = DedupeIndex(store, window_s=args.hours * 3600.0)
    synth = Synth()
    base_rss = rss_mb()
    tenth = max(1, args.n // 10)
    t_norm = t_dedupe = 0.0
    chunk_norm = chunk_dedupe = 0.0
    copies = 0
    print(f"n={args.n} window={args.hours:g} h store={args.store}")
    print("| articles so far | normalize us/article | dedupe us/article | peak RSS MB |\n|---|---|---|---|")
    for i, article in enumerate(synth.articles(args.n, hours=args.hours, copy_share=args.copies), 1):
        t0 = time.perf_counter()
        normed = normalize(article)
        t1 = time.perf_counter()
        decision = index.decide(normed)
        t2 = time.perf_counter()
        copies += decision.copy_of is not None
        chunk_norm += t1 - t0
        chunk_dedupe += t2 - t1
        if i % tenth == 0 or i == args.n:
            size = tenth if i % tenth == 0 else i % tenth
            print(f"| {i:,} | {chunk_norm / size * 1e6:.0f} | {chunk_dedupe / size * 1e6:.0f} | {rss_mb():.0f} |",
                  flush=True)
            t_norm += chunk_norm
            t_dedupe += chunk_dedupe
            chunk_norm = chunk_dedupe = 0.0
    total = t_norm + t_dedupe
    print(f"\ntotal: {args.n / total:,.0f} articles/s normalize+dedupe "
          f"({t_norm / args.n * 1e6:.0f} + {t_dedupe / args.n * 1e6:.0f} us/article); "
          f"copies found {copies:,}; peak RSS {rss_mb():.0f} MB (at start {base_rss:.0f} MB)")
    if tmp:
        store.close()  # type: ignore[attr-defined]
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
