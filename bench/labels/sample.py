"""Draw the severity-labelling samples from the real-feed corpora (reproducible, seeded).

Two strata per corpus, as docs/quality.md describes:
  U  a uniform random sample of all items;
  K  a uniform random sample of the items that contain a conflict word (CONFLICT_WORDS below).
The scorer (bench/quality_realfeeds.py) post-stratifies: every labelled item belongs to stratum K
if it contains a conflict word and to the complement otherwise, whichever sample drew it, and each
stratum is weighted by its size in the corpus.

The conflict-word pattern only chooses which items are read; it never decides a label.

    python bench/labels/sample.py ../shared/data/realfeeds-dev/rld-2023-09.jsonl.gz \
        --uniform 500 --keyword 500 --seed 1 --out /tmp/labelling/rld-2023-09

writes batch files of items to read (title, summary, url, source, time) to --out. Those files hold
third-party text: keep them out of the project; only ids, labels and short reasons are committed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from pathlib import Path

# Broad on purpose: the K stratum must hold every item a monitor could alert on, so recall is
# measured where misses are likely. Sense is decided by the reader, not by this list.
CONFLICT_WORDS = re.compile(
    r"\b(war|wars|warfare|wartime|attack\w*|strikes?|struck|air ?strikes?|bomb\w*|shell(?:s|ed|ing)|"
    r"missiles?|rockets?|drones?|troops?|soldiers?|militar\w*|army|armies|armed|gunm[ae]n|gunfire|"
    r"guns?|shoot\w*|shot|kill\w*|dead|deaths?|died|dies|casualt\w*|wounded|injur\w*|clash\w*|"
    r"fighting|fighters?|invasion|invad\w*|offensive|raids?|militants?|insurgen\w*|rebels?|terror\w*|"
    r"hostages?|abduct\w*|kidnap\w*|explosions?|blasts?|riots?|mobili[sz]\w*|artillery|massacre\w*|"
    r"assault\w*|ceasefire|coup|genocide|execut\w*|"
    # French
    r"guerre|attaques?|attentats?|frappes?|bombard\w*|missiles?|roquettes?|soldats?|militaires?|"
    r"armée|tu[ée]s?|tuées?|morts?|blessés?|affrontements?|combats?|offensive|otages?|explosions?|"
    r"émeutes?|fusillades?|tirs?|coup d'[ée]tat)\b",
    re.IGNORECASE,
)


def has_conflict_word(item: dict) -> bool:
    text = f"{item.get('title') or ''}\n{item.get('summary') or ''}"
    return CONFLICT_WORDS.search(text) is not None


def read(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--uniform", type=int, required=True)
    ap.add_argument("--keyword", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=200, help="items per batch file")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--ids-only", action="store_true", help="print the drawn ids with their stratum, write nothing")
    args = ap.parse_args()

    items = read(args.corpus)
    rng = random.Random(args.seed)
    uniform = rng.sample(range(len(items)), args.uniform)
    taken = set(uniform)
    keyword_pool = [i for i, it in enumerate(items) if has_conflict_word(it) and i not in taken]
    keyword = rng.sample(keyword_pool, args.keyword)
    drawn = [(i, "U") for i in uniform] + [(i, "K") for i in keyword]
    rng.shuffle(drawn)  # readers must not know which sample an item came from

    if args.ids_only:
        for i, stratum in drawn:
            print(items[i]["id"], stratum)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for b in range(0, len(drawn), args.batch):
        with open(args.out / f"batch-{b // args.batch + 1:02d}.jsonl", "w", encoding="utf-8") as fh:
            for i, _stratum in drawn[b : b + args.batch]:
                it = items[i]
                fh.write(json.dumps({
                    "id": it["id"], "published_at": it["published_at"],
                    "source": it["source"], "url": it["url"], "title": it["title"],
                    "summary": (it.get("summary") or "")[:1200], "tags": it.get("tags"),
                }, ensure_ascii=False) + "\n")
    n_k = sum(has_conflict_word(it) for it in items)
    print(f"{len(items)} items, {n_k} with a conflict word; drew {len(drawn)} into {args.out}")


if __name__ == "__main__":
    main()
