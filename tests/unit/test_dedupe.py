"""Dedupe: copies, chains, summaries, rewrites, languages, window, idempotence, restart from the store."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

from streams.dedupe import Alive, Decision, DedupeIndex, KeyTable
from streams.normalize import normalize

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


def test_key_table_grows_and_forgets_dead_entries():
    table = KeyTable(capacity=16)
    live: dict[int, str] = {}
    alive = Alive(size=16)
    for seq in range(1, 5001):
        live[seq] = str(seq)
        alive.add(seq, live)
        table.insert(np.array([seq * 7919 + 1], dtype=np.uint64), seq, alive)
        if seq > 100:  # a sliding window of 100
            del live[seq - 100]
            alive.remove(seq - 100)
    found = table.lookup(np.array([5000 * 7919 + 1, 10 * 7919 + 1, 12345], dtype=np.uint64), alive)
    assert found.tolist() == [5000, 0, 0]
    assert table.mask + 1 <= 4096  # sized by the live entries, not by all ever inserted


def test_key_table_keep_first_and_alive_ring_growth():
    table = KeyTable(capacity=16)
    live: dict[int, str] = {}
    alive = Alive(size=4)
    key = np.array([99], dtype=np.uint64)
    for seq in (1, 2, 3, 4, 5, 6):  # six live seqs do not fit a ring of 4: it grows, none is lost
        live[seq] = str(seq)
        alive.add(seq, live)
        table.insert(key, seq, alive, keep_first=True)
    assert table.lookup(key, alive).tolist() == [1]
    del live[1]
    alive.remove(1)
    assert table.lookup(key, alive).tolist() == [0]  # the holder left the window
    live[7] = "7"
    alive.add(7, live)
    table.insert(key, 7, alive, keep_first=True)
    assert table.lookup(key, alive).tolist() == [7]



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


def test_compiled_helpers_agree_with_their_python_meaning() -> None:
    """The compiled tally and intersection give what the dict count and set intersection gave."""
    from streams.dedupe import Alive, KeyTable, _count, _found

    rng = np.random.default_rng(3)
    alive, table = Alive(), KeyTable()
    live: dict[int, str] = {}
    for seq in range(1, 400):
        live[seq] = str(seq)
        alive.add(seq, live)
        table.insert(rng.integers(1, 5000, 6, dtype=np.uint64), seq, alive)
    for seq in range(1, 400, 3):
        alive.remove(seq)
    for _ in range(50):
        query = np.unique(rng.integers(1, 5000, 60, dtype=np.uint64))
        assert table.hits(query, alive) == _count(table.lookup(query, alive))
        counted = np.unique(rng.integers(0, 300, 80).astype(np.uint32))
        words = rng.integers(0, 300, 120).astype(np.uint32)
        mask, n = _found(counted, words)
        assert set(counted[mask].tolist()) == set(counted.tolist()).intersection(words.tolist())
        assert n == int(mask.sum())
    assert _found(np.zeros(0, np.uint32), words)[1] == 0


def test_compiled_candidate_ranking_is_the_python_ranking() -> None:
    """`_probe` ranks candidates as `_best` over the dict tallies did (most keys, then newest), merges
    vocab and lead hits and drops story candidates with fewer than the keys needed; `_found_count_packed`
    is `_found` of the unpacked words."""
    from streams.dedupe import _best, _found, _found_count_packed, _probe, _top
    from streams.normalize import _B64_DEC, pack_words

    rng = np.random.default_rng(5)
    for _ in range(200):
        seqs = np.unique(rng.integers(1, 60, rng.integers(0, 30)).astype(np.uint32))
        rng.shuffle(seqs)
        counts = rng.integers(1, 5, len(seqs)).astype(np.int64)
        hits = dict(zip(seqs.tolist(), counts.tolist(), strict=True))
        assert _top(seqs, counts, 4).tolist() == _best(hits, 4)
    alive, lead, vocab = Alive(), KeyTable(), KeyTable()
    live: dict[int, str] = {}
    for seq in range(1, 300):
        live[seq] = str(seq)
        alive.add(seq, live)
        lead.insert(rng.integers(1, 3000, 8, dtype=np.uint64), seq, alive)
        vocab.insert(rng.integers(1, 3000, 5, dtype=np.uint64), seq, alive, keep_first=True)
    rows, shift = np.zeros((2, 1 << 12), np.int32), np.uint64(64 - 12)
    for _ in range(50):
        words = np.unique(rng.integers(0, 2**32, 120, dtype=np.uint64).astype(np.uint32))
        query = rng.integers(1, 3000, 40, dtype=np.uint64)
        rare, keys, copy_seqs, story_seqs, any_hit = _probe(rows, shift, words, np.zeros(0, np.uint32), 10, 64,
                                                            lead.keys, lead.vals, vocab.keys, vocab.vals, alive.ring,
                                                            query, 2, 4, 8)
        lead_hits = lead.hits(np.unique(query), alive)
        vocab_hits = vocab.hits(keys, alive)
        merged = dict(vocab_hits)
        for seq, n in lead_hits.items():
            merged[seq] = merged.get(seq, 0) + n
        need = min(2, max(1, len(keys) // 8))
        assert copy_seqs.tolist() == _best(lead_hits, 4)
        assert story_seqs.tolist() == _best({s: n for s, n in merged.items() if n >= need}, 8)
        assert any_hit == bool(lead_hits or vocab_hits)
        other = rng.choice(np.concatenate((words, rng.integers(0, 2**32, 80, dtype=np.uint64).astype(np.uint32))), 150)
        packed = np.frombuffer(pack_words(other).encode("ascii"), np.uint8)
        assert _found_count_packed(rare, packed, _B64_DEC) == _found(rare, other)[1]
    assert _found_count_packed(rare, np.frombuffer(b"AAA=", np.uint8), _B64_DEC) == -1


def test_compiled_lcs_is_rapidfuzz_lcs() -> None:
    """`_lcs` (bit-parallel) gives the LCS length rapidfuzz gives, and `_key_similarity` of packed keys is
    `_copy_similarity` of the unpacked ones, float for float (short, long, repetitive, empty, odd keys)."""
    from rapidfuzz.distance import LCSseq

    from streams.dedupe import _lcs
    from streams.normalize import pack_words

    rng = np.random.default_rng(11)
    for _ in range(3000):
        alphabet = int(rng.choice([2, 5, 40, 2**32 - 1]))
        a = rng.integers(0, alphabet, int(rng.integers(0, 200)), dtype=np.uint64).astype(np.uint32)
        b = rng.integers(0, alphabet, int(rng.integers(0, 450)), dtype=np.uint64).astype(np.uint32)
        if rng.random() < 0.4 and len(a):
            b = np.concatenate((b[: len(b) // 2], a[rng.random(len(a)) < 0.9], b[len(b) // 2:])).astype(np.uint32)
        assert _lcs(a, b) == LCSseq.similarity(a.tolist(), b.tolist())
    index = DedupeIndex({})
    for _ in range(1000):
        alphabet = int(rng.choice([3, 60, 2**32 - 1]))
        a = rng.integers(0, alphabet, int(rng.integers(0, 420)), dtype=np.uint64).astype(np.uint32)
        b = rng.integers(0, alphabet, int(rng.integers(0, 420)), dtype=np.uint64).astype(np.uint32)
        if rng.random() < 0.5 and len(a):
            b = np.concatenate((b[: len(b) // 3], a[rng.random(len(a)) < 0.85], b[len(b) // 3:])).astype(np.uint32)
        got = index._key_similarity(pack_words(a), pack_words(b))
        expect = index._copy_similarity(a.tolist(), b.tolist())
        assert got == expect and type(got) is type(expect)
    key = pack_words(np.arange(1, 40, dtype=np.uint32))
    odd = key.rstrip("=") + "\n"  # not canonical: binascii unpacks it, as before
    assert index._key_similarity(key, odd) == index._copy_similarity(
        np.arange(1, 40).tolist(), np.frombuffer(__import__("binascii").a2b_base64(odd), "<u4").tolist())


def test_probe_buffers_grow_and_agree_with_the_unpacked_path() -> None:
    """The packed-probe path writes into buffers the index keeps (grown for long word lists) and finds
    what the binascii path finds for the same words written non-canonically."""
    from streams.normalize import pack_words

    rng = np.random.default_rng(7)
    index = DedupeIndex({})
    run(index, feed())
    part = index.parts["en"]
    for size in (0, 5, 200, 900, 3000):
        words = np.unique(rng.integers(1, 2**32, size, dtype=np.uint64).astype(np.uint32))
        names = words[: size // 10]
        fp = copy.deepcopy(feed()[0]["norm"]["fingerprints"])
        fp.update(words=pack_words(words), names=pack_words(names))
        odd = dict(fp, words=fp["words"] + "\n", names=fp["names"] + "\n")  # binascii reads these
        got, expect = index._probe(part, fp), index._probe(part, odd)
        assert len(index._words_out) >= len(words)
        for a, b in zip(got, expect, strict=True):
            assert (a.tolist() if isinstance(a, np.ndarray) else a) == (b.tolist() if isinstance(b, np.ndarray) else b)
