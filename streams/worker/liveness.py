"""The worker's heartbeats for `/livez` (streams/shell/health.py): the event loop and the consumer.

- `loop`: a Faust timer beats every second. A record whose processing blocks the loop (a blocking
  call, a runaway computation) stops it, while the metrics thread still answers.
- `consumer`: every completed fetch cycle of Faust's consumer (`Consumer._wait_next_records`
  returns, records or none, within about a second when idle) and every record handed to the agents
  beats it. A consumer thread stuck in a fetch, or agents that stopped taking records (an await
  that never returns, while the loop itself runs), stop it. A worker behind but moving keeps beating:
  lag is not liveness. Rebalances and table recovery fetch too (changelogs), so they beat as well.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.shell.health import Heartbeat, Liveness

_APP_ATTRIBUTE = "_wirewatch_consumer_heartbeat"


def watch(app: faust.App, liveness: Liveness, timeout_s: float) -> None:
    """Give `app` a loop and a consumer heartbeat in `liveness`, each stale after `timeout_s`."""
    loop = liveness.add("loop", timeout_s)
    consumer = liveness.add("consumer", timeout_s)
    beat_on_fetch()
    setattr(app, _APP_ATTRIBUTE, consumer)
    app.sensors.add(_RecordSensor(consumer))

    @app.timer(1.0, name="wirewatch.liveness.loop")
    async def loop_heartbeat() -> None:
        loop.beat()


class _RecordSensor(faust.Sensor):
    """Beats on every record the consumer hands to the agents (a long batch keeps beating)."""

    def __init__(self, heartbeat: Heartbeat, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heartbeat = heartbeat

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        self.heartbeat.beat()


def beat_on_fetch() -> None:
    """Wrap faust's Consumer._wait_next_records (one fetch cycle of the drain loop) to beat the app's
    consumer heartbeat when it returns. Applied once; fails at start if an upgrade renamed it."""
    from faust.transport.consumer import Consumer

    original = getattr(Consumer, "_wait_next_records", None)
    if original is None:
        raise RuntimeError("faust Consumer has no _wait_next_records; revisit streams.worker.liveness")
    if getattr(original, "_wirewatch", False):
        return

    async def _wait_next_records(self: Any, timeout: float) -> Any:
        result = await original(self, timeout)
        heartbeat = getattr(self.app, _APP_ATTRIBUTE, None)
        if heartbeat is not None:
            heartbeat.beat()
        return result

    _wait_next_records._wirewatch = True  # type: ignore[attr-defined]
    Consumer._wait_next_records = _wait_next_records  # type: ignore[method-assign]
