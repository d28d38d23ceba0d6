"""A private broker per fault module: these tests kill and pause the broker itself."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import pytest
from helpers.tools import require

from streams.shell.localkafka import LocalKafka, private_broker


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    for tool in ("java", "mvn"):
        require(tool, "the real Kafka broker of the fault tests")
    with private_broker(tmp_path_factory.mktemp("fault-kafka"), timeout=120) as kafka:
        try:
            yield kafka
        finally:
            pid = kafka.pid()
            if pid is not None:  # a test may have left it stopped (SIGSTOP): SIGTERM would never arrive
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
