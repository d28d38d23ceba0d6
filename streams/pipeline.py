"""The three processing stages as plain functions, shared by the Faust agents and `wirewatch replay`.

normalize_stage:  Article            -> normalised Article (+ `norm`)         news.articles -> by-lang
dedupe_stage:     normalised Article -> story article (+ copy_of/story_id)   by-lang -> news.stories
score_stage:      story article      -> (decision, alert or None)            news.stories -> news.alerts

The worker's agents and `wirewatch replay` call the same functions: the score agent runs
`score_plan`, publishes the alert, then `commit_story` (replay's `score_stage` is those two with
nothing in between), so both write story state and expire old stories through one path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from connectors import article as contract
from streams.alerts import AlertPolicy, StoryTracker
from streams.dedupe import DedupeIndex
from streams.escalation import Rules, RulesHolder
from streams.normalize import normalize


def normalize_stage(raw: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    """Validate against the Article contract (raises InvalidRecord) and normalise."""
    article = contract.validate(raw) if isinstance(raw, Mapping) else contract.decode(raw)
    return normalize(article)


def dedupe_stage(normed: Mapping[str, Any], index: DedupeIndex) -> dict[str, Any]:
    """The story article: the normalised article and its dedupe decision. Its `norm` keeps language,
    title and body for scoring but not the fingerprints, which only dedupe reads (4 of a story
    record's 9 kB, encoded, sent, stored and decoded again at the next hop for nothing)."""
    decision = index.decide(normed)
    norm = {key: value for key, value in normed["norm"].items() if key != "fingerprints"}
    return {**normed, "norm": norm, "copy_of": decision.copy_of, "story_id": decision.story_id,
            "similarity": decision.similarity}


def score_plan(story_article: Mapping[str, Any], rules: Rules | RulesHolder, tracker: StoryTracker
               ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """(decision, alert or None, new story state or None), the state not yet written."""
    escalation = rules.score(story_article).to_dict()
    decision = {"id": story_article["id"], "copy_of": story_article["copy_of"],
                "story_id": story_article["story_id"], "similarity": story_article["similarity"],
                "escalation": escalation}
    alert, story = tracker.plan({**story_article, "escalation": escalation}, rules.version)
    return decision, alert, story


def commit_story(tracker: StoryTracker, story: Mapping[str, Any] | None, part: Any = None,
                 owns: Callable[[str], bool] | None = None) -> list[str]:
    """Store a story's new state (None: nothing changed), then forget the stories of `part` silent
    for longer than the retention (event time), at most once per quarter of it; returns their ids.

    `part` and `owns` let a worker expire only the stories of the partition it is processing (Faust
    writes a deletion to the changelog partition of the current record); replay has one part."""
    if story is not None:
        tracker.state[story["story_id"]] = story
    if not tracker.sweep_due(part):
        return []
    gone = tracker.expired(part, owns)
    for story_id in gone:
        del tracker.state[story_id]
    return gone


def score_stage(story_article: Mapping[str, Any], rules: Rules | RulesHolder,
                tracker: StoryTracker) -> tuple[dict[str, Any], dict[str, Any] | None]:
    decision, alert, story = score_plan(story_article, rules, tracker)
    commit_story(tracker, story)
    return decision, alert


@dataclass
class Pipeline:
    """All three stages in one process, in input order: what `wirewatch replay` runs."""

    rules: Rules
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    dedupe_store: MutableMapping[str, Any] | None = None
    story_state: MutableMapping[str, Any] | None = None

    def __post_init__(self) -> None:
        self.index = DedupeIndex(self.dedupe_store)
        self.tracker = StoryTracker(self.story_state, self.policy)

    def process(self, raw: bytes | str | Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        return score_stage(dedupe_stage(normalize_stage(raw), self.index), self.rules, self.tracker)

    def run(self, lines: Iterable[bytes | str]) -> Iterator[tuple[int, dict[str, Any] | None,
                                                             dict[str, Any] | None, Exception | None]]:
        """Yield (line number, decision, alert, error) per non-blank input line; errors do not stop it."""
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                decision, alert = self.process(line)
            except contract.InvalidRecord as exc:
                yield number, None, None, exc
                continue
            yield number, decision, alert, None


def warm_up() -> None:
    """Run one invented article through every stage, so compiled kernels (numba) are built and
    cached now (`make` setup, image build) rather than delaying a worker's first record."""
    article = {"id": "warm-up", "url": "https://wirewatch.invalid/warm-up", "title": "Warm-up",
               "published_at": "2000-01-01T00:00:00Z", "source": "wirewatch", "feed": "warm-up",
               "language": "en", "content": "Rockets struck the harbour town, killing 3 people, officials said."}
    Pipeline(Rules.load()).process(article)
