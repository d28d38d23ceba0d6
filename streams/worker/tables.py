"""Faust tables as MutableMappings of JSON documents, the form in which the stages keep state."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from streams.diskstore import dumps as _dumps

_loads = orjson.loads

# RocksDB memory per table partition. Faust's defaults (3 write buffers of 64 MB, a 2 GB block cache)
# let one table partition take over 2 GB; a worker holds two tables times its partitions. Records are
# small (a dedupe record ~3 kB, a story ~1 kB), reads mostly hit the memtables or the OS page cache.
ROCKSDB_OPTIONS = {"write_buffer_size": 16 * 2**20, "max_write_buffer_number": 2,
                   "block_cache_size": 64 * 2**20}


class JsonView(MutableMapping[str, Any]):
    """A Faust table whose values are JSON documents stored as bytes (the table's value serializer is
    "raw"): each value is encoded once, here, and those bytes go both to the changelog and to RocksDB
    (Faust's json codec encoded every write twice, once per destination, with the stdlib encoder).
    The bytes are the same JSON as before, so changelogs and stores written by older versions read back.

    Reads go to the table's store directly (the table's own `get` reads RocksDB twice: a membership
    test, then the value). With `partition`, the view is the slice of the table that belongs to one
    source partition (keys prefixed `<partition>/`): one dedupe index per partition."""

    def __init__(self, table: Any, partition: int | None = None) -> None:
        self.table, self.prefix = table, "" if partition is None else f"{partition}/"

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.table.data.get(self.prefix + key)
        return default if raw is None else _loads(raw)

    def __getitem__(self, key: str) -> Any:
        raw = self.table.data.get(self.prefix + key)
        if raw is None:
            raise KeyError(key)
        return _loads(raw)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.table.data.get(self.prefix + key) is not None

    def __setitem__(self, key: str, value: Any) -> None:
        self.table[self.prefix + key] = _dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.table[self.prefix + key]

    def __iter__(self) -> Iterator[str]:
        n = len(self.prefix)
        return (key[n:] for key in list(self.table.keys()) if key.startswith(self.prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)
