"""Messages, mute records and the page's board without Kafka: hostile text stays inert in every rendering."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.console.board import Board
from streams.delivery import state
from streams.delivery.messages import alert_message, clean, digest_message, safe_url, subject
from streams.delivery.state import HoldView

HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "a\r\nBcc: victim@example.org",
           "\x00\x07\x1b[31mred\u202etxt.exe\u200b", "*bold* _it_ [link](javascript:alert(1)) <!channel> &amp;",
           "x" * 20_000]


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_titles_are_plain_in_text_escaped_in_html_and_one_bounded_line_in_subjects(title: str) -> None:
    alert = {"alert_id": "al-1", "version": 2, "severity": "critical", "title": title, "url": "javascript:alert(1)",
             "sources": [title], "categories": [title], "places": [title], "casualties": 3,
             "changes": [{"field": "casualties", "from": 1, "to": 3}]}
    message = alert_message(alert, alert["changes"], "route")
    for text in (message.subject, message.text):
        assert not any(ch in text for ch in "\x00\x07\x1b\u202e\u200b")
    assert "\n" not in message.subject and "\r" not in message.subject and len(message.subject) <= 180
    assert "\r" not in message.text and len(message.text) < 3000
    assert "<script" not in message.html and "<img" not in message.html
    assert "href" not in message.html                      # no link from a non-http(s) URL
    shown = html.unescape(message.html)                    # what a reader sees: the title, literally
    assert clean(title, 100)[:50] in shown
    digest = digest_message([(alert, [])], "route", 5)
    assert "<script" not in digest.html and "\n" not in digest.subject


def test_links_are_http_only_and_escaped() -> None:
    assert safe_url("https://wire.example/a?x=1&y=\"2\"") == ""
    assert safe_url(" https://wire.example/a?x=1&y=2 ") == "https://wire.example/a?x=1&y=2"
    assert safe_url("data:text/html,<b>") == "" and safe_url("//evil.example") == ""
    message = alert_message({"alert_id": "a", "version": 1, "severity": "high", "title": "T",
                             "url": "https://wire.example/a?x=1&y=2"}, [], "r")
    assert '<a href="https://wire.example/a?x=1&amp;y=2">T</a>' in message.html


@given(st.text(max_size=500))
def test_clean_is_one_bounded_line_of_printable_text(text: str) -> None:
    out = clean(text, 100)
    assert len(out) <= 100 and "\n" not in out and "\r" not in out and out == out.strip()
    assert all(ch.isprintable() or ch == " " for ch in out)
    assert subject({"severity": "high", "title": text}).startswith("[HIGH]")


def test_mute_records_round_trip_and_expire() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    view = HoldView()
    key, value = state.mute("pattern", "  Kharkiv ", seconds=3600, now=now, by="ops")
    assert key == state.mute_key("pattern", "kharkiv") and value["target"] == "Kharkiv"
    hold = view.apply(key, value)
    assert hold is not None and hold.active(now) and not hold.active(now + timedelta(hours=1))
    assert view.active(now)[0]["until"] == "2026-03-02T13:00:00Z"
    assert view.active(now + timedelta(hours=2)) == []
    with pytest.raises(ValueError):
        state.mute("story", "x", seconds=60)
    with pytest.raises(ValueError):
        state.mute("alert", "", seconds=60)
    with pytest.raises(ValueError):
        view.apply("mute:alert:x", {"kind": "delete-everything", "scope": "alert", "target": "x"})


def test_the_board_keeps_a_timeline_drops_replays_and_bounds_itself() -> None:
    board = Board(window=timedelta(hours=1), max_alerts=2)
    t0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
    first = {"alert_id": "al-1", "version": 1, "severity": "high", "casualties": 6, "sources": ["a", "b"],
             "title": "T", "url": "https://wire.example/1"}
    assert board.add(first, t0)["versions"][0]["changes"] == []
    assert board.add(first, t0) is None                                  # a replayed version
    entry = board.add({**first, "version": 2, "casualties": 13, "sources": ["a", "b", "c"],
                       "url": "javascript:alert(1)"}, t0)
    assert entry is not None and entry["versions"][-1]["changes"] == ["toll 6 -> 13", "now 3 outlets"]
    assert [a["url"] for a in entry["articles"]] == ["https://wire.example/1"]
    board.add({**first, "alert_id": "al-2", "event_id": "ev-1", "severity": "critical"}, t0)
    assert board.severity_of("event", "ev-1") == "critical" and board.severity_of("alert", "al-1") == "high"
    board.add({**first, "alert_id": "al-3"}, t0 + timedelta(minutes=50))
    assert [e["alert_id"] for e in board.snapshot()] == ["al-3", "al-2"]   # al-1: over max_alerts
    assert board.expire(t0 + timedelta(minutes=70)) == ["al-2"]
