"""`wirewatch deliver` against the real broker and local servers that speak each service's protocol.

Slack, Teams (Workflows), PagerDuty and Opsgenie clients post to fixed public hosts: an intercepting
HTTPS proxy (tests/helpers/receivers.py) answers for those host names only, with a certificate of a
test CA, so the sink speaks real HTTPS to "hooks.slack.com" and never leaves the machine. E-mail goes
to a real SMTP server (aiosmtpd), ntfy and the JSON webhook to a local HTTP server.

Checked end to end: every channel gets the first alert and its update ("toll 6 -> 13, now 5 outlets"),
with a script-bearing, oversized, control-character title escaped for each medium; low alerts go out
as one digest; a destination that keeps failing ends in the DLQ; a mute from the CLI (through the
compacted topic) stops the updates; a broken routes file at reload keeps the routes in force; a
restarted sink delivers nothing twice.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.alerts import publish_alerts
from helpers.procs import read_until, settings_env, wirewatch
from helpers.receivers import Recorder, intercepting_proxy, receiver, smtp_server
from helpers.tls import make_pki

from connectors.settings import Settings
from streams.shell.localkafka import free_port

pytestmark = pytest.mark.kafka

HOSTS = ("hooks.slack.com", "events.pagerduty.com", "api.opsgenie.com", "prod-00.westus.logic.azure.com")
TEAMS = ("https://prod-00.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke"
         "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=xyz")
HOSTILE = ("Strikes <script>alert(1)</script> kill 6 & <!channel> *bold* [click](https://evil.example)\r\n"
           "Bcc: victim@example.org\x07\x1b[31m " + "x" * 3000)


def alert(story: str, version: int, severity: str, title: str = "Shelling kills 6 in Kharkiv", casualties: int = 6,
          sources: int = 3) -> dict[str, Any]:
    return {"alert_id": f"al-{story}", "version": version, "story_id": story, "severity": severity, "score": 9.0,
            "categories": ["armed_attack"], "casualties": casualties, "title": title,
            "url": f"https://wire.example/{story}", "source": "wire.example",
            "sources": [f"s{i}.example" for i in range(sources)], "copies": sources,
            "first_seen": "2026-03-02T10:00:00Z", "updated_at": f"2026-03-02T10:0{version}:00Z",
            "reason": "new" if version == 1 else "escalated", "rule_version": "test",
            "matches": [{"term": "kill", "category": "casualties", "field": "title", "start": 0, "end": 4}],
            "articles": [f"art-{story}"]}


def create_topic(settings: Settings) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(**settings.kafka_options())
    try:
        admin.create_topics([NewTopic(settings.topics.alerts, 1, 1)])   # one partition: the test's order holds
    finally:
        admin.close()



@pytest.fixture
def services(tmp_path: Path) -> Iterator[dict[str, Any]]:
    pki = make_pki(tmp_path / "pki", hosts=HOSTS)
    remote = Recorder(answers={
        "events.pagerduty.com": b'{"status": "success", "message": "Event processed", "dedup_key": "k"}',
        "api.opsgenie.com": b'{"result": "Request will be processed", "took": 0.1, "requestId": "r1"}'})
    local = Recorder(plan={"/broken": [500] * 50})
    with intercepting_proxy(pki.server_cert, pki.server_key, HOSTS, remote) as (proxy, _), \
            receiver(local) as (address, _), smtp_server() as smtp:
        yield {"proxy": proxy, "ca": pki.ca_cert, "remote": remote, "local": local, "address": address, "smtp": smtp}


def routes_file(path: Path, s: dict[str, Any]) -> Path:
    path.write_text(f"""
destinations:
  slack: {{url: "https://hooks.slack.com/services/T000/B000/XXXX"}}
  teams: {{url: "{TEAMS}"}}
  email: {{url: "mailto://127.0.0.1:{s['smtp'].port}?from=wirewatch@example.org&to=desk@example.org"}}
  pager: {{url: "pagerduty://integ@apikey"}}
  genie: {{url: "opsgenie://apikey"}}
  ntfy: {{url: "ntfy://{s['address']}/desk"}}
  hook: {{url: "json://{s['address']}/hook"}}
  digest: {{url: "json://{s['address']}/digest"}}
  broken: {{url: "json://{s['address']}/broken"}}
routes:
  - name: everywhere
    to: [slack, teams, email, pager, genie, ntfy, hook]
    match: {{min_severity: high}}
  - name: low-digest
    to: [digest]
    match: {{min_severity: low, max_severity: low}}
    digest: 2s
  - name: failing
    to: [broken]
    match: {{min_severity: critical}}
