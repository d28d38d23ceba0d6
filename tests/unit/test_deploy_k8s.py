"""deploy/k8s: every manifest validates against the Kubernetes JSON schemas (kubernetes-validate ships
them, so this runs offline, strict: unknown fields fail), and the manifests agree with each other and
with wirewatch (selectors, Services, ports and probes, images, settings names, the feed list)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from test_deploy_compose import known_env_names

from connectors.feeds import load_feeds
from connectors.settings import Settings

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"   # oldest release the manifests must work on (PDB policy/v1, PVC retention)
NAMESPACE = "wirewatch"
WORKLOADS = ("Deployment", "StatefulSet", "Job")


def manifests() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text("utf-8")) if doc]
    return docs


def applied() -> list[dict[str, Any]]:
    """What `kubectl apply -k deploy/k8s` applies (the Secret template is not part of it)."""
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text("utf-8"))["resources"]
    return [doc for name, doc in manifests() if name in listed]


def find(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for _, doc in manifests() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def containers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    yield from spec.get("initContainers") or ()
    yield from spec["containers"]


@pytest.mark.parametrize("name,doc", manifests(), ids=lambda v: v if isinstance(v, str) else
                         f"{v['kind']}/{v['metadata']['name']}")
def test_manifest_matches_the_kubernetes_schema(name: str, doc: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']} at {where or '/'}: {exc.message}", pytrace=False)


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text("utf-8"))
    assert kustomization["namespace"] == NAMESPACE
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files - {"secret.example.yaml"}
    kinds = {doc["kind"] for doc in applied()}
    assert {"Namespace", "ConfigMap", "Deployment", "StatefulSet", "Service", "PodDisruptionBudget"} <= kinds
    assert "Secret" not in kinds, "a Secret with real values must never be committed or applied from the repo"


def test_everything_is_in_the_namespace_and_labelled() -> None:
    for name, doc in manifests():
        meta = doc["metadata"]
        if doc["kind"] != "Namespace":
            assert meta.get("namespace") == NAMESPACE, f"{name}: {doc['kind']}/{meta['name']}"
        assert meta.get("labels", {}).get("app.kubernetes.io/part-of") == "wirewatch", f"{name}: {meta['name']}"


def test_selectors_match_the_pod_templates() -> None:
    pods = {doc["metadata"]["name"]: doc["spec"]["template"]["metadata"]["labels"]
            for _, doc in manifests() if doc["kind"] in ("Deployment", "StatefulSet")}
    for _, doc in manifests():
        kind = doc["kind"]
        if kind in ("Deployment", "StatefulSet"):
            wanted = doc["spec"]["selector"]["matchLabels"]
            assert wanted.items() <= doc["spec"]["template"]["metadata"]["labels"].items(), doc["metadata"]["name"]
        elif kind in ("Service", "PodDisruptionBudget"):
            wanted = doc["spec"]["selector"]
            wanted = wanted.get("matchLabels", wanted) if kind == "PodDisruptionBudget" else wanted
            chosen = [workload for workload, labels in pods.items() if wanted.items() <= labels.items()]
            assert len(chosen) == 1, f"{kind}/{doc['metadata']['name']} selects {chosen}"


def test_connector_is_a_single_active_runner(tmp_path: Path) -> None:
    connector = find("Deployment", "wirewatch-connector")
    assert connector["spec"]["replicas"] == 1
    assert connector["spec"]["strategy"]["type"] == "Recreate", "a rolling update runs two connectors at once"
    (container,) = connector["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[:1] == ["connect"]
    feeds_path = args[args.index("--feeds") + 1]
    mount = next(m for m in container["volumeMounts"] if feeds_path.startswith(m["mountPath"].rstrip("/") + "/"))
    volume = next(v for v in connector["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    config_map = find("ConfigMap", volume["configMap"]["name"])
    key = next(item["key"] for item in volume["configMap"]["items"]
               if item["path"] == feeds_path[len(mount["mountPath"].rstrip("/")) + 1:])
    feed_list = tmp_path / "feeds.yaml"
    feed_list.write_text(config_map["data"][key], "utf-8")
    assert load_feeds(feed_list), "the feed list ConfigMap is empty"


def test_workers_keep_state_on_their_own_volume() -> None:
    worker = find("StatefulSet", "wirewatch-worker")
    spec = worker["spec"]
    service = find("Service", spec["serviceName"])
    assert service["spec"]["clusterIP"] == "None", "a StatefulSet's governing Service is headless"
    (container,) = spec["template"]["spec"]["containers"]
    assert container["args"] == ["worker"]
    env = {e["name"]: e["value"] for e in container["env"]}
    claims = {claim["metadata"]["name"] for claim in spec["volumeClaimTemplates"]}
    state = [m for m in container["volumeMounts"]
             if env["WIREWATCH_DATA_DIR"].startswith(m["mountPath"].rstrip("/") + "/")]
    assert state and state[0]["name"] in claims, "WIREWATCH_DATA_DIR must be on the volumeClaimTemplate"
    pdb = find("PodDisruptionBudget", "wirewatch-worker")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


def test_metrics_ports_probes_and_services_agree() -> None:
    port_variable = {"wirewatch-worker": "WIREWATCH_METRICS_PORT",
                     "wirewatch-connector": "WIREWATCH_CONNECTOR_METRICS_PORT"}
    env_config = find("ConfigMap", "wirewatch-env")["data"]
    assert env_config["WIREWATCH_METRICS_ADDR"] == "0.0.0.0", "metrics bound to loopback cannot be scraped"
    for name, variable in port_variable.items():
        workload = next(doc for _, doc in manifests() if doc["kind"] in WORKLOADS and doc["metadata"]["name"] == name)
        template = workload["spec"]["template"]
        (container,) = template["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container.get("env") or ()}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert str(ports["metrics"]) == env[variable], name
        assert template["metadata"]["annotations"]["prometheus.io/port"] == env[variable], name
        for probe in ("livenessProbe", "readinessProbe"):
            handler = container[probe].get("tcpSocket") or container[probe].get("httpGet")
            assert handler["port"] in ("metrics", ports["metrics"]), f"{name} {probe}"
        # liveness proves the event loop moves (streams/shell/health.py), not that a thread answers on the port
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez", name
        service = find("Service", name)
        assert [p["targetPort"] for p in service["spec"]["ports"]] in (["metrics"], [ports["metrics"]])


def test_containers_are_pinned_bounded_and_unprivileged() -> None:
    for _, doc in manifests():
        if doc["kind"] not in WORKLOADS:
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        images = {c["image"].rsplit(":", 1)[0] for c in containers(doc)}
        user = 65534 if images == {"prom/alertmanager"} else 10001   # the official image's nobody
        assert pod["securityContext"]["runAsUser"] == user, "the image's user (deploy/docker/Dockerfile)"
        for container in containers(doc):
            where = f"{doc['metadata']['name']}/{container['name']}"
            image = container["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            assert tag and tag != "latest", f"{where}: image {image} is not pinned"
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[bound]), f"{where}: {bound}"
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            if doc["kind"] != "Job":
                assert container.get("livenessProbe") and container.get("readinessProbe"), where


def test_settings_names_are_known_to_wirewatch() -> None:
    known = known_env_names()
    env_config = find("ConfigMap", "wirewatch-env")["data"]
    secret = find("Secret", "wirewatch-kafka-credentials")
    referenced: dict[str, set[str]] = {"ConfigMap": set(), "Secret": set()}
    for _, doc in manifests():
        if doc["kind"] not in WORKLOADS or doc["metadata"]["name"] == "alertmanager":
            continue
        for container in containers(doc):
            names = {e["name"] for e in container.get("env") or ()}
            assert not names - known, f"{container['name']} sets unknown variables {sorted(names - known)}"
            for source in container.get("envFrom") or ():
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in source:
                        referenced[kind].add(source[key]["name"])
                        assert kind == "ConfigMap" or source[key].get("optional") is True, (
                            "the Secret is only needed for SASL: it must be optional")
    assert referenced == {"ConfigMap": {"wirewatch-env"}, "Secret": {"wirewatch-kafka-credentials"}}
    for name in [*env_config, *secret["stringData"]]:
        assert name in known, f"{name} is not a setting wirewatch reads"
    Settings.from_env(env_config)  # every value is valid
    Settings.from_env({**env_config, "WIREWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", **secret["stringData"]})


def test_secret_is_a_template_without_credentials() -> None:
    for name in ("wirewatch-kafka-credentials", "alertmanager-receivers"):
        secret = find("Secret", name)
        assert "data" not in secret, "base64 `data` hides what is committed: use placeholder stringData"
        for key, value in secret["stringData"].items():
            assert re.fullmatch(r"CHANGE_ME|", value), f"{key} holds a value, not a placeholder"


def test_alertmanager_runs_the_shipped_configuration() -> None:
    shipped = (REPO / "deploy" / "alertmanager" / "alertmanager.yml").read_text("utf-8")
    assert find("ConfigMap", "alertmanager-config")["data"]["alertmanager.yml"] == shipped
    deployment = find("Deployment", "alertmanager")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    secret = find("Secret", "alertmanager-receivers")
    for path in re.findall(r"_file: (\S+)", shipped):
        directory, key = path.rsplit("/", 1)
        assert volumes[mounts[directory]]["secret"]["secretName"] == "alertmanager-receivers", path
        assert key in secret["stringData"], path
