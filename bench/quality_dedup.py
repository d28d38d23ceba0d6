"""Dedupe quality on dedup-dev: pairwise precision / recall / F1 of copy_of chains, recall per kind.

    python bench/quality_dedup.py [DATA_DIR]        (default: ../shared/data from the repo root)

Scoring as the data set's README says: gold pairs are articles of the same `group`, predicted pairs
are articles whose `copy_of` chains end at the same root; articles labelled `ambiguous` are left
out. Also reported: same-event pairs merged (copy_of or story_id; must be 0) and time per article
for normalize + dedupe.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.dedupe import DedupeIndex  # noqa: E402
from streams.normalize import normalize  # noqa: E402


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def run(articles: list[dict], **options: object) -> tuple[dict[str, dict], float]:
    """Decisions by id and the CPU seconds normalize + dedupe took (compiled kernels warmed first)."""
    if articles:
        DedupeIndex({}).decide(normalize(articles[0]))
    index = DedupeIndex({}, **options)
    decisions = {}
    start = time.process_time()
    for article in articles:
        decisions[article["id"]] = index.decide(normalize(article)).to_dict()
    return decisions, time.process_time() - start


def roots(decisions: dict[str, dict]) -> dict[str, str]:
    out = {}
    for aid in decisions:
        seen, cur = set(), aid
        while decisions.get(cur, {}).get("copy_of") and cur not in seen:
            seen.add(cur)
            cur = decisions[cur]["copy_of"]
        out[aid] = cur
    return out


def pairs(members: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for ids in members.values() for p in combinations(ids, 2)}


def score(decisions: dict[str, dict], labels: dict[str, dict]) -> dict[str, object]:
    scored = [aid for aid, lab in labels.items() if lab["kind"] != "ambiguous" and aid in decisions]
    gold_groups, pred_groups, story_groups = defaultdict(list), defaultdict(list), defaultdict(list)
    root = roots(decisions)
    for aid in scored:
        gold_groups[labels[aid]["group"]].append(aid)
        pred_groups[root[aid]].append(aid)
        story_groups[decisions[aid]["story_id"]].append(aid)
    gold, pred = pairs(gold_groups), pairs(pred_groups)
    tp = len(gold & pred)
    precision = tp / len(pred) if pred else 1.0
    recall = tp / len(gold) if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a, b in gold:
        kind = next((labels[x]["kind"] for x in (b, a) if labels[x]["kind"] != "original"), "original")
        per_kind[kind][1] += 1
        per_kind[kind][0] += (a, b) in pred
    same_event = [aid for aid in scored if labels[aid]["kind"] == "same-event"]
    by_base = defaultdict(list)
    for aid in same_event:
        by_base[labels[aid]["base"]].append(aid)
    se_copy = se_story = 0
    for ids in by_base.values():
        for a, b in combinations(ids, 2):
            se_copy += root[a] == root[b]
            se_story += decisions[a]["story_id"] == decisions[b]["story_id"]
    story_pairs = pairs(story_groups)
    return {"precision": precision, "recall": recall, "f1": f1, "gold_pairs": len(gold),
            "pred_pairs": len(pred), "per_kind": {k: v[0] / v[1] for k, v in sorted(per_kind.items())},
            "per_kind_n": {k: v[1] for k, v in sorted(per_kind.items())},
            "same_event_pairs": sum(len(v) * (len(v) - 1) // 2 for v in by_base.values()),
            "same_event_copy_merged": se_copy, "same_event_story_merged": se_story,
            "story_precision": len(gold & story_pairs) / len(story_pairs) if story_pairs else 1.0,
            "story_recall": len(gold & story_pairs) / len(gold) if gold else 1.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--errors", type=int, default=0, help="print up to N missed / wrong pairs")
    args = parser.parse_args(argv)
    folder = Path(args.data) / "dedup-dev"
    articles = load(folder / "articles.jsonl")
    labels = {row["id"]: row for row in load(folder / "labels.jsonl")}
    decisions, seconds = run(articles)
    result = score(decisions, labels)
    print(f"dedup-dev: {len(articles)} articles, {seconds:.1f} s of CPU "
          f"({seconds / len(articles) * 1e6:.0f} us/article normalize+dedupe)")
    print("| metric | value |\n|---|---|")
    for key in ("precision", "recall", "f1"):
        print(f"| pairwise {key} (copy_of chains) | {result[key]:.4f} |")
    for kind, value in result["per_kind"].items():
        print(f"| recall, kind={kind} ({result['per_kind_n'][kind]} pairs) | {value:.4f} |")
    print(f"| same-event pairs merged by copy_of | {result['same_event_copy_merged']} "
          f"of {result['same_event_pairs']} |")
    print(f"| same-event pairs sharing story_id | {result['same_event_story_merged']} "
          f"of {result['same_event_pairs']} |")
    print(f"| story_id pairwise precision / recall vs groups | {result['story_precision']:.4f} / "
          f"{result['story_recall']:.4f} |")
    if args.errors:
        _show_errors(articles, labels, decisions, args.errors)
    return 0


def _show_errors(articles: list[dict], labels: dict[str, dict], decisions: dict[str, dict], n: int) -> None:
    root = roots(decisions)
    by_id = {a["id"]: a for a in articles}
    groups = defaultdict(list)
    for aid, lab in labels.items():
        if lab["kind"] != "ambiguous":
            groups[lab["group"]].append(aid)
    shown = 0
    for ids in groups.values():
        for a, b in combinations(ids, 2):
            if root[a] != root[b] and shown < n:
                shown += 1
                print("MISS", labels[b]["kind"], decisions[b], "\n   A:", by_id[a]["content"][:200],
                      "\n   B:", by_id[b]["content"][:200])
    for aid, dec in decisions.items():
        if dec["copy_of"] and labels[aid]["group"] != labels[dec["copy_of"]]["group"] and shown < 2 * n:
            shown += 1
            print("WRONG", labels[aid]["kind"], dec)


if __name__ == "__main__":
    sys.exit(main())
