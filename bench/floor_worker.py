"""The wirewatch worker with trivial stages: what Faust, aiokafka and the broker cost on their own.

Started by `bench/stream_throughput.py throughput --floor`. The three agents, both tables, the
producers, the sensors and the metrics are the real ones (streams.worker.app); only the three pure stage
functions are replaced by ones that do next to nothing but return records of the sizes the real
stages produce for the bench's synthetic articles (by-lang ~8.7 kB, dedupe record ~2.9 kB, story
record ~5.2 kB, story state ~0.6 kB) and write the same table keys, once per article each. Every
article opens its own story and no alert is sent. The difference between this worker's CPU per
article and the real one's is what the normalize, dedupe and escalation code costs inside the worker.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

import streams.worker.agents as worker_agents  # noqa: E402

FINGERPRINT_BYTES = 3_500  # the fingerprints the real normalize adds to a by-lang record
RECORD_TEXT = 2_400        # the packed key and words of a dedupe record
STATE_TEXT = 300           # a story state's titles, ids and matches


def normalize_stage(raw: bytes) -> dict[str, Any]:
    article = orjson.loads(raw)
    body = article.get("content") or article.get("summary") or ""
    article["norm"] = {"language": "en", "title": article["title"], "body": body, "body_field": "content",
                       "fingerprints": {"key": "k" * (FINGERPRINT_BYTES // 2), "words": "w" * (FINGERPRINT_BYTES // 2),
                                        "lead": [], "probe": [], "names": "", "n": 0}}
    return article


def dedupe_stage(normed: dict[str, Any], index: Any) -> dict[str, Any]:
    article_id = normed["id"]
    index.store["a:" + article_id] = {"seq": 0, "ts": 0.0, "lang": "en", "copy_of": None,
                                      "story_id": "s-" + article_id, "sim": 1.0, "key": "k" * (RECORD_TEXT // 2),
                                      "lead": [], "vkeys": [], "words": "w" * (RECORD_TEXT // 2), "n": 0}
    norm = {key: value for key, value in normed["norm"].items() if key != "fingerprints"}
    return {**normed, "norm": norm, "copy_of": None, "story_id": "s-" + article_id, "similarity": 1.0}


def score_plan(story_article: dict[str, Any], rules: Any, tracker: Any
               ) -> tuple[dict[str, Any], None, dict[str, Any]]:
    story = {"story_id": story_article["story_id"], "title": story_article["title"], "url": story_article["url"],
             "source": story_article["source"], "severity": "none", "score": 0.0, "categories": [],
             "seen": [story_article["id"]], "text": "t" * STATE_TEXT}
    return {"id": story_article["id"]}, None, story


worker_agents.normalize_stage = normalize_stage  # type: ignore[assignment]
worker_agents.dedupe_stage = dedupe_stage  # type: ignore[assignment]
worker_agents.score_plan = score_plan  # type: ignore[assignment]

if __name__ == "__main__":
    from streams.shell.cli import main

    sys.exit(main(["worker"]))
