"""Run the connector runner in-process against the real broker (test helper)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from connectors.base import FeedConfig
from connectors.metrics import ConnectorMetrics
from connectors.publisher import make_producer
from connectors.runner import Runner, load_states
from connectors.settings import ConnectorSettings, Settings
from connectors.state import FeedState

QUICK = ConnectorSettings(host_spacing_s=0.0, host_concurrency=8, timeout_s=3.0, min_interval_s=0.05,
                          backoff_base_s=0.05, default_interval_s=0.2,
                          allow_hosts=("127.0.0.1",))   # the guard stays on; the test servers are local


def quick(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, connector=dataclasses.replace(QUICK, **changes))


def new_runner(settings: Settings, feeds: Sequence[FeedConfig], producer: Any = None,
               states: dict[str, FeedState] | None = None) -> Runner:
    """A runner that resumes from the state topic, as a restarted connector process would."""
    if states is None:
        states = load_states(settings, [f.id for f in feeds])
    return Runner(feeds, settings, producer or make_producer(settings),
                  metrics=ConnectorMetrics(CollectorRegistry()), states=states)


def poll_once(settings: Settings, feeds: Sequence[FeedConfig], producer: Any = None) -> Runner:
    runner = new_runner(settings, feeds, producer)
    try:
        asyncio.run(runner.run(asyncio.Event(), once=True))
    finally:
        runner.publisher.producer.close()
    return runner
