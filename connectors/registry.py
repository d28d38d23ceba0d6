"""Connector plugins, found through the `wirewatch.connectors` entry-point group.

Two different classes registered under one name is an error (the same entry point seen twice, as
with an editable install, is not).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from connectors.base import Connector, FeedConfig
from connectors.errors import ConfigError

GROUP = "wirewatch.connectors"


def build_registry(points: Iterable[EntryPoint]) -> dict[str, type[Connector]]:
    found: dict[str, type[Connector]] = {}
    values: dict[str, str] = {}
    for ep in points:
        if ep.name in values:
            if values[ep.name] == ep.value:
                continue
            raise ConfigError(f"two connectors are registered as {ep.name!r} ({values[ep.name]} and {ep.value})",
                              key=GROUP)
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise ConfigError(f"{ep.value} (registered as {ep.name!r}) is not a Connector subclass", key=GROUP)
        found[ep.name], values[ep.name] = cls, ep.value
    return found


@cache
def registry() -> dict[str, type[Connector]]:
    return build_registry(entry_points(group=GROUP))


def connector_for(feed: FeedConfig) -> Connector:
    kinds = registry()
    if feed.kind not in kinds:
        raise ConfigError(f"unknown connector kind {feed.kind!r} (known: {', '.join(sorted(kinds))})",
                          key=f"feed {feed.id}")
    return kinds[feed.kind].from_config(feed)
