"""Grafana provisioning: the committed dashboards are what deploy/grafana/dashboards.py generates,
laid out without overlaps, on the provisioned datasource, and query only metrics wirewatch exports."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"


def generator():
    spec = importlib.util.spec_from_file_location("wirewatch_dashboards", GRAFANA / "dashboards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_json_matches_the_generator() -> None:
    gen = generator()
    built = gen.build()
    assert sorted(built) == sorted(p.name for p in (GRAFANA / "dashboards").glob("*.json"))
    for name, board in built.items():
        assert (GRAFANA / "dashboards" / name).read_text("utf-8") == gen.render(board), (
            f"{name} is stale: run python deploy/grafana/dashboards.py")


def test_panels_use_the_provisioned_datasource_and_do_not_overlap() -> None:
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    uids = set()
    for path in (GRAFANA / "dashboards").glob("*.json"):
        board = json.loads(path.read_text("utf-8"))
        assert board["uid"] not in uids
        uids.add(board["uid"])
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == uid
            assert panel["targets"] and all(t["datasource"]["uid"] == uid and t["expr"] for t in panel["targets"])
            g = panel["gridPos"]
            assert g["x"] + g["w"] <= 24
            mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not cells & mine, (path.name, panel["title"])
            cells |= mine
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "wirewatch.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_queries_name_only_metrics_that_the_code_exports() -> None:
    code = "".join(p.read_text("utf-8") for d in ("streams", "connectors") for p in (REPO / d).glob("*.py"))
    for path in (GRAFANA / "dashboards").glob("*.json"):
        for panel in json.loads(path.read_text("utf-8"))["panels"]:
            for target in panel["targets"]:
                for name in re.findall(r"\b(wirewatch_\w+)", target["expr"]):
                    base = re.sub(r"_(bucket|count|sum)$", "", name)
                    exported = base in code or base.startswith("wirewatch_faust_") or (
                        base.removesuffix("_total") in code)
                    assert exported, (path.name, panel["title"], name)
