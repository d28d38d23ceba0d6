"""Digest of `wirewatch replay` outputs (decisions + alerts) over fixed inputs: a refactor or a speed
change must leave it as it is; a rule or logic change moves it on purpose (then record it anew).

    python bench/golden.py                      # seed feeds + bench sets (what tests/unit/test_golden.py pins)
    python bench/golden.py --real               # also the real-feed corpora (~2 min)
    python bench/golden.py --out DIR            # also write each set's outputs, to diff two versions
    python bench/golden.py --record             # write tests/golden/digests.json from this run

Each set runs through `streams.pipeline.Pipeline` (what `wirewatch replay` runs) in file order, from
a fresh state. The digest is sha256 over one canonical JSON line per input line: [decision, alerts].
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"
RECORD = ROOT / "tests" / "golden" / "digests.json"


def seed_articles() -> list[str]:
    """The recorded demo feeds, parsed by the RSS connector as `wirewatch run` would publish them."""
    from streams.resources import seed_articles as shipped

    return shipped()


def sets(data: Path, real: bool) -> Iterator[tuple[str, Any]]:
    yield "seed-feeds", seed_articles
    for name in ("dedup-dev", "story-dev", "escalation-dev"):
        yield name, data / name / "articles.jsonl"
    for folder in sorted((ROOT / "bench" / "holdout").iterdir()):
        if (folder / "articles.jsonl").is_file():  # the folder also holds its README and agreement files
            yield f"holdout/{folder.name}", folder / "articles.jsonl"
    if real:
        for path in sorted((data / "realfeeds-dev").glob("*.jsonl.gz")):
            yield f"realfeeds/{path.name.removesuffix('.jsonl.gz')}", path


def lines_of(source: Any) -> list[str | bytes]:
    if callable(source):
        return source()
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as fh:
        return list(fh)


def run_set(source: Any, out: Path | None) -> tuple[str, int]:
    from streams.escalation import Rules
    from streams.pipeline import Pipeline

    pipeline = Pipeline(Rules.load())
    digest = hashlib.sha256()
    n = 0
    sink = gzip.open(out, "wt", encoding="utf-8") if out else None  # noqa: SIM115 (closed below)
    try:
        for number, decision, alerts, error in pipeline.run(lines_of(source)):
            row = json.dumps([number, decision, alerts, str(error) if error else None], sort_keys=True,
                             ensure_ascii=False)
            digest.update(row.encode() + b"\n")
            n += 1
            if sink:
                sink.write(row + "\n")
    finally:
        if sink:
            sink.close()
    return digest.hexdigest(), n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--real", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--only", default="", help="run only sets whose name contains this")
    args = ap.parse_args()
    results: dict[str, str] = {}
    for name, source in sets(args.data, args.real):
        if args.only and args.only not in name:
            continue
        started = time.perf_counter()
        out = args.out / (name.replace("/", "__") + ".jsonl.gz") if args.out else None
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
        digest, n = run_set(source, out)
        results[name] = digest
        print(f"{name:40} {n:7} lines  {digest[:16]}  {time.perf_counter() - started:6.1f} s", flush=True)
    if args.record:
        recorded = json.loads(RECORD.read_text()) if RECORD.exists() else {}
        recorded.update(results)
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
        print(f"recorded in {RECORD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
