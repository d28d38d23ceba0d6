"""Why the reports of a labelled event ended in several events: for each primary item, in time order,
its severity, the event it joined (and the one that carried on after merges), whether its alert was
published, the evidence read from it, and the verdict of the weighing against every event that held
an earlier report of the same labelled event (`-v`: against every candidate).

    python bench/events_why.py rld-2023-09 rld09-b01[,rld09-b12] [-v]

It replays the corpus with the pipeline as bench/quality_realfeeds.py does. Third-party text goes to
your terminal only, never into the project.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "labels"))

from quality_realfeeds import DATA, LABELS, Replay, read_jsonl  # noqa: E402

from streams.events import matching  # noqa: E402
from streams.events import tracker as tracker_module  # noqa: E402
from streams.events.evidence import Evidence  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("events", help="labelled event ids, comma-separated")
    ap.add_argument("-v", action="store_true", help="every verdict, not only against the label's events")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()

    verdicts: dict[str, dict[str, tuple[matching.Verdict, list[tuple[float, str]]]]] = {}
    evidence: dict[str, Evidence] = {}
    weigh, read = matching.weigh, tracker_module.evidence_of

    def logged_weigh(found: Evidence, event: Any, worth: Any, total: float, story_prior: bool = False
                     ) -> matching.Verdict:
        verdict = weigh(found, event, worth, total, story_prior)
        top = sorted(((round(worth[k], 2), k) for k in worth if k in event["profile"]), reverse=True)[:8]
        verdicts.setdefault(found.article_id, {})[event["id"]] = (verdict, top)
        return verdict

    def logged_read(article: Any, gaz: Any = None) -> Evidence:
        found = read(article, gaz)
        evidence[found.article_id] = found
        return found

    matching.weigh = logged_weigh  # type: ignore[assignment]
    tracker_module.evidence_of = logged_read
    items = read_jsonl(args.data / f"{args.corpus}.jsonl.gz")
    by_id = {it["id"]: it for it in items}
    replay = Replay(items, None, "medium")
    members = read_jsonl(LABELS / "events" / args.corpus / "items.jsonl")
    for label in args.events.split(","):
        primary = sorted((m["id"] for m in members if m["event"] == label and m["role"] == "primary"
                          and m["id"] in by_id), key=lambda i: by_id[i]["published_at"])
        print(f"== {label}: {len(primary)} primary items")
        earlier: list[str] = []
        for item_id in primary:
            item, decision = by_id[item_id], replay.decisions.get(item_id) or {}
            joined = decision.get("event_id")
            severity = (decision.get("escalation") or {}).get("severity", "none")
            print(f"  {item['published_at'][5:16]} {severity[:4]:4} event {str(joined)[-6:]}>"
                  f"{str(replay.event_of(item_id))[-6:]} alert {'Y' if replay.alert_of(item_id) else '-'} "
                  f"{item['source'][:12]:12} {item['title'][:90]}")
            found = evidence.get(item_id)
            if found is not None:
                keys = " ".join(f"{k}={w:.1f}" for k, w in sorted(found.keys.items(), key=lambda kv: -kv[1])[:12])
                print(f"      keys {keys} | kinds {sorted(found.kinds)} main {sorted(found.main)} "
                      f"update {found.update} new {found.new_occurrence} continuing {found.continuing} "
                      f"round-up {found.digest}")
            for event_id, (verdict, top) in verdicts.get(item_id, {}).items():
                if args.v or event_id in earlier:
                    print(f"      vs {event_id[-6:]}: {'JOIN' if verdict.joins else 'no  '} {verdict.why}; "
                          f"shared {verdict.shared} ({verdict.share:.0%}) {top}")
            if joined and joined not in earlier:
                earlier.append(joined)
    return 0


if __name__ == "__main__":
    sys.exit(main())
