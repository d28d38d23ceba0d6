"""Search a real-feed corpus for the items that may report an event (for labellers; decides nothing).

    python bench/labels/find.py ../shared/data/realfeeds-dev/rld-2023-09.jsonl.gz 'Nagorno|Karabakh|Stepanakert' \
        --since 2023-09-18 --until 2023-09-22 [--full] [--ids FILE]

prints one block per matching item: id, time, source, title and the summary (HTML stripped; cut to
300 characters unless --full). The pattern is a case-insensitive regular expression over title,
summary and URL. --ids prints just the items whose ids are listed in FILE (one per line, or JSON lines
with an "id" field), in corpus order.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import re
from pathlib import Path

_TAG = re.compile(r"<[^>]+>")


def plain(text: str | None) -> str:
    return re.sub(r"\s+", " ", html.unescape(_TAG.sub(" ", text or ""))).strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("pattern", nargs="?", default="")
    ap.add_argument("--since", default="", help="YYYY-MM-DD[THH:MM] inclusive")
    ap.add_argument("--until", default="", help="YYYY-MM-DD[THH:MM] inclusive (by prefix)")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--ids", type=Path)
    ap.add_argument("--limit", type=int, default=400)
    args = ap.parse_args()

    wanted: set[str] | None = None
    if args.ids:
        wanted = set()
        for line in args.ids.read_text().splitlines():
            line = line.strip()
            if line:
                wanted.add(json.loads(line)["id"] if line.startswith("{") else line.split()[0])
    rx = re.compile(args.pattern, re.IGNORECASE) if args.pattern else None
    opener = gzip.open if args.corpus.suffix == ".gz" else open
    shown = 0
    with opener(args.corpus, "rt", encoding="utf-8") as fh:
        for line in fh:
            it = json.loads(line)
            ts = it["published_at"]
            if args.since and ts < args.since:
                continue
            if args.until and ts[: len(args.until)] > args.until:
                continue
            if wanted is not None and it["id"] not in wanted:
                continue
            title, summary = plain(it.get("title")), plain(it.get("summary"))
            if rx and not rx.search(f"{title}\n{summary}\n{it.get('url', '')}"):
                continue
            if not args.full and len(summary) > 300:
                summary = summary[:300] + "..."
            print(f"{it['id']}  {ts}  {it['source']}\n  T: {title}\n  S: {summary}\n  U: {it.get('url', '')}")
            shown += 1
            if shown >= args.limit:
                print(f"... stopped at --limit {args.limit}")
                break


if __name__ == "__main__":
    main()
