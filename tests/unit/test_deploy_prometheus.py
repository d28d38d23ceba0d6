"""The shipped Prometheus config and alerting rules: promtool checks them and runs tests/promtool/.

promtool (Debian package `prometheus`) missing is a failure, not a skip: .ci/run installs it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers.tools import require

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "deploy" / "prometheus"


@pytest.fixture
def promtool() -> str:
    return require("promtool", "the alerting rule tests")


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)


def rules() -> list[dict]:
    return [rule for path in sorted((PROM / "rules").glob("*.yml"))
            for group in yaml.safe_load(path.read_text("utf-8"))["groups"] for rule in group["rules"]]


def test_config_is_valid(promtool: str, tmp_path: Path) -> None:
    config = yaml.safe_load((PROM / "prometheus.yml").read_text("utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]  # where docker-compose.yml mounts rules/
    config["rule_files"] = [str(PROM / "rules" / "*.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), "utf-8")
    result = run([promtool, "check", "config", str(tmp_path / "prometheus.yml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert {job["job_name"] for job in config["scrape_configs"]} >= {"wirewatch-worker", "wirewatch-connector"}


def test_rule_unit_tests_pass(promtool: str) -> None:
    tests = sorted(str(p.relative_to(REPO)) for p in (REPO / "tests" / "promtool").glob("*_test.yml"))
    assert tests
    result = run([promtool, "test", "rules", *tests])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_and_has_a_runbook() -> None:
    tested = set(re.findall(r"alertname:\s*(\w+)", "".join(
        p.read_text("utf-8") for p in (REPO / "tests" / "promtool").glob("*_test.yml"))))
    alerts = [rule for rule in rules() if "alert" in rule]
    assert {rule["alert"] for rule in alerts} <= tested
    for rule in alerts:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}", rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_every_alert_has_a_runbook_section_in_the_operations_guide() -> None:
    guide = (REPO / "docs" / "operations.md").read_text("utf-8")
    headings = set(re.findall(r"^### (\w+)$", guide, re.MULTILINE))
    assert {rule["alert"] for rule in rules() if "alert" in rule} <= headings
