"""What dedupe decides per article, and the settings it decides with."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_WINDOW_S = 72 * 3600.0


@dataclass(frozen=True)
class Decision:
    id: str
    copy_of: str | None  # the first article of which this one is a copy, None when it is none
    story_id: str  # "s-" + the id of the story's first article
    similarity: float  # containment for a copy, vocabulary share for a rewrite, 0.0 for a new story

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Options:
    window_s: float = DEFAULT_WINDOW_S
    copy_threshold: float = 0.87  # word-LCS containment of the shorter key text in the other
    compare_words: int = 120  # prefix length that copies are verified on
    min_copy_words: int = 15  # below this a text is too short to call containment a copy
    story_threshold: float = 0.5  # weighted share of content words found in the candidate
    min_story_words: int = 8
    min_story_hits: int = 2  # shared keys a story candidate needs (1 for articles with < 16 keys)
    joint_threshold: float = 0.75  # share of the content words found in the candidates together ...
    joint_min_share: float = 0.35  # ... when the best one alone holds at least this share
    joint_part_share: float = 0.2  # (a candidate counts towards the joint share from this share)
    vocab_keys: int = 16  # sampled content words indexed per article
    vocab_query: int = 64  # sampled content words looked up per article
    max_candidates: int = 4  # copy candidates verified (each costs one store read)
    max_story_candidates: int = 8  # story candidates verified when no copy was found
    recent_records: int = 8192  # latest records kept in memory for candidate reads
    sketch_bits: int = 20  # count-min sketch width (2 rows of 2**bits int32) per language
