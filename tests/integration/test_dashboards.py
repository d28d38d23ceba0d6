"""Every Grafana panel query returns data from a real Prometheus scraping a running pipeline.

A worker and the connector runner (seed feeds from a local HTTP server) run on per-test topics with
their metrics on free loopback ports; Debian's `prometheus` scrapes them every second and loads the
shipped alerting rules. A missing `prometheus` binary is a failure, not a skip.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.procs import REPO, settings_env, wirewatch
from helpers.tools import require

from connectors.settings import Settings
from streams.shell.localkafka import free_port
from streams.shell.seedserver import StaticFeedServer
from streams.shell.topics import ensure_topics

DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
RULES = REPO / "deploy" / "prometheus" / "rules"


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) for every target of every panel."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text("utf-8"))["panels"]:
            found.extend((path.name, panel["title"], t["expr"]) for t in panel.get("targets", []))
    return found


class NotReady(Exception):
    """Prometheus answered 503: it is starting."""


class Prometheus:
    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=5)

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/query", params={"query": expr})
        if response.status_code == 503:   # still starting (TSDB not ready): a plain-text answer
            raise NotReady(response.text[:200])
        body = response.json()
        assert body.get("status") == "success", f"{expr}: {body}"
        return body["data"]["result"]

    def has_data(self, expr: str) -> bool:
        """At least one sample that is a number (histogram_quantile over no events gives NaN)."""
        return any(not math.isnan(float(r["value"][1])) for r in self.query(expr))

    def wait(self, what: str, condition: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except (httpx.TransportError, NotReady):
                pass
            time.sleep(0.5)  # polling interval of a condition with a deadline, not synchronisation
        raise AssertionError(f"Prometheus: {what} not within {timeout}s")


@pytest.fixture
def prometheus_binary() -> str:
    return require("prometheus", "the dashboard test (a real Prometheus server)")


@pytest.fixture
def prometheus_factory(prometheus_binary: str, tmp_path: Path) -> Iterator[Any]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(targets: dict[str, str]) -> Prometheus:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(p) for p in sorted(RULES.glob("*.yml"))],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}
                               for job, target in targets.items()],
        }
        (tmp_path / "prometheus.yml").write_text(json.dumps(config), "utf-8")  # JSON is YAML
        port = free_port()
        log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - closed with the process below
        procs.append(subprocess.Popen(
            [prometheus_binary, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
             "--web.enable-lifecycle"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        log.close()
        return Prometheus(f"http://127.0.0.1:{port}")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_every_panel_query_returns_data(settings: Settings, tmp_path: Path, prometheus_factory: Any) -> None:
    queries = panel_queries()
    assert len(queries) >= 20, queries
    ensure_topics(settings)
    worker_port, connector_port = free_port(), free_port()
    env = settings_env(settings)
    # The seed feeds polled every couple of seconds (so fetch rates and durations have data), plus one
    # feed that answers 404 (so the failure panels have a failing feed to show).
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text((REPO / "seeds" / "feeds.yaml").read_text("utf-8").replace("interval: 60", "interval: 2")
                     + "  - id: broken\n    url: ${WIREWATCH_SEED_SERVER}/missing.xml\n    interval: 2\n", "utf-8")
    env.update({"WIREWATCH_CONNECTOR_MIN_INTERVAL": "1", "WIREWATCH_CONNECTOR_HOST_SPACING": "0",
                "WIREWATCH_CONNECTOR_BACKOFF_BASE": "1", "WIREWATCH_CONNECTOR_BACKOFF_CAP": "2"})
    with StaticFeedServer(REPO / "seeds" / "feeds") as server, \
            wirewatch(["worker"], {**env, "WIREWATCH_METRICS_PORT": str(worker_port)}, tmp_path / "worker.log"):
        env["WIREWATCH_SEED_SERVER"] = server.url
        prom = prometheus_factory({"wirewatch-worker": f"127.0.0.1:{worker_port}",
                                   "wirewatch-connector": f"127.0.0.1:{connector_port}"})
        # The worker is scraped with its counters at zero before any article exists, so rates and
        # increases see the articles arrive.
        prom.wait("worker target up with wirewatch metrics",
                  lambda: prom.has_data('wirewatch_articles_processed_total{stage="normalize"} == 0'), 90)
        with wirewatch(["connect", "--feeds", str(feeds)],
                       {**env, "WIREWATCH_CONNECTOR_METRICS_PORT": str(connector_port)}, tmp_path / "connect.log"):
            prom.wait("an alert published", lambda: prom.has_data("sum(wirewatch_alerts_total) > 0"), 120)
            prom.wait("the broken feed failing", lambda: prom.has_data(
                'wirewatch_feed_consecutive_failures{feed="broken"} >= 1'), 60)
            prom.wait("consumer offsets (lag) reported",
                      lambda: prom.has_data("wirewatch_faust_topic_partition_offset_commited"), 60)
            missing: list[tuple[str, str, str]] = []

            def all_panels_have_data() -> bool:
                missing[:] = [(board, title, expr) for board, title, expr in queries if not prom.has_data(expr)]
                return not missing

            try:
                prom.wait("every panel query returns data", all_panels_have_data, 60)
            except AssertionError:
                pytest.fail("panels without data:\n" + "\n".join(f"  {b} / {t}: {e}" for b, t, e in missing)
                            + "\n" + (tmp_path / "worker.log").read_text(errors="replace")[-3000:])
            rules = prom.client.get("/api/v1/rules").json()["data"]["groups"]
            unhealthy = [(r["name"], r.get("lastError")) for g in rules for r in g["rules"] if r["health"] != "ok"]
            assert rules and not unhealthy, unhealthy
