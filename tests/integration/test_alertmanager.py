"""Operators' own alerts: real Prometheus fires the shipped rules, real Alertmanager (Debian's
`prometheus-alertmanager`) routes them by severity with the shipped configuration, and a local HTTP
receiver gets them: critical as a PagerDuty Events v2 call, warning as a Slack webhook.

The configurations are the shipped ones with only what a test must change: secrets files and the
PagerDuty URL point at the local receiver, `for:` and the group timers are shortened. A worker target
that does not answer makes WirewatchNoWorkerRunning (critical) fire and inhibit WirewatchWorkerDown;
a static metrics page with a failing feed makes WirewatchFeedDown (warning) fire.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from helpers.procs import REPO
from helpers.receivers import Recorder, receiver
from helpers.tools import require

from streams.shell.localkafka import free_port

METRICS = b"""# TYPE wirewatch_feed_consecutive_failures gauge
wirewatch_feed_consecutive_failures{feed="broken"} 5
"""


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start(procs: list[subprocess.Popen[bytes]], args: list[str], log: Path) -> None:
    with open(log, "wb") as out:
        procs.append(subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))


def alertmanager_config(tmp_path: Path, base: str) -> Path:
    config = yaml.safe_load((REPO / "deploy" / "alertmanager" / "alertmanager.yml").read_text("utf-8"))
    config["route"].update(group_wait="1s", group_interval="1s")
    for route in config["route"]["routes"]:
        route["group_wait"] = "1s"
    for receiver_config in config["receivers"]:
        for pager in receiver_config.get("pagerduty_configs", []):
            (tmp_path / "routing-key").write_text("test-routing-key\n", "utf-8")
            pager.update(routing_key_file=str(tmp_path / "routing-key"), url=f"{base}/pagerduty")
        for slack in receiver_config.get("slack_configs", []):
            (tmp_path / "slack-url").write_text(f"{base}/slack\n", "utf-8")
            slack["api_url_file"] = str(tmp_path / "slack-url")
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


def prometheus_config(tmp_path: Path, alertmanager: str, worker: str, connector: str) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in (REPO / "deploy" / "prometheus" / "rules").glob("*.yml"):
        # fire at once instead of after minutes: the expressions and labels are the shipped ones
        (rules / path.name).write_text(re.sub(r"(?m)^(\s+)for: .*$", r"\1for: 0s", path.read_text("utf-8")), "utf-8")
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
              "rule_files": [str(rules / "*.yml")],
              "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
              "scrape_configs": [{"job_name": "wirewatch-worker", "static_configs": [{"targets": [worker]}]},
                                 {"job_name": "wirewatch-connector", "static_configs": [{"targets": [connector]}]}]}
    path = tmp_path / "prometheus.yml"
    path.write_text(json.dumps(config), "utf-8")
    return path


def test_prometheus_fires_and_alertmanager_delivers_by_severity(tmp_path: Path,
                                                                processes: list[subprocess.Popen[bytes]]) -> None:
    prometheus = require("prometheus", "the Alertmanager delivery test (a real Prometheus)")
    alertmanager = require("prometheus-alertmanager", "the Alertmanager delivery test")
    recorder = Recorder(answers={"127.0.0.1": b'{"status": "success", "message": "Event processed"}'})
    recorder_ok = Recorder()
    with receiver(recorder) as (address, _), receiver(recorder_ok) as (metrics_address, metrics):
        metrics.answers["127.0.0.1"] = METRICS     # a connector target reporting one failing feed
        am_port, prom_port = free_port(), free_port()
        start(processes, [alertmanager, f"--config.file={alertmanager_config(tmp_path, f'http://{address}')}",
                          f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                          "--cluster.listen-address="], tmp_path / "alertmanager.log")
        ready(f"http://127.0.0.1:{am_port}/-/ready", processes[0], tmp_path / "alertmanager.log")
        dead_worker = f"127.0.0.1:{free_port()}"     # nothing listens there: up == 0
        config = prometheus_config(tmp_path, f"127.0.0.1:{am_port}", dead_worker, metrics_address)
        start(processes, [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                          f"--web.listen-address=127.0.0.1:{prom_port}", "--rules.alert.resend-delay=1s"],
              tmp_path / "prometheus.log")

        def delivered() -> bool:
            sent = {path: " ".join(json.dumps(r.json()) for r in recorder.requests if r.path == path and r.body)
                    for path in ("/pagerduty", "/slack")}
            return "WirewatchNoWorkerRunning" in sent["/pagerduty"] and "WirewatchFeedDown" in sent["/slack"]

        def alive() -> str | None:
            for proc, log in zip(processes, ("alertmanager.log", "prometheus.log"), strict=True):
                if proc.poll() is not None:
                    return f"{log}: " + (tmp_path / log).read_text(errors="replace")[-2000:]
            return None

        recorder.wait(delivered, 90, "critical to PagerDuty and warning to Slack", alive)
        page = next(r.json() for r in recorder.requests if r.path == "/pagerduty"
                    and "WirewatchNoWorkerRunning" in json.dumps(r.json()))
        assert page["routing_key"] == "test-routing-key" and page["payload"]["severity"] == "critical"
        assert page["payload"]["custom_details"]["runbook"] == "docs/operations.md#wirewatchnoworkerrunning"
        slack = next(r.json() for r in recorder.requests if r.path == "/slack"
                     and "WirewatchFeedDown" in json.dumps(r.json()))
        assert slack["channel"] == "#wirewatch-ops" and "broken" in json.dumps(slack)
        assert all("WirewatchNoWorkerRunning" not in json.dumps(r.json()) for r in recorder.requests
                   if r.path == "/slack"), "a critical alert went to the warning receiver"
        # no worker at all inhibits the per-worker alert
        suppressed = inhibited(f"http://127.0.0.1:{am_port}", "WirewatchWorkerDown")
        assert suppressed and suppressed[0]["status"]["state"] == "suppressed", suppressed


def ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # polling interval of a condition with a deadline
    raise AssertionError(f"{url} not ready within {timeout}s")


def inhibited(base: str, name: str, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = httpx.get(f"{base}/api/v2/alerts", params={"filter": f'alertname="{name}"'}, timeout=5).json()
        if found and found[0]["status"]["inhibitedBy"]:
            return list(found)
        time.sleep(0.5)  # polling interval of a condition with a deadline
    return list(found)
