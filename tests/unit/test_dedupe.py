"""Dedupe: copies, chains, summaries, rewrites, languages, window, idempotence, restart from the store.

Every test runs once per implementation of the steps (`impl`: the reference, and the compiled twins
where numba is installed)."""

from __future__ import annotations

import copy
import random
from typing import Any

import numpy as np
import pytest

from streams.dedupe import Decision, DedupeIndex, steps
from streams.normalize import normalize, pack_words

pytestmark = pytest.mark.usefixtures("impl")

WIRE = [
    "The harbour authority in Port Elmsworth closed the northern quay on Monday after a crane "
    "collapsed onto two moored fishing trawlers during a sudden squall.",
    "Nobody was hurt, spokeswoman Marit Oyelaran said, but the quay will stay shut until engineers "
    "from the Veldmark Institute have inspected the four remaining cranes on the waterfront.",
    "Fishermen warned that the closure would cost them the start of the mackerel season. The Elmsworth "
    "Fishermen's Cooperative said its members land nearly half of their yearly catch in May and June.",
    "The crane, built in 1987, had passed its last safety check in March, according to records seen by "
    "the local council, which has asked the port operator Brackwater Logistics for a full report.",
]
REWRITE = (
    "Fishermen in Port Elmsworth fear for the mackerel season after a crane toppled onto two trawlers "
    "at the northern quay. Marit Oyelaran, for the harbour authority, said nobody was hurt. Engineers "
    "from the Veldmark Institute will inspect the remaining cranes, and the council wants Brackwater "
    "Logistics to explain how a crane that passed a safety check in March could collapse."
)
OTHER = (
    "Voters in the mountain district of Hallgrim elected a new mayor on Sunday, choosing former "
    "schoolteacher Ivo Castellane over the incumbent by fewer than three hundred votes. Turnout was "
    "the highest in two decades, officials said, after a campaign dominated by the closure of the "
    "valley railway line and the future of the district hospital in Oberlund."
)
SAME_EVENT = (
    "A port crane in Elmsworth fell during Monday's storm and damaged fishing vessels moored below. "
    "Witnesses described a loud crack before the structure gave way. Local radio reported that the "
    "harbour will remain closed for several days while the damage is assessed and the boats are "
    "recovered by divers working for the coastguard."
)


def art(aid: str, hour: float, content: str, *, title: str = "Crane collapses at harbour",
        language: str = "en", summary: str | None = None) -> dict:
    day, rest = divmod(hour, 24)
    hh, mm = divmod(int(rest * 60), 60)
    return normalize({"id": aid, "url": f"https://example.test/{aid}", "title": title,
                      "published_at": f"2024-05-{6 + int(day):02d}T{hh:02d}:{mm:02d}:00Z",
                      "source": "example.test", "feed": "f", "content": content, "summary": summary,
                      "language": language})


