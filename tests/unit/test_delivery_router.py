"""Route decisions without Kafka: intervals, quiet hours, digests, mutes and acks, what an update says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from streams.delivery import state
from streams.delivery.changes import changes_of, summary
from streams.delivery.router import Router
from streams.delivery.routes import Destination, Match, Route, Routes
from streams.delivery.state import HoldView
from streams.delivery.timing import QuietHours, parse_clock

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)     # a Monday, 13:00 in Paris


def routes(*items: Route) -> Routes:
    return Routes({"chat": Destination("chat", ("json://127.0.0.1:9/x",), ("json://127.0.0.1:9/x",))}, items)


def alert(version: int = 1, severity: str = "high", casualties: int | None = 6, sources: int = 3,
          alert_id: str = "al-1", **extra: object) -> dict:
    return {"alert_id": alert_id, "version": version, "severity": severity, "casualties": casualties,
            "title": "Shelling kills 6 in Kharkiv", "sources": [f"s{i}.example" for i in range(sources)],
            "categories": ["armed_attack"], "reason": "new" if version == 1 else "escalated",
            "url": "https://wire.example/a", **extra}


def test_an_update_says_what_changed_from_what_the_route_delivered() -> None:
    router = Router(routes(Route("r", ("chat",))))
    (first,), _ = router.route(alert(1), T0, token=("p", 1))
    assert first.message.key == "r:al-1:1" and "Update" not in first.message.text
    router.delivered(first, T0)
    (second,), _ = router.route(alert(2, casualties=13, sources=5), T0, token=("p", 2))
    assert "Update: toll 6 -> 13, now 5 outlets" in second.message.text
    assert "toll 6 -&gt; 13, now 5 outlets" in second.message.html


def test_the_alerts_own_changes_are_used_when_they_cover_the_step() -> None:
    router = Router(routes(Route("r", ("chat",))))
    router.delivered(router.route(alert(1), T0)[0][0], T0)
    given = [{"field": "severity", "from": "high", "to": "critical"}, {"field": "casualties", "from": 6, "to": 13}]
    (out,), _ = router.route(alert(2, severity="critical", casualties=13, changes=given), T0)
    assert "Update: severity high -> critical, toll 6 -> 13" in out.message.text


def test_changes_are_computed_when_the_alert_does_not_carry_them() -> None:
    before, after = alert(1), alert(2, casualties=13, sources=5, languages=["en", "fr"])
    assert summary(changes_of(after, before)) == "toll 6 -> 13, now 5 outlets, now in 2 languages"
    assert changes_of(after, None) == []


def test_min_interval_holds_updates_then_sends_the_latest_unless_severity_rises() -> None:
    router = Router(routes(Route("r", ("chat",), min_interval_s=600)))
    router.delivered(router.route(alert(1), T0, token=("p", 1))[0][0], T0)
    out, outcomes = router.route(alert(2, sources=4), T0 + timedelta(minutes=1), token=("p", 2))
    assert out == [] and outcomes == ["r:held"] and router.held_tokens() == [("p", 2)]
    out, outcomes = router.route(alert(3, sources=6), T0 + timedelta(minutes=2), token=("p", 3))
    assert outcomes == ["r:held"] and router.held_tokens() == [("p", 3)]
    assert router.due(T0 + timedelta(minutes=9)) == []
    (late,) = router.due(T0 + timedelta(minutes=10))
    assert late.message.key == "r:al-1:3" and "now 6 outlets" in late.message.text and late.tokens == [("p", 3)]
    router.delivered(late, T0 + timedelta(minutes=10))
    (urgent,), outcomes = router.route(alert(4, severity="critical"), T0 + timedelta(minutes=11))
    assert outcomes == ["r:send"] and "severity high -> critical" in urgent.message.text


def test_quiet_hours_hold_until_they_end_and_let_urgent_alerts_through() -> None:
    quiet = QuietHours(parse_clock("22:00"), parse_clock("07:00"), ZoneInfo("Europe/Paris"), urgent="critical")
    router = Router(routes(Route("r", ("chat",), quiet=quiet)))
    night = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)        # 00:30 in Paris
    assert quiet.contains(night) and not quiet.contains(T0)
    assert router.route(alert(1), night, token=("p", 1)) == ([], ["r:quiet"])
    assert router.route(alert(1, alert_id="al-2", severity="medium"), night, token=("p", 2)) == ([], ["r:quiet"])
    (urgent,), _ = router.route(alert(1, alert_id="al-3", severity="critical"), night, token=("p", 3))
    assert urgent.message.key == "r:al-3:1"
    morning = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)        # 07:00 in Paris
    assert router.next_due() == morning
    assert router.due(morning - timedelta(seconds=1)) == []
    (digest,) = router.due(morning)
    assert digest.message.subject == "[HIGH] wirewatch held in quiet hours: 2 alerts"
    assert [a["alert_id"] for a in digest.alerts] == ["al-1", "al-2"] and sorted(digest.tokens) == [("p", 1), ("p", 2)]


def test_a_digest_keeps_the_latest_version_of_each_alert() -> None:
    router = Router(routes(Route("low", ("chat",), Match(min_severity="low"), digest_s=1800, digest_max=1)))
    for version, when in ((1, 0), (2, 5)):
        assert router.route(alert(version, severity="low"), T0 + timedelta(minutes=when)) == ([], ["low:digest"])
    router.route(alert(1, alert_id="al-2", severity="low"), T0 + timedelta(minutes=6))
    assert router.due(T0 + timedelta(minutes=29)) == []
    (digest,) = router.due(T0 + timedelta(minutes=30))
    assert [(a["alert_id"], a["version"]) for a in digest.alerts] == [("al-1", 2), ("al-2", 1)]
    assert "... and 1 more" in digest.message.text and digest.message.text.count("\n- ") == 1


def test_muted_and_acknowledged_alerts_stop_until_their_severity_rises() -> None:
    holds = HoldView()
    router = Router(routes(Route("r", ("chat",))), holds)
    holds.apply(*state.mute("alert", "al-1", seconds=3600, severity="high", now=T0))
    assert router.route(alert(2), T0 + timedelta(minutes=1)) == ([], ["r:muted"])
    assert router.route(alert(3, severity="critical"), T0 + timedelta(minutes=2))[1] == ["r:send"]
    assert router.route(alert(4), T0 + timedelta(hours=2))[1] == ["r:send"]           # the mute ran out
    holds.apply(*state.ack("al-9", severity="critical", now=T0))
    assert router.route(alert(1, alert_id="al-9", severity="critical"), T0)[1] == ["r:muted"]
    holds.apply("ack:al-9", None)                                                      # lifted
    assert router.route(alert(2, alert_id="al-9", severity="critical"), T0)[1] == ["r:send"]
    holds.apply(*state.mute("pattern", "KHARKIV", seconds=60, now=T0))
    assert router.route(alert(1, alert_id="al-5"), T0)[1] == ["r:muted"]
    holds.apply(*state.mute("event", "ev-7", seconds=None, severity="high", now=T0))
    assert holds.silenced(alert(1, alert_id="al-6", event_id="ev-7", title="x"), T0 + timedelta(days=30))


def test_a_replayed_version_is_not_sent_twice_even_after_a_restart() -> None:
    first = Router(routes(Route("r", ("chat",))))
    (out,), _ = first.route(alert(1), T0)
    records = first.delivered(out, T0)
    restarted = Router(routes(Route("r", ("chat",))))
    for key, value in records:
        restarted.restore(key, value)
    assert restarted.route(alert(1), T0) == ([], ["r:duplicate"])
    (update,), _ = restarted.route(alert(2, casualties=9), T0)
    assert "toll 6 -> 9" in update.message.text


def test_reloaded_routes_release_what_a_removed_route_held() -> None:
    router = Router(routes(Route("r", ("chat",), digest_s=600)))
    router.route(alert(1), T0, token=("p", 7))
    assert router.held_tokens() == [("p", 7)]
    router.replace_routes(routes(Route("other", ("chat",))))
    assert router.held_tokens() == []
