"""The replay's on-disk dedupe store behaves as the mapping DedupeIndex expects, with JSON values."""

from pathlib import Path

import pytest

from streams.dedupe import DedupeIndex
from streams.diskstore import DiskStore, dumps


def test_values_round_trip_as_json_and_missing_keys_raise(tmp_path: Path) -> None:
    store = DiskStore(tmp_path / "db")
    record = {"id": "a1", "words": "q83+", "keys": [1, 2**63 - 1], "sim": 0.97, "copy_of": None, "t": "é"}
    store["a:a1"] = record
    assert store["a:a1"] == record and store.get("a:a1") == record
    assert "a:a1" in store and "a:zz" not in store and 5 not in store
    assert store.get("a:zz", "none") == "none"
    with pytest.raises(KeyError):
        store["a:zz"]
    with pytest.raises(KeyError):
        del store["a:zz"]
    store["m:en"] = {"n": 1}
    assert sorted(store) == ["a:a1", "m:en"] and len(store) == 2
    del store["a:a1"]
    assert "a:a1" not in store and len(store) == 1
    assert store.pop("m:en") == {"n": 1} and "m:en" not in store
    assert store.pop("m:en", None) is None
    with pytest.raises(KeyError):
        store.pop("m:en")
    store.close()


def test_dumps_writes_compact_utf8_and_falls_back_for_what_orjson_refuses() -> None:
    assert dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    assert dumps({1: 2**70}) == b'{"1":1180591620717411303424}'


def test_a_dedupe_index_on_disk_decides_as_one_in_memory(tmp_path: Path) -> None:
    from streams.normalize import normalize

    body = ("Rockets struck the harbour town of Belcastle on Monday, killing 12 people, officials said. "
            "The mayor called for calm as rescue teams searched the rubble through the night.")
    articles = [normalize({"id": f"x{i}", "url": f"https://e{i}.example/a", "title": "Harbour town struck",
                           "published_at": f"2026-01-01T0{i}:00:00Z", "source": f"e{i}", "feed": "f",
                           "language": "en", "content": body if i < 2 else "A quiet day at the market."})
                for i in range(3)]
    on_disk, in_memory = DedupeIndex(DiskStore(tmp_path / "db")), DedupeIndex({})
    decided = [(on_disk.decide(a), in_memory.decide(a)) for a in articles]
    assert [d for d, _ in decided] == [m for _, m in decided]
    assert decided[1][0].copy_of == "x0" and decided[2][0].copy_of is None
