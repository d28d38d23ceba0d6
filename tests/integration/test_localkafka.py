"""The local broker: idempotent `up`, clear refusal of a busy port, data kept across restarts."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from connectors.settings import Settings
from streams.shell.localkafka import KafkaLocalError, LocalKafka, free_port
from streams.shell.topics import ensure_topics


def test_up_twice_keeps_the_running_broker(kafka: LocalKafka) -> None:
    pid = kafka.pid()
    assert pid is not None
    assert kafka.up().startswith("already running")
    assert kafka.pid() == pid
    assert kafka.status().startswith("running")


def test_busy_port_is_refused_at_once(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        broker = LocalKafka(home=tmp_path / "k", port=port, controller_port=free_port())
        started = time.monotonic()
        with pytest.raises(KafkaLocalError, match=f"port {port} .* already in use"):
            broker.up()
        assert time.monotonic() - started < 5
        assert broker.pid() is None


def test_restart_keeps_topics_and_down_is_idempotent(tmp_path: Path) -> None:
    broker = LocalKafka(home=tmp_path / "k", port=free_port(), controller_port=free_port())
    try:
        assert broker.up().startswith("started")
        settings = Settings(bootstrap_servers=broker.bootstrap, partitions=1)
        assert settings.topics.alerts in ensure_topics(settings)
        assert broker.down().startswith("stopped")
        assert broker.status() == "stopped"
        assert broker.down() == "not running"
        assert broker.up().startswith("started")
        assert ensure_topics(settings) == []  # formatted storage was kept, not re-created
    finally:
        broker.down()
