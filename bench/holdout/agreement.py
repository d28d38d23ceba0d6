"""Agreement between the two labellings by the severity policy of the written sets.

    python bench/holdout/agreement.py

Every set in this folder has severity.jsonl (all items, first labeller); agreement-severity.jsonl holds a
second labeller's severities for every 12th item of each set, decided without seeing the first. Prints,
over the items both labelled: exact agreement on the five severities, agreement within one step,
agreement on "alerted" (medium or above) with Cohen's kappa, and the pairs that differ on it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEVERITIES = ("none", "low", "medium", "high", "critical")


def kappa(pairs: list[tuple[bool, bool]]) -> float:
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    first = sum(a for a, _ in pairs) / n
    second = sum(b for _, b in pairs) / n
    expected = first * second + (1 - first) * (1 - second)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def main() -> int:
    first: dict[tuple[str, str], str] = {}
    for path in sorted(HERE.glob("*/severity.jsonl")):
        for row in map(json.loads, path.open("rb")):
            first[(path.parent.name, row["id"])] = row["severity"]
    second = {(row["set"], row["id"]): row["severity"]
              for row in map(json.loads, (HERE / "agreement-severity.jsonl").open("rb"))}
    both = sorted(key for key in second if key in first)
    if not both:
        print("no item labelled twice", file=sys.stderr)
        return 1
    exact = sum(first[k] == second[k] for k in both)
    near = sum(abs(SEVERITIES.index(first[k]) - SEVERITIES.index(second[k])) <= 1 for k in both)
    alert = [(SEVERITIES.index(first[k]) >= 2, SEVERITIES.index(second[k]) >= 2) for k in both]
    same_alert = sum(a == b for a, b in alert)
    print(f"{len(both)} items labelled twice (of {len(first)} labelled once)")
    print(f"  exact severity:       {exact / len(both):.1%} ({exact})")
    print(f"  within one step:      {near / len(both):.1%} ({near})")
    print(f"  alerted (medium+):    {same_alert / len(both):.1%} ({same_alert}), Cohen's kappa {kappa(alert):.2f}")
    differ = Counter((first[k], second[k]) for k in both if first[k] != second[k])
    print("  differing pairs (first -> second): " + ", ".join(f"{a}->{b} {n}" for (a, b), n in differ.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
