"""Dedupe: near-identical copies -> copy_of / story_id. PLACEHOLDER (walking skeleton): exact body match."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Decision:
    id: str
    copy_of: str | None
    story_id: str
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DedupeIndex:
    def __init__(self, store: MutableMapping[str, Any] | None = None) -> None:
        self.store: MutableMapping[str, Any] = {} if store is None else store

    def decide(self, normed: Mapping[str, Any]) -> Decision:
        known = self.store.get("a:" + normed["id"])
        if known is not None:
            return Decision(**known)
        key = "h:" + hashlib.sha1(normed["norm"]["body"].encode()).hexdigest()
        first = self.store.get(key)
        if first is None:
            decision = Decision(normed["id"], None, "s-" + normed["id"], 1.0)
            self.store[key] = decision.to_dict()
        else:
            decision = Decision(normed["id"], first["id"], first["story_id"], 1.0)
        self.store["a:" + normed["id"]] = decision.to_dict()
        return decision
