"""deploy/alertmanager: `amtool check-config` accepts the shipped configuration, and it routes each
severity the Prometheus rules use to a receiver of its own. amtool (Debian package
`prometheus-alertmanager`) missing is a failure, not a skip."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from helpers.tools import require

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"


def test_amtool_accepts_the_configuration() -> None:
    amtool = require("amtool", "checking deploy/alertmanager/alertmanager.yml")
    result = subprocess.run([amtool, "check-config", str(CONFIG)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_severity_has_its_own_route() -> None:
    config = yaml.safe_load(CONFIG.read_text("utf-8"))
    severities = {rule["labels"]["severity"] for path in (REPO / "deploy" / "prometheus" / "rules").glob("*.yml")
                  for group in yaml.safe_load(path.read_text("utf-8"))["groups"] for rule in group["rules"]
                  if "alert" in rule}
    routed = {route["matchers"][0].split("=")[1].strip('"'): route["receiver"] for route in config["route"]["routes"]}
    assert severities <= set(routed), severities - set(routed)
    assert len(set(routed.values())) == len(routed), "each severity goes to a receiver of its own"
    assert {r["name"] for r in config["receivers"]} >= set(routed.values())