""", "utf-8")
    return path


def reloads(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return {line.split('outcome="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("wirewatch_delivery_route_reloads_total{")}


def test_routes_deliver_to_every_channel_mute_dlq_reload_and_restart(settings: Settings, services: dict[str, Any],
                                                                     tmp_path: Path) -> None:
    create_topic(settings)
    env = {**settings_env(settings), "HTTPS_PROXY": services["proxy"], "NO_PROXY": "127.0.0.1,localhost",
           "REQUESTS_CA_BUNDLE": str(services["ca"]), "WIREWATCH_METRICS_PORT": str(free_port()),
           "WIREWATCH_TOPIC_ALERT_STATE": f"{settings.topics.alerts}.state",
           "WIREWATCH_TOPIC_DELIVERY_LOG": f"{settings.topics.alerts}.delivery-log"}
    remote, local, smtp = services["remote"], services["local"], services["smtp"]
    routes = routes_file(tmp_path / "routes.yaml", services)
    args = ["deliver", "--routes", str(routes), "--attempts", "2", "--backoff", "0.05", "--reload", "0.3"]
    log = tmp_path / "deliver.log"
    first = alert("a", 1, "high", title=HOSTILE)
    publish_alerts(settings, first, alert("l1", 1, "low", title="Sanctions on shipping firms"),
            alert("l2", 1, "low", title="Diplomats expelled"), alert("m", 1, "medium"))
    with wirewatch(args, env, log) as sink:
        def alive() -> str | None:
            return None if sink.poll() is None else log.read_text(errors="replace")[-3000:]

        everything = lambda: (all(remote.to(h) for h in HOSTS) and local.to("/hook") and ntfy(local)  # noqa: E731
                              and local.to("/digest") and smtp.messages)
        local.wait(everything, 60, "the first alert on every channel and the low digest", alive)
        check_escaping(remote, local, smtp)
        (digest,) = local.to("/digest")
        assert "2 alerts" in digest.json()["title"] and "Sanctions" in digest.json()["message"]

        update = alert("a", 2, "critical", title=HOSTILE, casualties=13, sources=5)
        publish_alerts(settings, update)
        local.wait(lambda: len(local.to("/hook")) == 2 and len(local.to("/broken", ok=False)) == 2, 60,
                   "the update, and two failed attempts on the broken destination", alive)
        message = local.to("/hook")[1].json()["message"]
        assert "Update: severity high -> critical, toll 6 -> 13, now 5 outlets" in message
        local.wait(lambda: len(remote.to("hooks.slack.com")) == 2, 30, "the update on Slack", alive)
        assert "toll 6 -&gt; 13, now 5 outlets" in json.dumps(remote.to("hooks.slack.com")[1].json())
        (dead,) = read_until(settings, f"{settings.topics.alerts}.deliver.dlq", lambda r: len(r) >= 1, timeout=30,
                             decode=lambda m: m, alive=(sink,))
        headers = {k: v.decode() for k, v in dead.headers}
        assert headers["route"] == "failing" and headers["destination"] == "broken" and "gave up" in headers["error"]
        assert json.loads(dead.value)["version"] == 2

        # mute from the CLI: the next update of the alert stops; a later alert still goes (the sentinel)
        done = subprocess.run([sys.executable, "-m", "streams.shell.cli", "mute", "alert", "al-a", "--for", "1h"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "updates resume if severity rises above critical" in done.stdout, done
        publish_alerts(settings, alert("a", 3, "critical", casualties=20, sources=7),
                       alert("z", 1, "high", title="Sentinel"))
        local.wait(lambda: any("Sentinel" in r.json()["message"] for r in local.to("/hook")), 60, "the sentinel", alive)
        assert len(local.to("/hook")) == 3   # a v3 was muted

        # a broken routes file at reload: an error in the log, the routes stay in force
        routes.write_text("routes: [this is: not valid", "utf-8")
        port = int(env["WIREWATCH_METRICS_PORT"])
        local.wait(lambda: reloads(port).get("failed", 0) >= 1, 30, "the failed reload", alive)
        publish_alerts(settings, alert("c", 1, "high", title="After the broken reload"))
        local.wait(lambda: len(local.to("/hook")) == 4, 60, "delivery with the routes in force", alive)
    assert sink.returncode == 0, log.read_text(errors="replace")[-3000:]
    assert "routes file not reloaded, the routes in force stay" in log.read_text()

    # restarted with a fixed file: resumes after what it settled, delivers nothing twice
    routes_file(routes, services)
    before = len(local.requests)
    publish_alerts(settings, alert("d", 1, "high", title="After the restart"))
    with wirewatch(args, env, tmp_path / "deliver2.log") as sink:
        local.wait(lambda: any("After the restart" in r.json().get("message", "") for r in local.to("/hook")), 60,
                   "the alert after the restart", lambda: None if sink.poll() is None else "exited")
    new = [r for r in local.requests[before:] if r.path == "/hook"]
    assert len(new) == 1, [r.json()["message"][:60] for r in new]


def ntfy(local: Recorder) -> list[Any]:
    """ntfy publishes by POSTing JSON with the topic to the server's root."""
    return [r for r in local.requests if r.path == "/" and r.status < 300]


def check_escaping(remote: Recorder, local: Recorder, smtp: Any) -> None:
    """The hostile title in every medium: escaped or plain, one line where a header is, bounded."""
    (slack,) = remote.to("hooks.slack.com")
    text = json.dumps(slack.json())
    assert "<script>" not in text and "<!channel>" not in text and "&lt;script&gt;" in text
    assert "\\u0007" not in text and "\\u001b" not in text and "Bcc: victim" in text and len(text) < 4000
    (teams,) = remote.to("prod-00.westus.logic.azure.com")
    block = teams.json()["attachments"][0]["content"]["body"][0]["text"]
    assert "\\[click\\]" in block and "\\<script\\>" in block and "](<https://wire.example/a>)" in block
    (pager,) = remote.to("events.pagerduty.com")
    summary = pager.json()["payload"]["summary"]
    assert "\x07" not in summary and "\x1b" not in summary and summary.startswith("[HIGH] Strikes <script>")
    (genie,) = remote.to("api.opsgenie.com")
    assert "\x07" not in json.dumps(genie.json()) and "\x1b" not in genie.json()["message"]
    (note,) = ntfy(local)
    assert note.json()["topic"] == "desk"
    assert "\n" not in note.json()["title"] and "\x07" not in note.json()["message"]
    (mail,) = smtp.messages
    assert str(mail["Subject"]).startswith("[HIGH] Strikes <script>alert(1)</script> kill 6")
    assert "\n" not in str(mail["Subject"]) and len(str(mail["Subject"])) <= 180
    assert mail["Bcc"] is None and mail["To"] == "desk@example.org"
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html").get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html and "\x1b" not in html