def html(paragraphs: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


def feed() -> list[dict]:
    return [
        art("wire", 0, "\n\n".join(WIRE)),
        art("other", 0.5, OTHER, title="New mayor for Hallgrim"),
        art("dateline", 1, html(["PORT ELMSWORTH (Tidewire) \u2014 " + WIRE[0], "\u2022 Read also: Lighthouse sold",
                                 *WIRE[1:3], "Advertisement", WIRE[3].replace("1987", "1986")]),
            title="UPDATE 1-Crane collapses at harbour | Daily Gull"),
        art("summary", 2, WIRE[0] + " \u2026", title="Crane Collapses At Harbour"),
        art("trimmed", 3, "\n".join(WIRE[:2]) + "\n\u00a9 Tidewire 2024"),
        art("dropped", 3.5, "\n".join([WIRE[0], WIRE[2], WIRE[3]]).replace("'", "\u2019")),
        art("rewrite", 5, REWRITE, title="Mackerel season at risk after crane accident"),
        art("same-event", 6, SAME_EVENT, title="Storm topples crane in Elmsworth port"),
        art("french", 6.5, "\n\n".join(WIRE), language="fr"),
    ]


def run(index: DedupeIndex, articles: list[dict]) -> dict[str, Decision]:
    return {a["id"]: index.decide(a) for a in articles}


def test_copies_chain_to_first_seen_and_share_its_story():
    d = run(DedupeIndex(), feed())
    assert d["wire"].copy_of is None and d["wire"].story_id == "s-wire"
    for aid in ("dateline", "summary", "trimmed", "dropped"):
        assert d[aid].copy_of == "wire", aid
        assert d[aid].story_id == "s-wire"
        assert 0.87 <= d[aid].similarity <= 1.0


def test_unrelated_same_event_and_other_language_stay_apart():
    d = run(DedupeIndex(), feed())
    assert d["other"] == Decision("other", None, "s-other", 0.0)
    assert d["same-event"].copy_of is None and d["same-event"].story_id == "s-same-event"
    assert d["french"].copy_of is None and d["french"].story_id == "s-french"


def test_rewrite_joins_the_story_but_is_not_a_copy():
    d = run(DedupeIndex(), feed())
    assert d["rewrite"].copy_of is None
    assert d["rewrite"].story_id == "s-wire"
    assert d["rewrite"].similarity >= 0.5


def test_copy_of_a_later_copy_points_to_the_root():
    index = DedupeIndex()
    index.decide(art("wire", 0, "\n\n".join(WIRE)))
    # only the later copy holds the last paragraph's exact wording: found through it, still the root
    index.decide(art("copy1", 1, "\n\n".join(WIRE) + "\nThe port reopens on Friday."))
    d = index.decide(art("copy2", 2, "\n\n".join(WIRE) + "\nThe port reopens on Friday."))
    assert d.copy_of == "wire"


def test_deciding_again_returns_the_same_and_changes_nothing():
    store: dict = {}
    index = DedupeIndex(store)
    first = run(index, feed())
    before = copy.deepcopy(store)
    again = run(index, list(reversed(feed())))
    assert again == first
    assert store == before


def test_window_expires_old_articles_and_bounds_the_store():
    store: dict = {}
    index = DedupeIndex(store, window_s=24 * 3600)
    index.decide(art("wire", 0, "\n\n".join(WIRE)))
    index.decide(art("later", 30, OTHER, title="Later"))
    assert "a:wire" not in store and "a:later" in store
    d = index.decide(art("copy", 31, "\n\n".join(WIRE)))
    assert d.copy_of is None  # the original left the window
    for i in range(50):
        index.decide(art(f"n{i}", 40 + i, f"{OTHER} Item {i} of the bulletin.", title=f"n{i}"))
    assert sum(k.startswith("a:") for k in store) <= 26


def test_late_article_outside_window_is_judged_but_not_stored():
    store: dict = {}
    index = DedupeIndex(store, window_s=24 * 3600)
    index.decide(art("wire", 48, "\n\n".join(WIRE)))
    d = index.decide(art("old", 1, "\n\n".join(WIRE)))
    assert d.copy_of == "wire" and "a:old" not in store


@pytest.mark.parametrize("split", [1, 4, 7])
def test_restart_over_the_same_store_gives_the_same_decisions(split):
    articles = feed()
    uninterrupted = run(DedupeIndex({}), articles)
    store: dict = {}
    first = run(DedupeIndex(store), articles[:split])
    second = run(DedupeIndex(store), articles[split:])  # a new worker over the persisted table
    assert {**first, **second} == uninterrupted


def test_restart_with_many_articles_and_expiry():
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(3000)]

    def text(seed: int) -> str:
        r = random.Random(seed)
        return " ".join(r.choice(vocab) for _ in range(120))

    articles = []
    for i in range(400):
        src = rng.randrange(max(1, i)) if i and rng.random() < 0.3 else i
        articles.append(art(f"x{i}", i * 0.5, text(src), title=f"t{i}"))
    uninterrupted = run(DedupeIndex({}, window_s=48 * 3600), articles)
    store: dict = {}
    part1 = run(DedupeIndex(store, window_s=48 * 3600), articles[:250])
    part2 = run(DedupeIndex(store, window_s=48 * 3600), articles[250:])
    assert {**part1, **part2} == uninterrupted
    assert sum(d.copy_of is not None for d in uninterrupted.values()) > 50


def test_store_values_are_json():
    import json

    store: dict = {}
    run(DedupeIndex(store), feed())
    for key, value in store.items():
        assert json.loads(json.dumps(value)) == value, key


def test_decision_to_dict():
    assert Decision("a", None, "s-a", 0.0).to_dict() == {"id": "a", "copy_of": None, "story_id": "s-a",
                                                         "similarity": 0.0}


def candidate_index(**options: int) -> Any:
    settings = {"sketch_bits": 12, "vocab_query": 64, "min_story_hits": 2, "max_copy": 4, "max_story": 8, **options}
    return steps.CandidateIndex(*settings.values())


def find(index: Any, *, words: tuple[int, ...] = (), names: tuple[int, ...] = (), lead: tuple[int, ...] = ()
         ) -> tuple[list[int], list[int], list[int], bool]:
    """(vocab keys, copy candidates, story candidates, any hit) of an article with these fingerprints."""
    fp = {"words": pack_words(list(words)), "names": pack_words(list(names)), "lead": list(lead), "probe": []}
    _, _, keys, copies, stories, any_hit = index.find(fp, 10)
    return list(keys), list(copies), list(stories), any_hit


