"""Escalation quality on a labelled set: precision / recall / F1 of `severity >= --min-severity` (medium).

    .venv/bin/python bench/quality_escalation.py [DATA_DIR] [--rules FILE] [--replay] [--show fp,fn]
    .venv/bin/python bench/quality_escalation.py --set bench/holdout/escalation
    .venv/bin/python bench/quality_escalation.py --min-severity low     # CAMEO material conflict = low+
    .venv/bin/python bench/quality_escalation.py --set bench/holdout/escalation-3 --policy

--policy scores against severity.jsonl (the set relabelled by the severity policy: none .. critical per
item, see bench/holdout/README.md) instead of the CAMEO labels: flagged = severity >= --min-severity
against label >= --min-severity, and a confusion table of label by predicted severity.

DATA_DIR defaults to ../shared/data (relative to the repo root) and must hold
escalation-dev/articles.jsonl and escalation-dev/labels.jsonl (label true / false / null = not scored).
--set FOLDER scores another set in the same format (articles.jsonl + labels.jsonl in FOLDER), such as
the held-out sentences in bench/holdout/escalation (written for this project, never used to write
rules). Precision and recall are also printed per language when the set has several.
By default the articles run through streams.pipeline.Pipeline in-process (the code `wirewatch replay`
runs); --replay runs the `wirewatch replay` command itself and reads its decisions file.
Also reports scoring speed (Rules.score alone) and a breakdown by severity and by category.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.escalation import DEFAULT_RULES, SEVERITIES, Rules  # noqa: E402
from streams.normalize import normalize  # noqa: E402
from streams.pipeline import Pipeline  # noqa: E402


def decisions_in_process(articles: Path, rules_path: Path) -> dict[str, dict]:
    pipeline = Pipeline(Rules.load(rules_path))
    out = {}
    with articles.open("rb") as lines:
        for _number, decision, _alert, error in pipeline.run(lines):
            if error is None and decision is not None:
                out[decision["id"]] = decision
    return out


def decisions_via_replay(articles: Path, rules_path: Path) -> dict[str, dict]:
    exe = ROOT / ".venv" / "bin" / "wirewatch"
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "decisions.jsonl"
        subprocess.run([str(exe), "replay", str(articles), "--output", str(output), "--rules", str(rules_path)],
                       check=True)
        return {d["id"]: d for d in map(json.loads, output.read_text("utf-8").splitlines()) if d}


def speed(articles: Path, rules_path: Path) -> tuple[float, float]:
    """(articles/s, µs per 3 kB) for Rules.score alone, after normalisation."""
    rules = Rules.load(rules_path)
    normed = [normalize(json.loads(line)) for line in articles.open("rb") if line.strip()]
    start = time.perf_counter()
    for item in normed:
        rules.score(item)
    elapsed = time.perf_counter() - start
    chars = sum(len(n["norm"]["title"]) + len(n["norm"]["body"]) for n in normed)
    return len(normed) / elapsed, elapsed / max(chars, 1) * 3000 * 1e6


def _half(article_id: str) -> str:
    digits = article_id.rstrip("abcdefghijklmnopqrstuvwxyz")[-1:]
    if not digits.isdigit():
        raise SystemExit(f"--half needs ids ending in a number, got {article_id!r}")
    return "odd" if int(digits) % 2 else "even"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"),
                        help="data directory holding escalation-dev/ (default: ../shared/data)")
    parser.add_argument("--rules", default=str(DEFAULT_RULES), help="rule file (default: the shipped rules)")
    parser.add_argument("--replay", action="store_true", help="run `wirewatch replay` instead of in-process")
    parser.add_argument("--show", default="", help="print ids and scores of: fp, fn (comma separated)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--set", help="folder holding articles.jsonl and labels.jsonl (instead of DATA_DIR)")
    parser.add_argument("--min-severity", default="medium", choices=SEVERITIES[1:],
                        help="flagged = severity at least this (default medium: what is alerted)")
    parser.add_argument("--policy", action="store_true",
                        help="score against the set's severity.jsonl (labels by the severity policy)")
    parser.add_argument("--half", choices=("odd", "even"),
                        help="score only the ids ending in an odd / even number (held-out tuning / test halves)")
    args = parser.parse_args(argv)

    base = Path(args.set) if args.set else Path(args.data) / "escalation-dev"
    name = str(args.set) if args.set else base.name
    articles, labels_path = base / "articles.jsonl", base / "labels.jsonl"
    least = SEVERITIES.index(args.min_severity)
    policy: dict[str, str] = {}
    if args.policy:
        policy = {row["id"]: row["severity"] for row in map(json.loads, (base / "severity.jsonl").open("rb"))}
        labels = {key: SEVERITIES.index(value) >= least for key, value in policy.items()}
    else:
        labels = {row["id"]: row["label"] for row in map(json.loads, labels_path.open("rb"))}
    if args.half:
        labels = {key: label for key, label in labels.items() if _half(key) == args.half}
        name += f" ({args.half} half)"
    languages = {row["id"]: str(row.get("language") or "?")
                 for row in map(json.loads, filter(bytes.strip, articles.open("rb")))}
    started = time.perf_counter()
    decisions = (decisions_via_replay if args.replay else decisions_in_process)(articles, Path(args.rules))
    elapsed = time.perf_counter() - started

    counts: Counter[str] = Counter()
    by_language: dict[str, Counter[str]] = {}
    by_severity: dict[str, Counter[str]] = {s: Counter() for s in SEVERITIES}
    confusion: dict[str, Counter[str]] = {s: Counter() for s in SEVERITIES}
    by_category: dict[str, Counter[str]] = {}
    shown = set(filter(None, args.show.split(",")))
    for article_id, label in labels.items():
        decision = decisions.get(article_id)
        if label is None or decision is None:
            counts["unscored" if label is None else "missing"] += 1
            continue
        esc = decision["escalation"]
        flagged = SEVERITIES.index(esc["severity"]) >= least
        if article_id in policy:
            confusion[policy[article_id]][esc["severity"]] += 1
        outcome = {(True, True): "tp", (False, True): "fp", (True, False): "fn", (False, False): "tn"}[
            (bool(label), flagged)]
        counts[outcome] += 1
        by_language.setdefault(languages.get(article_id, "?"), Counter())[outcome] += 1
        by_severity[esc["severity"]]["true" if label else "false"] += 1
        for category in esc["categories"]:
            by_category.setdefault(category, Counter())[outcome] += 1
        if outcome in shown:
            terms = ", ".join(f"{m['category']}:{m['term']}" + (f"({m['modifier']})" if m.get("modifier") else "")
                              for m in esc["matches"])
            print(f"{outcome} {article_id} {esc['severity']} {esc['score']} [{terms}]")

    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    per_second, micros = speed(articles, Path(args.rules))
    summary = {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
               "tp": tp, "fp": fp, "fn": fn, "tn": counts["tn"], "unscored": counts["unscored"],
               "missing": counts["missing"], "pipeline_seconds": round(elapsed, 2),
               "score_articles_per_second": round(per_second), "score_us_per_3kB": round(micros, 1)}
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"{name} (flagged = {args.min_severity}+): P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}   "
          f"(tp {tp}, fp {fp}, fn {fn}, tn {counts['tn']}; {counts['unscored']} unscored, "
          f"{counts['missing']} without decision)")
    print(f"pipeline {elapsed:.1f} s for {len(decisions)} articles; Rules.score alone "
          f"{per_second:,.0f} articles/s, {micros:.0f} µs per 3 kB")
    if len(by_language) > 1:
        for language, row in sorted(by_language.items()):
            p_l = row["tp"] / (row["tp"] + row["fp"]) if row["tp"] + row["fp"] else 0.0
            r_l = row["tp"] / (row["tp"] + row["fn"]) if row["tp"] + row["fn"] else 0.0
            print(f"  {language}: P {p_l:.3f}  R {r_l:.3f}  (tp {row['tp']}, fp {row['fp']}, fn {row['fn']}, "
                  f"tn {row['tn']})")
    if policy:
        print("\nlabel \\ predicted " + "".join(f"{s:>9}" for s in SEVERITIES))
        for label in SEVERITIES:
            print(f"{label:<18}" + "".join(f"{confusion[label][s]:>9}" for s in SEVERITIES))
    else:
        print("\nseverity    label=true  label=false")
        for severity in SEVERITIES:
            row = by_severity[severity]
            print(f"{severity:<10} {row['true']:>10} {row['false']:>12}")
    print("\ncategory               tp   fp   fn   tn   (articles where the category fired)")
    for category, row in sorted(by_category.items(), key=lambda kv: -sum(kv[1].values())):
        print(f"{category:<20} {row['tp']:>4} {row['fp']:>4} {row['fn']:>4} {row['tn']:>4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
