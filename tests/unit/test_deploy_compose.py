"""docker-compose.yml and the app image: `docker-compose config -q` accepts the file, and everything it
names exists in the repo and agrees with the code (paths, ports, metrics discovery, env names, tags).

There is no Docker engine on CI: nothing is built or started here. `docker-compose` (Debian package,
installed by .ci/run) missing is a failure, not a skip.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers.tools import require

from connectors.feeds import load_feeds
from connectors.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
APP_SERVICES = ("topics", "connector", "worker", "sink", "console")
# Variables a user may set to override the compose defaults: cleared so the defaults are what is checked.
OVERRIDES = ("WIREWATCH_", "KAFKA_", "GRAFANA_", "PROMETHEUS_", "ALERTMANAGER_", "COMPOSE_")


@pytest.fixture(scope="module")
def compose_bin() -> str:
    return require("docker-compose", "validating docker-compose.yml")


def compose(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(OVERRIDES)}
    return subprocess.run([binary, "-f", str(COMPOSE), "--project-directory", str(REPO), *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def resolved(compose_bin: str) -> dict[str, Any]:
    """The file as docker-compose resolves it: anchors merged, defaults interpolated, paths absolute."""
    result = compose(compose_bin, "config")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def known_env_names() -> set[str]:
    """Every environment variable wirewatch reads: the keys Settings.from_env looks up (recorded, so
    names built at run time count) plus the literal names in the code (e.g. WIREWATCH_METRICS_ADDR)."""

    class Recording(dict):
        def get(self, key: str, default: Any = None) -> Any:
            seen.add(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> Any:
            seen.add(key)
            return super().__getitem__(key)

    seen: set[str] = set()
    Settings.from_env(Recording({"WIREWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "WIREWATCH_KAFKA_SASL_USERNAME": "u",
                                 "WIREWATCH_KAFKA_SASL_PASSWORD": "p", "WIREWATCH_KAFKA_SSL_CAFILE": "/ca.pem"}))
    pattern = re.compile(r"\b(?:WIREWATCH|KAFKA)_[A-Z0-9_]*[A-Z0-9]\b")
    for package in ("streams", "connectors"):
        for path in (REPO / package).rglob("*.py"):
            seen.update(pattern.findall(path.read_text("utf-8")))
    return {name for name in seen if name.startswith(("WIREWATCH_", "KAFKA_BOOTSTRAP"))}


def volumes(service: Mapping[str, Any]) -> Iterator[tuple[str | None, str]]:
    """(source or None for an anonymous volume, target) of each volume, short or long syntax."""
    for volume in service.get("volumes") or ():
        if isinstance(volume, dict):
            yield volume.get("source"), volume["target"]
            continue
        parts = volume.split(":")
        yield (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def host_ports(service: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for port in service.get("ports") or ():
        if isinstance(port, dict):
            yield port.get("host_ip", "0.0.0.0"), str(port.get("published", ""))
        else:
            parts = str(port).split("/")[0].split(":")
            if len(parts) == 3:
                yield parts[0], parts[1]
            elif len(parts) == 2:
                yield "0.0.0.0", parts[0]
            else:
                yield "0.0.0.0", ""  # container port only: Docker picks a random host port


def test_config_is_valid(compose_bin: str) -> None:
    result = compose(compose_bin, "config", "-q")
    assert result.returncode == 0, f"docker-compose config -q rejected docker-compose.yml:\n{result.stderr}"


def test_services(resolved: dict[str, Any]) -> None:
    assert set(resolved["services"]) >= {"kafka", "topics", "connector", "worker", "prometheus", "grafana"}
    assert resolved["services"]["kafka"]["image"] == "apache/kafka:4.1.1"
    assert resolved["services"]["connector"]["command"] == ["connect", "--feeds", "/feeds/feeds.yaml"]
    assert resolved["services"]["worker"]["command"] == ["worker"]
    assert resolved["services"]["topics"]["command"] == ["topics", "create"]
    for name in ("connector", "worker"):
        waits = resolved["services"][name]["depends_on"]["topics"]["condition"]
        assert waits == "service_completed_successfully", name
    assert resolved["services"]["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_build_context_and_dockerfile_exist(resolved: dict[str, Any]) -> None:
    built = 0
    for name, service in resolved["services"].items():
        build = service.get("build")
        if build is None:
            continue
        context = Path(build["context"] if isinstance(build, dict) else build)
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        dockerfile = context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
        assert dockerfile.resolve() == DOCKERFILE, f"{name}: builds {dockerfile}, not {DOCKERFILE}"
        built += 1
    assert built >= len(APP_SERVICES) - 1


def test_bind_mounts_exist_in_the_repo(resolved: dict[str, Any]) -> None:
    named = set(resolved.get("volumes") or ())
    for name, service in resolved["services"].items():
        for source, target in volumes(service):
            if source is None or source in named:
                continue
            path = Path(source)
            assert path.exists(), f"{name}: bind mount {source} -> {target} does not exist"
            assert path.resolve().is_relative_to(REPO), f"{name}: bind mount {source} is outside the repo"


def mounted(service: Mapping[str, Any], container_path: str) -> Path:
    """The repo path that a container path of `service` comes from (through a bind mount)."""
    for source, target in volumes(service):
        if source and (container_path == target or container_path.startswith(target.rstrip("/") + "/")):
            return Path(source) / os.path.relpath(container_path, target)
    raise AssertionError(f"{container_path} is not bind-mounted into the service")


def test_config_paths_named_inside_containers_are_mounted(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    prometheus = services["prometheus"]
    config_file = next(arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file="))
    prom_config = yaml.safe_load(mounted(prometheus, config_file).read_text("utf-8"))
    for pattern in prom_config["rule_files"]:
        rules_dir = mounted(prometheus, os.path.dirname(pattern))
        assert list(rules_dir.glob(os.path.basename(pattern))), f"no rule file matches {pattern} in {rules_dir}"

    grafana = services["grafana"]
    provisioning = mounted(grafana, "/etc/grafana/provisioning")
    for provider in yaml.safe_load((provisioning / "dashboards" / "wirewatch.yml").read_text("utf-8"))["providers"]:
        assert list(mounted(grafana, provider["options"]["path"]).glob("*.json")), provider
    for source in yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text("utf-8"))["datasources"]:
        host = re.match(r"https?://([^:/]+)", source["url"]).group(1)
        assert host in services, f"Grafana datasource {source['url']} names no compose service"

    connector = services["connector"]
    feeds = connector["command"][connector["command"].index("--feeds") + 1]
    assert load_feeds(mounted(connector, feeds)), "the mounted feed list is empty"


def test_prometheus_discovers_the_metrics_ports(resolved: dict[str, Any]) -> None:
    """prometheus.yml finds workers and connectors by DNS name and port: both must match compose."""
    raw = yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))["services"]
    # Services behind a profile (the webhook sink) are absent from the default resolved config.
    services = {**{k: v for k, v in raw.items() if v.get("profiles")}, **resolved["services"]}
    prom_config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text("utf-8"))
    port_variable = {"worker": "WIREWATCH_METRICS_PORT", "connector": "WIREWATCH_CONNECTOR_METRICS_PORT",
                     "sink": "WIREWATCH_METRICS_PORT", "deliver": "WIREWATCH_METRICS_PORT"}
    discovered = set()
    for job in prom_config["scrape_configs"]:
        for sd in job.get("dns_sd_configs") or ():
            for name in sd["names"]:
                assert name in services, f"Prometheus job {job['job_name']} looks up {name}: no such service"
                env = services[name]["environment"]
                assert str(env[port_variable[name]]) == str(sd["port"]), f"{name} metrics port"
                assert env["WIREWATCH_METRICS_ADDR"] == "0.0.0.0", f"{name} metrics bound to loopback"
                assert str(sd["port"]) in {str(p) for p in services[name].get("expose") or ()}
                discovered.add(name)
    assert discovered == {"worker", "connector", "sink", "deliver"}


def test_app_services_use_the_settings_wirewatch_reads(resolved: dict[str, Any]) -> None:
    known = known_env_names()
    for name in APP_SERVICES:
        env = resolved["services"][name]["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
        unknown = set(env) - known
        assert not unknown, f"{name} sets variables wirewatch never reads: {sorted(unknown)}"
        Settings.from_env({k: str(v) for k, v in env.items()})  # every value is valid


def test_kafka_listeners_serve_the_compose_network(resolved: dict[str, Any]) -> None:
    env = resolved["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    advertised = dict(item.split("://", 1) for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["PLAINTEXT"] == "kafka:9092"  # what KAFKA_BOOTSTRAP_SERVERS of the app points at
    listeners = {item.split("://", 1)[0] for item in env["KAFKA_LISTENERS"].split(",")}
    assert set(advertised) | {env["KAFKA_CONTROLLER_LISTENER_NAMES"]} == listeners
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(protocols) == listeners
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"]), "CLUSTER_ID must be a base64 UUID"


def test_host_ports_do_not_collide_and_stay_on_loopback(resolved: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for name, service in resolved["services"].items():
        for host_ip, published in host_ports(service):
            assert published, f"{name}: a port without a fixed host port"
            assert host_ip == "127.0.0.1", f"{name}: host port {published} is published beyond loopback"
            assert published not in seen, f"host port {published} of {name} is already used by {seen[published]}"
            seen[published] = name


def test_worker_is_scalable(resolved: dict[str, Any]) -> None:
    """`docker compose up --scale worker=N`: no fixed name, no host port, no shared state directory."""
    for name in ("worker", "connector", "topics", "sink"):
        assert "container_name" not in resolved["services"][name], f"{name} has a fixed container_name"
    worker = resolved["services"]["worker"]
    assert not worker.get("ports"), "worker publishes a host port: a second replica could not start"
    state = worker["environment"]["WIREWATCH_DATA_DIR"]
    anonymous = [target for source, target in volumes(worker) if source is None]
    assert any(state == t or state.startswith(t.rstrip("/") + "/") for t in anonymous), (
        f"worker state {state} must be on a per-container (anonymous) volume, not shared between replicas")


def test_images_are_pinned(resolved: dict[str, Any]) -> None:
    for name, service in resolved["services"].items():
        image = service.get("image")
        assert image, f"{name} has no image"
        tag = image.rsplit("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
        assert tag or "@sha256:" in image, f"{name}: image {image} has no tag"
        assert tag != "latest", f"{name}: image {image} uses the latest tag"


def test_healthchecks(resolved: dict[str, Any]) -> None:
    for name in ("kafka", "connector", "worker", "prometheus", "grafana", "console", "alertmanager"):
        assert resolved["services"][name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in ("connector", "worker"):   # the liveness endpoint, not a page the metrics thread serves alone
        assert "/livez" in " ".join(resolved["services"][name]["healthcheck"]["test"]), name


def test_prometheus_sends_alerts_to_the_alertmanager_service(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    prom_config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text("utf-8"))
    (target,) = prom_config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert target.split(":")[0] in services and target.endswith(":9093")
    alertmanager = services["alertmanager"]
    config_file = next(a.split("=", 1)[1] for a in alertmanager["command"] if a.startswith("--config.file="))
    config = mounted(alertmanager, config_file).read_text("utf-8")
    for secret in re.findall(r"_file: (\S+)", config):
        assert mounted(alertmanager, secret).is_file(), f"{secret} is not mounted into alertmanager"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text("utf-8"))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in (raw.strip() for raw in text.splitlines()) if line and not line.startswith("#")]


def test_dockerfile_is_a_non_root_wirewatch_image() -> None:
    instructions = dockerfile_instructions()
    default = next(value for op, value in instructions if op == "ARG" and value.startswith("PYTHON_IMAGE="))
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11[\w.-]*-slim[\w.-]*(@sha256:[0-9a-f]{64})?", default), default
    assert all(value.split()[0] == "${PYTHON_IMAGE}" for op, value in instructions if op == "FROM")
    users = [value for op, value in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"
    assert [value for op, value in instructions if op == "ENTRYPOINT"][-1] == '["wirewatch"]'


def test_dockerfile_copies_only_what_the_context_keeps() -> None:
    """Each COPY source exists and is not excluded by .dockerignore (an allowlist: `**` then `!path`)."""
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text("utf-8").splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "**"
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for op, value in dockerfile_instructions():
        if op != "COPY" or value.startswith("--from"):
            continue
        for source in value.split()[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: not in the repo"
            assert source.rstrip("/") in kept, f"COPY {source}: excluded from the build context by .dockerignore"
    assert {"pyproject.toml", "streams", "connectors", "seeds"} <= kept
