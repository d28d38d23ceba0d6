"""Session fixtures: the real local Kafka broker (never mocked, never skipped) and helpers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.tools import require
from hypothesis import find
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from connectors.settings import Settings, Topics
from streams.shell.localkafka import LocalKafka, private_broker

# Property and fuzz tests: random examples on a developer's machine (each run explores new inputs, and
# a failure is kept in .hypothesis/ and replayed first), a fixed sequence in CI so that whether a
# change lands never depends on luck. A failure found locally becomes a fix plus a plain test.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def _hypothesis_charmap() -> None:
    """Hypothesis builds its Unicode character map the first time a test draws text (seconds on a fresh
    clone, then kept in .hypothesis/). Counted as that test's data generation, it tripped the `too_slow`
    health check on a busy CI machine; built once before the first test, it counts for none."""
    find(st.text(min_size=1), lambda _: True)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A real single-node broker on free loopback ports for the whole session.

    A missing Java or Maven is a failure with the reason, not a skip: CI must never pass without Kafka.
    """
    for tool in ("java", "mvn"):
        require(tool, "the real Kafka broker of the integration tests")
    with private_broker(tmp_path_factory.mktemp("kafka"), timeout=120) as broker:
        yield broker


@pytest.fixture
def settings(kafka: LocalKafka, tmp_path: Path) -> Settings:
    """Settings pointing at the session broker with topic names and app id private to this test."""
    run = uuid.uuid4().hex[:8]
    topics = Topics(**{name: f"t{run}.{value}" for name, value in Topics().__dict__.items()})
    return Settings(bootstrap_servers=kafka.bootstrap, topics=topics, partitions=2,
                    client_id=f"test-{run}", app_id=f"wirewatch-test-{run}", data_dir=str(tmp_path / "worker"))
