"""Alerts carry text, never markup (streams/plaintext.py, streams/alerts.py `plain_alert`).

The hostile corpus (tests/helpers/hostile.py) goes through the pipeline `wirewatch replay` runs, and every
field of every alert is checked; the same corpus goes through a real worker in
tests/integration/test_hostile_records.py.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from helpers.hostile import (
    CHARACTERS,
    MARKUP,
    URLS,
    alert_validator,
    assert_alert_is_text,
    assert_text,
    hostile_articles,
)
from hypothesis import given
from hypothesis import strategies as st

from connectors import article as contract
from streams.alerts import AlertPolicy
from streams.escalation import Rules
from streams.pipeline import Pipeline
from streams.plaintext import ID_PATTERN, http_url, plain, safe_id


@pytest.mark.parametrize("vector", MARKUP + CHARACTERS)
def test_every_vector_becomes_text(vector: str) -> None:
    text = plain(f"Rockets hit the harbour {vector} officials said", 1000)
    assert_text(text, "plain")
    assert text.startswith("Rockets hit the harbour")
    assert plain(text, 1000) == text                               # text stays as it is


def test_text_keeps_what_is_text() -> None:
    assert plain("Rockets hit <b>Ardmore</b>, killing 5 &amp; wounding 9", 100) == \
        "Rockets hit Ardmore, killing 5 & wounding 9"
    assert plain("1 < 2 > 0 & R&D, AT&T; x <3 y", 100) == "1 < 2 > 0 & R&D, AT&T; x <3 y"
    assert plain("Кремль: удар по Харкову\u200d\u200c", 100) == "Кремль: удар по Харкову\u200d\u200c"  # ZWJ/ZWNJ stay
    assert plain("a\n\nb\tc", 100) == "a b c"
    cut = plain("word " * 300, 1000)
    assert len(cut) <= 1000 and cut.endswith("word")


def test_urls_are_http_or_nothing() -> None:
    for url in URLS:
        safe = http_url(url)
        assert safe == "" or (safe.startswith(("http://", "https://")) and '"' not in safe and "<" not in safe), safe
    assert http_url("javascript:alert(1)") == "" and http_url("data:text/html,x") == ""
    assert http_url("https://news.example/\"><script>x</script>") == "https://news.example/%22%3E%3Cscript%3Ex%3C/script%3E"
    assert http_url("https://news.example/a?b=1#c") == "https://news.example/a?b=1#c"


def test_ids_are_of_the_contract_characters() -> None:
    assert safe_id("s-0a1b2c") == "s-0a1b2c"
    for bad in ("<script>", "a b", "", "s-\u202eevil", "x" * 200, "id\"onmouseover=alert(1)"):
        assert ID_PATTERN.match(safe_id(bad)) and safe_id(bad) == safe_id(bad)
    with pytest.raises(contract.InvalidRecord, match="article field id"):
        contract.validate({"id": "<img src=x onerror=alert(1)>", "url": "https://x.example/", "title": "t",
                           "published_at": "2023-01-01T00:00:00Z", "source": "s", "feed": "f"})


@given(st.text(alphabet=st.sampled_from(list("<>/&;#x3Cltgamp\"'= abscriptimg\u202e\x00\n")), max_size=200))
def test_no_arrangement_of_markup_characters_survives(text: str) -> None:
    assert_text(plain(text, 1000), "plain")


def test_hostile_corpus_through_the_pipeline_alerts_as_text() -> None:
    pipeline = Pipeline(Rules.load(), AlertPolicy(min_interval=timedelta(0)))
    validator = alert_validator()
    articles = hostile_articles()
    alerts = []
    for number, _, published, error in pipeline.run(json.dumps(a) for a in articles):
        assert error is None, (number, error)
        alerts.extend(published)
    assert len({a["alert_id"] for a in alerts}) >= len(articles) * 3 // 4   # (each report is its own event)
    for alert in alerts:
        assert_alert_is_text(alert, validator)
    titles = {a["title"] for a in alerts}
    assert any(t.startswith("Rocket attack on Mosul kills 4") for t in titles)
    assert all(a["url"] == "" or a["url"].startswith("https://") for a in alerts)
