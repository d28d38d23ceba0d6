"""`wirewatch alerts tail`: follow news.alerts in a terminal (read-only: no consumer group)."""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.errors import ConfigError, WirewatchError
from connectors.settings import Settings

log = logging.getLogger("wirewatch")

SEVERITY_COLOURS = {"none": "2", "low": "36", "medium": "33", "high": "31", "critical": "1;41;97"}


def format_alert(alert: dict[str, Any], colour: bool) -> str:
    """One terminal line per alert version: time, severity (coloured), version, reason, what changed,
    what, how widely reported (independent outlets, copies, languages), where, id."""
    severity = str(alert.get("severity", "none"))
    label = f"{severity.upper():8}"
    if colour:
        label = f"\033[{SEVERITY_COLOURS.get(severity, '0')}m{label}\033[0m"
    casualties = f" {alert['casualties']} casualties" if alert.get("casualties") else ""
    sources = len(alert.get("sources") or [])
    title = " ".join(str(alert.get("title", "")).split())  # a title with newlines must not break the line
    languages = alert.get("languages") or []
    spread = f"{sources} sources, {alert.get('copies', 0)} copies" + (
        f", {'/'.join(map(str, languages))}" if len(languages) > 1 else "")
    where = ", ".join(" ".join(str(p).split()) for p in (alert.get("places") or [])[:3])
    places = f" in {where}" if where else ""
    changed = "; ".join(_change(c) for c in alert.get("changes") or [] if isinstance(c, dict))
    merged = f" -> {alert['merged_into']}" if alert.get("merged_into") else ""
    return (f"{alert.get('updated_at', '')} {label} v{alert.get('version')} {alert.get('reason', ''):9} "
            f"{'(' + changed + ') ' if changed else ''}[{','.join(alert.get('categories') or [])}]{casualties} "
            f"{title}{places} ({alert.get('source', '')}; {spread}) "
            f"{alert.get('alert_id', '')}{merged}")


def _change(change: dict[str, Any]) -> str:
    """"casualties 6->13", "sources 3->5", "languages +fr"."""
    name, before, after = change.get("field"), change.get("from"), change.get("to")
    if isinstance(after, list):
        added = [str(x) for x in after if x not in (before or [])]
        return f"{name} +{','.join(added)}" if added else str(name)
    return f"{name} {before}->{after}"


@dataclass(frozen=True)
class AlertFilter:
    """Which alert versions `wirewatch alerts tail` shows. Empty tuples match everything."""

    min_severity: str = "none"
    categories: tuple[str, ...] = ()   # any of them
    sources: tuple[str, ...] = ()      # any of them, in `source` or `sources`
    text: str = ""                     # case-insensitive, in the title or a matched term

    def __call__(self, alert: Mapping[str, Any]) -> bool:
        from streams.alerts import RANK

        if RANK.get(alert.get("severity"), 0) < RANK[self.min_severity]:  # type: ignore[arg-type]
            return False
        if self.categories and not set(self.categories) & set(alert.get("categories") or ()):
            return False
        outlets = {str(alert.get("source", "")).lower(), *(str(s).lower() for s in alert.get("sources") or ())}
        if self.sources and not {s.lower() for s in self.sources} & outlets:
            return False
        if self.text:
            haystack = " ".join([str(alert.get("title", "")),
                                 *(str(m.get("term", "")) for m in alert.get("matches") or ())]).casefold()
            if self.text.casefold() not in haystack:
                return False
        return True


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`--since`: a duration back from now (90s, 15m, 2h, 1d) or an RFC 3339 time."""
    from connectors.article import parse_time

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", value)
    if match:
        seconds = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        return parse_time(value)
    except ValueError:
        raise ConfigError(f"not a duration (30m, 2h, 1d) or an RFC 3339 time: {value!r}", key="--since") from None


def tail_alerts(settings: Settings, *, from_beginning: bool = False, as_json: bool = False,
                min_severity: str = "none", until: float | None = None, since: datetime | None = None,
                match: AlertFilter | None = None, follow: bool = True) -> Iterator[dict[str, Any]]:
    """Yield alerts from the alert topic as they arrive, oldest first per partition.

    No consumer group and nothing committed: a tail is a read-only view that never takes records from
    a sink. Starts at the end, at the beginning, or at the first record at or after `since`; stops at
    `until` (time.monotonic()) when given, or at the end of the topic when not `follow`ing.
    `as_json` is kept for callers; the caller formats.
    """
    from kafka import KafkaConsumer

    match = match or AlertFilter(min_severity=min_severity)
    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, client_id=f"{settings.client_id}-tail",
                             consumer_timeout_ms=500, **settings.kafka_options())
    try:
        assigned = _seek(consumer, settings.topics.alerts, from_beginning, since, until)
        ends = consumer.end_offsets(assigned) if not follow else {}
        while until is None or time.monotonic() < until:
            if ends and all(consumer.position(tp) >= end for tp, end in ends.items()):
                return
            for message in consumer:
                try:
                    alert = json.loads(message.value)
                except ValueError:
                    log.warning("unreadable alert at offset %s", message.offset)
                    continue
                if isinstance(alert, dict) and match(alert):
                    yield alert
                if until is not None and time.monotonic() >= until:
                    return
    finally:
        consumer.close()


def _seek(consumer: Any, topic: str, from_beginning: bool, since: datetime | None, until: float | None) -> list[Any]:
    from kafka import TopicPartition

    deadline = min(until or math.inf, time.monotonic() + 30)
    partitions = consumer.partitions_for_topic(topic)
    while not partitions and time.monotonic() < deadline:
        time.sleep(0.2)  # metadata of a topic being created: poll with a deadline
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise WirewatchError(f"topic {topic} does not exist on {consumer.config['bootstrap_servers']}")
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    if since is not None:
        found = consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in assigned})
        for tp in assigned:
            if found.get(tp) is None:
                consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, found[tp].offset)
    elif from_beginning:
        consumer.seek_to_beginning(*assigned)
    else:
        consumer.seek_to_end(*assigned)
    return assigned
