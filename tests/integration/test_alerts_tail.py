"""`wirewatch alerts tail` on real alerts: the `wirewatch run` demo shows the seed alert, the JSON
Schema shipped for consumers holds for every alert the pipeline published, and the filters work."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from helpers.procs import REPO, read_until, settings_env

from connectors.errors import ConfigError
from connectors.settings import Settings
from streams.shell.tail import AlertFilter, format_alert, parse_since

SCHEMA = json.loads((REPO / "streams" / "schemas" / "alert.schema.json").read_text("utf-8"))


def wirewatch_out(args: list[str], env: dict[str, str], timeout: float = 60) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "streams.shell.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def seed_alert_on_the_page(err: Path, run: subprocess.Popen[str], timeout: float = 60) -> list[dict]:
    """`run` prints the alert page's URL; the seed alert is on that page (its JSON snapshot)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, err.read_text(errors="replace")[-3000:]
        assert run.poll() is None, err.read_text(errors="replace")[-3000:]
        found = re.search(r"alert page: (http://127\.0\.0\.1:\d+/)", err.read_text(errors="replace"))
        if found:
            with contextlib.suppress(httpx.TransportError):
                alerts = httpx.get(found.group(1) + "api/alerts", timeout=5).json()["alerts"]
                if any("armed_attack" in a["alert"]["categories"] for a in alerts):
                    return alerts
        time.sleep(0.3)  # polling interval of a condition with a deadline


def test_run_demo_shows_the_seed_alert_and_tail_serves_schema_valid_alerts(settings: Settings,
                                                                           tmp_path: Path) -> None:
    env = settings_env(settings)
    env["WIREWATCH_TOPIC_ALERT_STATE"] = f"{settings.topics.alerts}.state"
    run = subprocess.Popen([sys.executable, "-m", "streams.shell.cli", "run"], env=env, stdout=subprocess.PIPE,
                           stderr=open(tmp_path / "run.err", "wb"), text=True, stdin=subprocess.DEVNULL,  # noqa: SIM115
                           start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in run.stdout], daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 150
        while not any("HIGH" in s or "CRITICAL" in s for s in seen if "armed_attack" in s):
            assert time.monotonic() < deadline, (seen, (tmp_path / "run.err").read_text(errors="replace")[-3000:])
            assert run.poll() is None, (tmp_path / "run.err").read_text(errors="replace")[-3000:]
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=1))
        page = seed_alert_on_the_page(tmp_path / "run.err", run)
    finally:
        run.send_signal(signal.SIGINT)  # `run` stops its children and exits on Ctrl-C
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
    assert run.returncode in (0, 130), (tmp_path / "run.err").read_text(errors="replace")[-3000:]
    seed_line = next(s for s in seen if "armed_attack" in s)
    assert any(a["alert"]["alert_id"] in seed_line for a in page), (page, seed_line)
    assert "wire.example" in seed_line or "daily.example" in seed_line or "aggregator.example" in seed_line

    alerts = read_until(settings, settings.topics.alerts, lambda r: len(r) >= 1, timeout=30)
    for alert in alerts:
        jsonschema.validate(alert, SCHEMA, format_checker=jsonschema.FormatChecker())

    tailed = [json.loads(line) for line in wirewatch_out(
        ["alerts", "tail", "--from-beginning", "--json", "--limit", str(len(alerts))], env)]
    assert tailed == alerts
    since = [json.loads(line) for line in wirewatch_out(
        ["alerts", "tail", "--since", "1h", "--json", "--limit", str(len(alerts))], env)]
    assert since == alerts
    final = alerts[-1]
    assert wirewatch_out(["alerts", "tail", "--from-beginning", "--no-follow", "--json"], env) == [
        json.dumps(a, ensure_ascii=False, separators=(",", ":")) for a in alerts]
    coloured = wirewatch_out(["alerts", "tail", "--from-beginning", "--no-follow", "--colour", "always",
                              "--category", "armed_attack", "--source", final["sources"][-1].upper(), "--text",
                              final["title"].split()[1], "--min-severity", final["severity"]], env)
    assert coloured and all("\033[" in line for line in coloured), (coloured, final)
    assert final["alert_id"] in coloured[-1]
    assert wirewatch_out(["alerts", "tail", "--from-beginning", "--no-follow", "--category", "no_such"], env) == []


def test_filters_and_line_format() -> None:
    alert = {"alert_id": "al-1", "version": 2, "severity": "high", "reason": "escalated",
             "categories": ["armed_attack", "casualties"], "casualties": 17, "title": "US strikes\nin Syria",
             "source": "wire.example", "sources": ["wire.example", "daily.example"], "copies": 3,
             "updated_at": "2021-02-26T01:00:00Z", "matches": [{"term": "airstrikes"}], "languages": ["en", "fr"],
             "places": ["Abu Kamal", "Syria"], "changes": [{"field": "casualties", "from": 6, "to": 17},
                                                         {"field": "languages", "from": ["en"], "to": ["en", "fr"]}]}
    assert AlertFilter()(alert)
    assert AlertFilter(min_severity="high")(alert) and not AlertFilter(min_severity="critical")(alert)
    assert AlertFilter(categories=("protest", "casualties"))(alert)
    assert not AlertFilter(categories=("protest",))(alert)
    assert AlertFilter(sources=("Daily.Example",))(alert) and not AlertFilter(sources=("other.example",))(alert)
    assert AlertFilter(text="SYRIA")(alert) and AlertFilter(text="airstrike")(alert)
    assert not AlertFilter(text="Lebanon")(alert)
    line = format_alert(alert, colour=False)
    assert "\n" not in line and "\033" not in line
    assert line == ("2021-02-26T01:00:00Z HIGH     v2 escalated (casualties 6->17; languages +fr) "
                    "[armed_attack,casualties] 17 casualties US strikes in Syria in Abu Kamal, Syria "
                    "(wire.example; 2 sources, 3 copies, en/fr) al-1")
    merged = format_alert({**alert, "reason": "merged", "merged_into": "al-2", "changes": []}, colour=False)
    assert merged.endswith("al-1 -> al-2")
    assert format_alert(alert, colour=True).count("\033[31m") == 1


def test_since_takes_durations_and_times() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_since("90m", now) == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert parse_since("1d", now) == datetime(2024, 4, 30, 12, 0, tzinfo=UTC)
    assert parse_since("2024-05-01T08:00:00Z") == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(ConfigError, match="--since"):
        parse_since("yesterday")
