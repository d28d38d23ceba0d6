"""A private broker per fault module: these tests kill and pause the broker itself."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import pytest
from helpers.tools import require

from streams.shell.localkafka import LocalKafka, free_port


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    for tool in ("java", "mvn"):
        require(tool, "the real Kafka broker of the fault tests")
    kafka = LocalKafka(home=tmp_path_factory.mktemp("fault-kafka"), port=free_port(), controller_port=free_port())
    kafka.up(timeout=120)
    try:
        yield kafka
    finally:
        pid = kafka.pid()
        if pid is not None:  # a test may have left it stopped (SIGSTOP): SIGTERM would never arrive
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        kafka.down()
