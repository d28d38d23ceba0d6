"""A worker with a broken rule file or setting refuses to start, naming the file, line or variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.procs import settings_env

from connectors.settings import Settings


def _worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.shell.cli", "worker"], env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_broken_rule_file_fails_at_start_with_file_and_line(settings: Settings, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text('version: "1"\nseverity: {mass_casualties: 10}\ncategories:\n  - name: [not, a, name]\n', "utf-8")
    result = _worker({**settings_env(settings), "WIREWATCH_RULES": str(rules)})
    assert result.returncode == 2
    assert f"{rules}:" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_fails_at_start_with_the_variable(settings: Settings) -> None:
    result = _worker({**settings_env(settings), "WIREWATCH_SESSION_TIMEOUT": "soon"})
    assert result.returncode == 2
    assert "WIREWATCH_SESSION_TIMEOUT" in result.stderr and "number" in result.stderr
