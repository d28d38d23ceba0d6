"""One message per alert (or per digest), in three renderings that Apprise adapts to each service.

- `subject`: one line of plain text with no control characters, bounded (e-mail Subject, ntfy and
  PagerDuty titles: header-like fields where a newline would be an injection);
- `text`: plain text, for services that take plain text;
- `html`: an HTML fragment in which every piece of alert text is escaped; Apprise turns it into
  Slack mrkdwn, Teams Markdown or an e-mail's HTML part, re-escaping for each.

Titles, sources, places and terms come from other people's servers: nothing here concatenates them
into markup without escaping, and links are only ever http(s) URLs.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.delivery.changes import summary

MAX_SUBJECT = 180
MAX_TITLE = 400
MAX_FIELD = 120
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    severity: str
    key: str                      # idempotency: "<route>:<alert_id>:<version>" or "<route>:digest:<first>"


def clean(value: Any, limit: int = MAX_TITLE) -> str:
    """Plain one-line text: control and format characters dropped, whitespace collapsed, bounded."""
    text = "".join(_plain(ch) for ch in str(value if value is not None else ""))
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _plain(ch: str) -> str:
    """Whitespace (line breaks too) as a space; control, format (bidi overrides, zero-width), private,
    unassigned and line/paragraph separator characters dropped."""
    if ch in "\r\n\t\v\f" or unicodedata.category(ch) == "Zs":
        return " "
    return "" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") else ch


def safe_url(value: Any) -> str:
    """The URL when it is a plain http(s) URL, else "" (no javascript:, data: or relative links)."""
    url = clean(value, 2000)
    return url if re.match(r"^https?://[^\s\"'<>]+$", url) else ""


def _e(value: Any, limit: int = MAX_FIELD) -> str:
    return html.escape(clean(value, limit), quote=True)


def subject(alert: Mapping[str, Any], update: str = "") -> str:
    severity = clean(alert.get("severity", "none"), 10).upper()
    prefix = f"[{severity}]" + (" update:" if update else "")
    return clean(f"{prefix} {clean(alert.get('title'))}", MAX_SUBJECT)


def facts(alert: Mapping[str, Any]) -> list[str]:
    """The short facts of an alert: casualties, categories, outlets, places, languages."""
    out = []
    if alert.get("casualties"):
        out.append(f"{alert['casualties']} casualties")
    categories = [clean(c, 40) for c in alert.get("categories") or []]
    if categories:
        out.append(", ".join(categories[:6]))
    sources = [clean(s, 60) for s in alert.get("sources") or []]
    if sources:
        out.append(f"{len(sources)} outlets ({', '.join(sources[:5])}{', ...' if len(sources) > 5 else ''})")
    places = [clean(p, 60) for p in alert.get("places") or []]
    if places:
        out.append(", ".join(places[:5]))
    languages = [clean(lang, 8) for lang in alert.get("languages") or []]
    if len(languages) > 1:
        out.append("languages " + ", ".join(languages[:8]))
    return out


def alert_message(alert: Mapping[str, Any], changes: Sequence[Mapping[str, Any]], route: str) -> Message:
    """The message for one alert version; `changes` (possibly empty) say what is new in it."""
    update = clean(summary(changes), 300) if changes and alert.get("version", 1) != 1 else ""
    if alert.get("reason") == "merged" and alert.get("merged_into"):
        update = clean(f"merged into {alert['merged_into']}", 300)
    severity = clean(alert.get("severity", "none"), 10)
    title, url = clean(alert.get("title")), safe_url(alert.get("url"))
    fact_line = " · ".join(facts(alert))
    ref = clean(f"{alert.get('alert_id', '')} v{alert.get('version', '')}", 60)
    text_lines = [f"[{severity.upper()}] {title}"]
    if update:
        text_lines.append(f"Update: {update}")
    if fact_line:
        text_lines.append(fact_line)
    if url:
        text_lines.append(url)
    text_lines.append(ref)
    headline = f"<a href=\"{html.escape(url, quote=True)}\">{_e(title, MAX_TITLE)}</a>" if url else _e(title, MAX_TITLE)
    parts = [f"<b>[{_e(severity.upper(), 10)}]</b> {headline}"]
    if update:
        parts.append(f"<b>Update:</b> {_e(update, 300)}")
    if fact_line:
        parts.append(_e(fact_line, 600))
    parts.append(f"<i>{_e(ref, 60)}</i>")
    return Message(subject=subject(alert, update), text="\n".join(text_lines), html="<br/>".join(parts),
                   severity=severity, key=f"{route}:{alert.get('alert_id')}:{alert.get('version')}")


def digest_message(items: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]], route: str,
                   limit: int, why: str = "digest") -> Message:
    """One message for several alerts (a digest period, or what quiet hours held), newest first."""
    top = max((str(a.get("severity", "none")) for a, _ in items), key=_rank, default="none")
    shown = list(items)[:limit]
    text_lines = [f"wirewatch {why}: {len(items)} alerts (highest {top})"]
    parts = [f"<b>wirewatch {_e(why, 20)}: {len(items)} alerts</b> (highest {_e(top, 10)})"]
    for alert, changes in shown:
        sev, title = clean(alert.get("severity", "none"), 10), clean(alert.get("title"))
        url = safe_url(alert.get("url"))
        note = clean(summary(changes), 200) if changes else ""
        text_lines.append(f"- [{sev.upper()}] {title}" + (f" ({note})" if note else "") + (f" {url}" if url else ""))
        head = f"<a href=\"{html.escape(url, quote=True)}\">{_e(title, MAX_TITLE)}</a>" if url else _e(title, MAX_TITLE)
        parts.append(f"• <b>[{_e(sev.upper(), 10)}]</b> {head}" + (f" ({_e(note, 200)})" if note else ""))
    if len(items) > len(shown):
        text_lines.append(f"... and {len(items) - len(shown)} more")
        parts.append(f"... and {len(items) - len(shown)} more")
    first = items[0][0] if items else {}
    return Message(subject=clean(f"[{top.upper()}] wirewatch {why}: {len(items)} alerts", MAX_SUBJECT),
                   text="\n".join(text_lines), html="<br/>".join(parts), severity=top,
                   key=f"{route}:{why}:{first.get('alert_id')}:{first.get('version')}:{len(items)}")


def _rank(severity: str) -> int:
    return ("none", "low", "medium", "high", "critical").index(severity) if severity in (
        "none", "low", "medium", "high", "critical") else 0
