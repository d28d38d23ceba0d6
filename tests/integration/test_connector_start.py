"""A connector started while the broker is down waits for it, then fails clearly, never with a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from connectors.settings import Settings
from helpers.procs import REPO, settings_env
from streams.localkafka import free_port


def test_connector_without_a_broker_fails_with_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - id: f\n    url: http://127.0.0.1:9/feed.xml\n", "utf-8")
    env = {**settings_env(settings), "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    result = subprocess.run([sys.executable, "-c", "import sys, streams.runcmd as r; r._until_kafka_answers."
                             "__defaults__ = (5.0,); from streams.cli import main; sys.exit(main(sys.argv[1:]))",
                             "connect", "--feeds", str(feeds), "--once"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=REPO)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "did not answer" in result.stderr and "Traceback" not in result.stderr
