"""Cost of the event stage in replay: CPU time per article of the stages before it (normalize, dedupe,
score) and of the event stage, in one process over the same input (so the share does not depend on
how loaded the machine is as much as two separate runs do).

    python bench/events_cost.py ARTICLES.jsonl      # e.g. the first 15,000 lines of rld-2023-09
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.escalation import Rules  # noqa: E402
from streams.events import gazetteer  # noqa: E402
from streams.pipeline import Pipeline, dedupe_stage, event_stage, normalize_stage, score_stage  # noqa: E402


def main() -> int:
    gazetteer.load()   # once per process (start-up, not per article)
    pipeline = Pipeline(Rules.load())
    lines = [line for line in Path(sys.argv[1]).read_text("utf-8").splitlines() if line.strip()]
    clock = time.process_time
    before = events = 0.0
    for line in lines:
        t0 = clock()
        decision, scored = score_stage(dedupe_stage(normalize_stage(line), pipeline.index), pipeline.rules)
        t1 = clock()
        event_stage(decision, scored, pipeline.events)
        before += t1 - t0
        events += clock() - t1
    n = len(lines)
    print(f"{n} articles: stages before events {before / n * 1e6:.0f} us/article, event stage "
          f"{events / n * 1e6:.0f} us/article ({events / before:.0%} of the rest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
