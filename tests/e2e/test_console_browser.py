"""The alert page in a real browser (Debian's chromium driven by Playwright) against the real broker.

`wirewatch console` runs as a child process on per-test topics. The page loads the open alerts,
receives an alert produced to Kafka while it is open, filters, expands an alert's timeline with the
matches highlighted, mutes and acknowledges (through the compacted topic, so a restarted console shows
the same state), and shows a script-bearing, oversized, control-character title as inert text.
The screenshot in docs/ is made here: WIREWATCH_UPDATE_SCREENSHOT=1 writes docs/console.png.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.alerts import publish_alerts
from helpers.procs import REPO, settings_env, wirewatch
from helpers.tools import require

from connectors.settings import Settings
from streams.delivery.state import HoldView
from streams.delivery.topics import read_compacted
from streams.shell.localkafka import free_port

pytestmark = pytest.mark.kafka
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE = ('<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> Rocket fire\x07\x1b[2J '
           + "y" * 3000)


def alert(story: str, version: int, severity: str, title: str, *, casualties: int | None = None, sources: int = 2,
          categories: tuple[str, ...] = ("armed_attack",), languages: tuple[str, ...] = ("en",),
          term: str = "strikes") -> dict[str, Any]:
    start = title.lower().find(term)
    return {"alert_id": f"al-{story}", "version": version, "story_id": story, "event_id": f"ev-{story}",
            "severity": severity, "score": 8.0, "categories": list(categories), "casualties": casualties,
            "title": title, "url": f"https://wire.example/{story}", "source": "wire.example",
            "sources": ["wire.example", "daily.example", "afp.com", "reuters.com", "apnews.com"][:sources],
            "copies": sources + 1, "first_seen": "2026-03-02T10:00:00Z",
            "updated_at": f"2026-03-02T10:{version:02d}:00Z", "reason": "new" if version == 1 else "escalated",
            "rule_version": "test", "languages": list(languages), "places": ["Syria"],
            "matches": [{"term": term, "category": categories[0], "field": "title", "start": max(start, 0),
                         "end": max(start, 0) + len(term)}], "articles": [f"art-{story}-{version}"]}



@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    chromium = require("chromium", "the alert page test (a real headless browser)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def wait_healthy(url: str, proc: Any, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if httpx.get(f"{url}healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # polling interval of a condition with a deadline
    raise AssertionError(f"console not healthy within {timeout}s: {log.read_text(errors='replace')[-3000:]}")


def test_alert_page_live_filter_expand_mute_ack(settings: Settings, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from streams.shell.topics import ensure_topics

    ensure_topics(settings)
    state_topic = f"{settings.topics.alerts}.state"
    env = {**settings_env(settings), "WIREWATCH_TOPIC_ALERT_STATE": state_topic}
    syria = alert("syria", 1, "high", "US strikes kill 6 in eastern Syria", casualties=6, sources=3)
    publish_alerts(settings, syria,
            alert("paris", 1, "low", "Thousands march in Paris against pension reform", categories=("protest",),
                  languages=("fr",), term="march"),
            alert("kharkiv", 1, "medium", "Shelling reported near Kharkiv, no casualties", term="shelling"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    args = ["console", "--port", str(port)]
    with wirewatch(args, env, tmp_path / "console.log") as console:
        wait_healthy(url, console, tmp_path / "console.log")
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        rows = page.locator("#alerts > li")
        expect(rows).to_have_count(3)
        expect(page.locator("#status")).to_have_text("live")

        # live: an update and a new alert produced while the page is open, newest first
        publish_alerts(settings, alert("syria", 2, "critical", "US strikes kill 13 in eastern Syria", casualties=13,
                                sources=5),
                alert("gaza", 1, "high", "Air strikes hit Gaza City overnight", casualties=4))
        expect(rows).to_have_count(4)
        expect(rows.first).to_have_attribute("data-alert-id", "al-gaza")
        syria_row = page.locator('li[data-alert-id="al-syria"]')
        expect(syria_row).to_have_attribute("data-severity", "critical")

        # filters
        page.select_option("#f-severity", "critical")
        expect(rows).to_have_count(1)
        page.select_option("#f-severity", "none")
        page.select_option("#f-language", "fr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-alert-id", "al-paris")
        page.select_option("#f-language", "")
        page.fill("#f-text", "kharkiv")
        expect(rows).to_have_count(1)
        page.fill("#f-text", "")
        page.select_option("#f-category", "protest")
        expect(rows).to_have_count(1)
        page.select_option("#f-category", "")
        expect(rows).to_have_count(4)

        # expand: the timeline says what changed; the matched term is highlighted in the title
        syria_row.locator(".summary").click()
        expect(syria_row.locator(".timeline tbody tr")).to_have_count(2)
        expect(syria_row.locator(".timeline tbody tr").first).to_contain_text("toll 6 -> 13")
        expect(syria_row.locator(".timeline tbody tr").first).to_contain_text("now 5 outlets")
        expect(syria_row.locator(".title mark")).to_have_text("strikes")
        expect(syria_row.locator(".articles a").first).to_have_attribute("href", "https://wire.example/syria")
        screenshot = tmp_path / "console.png"
        page.screenshot(path=str(screenshot), full_page=True)
        if os.environ.get("WIREWATCH_UPDATE_SCREENSHOT"):
            (REPO / "docs" / "console.png").write_bytes(screenshot.read_bytes())

        # mute and acknowledge from the page: written to the compacted topic, read back by every page
        syria_row.locator('button[data-action="mute"]').click()
        expect(syria_row.locator(".tag", has_text="muted")).to_be_visible()
        gaza_row = page.locator('li[data-alert-id="al-gaza"]')
        gaza_row.locator(".summary").click()
        gaza_row.locator('button[data-action="ack"]').click()
        expect(gaza_row.locator(".tag", has_text="acknowledged")).to_be_visible()
        page.uncheck("#f-silenced")
        expect(rows).to_have_count(2)
        assert errors == []

    holds = HoldView()
    read_compacted(settings, state_topic, holds.apply)
    assert set(holds.holds) == {"mute:alert:al-syria", "ack:al-gaza"}
    assert holds.holds["mute:alert:al-syria"].severity == "critical"

    # a restarted console shows the same state; a hostile title stays text
    publish_alerts(settings, alert("hostile", 1, "critical", HOSTILE, term="rocket fire"))
    with wirewatch(args, env, tmp_path / "console2.log") as console:
        wait_healthy(url, console, tmp_path / "console2.log")
        page = browser.new_page()
        page.goto(url)
        rows = page.locator("#alerts > li")
        expect(rows).to_have_count(5)
        expect(page.locator('li[data-alert-id="al-syria"] .tag', has_text="muted")).to_be_visible()
        hostile = page.locator('li[data-alert-id="al-hostile"]')
        expect(hostile.locator(".title")).to_contain_text('<img src=x onerror="window.__pwned=1"><script>')
        expect(hostile.locator(".title mark")).to_have_text("Rocket fire")
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#alerts img, #alerts script").count() == 0
        csp = httpx.get(url, timeout=5).headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        # a request from another site is refused (no X-Wirewatch header, wrong Host)
        assert httpx.post(f"{url}api/ack", json={"alert_id": "al-kharkiv"}, timeout=5).status_code == 403
        assert httpx.get(url, headers={"Host": "evil.example"}, timeout=5).status_code == 421
