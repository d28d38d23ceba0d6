"""Story clustering quality on story-dev (METER showbiz): do rewrites share the wire story's story_id?

    python bench/quality_story.py [DATA_DIR]        (default: ../shared/data from the repo root)

Scoring as the data set's README says: the share of `wd` (wholly derived) newspaper articles whose
story_id equals the story_id of one of their `pa_ids`, and the same share for `nd` (non-derived,
should be low); `pd` is reported only. Also: copy_of must stay null for rewrites.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))
from quality_dedup import load, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args(argv)
    folder = Path(args.data) / "story-dev"
    articles = load(folder / "articles.jsonl")
    labels = {row["id"]: row for row in load(folder / "labels.jsonl")}
    decisions, seconds = run(articles)
    joined: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    copies: dict[str, int] = defaultdict(int)
    for aid, lab in labels.items():
        if lab["role"] != "paper" or aid not in decisions:
            continue
        story = decisions[aid]["story_id"]
        hit = any(decisions.get(pa, {}).get("story_id") == story for pa in lab["pa_ids"])
        joined[lab["label"]][0] += hit
        joined[lab["label"]][1] += 1
        copies[lab["label"]] += decisions[aid]["copy_of"] is not None
    print(f"story-dev: {len(articles)} articles, {seconds:.1f} s of CPU")
    print("| label | articles | share with story_id of a pa_id | copy_of set |\n|---|---|---|---|")
    for label in ("wd", "pd", "nd"):
        hit, total = joined[label]
        print(f"| {label} | {total} | {hit / total if total else 0:.3f} ({hit}) | {copies[label]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
