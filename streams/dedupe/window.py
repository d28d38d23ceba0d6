"""One language's window: the articles of the last `window_s` seconds of event time.

Every language is a separate window with its own clock (the newest event time seen) and sequence
numbers (arrival order): an article is only ever compared with articles of its own `norm.language`,
so streaming (one partition per language) and replay (file order) agree.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from connectors import article as contract
from streams.dedupe import steps
from streams.dedupe.options import Options


def parse_time(value: Any) -> float:
    """Event time in epoch seconds; unparsable or missing -> 0.0 (treated as oldest)."""
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        return contract.parse_time(value).timestamp()
    except ValueError:
        return 0.0


class Window:
    """The live articles of one language (sequence number -> id), when each leaves the window, and
    the candidate index over them; rebuilt from the store records on start."""

    def __init__(self, language: str, opts: Options) -> None:
        self.language = language
        self.max_ts = 0.0  # the clock: the newest event time seen
        self.next_seq = 1
        self.live: dict[int, str] = {}  # seq -> article id
        self.expiry: list[tuple[float, int]] = []  # heap of (event time, seq)
        self.candidates = steps.CandidateIndex(opts.sketch_bits, opts.vocab_query, opts.min_story_hits,
                                               opts.max_candidates, opts.max_story_candidates)

    def add(self, seq: int, ts: float, article_id: str, lead_keys: Iterable[int], vocab_keys: Iterable[int],
            words: np.ndarray) -> None:
        self.live[seq] = article_id
        heapq.heappush(self.expiry, (ts, seq))
        self.candidates.add(seq, lead_keys, vocab_keys, words)

    def expired(self, cutoff: float) -> Iterator[tuple[int, str]]:
        """(seq, id) of the articles older than `cutoff`, taken out of the window; the caller removes
        them from the candidate index (`candidates.remove`) with their words."""
        while self.expiry and self.expiry[0][0] < cutoff:
            _, seq = heapq.heappop(self.expiry)
            yield seq, self.live.pop(seq)
