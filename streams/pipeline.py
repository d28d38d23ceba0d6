"""The processing stages as plain functions, shared by the Faust agents and `wirewatch replay`.

normalize_stage:  Article            -> normalised Article (+ `norm`)         news.articles -> by-lang
dedupe_stage:     normalised Article -> story article (+ copy_of/story_id)   by-lang -> news.stories
score_stage:      story article      -> (decision, scored record)            news.stories -> news.scored
event_plan:       scored record      -> event plan (event id, alerts, state)  news.scored -> news.alerts

The worker's agents and `wirewatch replay` call the same functions: the events agent runs
`event_plan`, publishes the plan's alerts, then `commit_events` (replay's `event_stage` is those two
with nothing in between), so both write event state and expire old events through one path.
Only stories at `low` or above reach the event stage (`needs_event`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from connectors import article as contract
from streams import eventtime
from streams.alerts import RANK, AlertPolicy
from streams.dedupe import DedupeIndex
from streams.escalation import Rules, RulesHolder
from streams.events.evidence import LEAD_CHARS
from streams.events.tracker import EventTracker, Plan
from streams.normalize import normalize

# What of a story article the event stage reads (and news.scored carries): no fingerprints, and of
# the body only the lead the evidence is read from.
_SCORED_FIELDS = ("id", "story_id", "copy_of", "url", "title", "published_at", "fetched_at", "source", "feed",
                  "tags", "language")


def normalize_stage(raw: bytes | str | Mapping[str, Any], now: float | None = None) -> dict[str, Any]:
    """Validate against the Article contract (raises InvalidRecord), normalise, and stamp the event time
    (`streams.eventtime`: the one rule every later stage reads, `now` the processing clock)."""
    article = contract.validate(raw) if isinstance(raw, Mapping) else contract.decode(raw)
    normed = normalize(article)
    normed["norm"]["time"] = eventtime.stamp(article, now)
    return normed


def dedupe_stage(normed: Mapping[str, Any], index: DedupeIndex) -> dict[str, Any]:
    """The story article: the normalised article and its dedupe decision. Its `norm` keeps language,
    title and body for scoring but not the fingerprints, which only dedupe reads (4 of a story
    record's 9 kB, encoded, sent, stored and decoded again at the next hop for nothing)."""
    decision = index.decide(normed)
    norm = {key: value for key, value in normed["norm"].items() if key != "fingerprints"}
    return {**normed, "norm": norm, "copy_of": decision.copy_of, "story_id": decision.story_id,
            "similarity": decision.similarity}


def score_stage(story_article: Mapping[str, Any], rules: Rules | RulesHolder
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(decision, scored record): the decision without its event yet, and what the event stage reads."""
    escalation = rules.score(story_article).to_dict()
    decision = {"id": story_article["id"], "copy_of": story_article["copy_of"],
                "story_id": story_article["story_id"], "similarity": story_article["similarity"],
                "event_id": None, "escalation": escalation}
    norm = story_article.get("norm") or {}
    scored = {name: story_article[name] for name in _SCORED_FIELDS if name in story_article}
    # the event stage reads published_at as event time and fetched_at as arrival: both as the rule bounds them
    moment = eventtime.of(story_article)
    scored["published_at"], scored["fetched_at"] = moment.text, moment.arrival_text
    scored["norm"] = {"language": norm.get("language"), "title": norm.get("title", ""),
                      "body": str(norm.get("body") or "")[:LEAD_CHARS], "time": moment.to_json()}
    scored["escalation"] = escalation
    scored["rule_version"] = rules.version
    return decision, scored


def needs_event(scored: Mapping[str, Any]) -> bool:
    """Only stories at `low` or above belong to events (a few per minute even in a war)."""
    return RANK[scored["escalation"]["severity"]] >= RANK["low"]


def event_plan(scored: Mapping[str, Any], tracker: EventTracker) -> Plan:
    """The article's event, the alert versions to publish and the state writes, not yet applied. An
    article whose time nothing vouches for (`eventtime`, flag "clock") is taken at the stage's clock
    when that is earlier, so that it never moves the event retention."""
    moment = eventtime.of(scored)
    if not moment.moves_clocks:
        at = eventtime.rfc3339_seconds(eventtime.bounded(moment, tracker.sweeper.watermark))
        scored = {**scored, "published_at": at, "fetched_at": at}
    return tracker.plan(scored, scored.get("rule_version"))


def commit_events(tracker: EventTracker, plan: Plan) -> int:
    """Store the plan's state, then forget events silent for longer than the retention (event time,
    at most once per quarter of it); returns how many were forgotten."""
    return tracker.commit(plan)


def event_stage(decision: dict[str, Any], scored: Mapping[str, Any], tracker: EventTracker
                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not needs_event(scored):
        return decision, []
    plan = event_plan(scored, tracker)
    commit_events(tracker, plan)
    return {**decision, "event_id": plan.event_id}, plan.alerts


@dataclass
class Pipeline:
    """All stages in one process, in input order: what `wirewatch replay` runs."""

    rules: Rules
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    dedupe_store: MutableMapping[str, Any] | None = None
    event_state: MutableMapping[str, Any] | None = None
    clock: Callable[[], float] | None = time.time    # the processing clock (None: none, no bound from it)

    def __post_init__(self) -> None:
        self.index = DedupeIndex(self.dedupe_store)
        self.events = EventTracker(self.event_state, self.policy)

    def process(self, raw: bytes | str | Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(decision, alert versions published for it: none, one, or two when events merge)."""
        normed = normalize_stage(raw, None if self.clock is None else self.clock())
        decision, scored = score_stage(dedupe_stage(normed, self.index), self.rules)
        return event_stage(decision, scored, self.events)

    def run(self, lines: Iterable[bytes | str]) -> Iterator[tuple[int, dict[str, Any] | None,
                                                             list[dict[str, Any]], Exception | None]]:
        """Yield (line number, decision, alerts, error) per non-blank input line. A line that fails in any
        stage is yielded with its error and the run goes on, as the worker sends such a record to a DLQ
        and goes on; only what no record causes (the disk, memory: `machine_error`) stops it."""
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                decision, alerts = self.process(line)
            except Exception as exc:  # noqa: BLE001 (a record's failure, whatever its type: reported, counted)
                if machine_error(exc):
                    raise
                yield number, None, [], exc
                continue
            yield number, decision, alerts, None


def machine_error(error: BaseException) -> bool:
    """Failures of the machine (disk, memory), which no record causes: they stop a replay, as they stop
    a worker, instead of being reported against a record."""
    return isinstance(error, OSError | MemoryError)


def warm_up() -> None:
    """Run one invented article through every stage, so compiled kernels (numba) and the event stage's
    gazetteer index are built and cached now (`make` setup, image build) rather than delaying a
    worker's first record."""
    article = {"id": "warm-up", "url": "https://wirewatch.invalid/warm-up", "title": "Warm-up",
               "published_at": "2000-01-01T00:00:00Z", "source": "wirewatch", "feed": "warm-up",
               "language": "en", "content": "Rockets struck the harbour town, killing 3 people, officials said."}
    Pipeline(Rules.load()).process(article)
