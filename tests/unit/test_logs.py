"""Logs: JSON on request with every `extra` field, text by default, quiet frameworks, bad settings named."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from connectors.errors import ConfigError
from streams.metrics import StreamMetrics
from streams.shell.logs import configure


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("faust", "kafka", "aiokafka", "mode")}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def _dlq_warning(env: dict[str, str], verbose: int = 0) -> str:
    """What the worker's DLQ path logs for one bad record, through the configured handler."""
    from streams.worker.agents import Agents

    out = io.StringIO()
    configure(verbose, env, out)
    sent: list[Any] = []

    async def send_dlq(*args: Any, **kwargs: Any) -> None:
        sent.append((args, kwargs))

    agents = Agents.__new__(Agents)                     # only what to_dlq uses
    agents.metrics, agents.send_dlq = StreamMetrics(CollectorRegistry()), send_dlq
    message = SimpleNamespace(topic="news.articles", partition=3, offset=1234, key=b"k", value=b"\xff")
    asyncio.run(agents.to_dlq(SimpleNamespace(message=message), ValueError("not JSON: bad byte")))
    assert sent, "the record went to the DLQ"
    return out.getvalue()


def test_json_logs_carry_the_dlq_records_topic_partition_and_offset() -> None:
    [line] = _dlq_warning({"WIREWATCH_LOG_FORMAT": "json"}).splitlines()
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["logger"] == "streams.worker.agents"
    assert record["message"] == "record to DLQ: not JSON: bad byte"
    assert (record["topic"], record["partition"], record["offset"]) == ("news.articles", 3, 1234)
    assert record["time"].endswith("Z") and isinstance(record["pid"], int)


def test_text_logs_keep_the_extra_fields_too() -> None:
    [line] = _dlq_warning({}).splitlines()
    assert "WARNING streams.worker.agents: record to DLQ: not JSON: bad byte" in line
    assert line.endswith("(topic=news.articles partition=3 offset=1234)")


def test_quiet_by_default_frameworks_quieter_than_wirewatch() -> None:
    out = io.StringIO()
    configure(0, {}, out)
    logging.getLogger("connectors.runner").info("feed x: 3 new articles")
    logging.getLogger("faust.transport").warning("Heartbeat failed; retrying")
    logging.getLogger("streams.worker.app").warning("escalation rules reloaded")
    assert out.getvalue().count("\n") == 1 and "rules reloaded" in out.getvalue()

    out = io.StringIO()
    configure(1, {}, out)                                   # -v: wirewatch's info, frameworks' warnings
    logging.getLogger("connectors.runner").info("feed x: 3 new articles")
    logging.getLogger("faust.transport").warning("Heartbeat failed; retrying")
    logging.getLogger("faust.transport").info("Fetching metadata")
    logging.getLogger("kafka.conn").error("connection refused")  # kafka-python's retries: never below -vv
    assert out.getvalue().count("\n") == 2

    out = io.StringIO()
    configure(0, {"WIREWATCH_LOG_LEVEL": "info", "WIREWATCH_LOG_FORMAT": "JSON"}, out)
    logging.getLogger("connectors.runner").info("feed x: 3 new articles")
    assert json.loads(out.getvalue())["message"] == "feed x: 3 new articles"


def test_exceptions_are_one_json_record() -> None:
    out = io.StringIO()
    configure(0, {"WIREWATCH_LOG_FORMAT": "json"}, out)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("wirewatch").exception("poll crashed", extra={"feed": "wire-world"})
    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["feed"] == "wire-world" and "RuntimeError: boom" in record["exception"]


@pytest.mark.parametrize(("name", "value"), [("WIREWATCH_LOG_FORMAT", "xml"), ("WIREWATCH_LOG_LEVEL", "loud")])
def test_a_bad_setting_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        configure(0, {name: value}, io.StringIO())
    result = subprocess.run([sys.executable, "-m", "streams.shell.cli", "rules", "check"], env={name: value},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2 and name in result.stderr
