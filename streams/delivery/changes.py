"""What changed between two versions of an alert, in the words an operator reads first.

The worker will say it itself (`changes: [{field, from, to}]`); until it does, and for a consumer
that missed versions, the difference is computed from the previous version this consumer saw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# the fields whose change is news, in the order they are told
WATCHED = ("severity", "casualties", "sources", "categories", "languages", "places", "merged_into")


def changes_of(alert: Mapping[str, Any], previous: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The alert's own `changes` when it carries them, else the difference from `previous`."""
    given = alert.get("changes")
    if isinstance(given, list) and given:
        return [dict(c) for c in given if isinstance(c, Mapping) and c.get("field")]
    if previous is None:
        return []
    found = []
    for name in WATCHED:
        before, after = previous.get(name), alert.get(name)
        if name in ("sources", "languages", "places"):
            before, after = _count(before), _count(after)
            if name in ("sources",) and (before or 0) == (after or 0):
                continue
        elif name == "categories":
            before, after = sorted(before or []), sorted(after or [])
        if before != after and after is not None:
            found.append({"field": name, "from": before, "to": after})
    return found


def _count(values: Any) -> int | None:
    return len(values) if isinstance(values, list | tuple) else None


def describe_change(change: Mapping[str, Any]) -> str:
    """One change as a short phrase: "toll 6 -> 13", "now 5 outlets", "severity high -> critical"."""
    name, before, after = str(change.get("field")), change.get("from"), change.get("to")
    if name == "casualties":
        return f"toll {before if before is not None else '?'} -> {after}"
    if name == "sources":
        return f"now {_size(after)} outlets"
    if name == "languages":
        return f"now in {_size(after)} languages"
    if name == "places":
        return f"now {_size(after)} places"
    if name == "categories":
        added = sorted(set(after or []) - set(before or [])) if isinstance(after, list) else []
        return f"new: {', '.join(map(str, added))}" if added else "categories changed"
    if name == "merged_into":
        return f"merged into {after}"
    if name == "severity":
        return f"severity {before} -> {after}"
    return f"{name} {before} -> {after}"


def _size(value: Any) -> Any:
    return len(value) if isinstance(value, list | tuple) else value


def summary(changes: Sequence[Mapping[str, Any]]) -> str:
    """All changes of one update, comma separated ("" for none)."""
    return ", ".join(describe_change(c) for c in changes)
