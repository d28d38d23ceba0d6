"""Connector plugins, found through the `wirewatch.connectors` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from connectors.base import Connector, FeedConfig
from connectors.errors import ConfigError

GROUP = "wirewatch.connectors"


@cache
def registry() -> dict[str, type[Connector]]:
    found: dict[str, type[Connector]] = {}
    for ep in entry_points(group=GROUP):
        if ep.name in found:
            raise ConfigError(f"two connectors are registered as {ep.name!r} ({ep.value} and "
                              f"{found[ep.name].__module__})", key=GROUP)
        found[ep.name] = ep.load()
    return found


def connector_for(feed: FeedConfig) -> Connector:
    kinds = registry()
    if feed.kind not in kinds:
        raise ConfigError(f"unknown connector kind {feed.kind!r} (known: {', '.join(sorted(kinds))})",
                          key=f"feed {feed.id}")
    return kinds[feed.kind].from_config(feed)
