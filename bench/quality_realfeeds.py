"""Quality on real feeds: replay a real-feed corpus and score it against our labels (bench/labels/).

    python bench/quality_realfeeds.py                         # every corpus that has labels
    python bench/quality_realfeeds.py --corpus rld-2023-09 --show fp,fn,top,events
    python bench/quality_realfeeds.py --rules my-rules.yaml --min-severity high

Per corpus it runs `streams.pipeline.Pipeline` (what `wirewatch replay` runs) over every item, in
file order, then reports:

- severity (where bench/labels/severity/<corpus>.jsonl exists): precision and recall of "alerted"
  (the article's own severity >= --min-severity) against "label >= --min-severity", each labelled
  item weighted by its stratum: K = items with a conflict word (bench/labels/sample.py), U = the
  rest; weight = stratum size in the corpus / labelled items of the stratum. Also the unweighted
  counts, a confusion table and how often the casualty count equals the labelled one;
- volume: alerts opened per day and alert versions per day;
- the --top highest-scored alerts with their label where the item was labelled;
- events (where bench/labels/events/<corpus>/ exists): events alerted, alerts per event over the
  events' primary items (median, mean, max), alerts that hold primary items of two labelled events
  (wrong joins), and minutes from an event's first item to its first alert (event time);
- clustering (same labels, independent of what is alerted): pairwise precision and recall over the
  labelled primary items, an item's cluster being its event after merges (an item with no event,
  below `low`, is alone); the same over items that have an event; and primary items of two
  labelled events in one event.

--show prints the items behind the figures (false alarms, misses, the top alerts, per-event rows):
third-party text on your terminal, never into the project.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "labels"))

from sample import has_conflict_word  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "realfeeds-dev"
LABELS = ROOT / "bench" / "labels"
SEVERITIES = ("none", "low", "medium", "high", "critical")


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Replay:
    """The outputs of one replay: per item its decision, and every alert version with the event
    time (published_at of the item) that produced it."""

    def __init__(self, items: list[dict[str, Any]], rules_path: str | None, min_severity: str) -> None:
        from streams.alerts import AlertPolicy
        from streams.escalation import Rules
        from streams.pipeline import Pipeline

        rules = Rules.load(rules_path) if rules_path else Rules.load()
        pipeline = Pipeline(rules, policy=AlertPolicy(min_severity=min_severity))
        # keep every event to the end, so that merges can be followed (expiry changes no decision)
        pipeline.events.sweeper.retention = timedelta(days=100_000)
        self.decisions: dict[str, dict[str, Any]] = {}
        self.alerts: list[tuple[dict[str, Any], str]] = []
        progress = _progress(len(items))
        for item in items:
            try:
                decision, alerts = pipeline.process(item)
            except Exception as exc:  # noqa: BLE001 (a bad item is reported, the run goes on)
                print(f"  item {item.get('id')}: {exc}", file=sys.stderr)
                continue
            finally:
                progress.update(1)
            self.decisions[decision["id"]] = decision
            self.alerts.extend((alert, item["published_at"]) for alert in alerts)
        progress.close()
        from streams.events.store import EventIndex

        self.index = EventIndex(pipeline.events.state)

    def event_of(self, item_id: str) -> str | None:
        """The event the item ended in (after merges), or None."""
        decision = self.decisions.get(item_id)
        if decision is None or not decision.get("event_id"):
            return None
        event = self.index.event(decision["event_id"])
        return str(event["id"]) if event else str(decision["event_id"])

    def alert_of(self, item_id: str) -> str | None:
        """The alert the item belongs to, when that alert was ever published."""
        from streams.alerts import alert_id

        decision = self.decisions.get(item_id)
        if decision is None:
            return None
        key = decision.get("event_id") or decision["story_id"]
        aid = alert_id(key)
        return aid if aid in self.published else None

    @property
    def published(self) -> set[str]:
        if not hasattr(self, "_published"):
            self._published = {alert["alert_id"] for alert, _ in self.alerts}
        return self._published

    def severity(self, item_id: str) -> str:
        decision = self.decisions.get(item_id)
        return decision["escalation"]["severity"] if decision else "none"


def _progress(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="item", desc="replay", disable=not sys.stderr.isatty(), leave=False)


def score_severity(items: list[dict[str, Any]], replay: Replay, labels: list[dict[str, Any]], min_severity: str,
                   show: set[str], by_id: dict[str, dict[str, Any]]) -> dict[str, Any]:
    threshold = rank(min_severity)
    sizes = Counter("K" if has_conflict_word(it) else "U" for it in items)
    stratum = {lab["id"]: ("K" if has_conflict_word(by_id[lab["id"]]) else "U") for lab in labels}
    labelled = Counter(stratum.values())
    weight = {s: sizes[s] / labelled[s] for s in labelled}
    tp = fp = fn = 0.0
    counts: Counter[tuple[str, str]] = Counter()
    confusion: Counter[tuple[str, str]] = Counter()
    casualty_pairs = []
    for lab in labels:
        gold = rank(lab["severity"]) >= threshold
        predicted_severity = replay.severity(lab["id"])
        pred = rank(predicted_severity) >= threshold
        w = weight[stratum[lab["id"]]]
        confusion[(lab["severity"], predicted_severity)] += 1
        kind = "tp" if gold and pred else "fp" if pred else "fn" if gold else "tn"
        counts[(stratum[lab["id"]], kind)] += 1
        tp += w * (kind == "tp")
        fp += w * (kind == "fp")
        fn += w * (kind == "fn")
        if lab.get("casualties") and pred:
            casualty_pairs.append((lab["casualties"], replay.decisions[lab["id"]]["escalation"].get("casualties")))
        if (kind == "fp" and "fp" in show) or (kind == "fn" and "fn" in show):
            it = by_id[lab["id"]]
            print(f"  {kind.upper()} {lab['severity']:>8} -> {predicted_severity:<8} {lab['id']} {it['source']}: "
                  f"{it['title'][:110]} | label: {lab['reason']}")
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "labelled": dict(labelled), "strata": dict(sizes),
            "counts": {f"{s}.{k}": v for (s, k), v in counts.items()},
            "confusion": confusion,
            "casualties_exact": (sum(a == b for a, b in casualty_pairs), len(casualty_pairs))}


def score_volume(items: list[dict[str, Any]], replay: Replay) -> dict[str, float]:
    days = float(len({it["published_at"][:10] for it in items}))  # days with items (archives have gaps)
    opened = sum(1 for alert, _ in replay.alerts if alert["version"] == 1)
    return {"days": days, "alerts_per_day": opened / days, "versions_per_day": len(replay.alerts) / days,
            "alerts": opened, "versions": len(replay.alerts)}


def top_alerts(replay: Replay, labels: dict[str, dict[str, Any]], n: int, show: bool,
               by_id: dict[str, dict[str, Any]]) -> Counter[str]:
    """The n alerts with the highest score (their latest version), labelled where we can."""
    latest: dict[str, dict[str, Any]] = {}
    for alert, _ in replay.alerts:
        latest[alert["alert_id"]] = alert
    best = sorted(latest.values(), key=lambda a: (-a["score"], a["alert_id"]))[:n]
    verdicts: Counter[str] = Counter()
    for alert in best:
        labelled = [labels[a] for a in alert["articles"] if a in labels]
        verdict = max((lab["severity"] for lab in labelled), key=rank) if labelled else "unlabelled"
        verdicts[verdict] += 1
        if show:
            print(f"  TOP {alert['score']:6.1f} {alert['severity']:>8} [{verdict}] {alert['title'][:100]} "
                  f"({alert['source']}; {len(alert['sources'])} sources) {alert['articles'][0]}")
    return verdicts


def score_events(replay: Replay, events: list[dict[str, Any]], members: list[dict[str, Any]], show: bool,
                 by_id: dict[str, dict[str, Any]]) -> dict[str, Any]:
    primary: dict[str, list[str]] = defaultdict(list)
    for row in members:
        if row["role"] == "primary" and row["id"] in by_id:
            primary[row["event"]].append(row["id"])
    first_alert: dict[str, datetime] = {}
    for alert, at in replay.alerts:
        if alert["version"] == 1:
            first_alert.setdefault(alert["alert_id"], when(at))
    holders: dict[str, set[str]] = defaultdict(set)   # alert id -> labelled events among its primary items
    per_event = []
    for event in events:
        ids = primary.get(event["event"], [])
        alerts = {a for a in (replay.alert_of(i) for i in ids) if a}
        for a in alerts:
            holders[a].add(event["event"])
        first_item = min((when(by_id[i]["published_at"]) for i in ids), default=None)
        first = min((first_alert[a] for a in alerts if a in first_alert), default=None)
        delay = (first - first_item).total_seconds() / 60 if first and first_item else None
        per_event.append({"event": event["event"], "items": len(ids), "alerts": len(alerts), "delay_min": delay})
        if show:
            print(f"  EVENT {event['event']:11} {event['date']} {event['severity']:>8} items {len(ids):3} "
                  f"alerts {len(alerts):3} first alert +{delay if delay is None else round(delay)} min  "
                  f"{event['what']}")
    alerted = [e for e in per_event if e["alerts"]]
    counts = [e["alerts"] for e in alerted]
    wrong = {a: sorted(evs) for a, evs in holders.items() if len(evs) > 1}
    if show:
        for a, evs in sorted(wrong.items()):
            print(f"  WRONG JOIN {a}: {', '.join(evs)}")
    delays = [e["delay_min"] for e in alerted if e["delay_min"] is not None]
    return {"events": len(per_event), "alerted": len(alerted),
            "median": statistics.median(counts) if counts else 0, "mean": statistics.mean(counts) if counts else 0,
            "max": max(counts, default=0), "wrong_joins": len(wrong),
            "delay_median_min": statistics.median(delays) if delays else None,
            "delay_max_min": max(delays) if delays else None,
            "missed": [e["event"] for e in per_event if not e["alerts"]]}


def score_clusters(replay: Replay, members: list[dict[str, Any]], by_id: dict[str, dict[str, Any]],
                   show: bool) -> dict[str, Any]:
    """Pairwise precision/recall of the events over labelled primary items (alerted or not)."""
    gold = {row["id"]: row["event"] for row in members if row["role"] == "primary" and row["id"] in by_id}
    found = {item: replay.event_of(item) for item in gold}
    result: dict[str, Any] = {}
    for name, items in (("all", sorted(gold)), ("with_event", sorted(i for i in gold if found[i]))):
        tp = fp = fn = 0
        for n, a in enumerate(items):
            for b in items[n + 1:]:
                same_gold = gold[a] == gold[b]
                same_found = found[a] is not None and found[a] == found[b]
                tp += same_gold and same_found
                fp += same_found and not same_gold
                fn += same_gold and not same_found
        result[name] = {"items": len(items), "precision": tp / (tp + fp) if tp + fp else 1.0,
                        "recall": tp / (tp + fn) if tp + fn else 1.0, "pairs": tp + fn}
    holders: dict[str, set[str]] = defaultdict(set)
    for item, event in found.items():
        if event:
            holders[event].add(gold[item])
    mixed = {event: sorted(evs) for event, evs in holders.items() if len(evs) > 1}
    result["events_mixing_labels"] = len(mixed)
    if show:
        for event, evs in sorted(mixed.items()):
            print(f"  MIXED {event}: {', '.join(evs)}")
    return result


def corpora(names: Iterable[str] | None) -> list[str]:
    found = sorted({p.stem for p in (LABELS / "severity").glob("*.jsonl") if not p.stem.startswith("agreement")}
                   | {p.name for p in (LABELS / "events").iterdir() if p.is_dir()})
    return [c for c in found if not names or c in names]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--corpus", action="append", help="corpus name (repeatable); default: every labelled one")
    ap.add_argument("--rules", help="escalation rules YAML (default: the shipped rules)")
    ap.add_argument("--min-severity", default="medium", choices=SEVERITIES[1:])
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--show", default="", help="comma-separated: fp, fn, top, events")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = ap.parse_args()
    show = set(filter(None, args.show.split(",")))
    results: dict[str, Any] = {}
    for name in corpora(args.corpus):
        items = read_jsonl(args.data / f"{name}.jsonl.gz")
        by_id = {it["id"]: it for it in items}
        print(f"== {name}: {len(items)} items", flush=True)
        replay = Replay(items, args.rules, args.min_severity)
        result: dict[str, Any] = {"volume": score_volume(items, replay)}
        v = result["volume"]
        print(f"  volume: {v['alerts_per_day']:.1f} alerts/day opened, {v['versions_per_day']:.1f} versions/day "
              f"over {v['days']:.1f} days")
        sev_path = LABELS / "severity" / f"{name}.jsonl"
        labels = read_jsonl(sev_path) if sev_path.exists() else []
        if labels:
            sev = score_severity(items, replay, labels, args.min_severity, show, by_id)
            result["severity"] = {k: v for k, v in sev.items() if k != "confusion"}
            print(f"  severity >= {args.min_severity}: P {sev['precision']:.3f} R {sev['recall']:.3f} "
                  f"F1 {sev['f1']:.3f} (weighted; labelled {sev['labelled']} of strata {sev['strata']})")
            print(f"  counts: {sev['counts']}; casualty count exact on {sev['casualties_exact'][0]} of "
                  f"{sev['casualties_exact'][1]} alerted labelled items with a labelled toll")
            header = "  label \\ predicted " + " ".join(f"{s:>8}" for s in SEVERITIES)
            print(header)
            for gold in SEVERITIES:
                print(f"  {gold:>18} " + " ".join(f"{sev['confusion'][(gold, p)]:>8}" for p in SEVERITIES))
        label_index = {lab["id"]: lab for lab in labels}
        verdicts = top_alerts(replay, label_index, args.top, "top" in show, by_id)
        result["top"] = dict(verdicts)
        print(f"  top {args.top} alerts by score, by label: {dict(verdicts)}")
        event_dir = LABELS / "events" / name
        if event_dir.is_dir():
            ev = score_events(replay, read_jsonl(event_dir / "events.jsonl"), read_jsonl(event_dir / "items.jsonl"),
                              "events" in show, by_id)
            result["events"] = ev
            print(f"  events: {ev['alerted']}/{ev['events']} alerted; alerts per event median {ev['median']} "
                  f"mean {ev['mean']:.2f} max {ev['max']}; wrong joins {ev['wrong_joins']}; first alert after "
                  f"first item: median {ev['delay_median_min']} min, max {ev['delay_max_min']} min; "
                  f"missed {ev['missed']}")
            cl = score_clusters(replay, read_jsonl(event_dir / "items.jsonl"), by_id, "events" in show)
            result["clusters"] = cl
            print(f"  clusters (pairwise over primary items): all {cl['all']['items']} items P "
                  f"{cl['all']['precision']:.3f} R {cl['all']['recall']:.3f}; the {cl['with_event']['items']} with an "
                  f"event P {cl['with_event']['precision']:.3f} R {cl['with_event']['recall']:.3f}; events mixing "
                  f"labelled events {cl['events_mixing_labels']}")
        results[name] = result
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
