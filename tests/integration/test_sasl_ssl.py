"""Secured Kafka: TLS (verified CA and host name) + SCRAM-SHA-512 on a real broker, from every process.

The module's own broker has a PLAINTEXT listener (the broker's own traffic) and a SASL_SSL listener
with a certificate made here by a CA made here. The pipeline runs over SASL_SSL only; wrong
credentials and an untrusted CA fail fast with a clear message; the password shows up in no output,
log or metrics page of any process.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.procs import REPO, read_until, settings_env, wirewatch
from helpers.tls import Pki, make_ca, make_pki
from helpers.tools import require

from connectors.settings import Settings, Topics
from streams.alerts import RANK
from streams.shell.localkafka import LocalKafka, SecureListener, free_port
from streams.shell.seedserver import StaticFeedServer

USER = "wirewatch-app"


@dataclass(frozen=True)
class SecureCluster:
    broker: LocalKafka
    pki: Pki
    password: str
    password_file: Path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureCluster]:
    for tool in ("java", "mvn", "openssl"):
        require(tool, "the SASL_SSL test")
    home = tmp_path_factory.mktemp("secure-kafka")
    pki = make_pki(home / "pki")
    password = "pw-" + secrets.token_urlsafe(18)
    password_file = home / "kafka-password"
    password_file.write_text(password + "\n", "utf-8")   # as a mounted secret: with a trailing newline
    password_file.chmod(0o600)
    secure = SecureListener(port=free_port(), keystore=pki.keystore, keystore_password=pki.keystore_password,
                            users={USER: password})
    broker = LocalKafka(home=home / "kafka", port=free_port(), controller_port=free_port(), secure=secure)
    broker.up(timeout=120)
    try:
        yield SecureCluster(broker, pki, password, password_file)
    finally:
        broker.down()


def secure_env(cluster: SecureCluster, base: dict[str, str], *, password_from_file: bool = True) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("WIREWATCH_KAFKA_SASL_PASSWORD")}
    env = {**env, "KAFKA_BOOTSTRAP_SERVERS": cluster.broker.secure_bootstrap,
           "WIREWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "WIREWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
           "WIREWATCH_KAFKA_SASL_USERNAME": USER, "WIREWATCH_KAFKA_SSL_CAFILE": str(cluster.pki.ca_cert)}
    if password_from_file:
        env["WIREWATCH_KAFKA_SASL_PASSWORD_FILE"] = str(cluster.password_file)
    else:
        env["WIREWATCH_KAFKA_SASL_PASSWORD"] = cluster.password
    return env


@pytest.fixture
def names(tmp_path: Path) -> Settings:
    """Topic names, ids and a data dir private to one test (the cluster is shared by the module)."""
    run = uuid.uuid4().hex[:8]
    topics = Topics(**{name: f"s{run}.{value}" for name, value in Topics().__dict__.items()})
    return Settings(bootstrap_servers="unused:0", topics=topics, partitions=2, client_id=f"sec-{run}",
                    app_id=f"wirewatch-sec-{run}", data_dir=str(tmp_path / "worker"))


def cli(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "streams.shell.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def scrape(port: int, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)  # the metrics server of a process that is starting: poll with a deadline


def test_pipeline_runs_over_sasl_ssl_and_the_password_leaks_nowhere(cluster: SecureCluster, names: Settings,
                                                                     tmp_path: Path) -> None:
    env = secure_env(cluster, settings_env(names))
    settings = Settings.from_env(env)   # the test's own reads go over SASL_SSL too
    assert settings.security["ssl_cafile"] == str(cluster.pki.ca_cert)
    assert settings.security["sasl_plain_password"] == cluster.password  # read from the file, newline dropped
    assert cluster.password not in repr(settings) and cluster.password not in str(settings.kafka_options())
    outputs: list[str] = []

    code, out, _ = cli(["-vv", "topics", "create"], env, timeout=60)   # -vv: the Kafka client's debug log too
    outputs.append(out)
    assert code == 0 and "created:" in out, out
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text((REPO / "seeds" / "feeds.yaml").read_text("utf-8"), "utf-8")
    worker_port, connector_port = free_port(), free_port()
    with StaticFeedServer(REPO / "seeds" / "feeds") as server:
        env["WIREWATCH_SEED_SERVER"] = server.url
        with wirewatch(["-v", "worker"], {**env, "WIREWATCH_METRICS_PORT": str(worker_port)},
                       tmp_path / "worker.log") as worker:
            # The connector takes its password from the environment instead of a file.
            connect_env = {**secure_env(cluster, env, password_from_file=False),
                           "WIREWATCH_CONNECTOR_METRICS_PORT": str(connector_port)}
            code, out, _ = cli(["-v", "connect", "--feeds", str(feeds), "--once"], connect_env, timeout=120)
            outputs.append(out)
            assert code == 0, out
            # the wire dispatch and its two republished copies reached the event stage, and its alert is out
            read_until(settings, settings.topics.scored, lambda r: len(r) >= 3, timeout=90, alive=(worker,))
            read_until(settings, settings.topics.alerts, lambda r: len(r) >= 1, timeout=90, alive=(worker,))
            outputs.append(scrape(worker_port))
        code, out, _ = cli(["alerts", "tail", "--json", "--from-beginning", "--no-follow"], env, timeout=60)
        outputs.append(out)
        assert code == 0, out
    alerts = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    seed = [a for a in alerts if "armed_attack" in a["categories"]]
    assert seed and RANK[seed[-1]["severity"]] >= RANK["high"], out
    assert len({a["alert_id"] for a in seed}) == 1 and len(seed[-1]["sources"]) == 1   # one event, one report

    outputs.append((tmp_path / "worker.log").read_text("utf-8", "replace"))
    outputs.extend(p.read_text("utf-8", "replace") for p in (cluster.broker.home / "logs").glob("*.log"))
    assert outputs[2].count("wirewatch_") > 10  # the worker's metrics page was really read
    for text in outputs:
        assert cluster.password not in text


@pytest.mark.parametrize("args", [["topics", "create"], ["worker"], ["alerts", "tail", "--no-follow"],
                                  ["connect", "--feeds", "FEEDS", "--once"]],
                         ids=["topics", "worker", "tail", "connect"])
def test_wrong_password_fails_fast_and_clearly(cluster: SecureCluster, names: Settings, tmp_path: Path,
                                               args: list[str]) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text((REPO / "seeds" / "feeds.yaml").read_text("utf-8"), "utf-8")
    wrong = "not-" + secrets.token_hex(8)
    env = {**secure_env(cluster, settings_env(names), password_from_file=False),
           "WIREWATCH_KAFKA_SASL_PASSWORD": wrong, "WIREWATCH_SEED_SERVER": "http://127.0.0.1:9"}
    code, out, took = cli([a.replace("FEEDS", str(feeds)) for a in args], env, timeout=60)
    assert code == 2, out
    assert took < 30, took
    assert (f"wirewatch: error: Kafka authentication failed for user '{USER}' at "
            f"{cluster.broker.secure_bootstrap} (SCRAM-SHA-512)") in out, out
    assert "Traceback" not in out
    assert wrong not in out and cluster.password not in out


def test_untrusted_broker_certificate_fails_fast_and_clearly(cluster: SecureCluster, names: Settings,
                                                             tmp_path: Path) -> None:
    other_ca, _ = make_ca(tmp_path / "other-ca", name="someone else")
    env = {**secure_env(cluster, settings_env(names)), "WIREWATCH_KAFKA_SSL_CAFILE": str(other_ca)}
    code, out, took = cli(["topics", "create"], env, timeout=60)
    assert code == 2 and took < 30, out
    assert f"TLS handshake with Kafka at {cluster.broker.secure_bootstrap} failed" in out, out
    assert "certificate verify failed" in out, out
    assert cluster.password not in out