NO_WORDS = np.zeros(0, dtype=np.uint32)


def test_candidate_index_forgets_articles_that_left_the_window(impl: str) -> None:
    index = candidate_index()
    for seq in range(1, 5001):
        index.add(seq, [seq * 7919 + 1], [], NO_WORDS)
        if seq > 100:  # a sliding window of 100
            index.remove(seq - 100, NO_WORDS)
    for key, expected in ((5000 * 7919 + 1, [5000]), (10 * 7919 + 1, []), (12345, [])):
        _, copies, stories, any_hit = find(index, lead=(key,))
        assert copies == stories == expected and any_hit == bool(expected)
    # the tables are sized by the live entries, not by all ever added
    assert len(index.lead) <= 100 if impl == "python" else len(index.lead.keys) <= 4096


def test_first_live_article_keeps_a_vocab_key():
    index = candidate_index(min_story_hits=1)
    for seq in (1, 2, 3, 4, 5, 6):
        index.add(seq, [], [99], NO_WORDS)
    assert find(index)[2] == []
    assert find(index, words=(98,))[0] == []  # rare, but neither a name nor sampled (98 % 4 != 0)
    assert find(index, words=(98,), names=(98,))[0] == [99]  # a rare name is always a key (+ 1)
    assert find(index, words=(98,), names=(98,))[2] == [1]
    index.remove(1, None)
    assert find(index, words=(98,), names=(98,))[2] == []  # the holder left the window
    index.add(7, [], [99], NO_WORDS)
    assert find(index, words=(98,), names=(98,))[2] == [7]


def test_live_articles_far_apart_in_arrival_order():
    """Sequence numbers that a small ring would put in one slot stay apart."""
    index = candidate_index()
    for seq in (1, 4097, 8193, 3, 4099):
        index.add(seq, [seq + 1], [], NO_WORDS)
    for seq in (1, 4097, 8193, 3, 4099):
        assert find(index, lead=(seq + 1,))[1] == [seq]


def test_rewrite_finds_the_wire_story_after_other_reports_took_its_words():
    index = DedupeIndex()
    index.decide(art("wire", 0, "\n\n".join(WIRE)))
    # an independent report with the same names comes in between: the first article keeps its keys
    index.decide(art("same-event", 1, SAME_EVENT + " Marit Oyelaran of Port Elmsworth declined to comment.",
                     title="Storm topples crane in Elmsworth port"))
    d = index.decide(art("rewrite", 2, REWRITE, title="Mackerel season at risk after crane accident"))
    assert d.story_id == "s-wire" and d.copy_of is None


def test_article_written_from_two_wire_stories_joins_the_closer_one():
    index = DedupeIndex()
    index.decide(art("wire", 0, "\n\n".join(WIRE)))
    index.decide(art("other", 0.5, OTHER, title="New mayor for Hallgrim"))
    roundup = (
        "Engineers from the Veldmark Institute will inspect the cranes in Port Elmsworth after one toppled "
        "onto two trawlers, spokeswoman Marit Oyelaran said, and Brackwater Logistics must report to the "
        "council. In Hallgrim, schoolteacher Ivo Castellane beat the incumbent mayor after a campaign "
        "about the valley railway line and the hospital in Oberlund.")
    d = index.decide(art("roundup", 2, roundup, title="Regional roundup"))
    assert d.copy_of is None and d.story_id == "s-wire"


def test_short_rewrite_joins_through_its_names():
    index = DedupeIndex()
    index.decide(art("wire", 0, "\n\n".join(WIRE)))
    d = index.decide(art("brief", 1, "Marit Oyelaran says the Port Elmsworth quay stays shut until Veldmark "
                                     "Institute engineers check the cranes.", title="Quay shut"))
    assert d.story_id == "s-wire" and d.copy_of is None


def test_clock_is_rebuilt_from_the_records():
    store: dict = {}
    index = DedupeIndex(store, window_s=24 * 3600)
    index.decide(art("wire", 48, "\n\n".join(WIRE)))
    assert all(k.startswith("a:") for k in store)  # one record per article, nothing else
    restarted = DedupeIndex(store, window_s=24 * 3600)
    d = restarted.decide(art("old", 1, OTHER, title="Old news"))  # 47 h older than the newest
    assert d.copy_of is None and "a:old" not in store
    d = restarted.decide(art("copy", 49, "\n\n".join(WIRE)))
    assert d.copy_of == "wire" and store["a:copy"]["seq"] == store["a:wire"]["seq"] + 1
