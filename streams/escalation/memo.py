"""A bounded memo: what the scorer remembers between articles."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    """Results of a pure function of the key, all forgotten at once past `limit` entries.

    Bounded, so a stream of new words cannot grow it without end; read as a plain dict (`get`), as fast
    as one, because the watchlist looks up every capitalised word of every article. Forgetting cannot
    change a result, only what it costs to compute it again.
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int = 50_000) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: K, value: V) -> V:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
