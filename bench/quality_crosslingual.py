"""Cross-language events: do an English and a French report of one occurrence meet in one event, and
do reports of different occurrences stay apart?

    python bench/quality_crosslingual.py            # the pairs in bench/crosslingual/pairs.jsonl + the seed
    python bench/quality_crosslingual.py --show     # every pair with its verdict

bench/crosslingual/pairs.jsonl holds 40 invented pairs written for this benchmark (README there): 24
of the same event (one English and one French report, hours apart), 16 of different events (the same
town on another day, the same kind of attack elsewhere, a retaliation that names the earlier attack).
Each pair runs through a fresh `streams.pipeline.Pipeline` (what `wirewatch replay` runs) in both
orders; a pair is "joined" when both reports get the same event id. Reported: pairwise precision and
recall of "same event", per order, and whether the seed dispatch (seeds/000_aa3391fe6c98fe85.txt)
and its French wire version (seeds/000_aa3391fe6c98fe85.fr.txt) meet. A report below `low` gets no
event: such a pair counts as not joined.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAIRS = ROOT / "bench" / "crosslingual" / "pairs.jsonl"


def article(pair: int, side: str, report: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"p{pair}-{side}", "url": f"https://{side}.example/{pair}", "title": report["title"],
            "summary": report.get("summary", ""), "content": report.get("content"), "published_at": report["at"],
            "source": f"{side}-outlet.example", "feed": f"{side}-feed", "language": side}


def joined(rules: Any, first: dict[str, Any], second: dict[str, Any]) -> bool:
    from streams.pipeline import Pipeline

    pipeline = Pipeline(rules)
    a, _ = pipeline.process(first)
    b, _ = pipeline.process(second)
    return bool(a["event_id"]) and a["event_id"] == b["event_id"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--show", action="store_true")
    args = ap.parse_args()
    from streams.escalation import Rules

    rules = Rules.load()
    pairs = [json.loads(line) for line in PAIRS.read_text("utf-8").splitlines() if line.strip()]
    for order in ("en-fr", "fr-en"):
        tp = fp = fn = tn = 0
        for pair in pairs:
            en, fr = article(pair["pair"], "en", pair["en"]), article(pair["pair"], "fr", pair["fr"])
            got = joined(rules, en, fr) if order == "en-fr" else joined(rules, fr, en)
            tp += got and pair["same"]
            fp += got and not pair["same"]
            fn += not got and pair["same"]
            tn += not got and not pair["same"]
            if args.show and got != pair["same"]:
                print(f"  {order} pair {pair['pair']:2}: {'joined' if got else 'apart'} but labelled "
                      f"{'same' if pair['same'] else 'different'}: {pair['en']['title']} | {pair['fr']['title']}")
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"{order}: {len(pairs)} pairs ({tp + fn} same, {fp + tn} different): precision {precision:.3f} "
              f"recall {recall:.3f} (joined {tp} of {tp + fn} same; {fp} of {fp + tn} different joined)")
    seeds = ROOT / "seeds"
    en = {"at": "2021-02-26T05:12:00Z", "title": "US strikes pro-Iran militias in Syria, killing 17",
          "content": (seeds / "000_aa3391fe6c98fe85.txt").read_text("utf-8")}
    fr = {"at": "2021-02-26T05:40:00Z", "title": "Frappes américaines contre des milices pro-iraniennes en Syrie",
          "content": (seeds / "000_aa3391fe6c98fe85.fr.txt").read_text("utf-8")}
    seed = joined(rules, article(0, "en", en), article(0, "fr", fr))
    print(f"seed dispatch and its French wire version in one event: {seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
