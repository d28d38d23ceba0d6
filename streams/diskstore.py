"""The dedupe window on disk for `wirewatch replay`: a RocksDB database in a scratch folder.

The worker keeps dedupe records in a Faust RocksDB table; replay keeps them the same way, so that a
window of a million articles (about 3 kB of record each) stays on disk instead of in memory. Values
are the JSON the worker's table holds (orjson), keys UTF-8. The database is scratch state of one
run: no write-ahead log, and memory bounded like the worker's table partitions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any, cast

import orjson

# the worker's per-table-partition bounds (streams.worker.tables.ROCKSDB_OPTIONS)
WRITE_BUFFER = 16 * 2**20
WRITE_BUFFERS = 2
BLOCK_CACHE = 64 * 2**20


class DiskStore(MutableMapping[str, Any]):
    """A MutableMapping of JSON values in a RocksDB database at `path` (created if missing)."""

    def __init__(self, path: str | Path) -> None:
        import rocksdict

        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_write_buffer_size(WRITE_BUFFER)
        options.set_max_write_buffer_number(WRITE_BUFFERS)
        table = rocksdict.BlockBasedOptions()
        table.set_block_cache(rocksdict.Cache(BLOCK_CACHE))
        options.set_block_based_table_factory(table)
        self.db = rocksdict.Rdict(str(path), options=options)
        writes = rocksdict.WriteOptions()
        # rocksdict's stub declares disable_wal a method; at run time it is a settable bool attribute
        writes.disable_wal = True  # type: ignore[method-assign,assignment]
        self.db.set_write_options(writes)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.db.get(key.encode())
        return default if raw is None else orjson.loads(raw)

    def __getitem__(self, key: str) -> Any:
        raw = self.db.get(key.encode())
        if raw is None:
            raise KeyError(key)
        return orjson.loads(raw)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.db.get(key.encode()) is not None

    def __setitem__(self, key: str, value: Any) -> None:
        self.db.put(key.encode(), dumps(value))

    def __delitem__(self, key: str) -> None:
        if self.db.get(key.encode()) is None:
            raise KeyError(key)
        self.db.delete(key.encode())

    _MISSING = object()

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        """One read and one delete (MutableMapping.pop reads twice: its own get, then __delitem__'s);
        dedupe pops every article's record when it leaves the window."""
        raw = self.db.get(key.encode())
        if raw is None:
            if default is DiskStore._MISSING:
                raise KeyError(key)
            return default
        self.db.delete(key.encode())
        return orjson.loads(raw)

    def __iter__(self) -> Iterator[str]:
        # (iterating the Rdict itself fails in raw mode; its keys() does not)
        keys = cast("Iterator[bytes]", self.db.keys())  # raw mode: keys are bytes (the stub allows any key type)
        return (key.decode() for key in keys)

    def __len__(self) -> int:
        return sum(1 for _ in self.db.keys())  # noqa: SIM118

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        """(key, value) pairs in one pass (what DedupeIndex reads to rebuild itself)."""
        items = cast("Iterator[tuple[bytes, bytes]]", self.db.items())  # raw mode: bytes keys and values
        return ((key.decode(), orjson.loads(value)) for key, value in items)

    def close(self) -> None:
        self.db.close()


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, as json.dumps(ensure_ascii=False, separators=(",", ":")) writes it."""
    try:
        return orjson.dumps(value)
    except TypeError:  # what orjson refuses (non-string keys, integers beyond 64 bits): the stdlib decides
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
