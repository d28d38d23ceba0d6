"""Routes files: what they accept, how a mistake is reported (file:line: key: reason), what matches."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import ConfigError
from streams.delivery.routes import load_routes

REPO = Path(__file__).resolve().parents[2]
ENV = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/XXXX",
       "TEAMS_WORKFLOW_URL": "https://prod-00.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/"
                             "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=xyz",
       "SMTP_USER": "wirewatch", "SMTP_PASSWORD": "s3cret", "PAGERDUTY_INTEGRATION_KEY": "integ",
       "PAGERDUTY_API_KEY": "apikey", "NTFY_TOPIC": "wirewatch-desk"}

GOOD = """\
destinations:
  chat: {url: "json://127.0.0.1:9/hook"}
routes:
  - name: syria-fr
    to: [chat]
    match:
      min_severity: high
      categories: [armed_attack]
      languages: [fr]
      places: [Syria]
      sources: [afp.com]
      feeds: [wire-world]
      tags: [middle-east]
      text: "strike|frappe"
      not_text: "drill"
    min_interval: 15m
    quiet_hours: {from: "22:00", to: "07:00", timezone: Europe/Paris}
  - name: low-digest
    to: chat
    match: {min_severity: low, max_severity: low}
    digest: 30m
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(text, "utf-8")
    return path


def alert(**fields: object) -> dict:
    base = {"alert_id": "al-1", "version": 1, "severity": "critical", "title": "Air strikes hit Deir ez-Zor",
            "categories": ["armed_attack"], "languages": ["fr"], "places": ["Syria"], "sources": ["AFP.com"],
            "feeds": ["wire-world"], "tags": ["Middle-East"], "reason": "new",
            "matches": [{"term": "frappe", "category": "armed_attack", "field": "title", "start": 0, "end": 6}]}
    return {**base, **fields}


def test_the_shipped_example_routes_file_loads() -> None:
    routes = load_routes(REPO / "seeds" / "routes.yaml", environ=ENV)
    assert {"ops-slack", "ops-teams", "desk-email"} <= set(routes.destinations)
    assert routes.routes


def test_every_criterion_must_hold_and_any_value_of_one_does(tmp_path: Path) -> None:
    routes = load_routes(write(tmp_path, GOOD), environ={})
    (route, digest) = routes.routes
    assert route.min_interval_s == 900 and route.quiet is not None and digest.digest_s == 1800
    assert routes.matching(alert()) == [route]
    for change in ({"severity": "medium"}, {"categories": ["protest"]}, {"languages": ["en"]}, {"places": []},
                   {"sources": ["bbc.co.uk"], "source": "bbc.co.uk"}, {"feeds": ["other"]}, {"tags": None},
                   {"title": "Army drill near Deir ez-Zor", "matches": []}):
        assert routes.matching(alert(**change)) == [], change
    # fields an alert does not carry yet (languages, places, tags before the events contract) match nothing
    assert routes.matching({k: v for k, v in alert().items() if k != "languages"}) == []
    assert routes.matching(alert(severity="low")) == [digest]


@pytest.mark.parametrize(("text", "line", "key", "reason"), [
    ("destinations: {chat: {url: 'json://127.0.0.1:9/x'}}\nroutes:\n  - name: a\n    to: [chat]\n"
     "    match: {min_severity: urgent}\n", 5, "routes[0].match.min_severity", "one of none, low"),
    ("destinations: {chat: {url: 'json://127.0.0.1:9/x'}}\nroutes:\n  - name: a\n    to: [pager]\n", 4,
     "routes[0].to[0]", "no destination named 'pager'"),
    ("destinations:\n  chat: {url: 'nosuchservice://x'}\nroutes: [{name: a, to: [chat]}]\n", 2,
     "destinations.chat.url", "not a notification URL"),
    ("destinations:\n  chat: {url: '${MISSING_HOOK}'}\nroutes: [{name: a, to: [chat]}]\n", 2,
     "destinations.chat.url", "MISSING_HOOK is not set"),
    ("destinations: {chat: {url: 'json://127.0.0.1:9/x'}}\nroutes:\n  - name: a\n    to: [chat]\n"
     "    match:\n      text: '(unclosed'\n", 6, "routes[0].match.text", "not a valid regular expression"),
    ("destinations: {chat: {url: 'json://127.0.0.1:9/x'}}\nroutes:\n  - name: a\n    to: [chat]\n"
     "    quiet_hours: {from: '22:00', to: '07:00', timezone: Mars/Olympus}\n", 5, "routes[0].quiet_hours.timezone",
     "unknown time zone"),
    ("destinations: {chat: {url: 'json://127.0.0.1:9/x'}}\nroutes:\n  - name: a\n    to: [chat]\n"
     "    digest: soon\n", 5, "routes[0].digest", "a duration"),
    ("destinations: {chat: {url: 'json://127.0.0.1:9/x'}}\nroutes:\n  - name: a\n    to: [chat]\n"
     "  - name: a\n    to: [chat]\n", 5, "routes[1].name", "duplicate route name"),
    ("destinations: {chat: {url: 'json://127.0.0.1:9/x'}}\nroutes:\n  - name: a\n    to: [chat]\n"
     "    mtach: {}\n", 5, "routes[0].mtach", "unknown keys"),
    ("destinations: {chat: {url: 'json://127.0.0.1:9/x'}}\nroutes:\n  - name: a\n   to: [chat]\n", 4, None,
     "not valid YAML"),
])
def test_a_mistake_names_file_line_key_and_reason(tmp_path: Path, text: str, line: int, key: str | None,
                                                   reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_routes(path, environ={})
    error = caught.value
    assert (error.file, error.line, error.key) == (str(path), line, key), str(error)
    assert reason in error.reason
    assert str(error).startswith(f"{path}:{line}")


def test_secrets_from_the_environment_are_not_repeated_in_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "destinations:\n  chat: {url: 'nosuch://${TOKEN}'}\nroutes: [{name: a, to: [chat]}]\n")
    with pytest.raises(ConfigError) as caught:
        load_routes(path, environ={"TOKEN": "hunter2"})
    assert "hunter2" not in str(caught.value) and "${TOKEN}" in str(caught.value)
