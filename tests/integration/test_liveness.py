"""A worker whose event loop is blocked fails /livez, though its metrics thread still answers.

The block comes from outside the code under test: a `sitecustomize` module on the child's path
installs a handler of a real-time signal (SIGRTMIN; mode takes SIGUSR1 and SIGUSR2) that sleeps.
Python runs signal handlers in the main thread, which is the worker's event loop thread, so the
signal freezes the loop exactly as a blocking call in an agent would, while the metrics server's
thread keeps serving (a TCP probe, or GET /metrics, would pass).
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from helpers.procs import REPO, settings_env, wirewatch

from connectors.settings import Settings
from streams.shell.localkafka import free_port
from streams.shell.topics import ensure_topics

BLOCKER = '''import signal, time
signal.signal(signal.SIGRTMIN, lambda *_: time.sleep(3600))   # blocks the main thread: the event loop
'''


def _get(url: str) -> tuple[int, dict[str, object] | bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    except OSError:
        return 0, b""
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def _until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def test_a_worker_whose_loop_is_blocked_fails_the_liveness_probe(settings: Settings, tmp_path: Path) -> None:
    ensure_topics(settings)
    (tmp_path / "sitecustomize.py").write_text(BLOCKER, "utf-8")
    port = free_port()
    env = {**settings_env(settings), "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}",
           "WIREWATCH_METRICS_PORT": str(port), "WIREWATCH_LIVENESS_TIMEOUT": "4"}
    livez, metrics = f"http://127.0.0.1:{port}/livez", f"http://127.0.0.1:{port}/metrics"
    with wirewatch(["worker"], env, tmp_path / "worker.log") as worker:
        try:
            # running: both heartbeats fresh for longer than their timeout (the loop timer beats)
            _until(lambda: _get(livez)[0] == 200, 120, "/livez to answer")
            started = time.monotonic()
            _until(lambda: time.monotonic() - started > 6 and _get(livez)[0] == 200, 60, "a steady 200")
            status, body = _get(livez)
            assert status == 200 and set(body["heartbeats"]) == {"loop", "consumer"}, body  # type: ignore[index]

            os.kill(worker.pid, signal.SIGRTMIN)
            _until(lambda: _get(livez)[0] == 503, 30, "/livez to fail")
            status, body = _get(livez)
            assert status == 503 and "loop" in body["stale"], body  # type: ignore[index]
            assert _get(metrics)[0] == 200          # the port, and /metrics, still answer
            assert worker.poll() is None
        finally:
            if worker.poll() is None:               # blocked in the handler: SIGTERM would never be handled
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=30)
