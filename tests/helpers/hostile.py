"""A corpus of hostile feed items, written for wirewatch's tests, and the check that an alert is text.

The vectors follow the families OWASP's XSS filter evasion notes describe (script and event-handler
tags, javascript: and data: URLs, entity-encoded and double-encoded markup, broken and nested tags,
comments and quotes that end an attribute), plus control characters, bidirectional overrides and
overlong strings. Each is written here for these tests, not copied from a list.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import jsonschema

import streams
from streams.plaintext import ID_PATTERN

MARKUP = [
    "<script>alert('t1')</script>",
    "<img src=x onerror=alert('t2')>",
    "<img src=x onerror=alert('t3')",                          # unclosed: runs past the end
    "<svg/onload=alert('t4')>",
    "<a href=\"javascript:alert('t5')\">read more</a>",
    "&lt;img src=x onerror=alert('t6')&gt;",                   # escaped once
    "&amp;lt;script&amp;gt;alert('t7')&amp;lt;/script&amp;gt;",  # escaped twice
    "&#x3C;iframe src=javascript:alert('t8')&#x3E;",           # numeric references
    "&#60;body onload=alert('t9')&#62;",
    "<<b>script>alert('t10')<</b>/script>",                    # a tag built from the pieces of two
    "<IMG \"\"\"><SCRIPT>alert('t11')</SCRIPT>\">",
    "\"><script>alert('t12')</script>",                        # ends an attribute, then a script
    "'><svg onload=alert('t13')>",
    "<!--<img src=\"--><img src=x onerror=alert('t14')//\">",  # a comment that is not one
    "<scr<script>ipt>alert('t15')</scr</script>ipt>",
    "<iframe srcdoc=\"&lt;script&gt;alert('t16')&lt;/script&gt;\"></iframe>",
    "<div style=\"background:url(javascript:alert('t17'))\">styled</div>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('t18')>",
    "<b title='" + "x" * 3000,                                # attributes that run past any cut
    "&amp;amp;amp;amp;amp;amp;amp;amp;amp;amp;amp;amp;amp;lt;b&amp;gt;",  # escaped thirteen times
    "<details open ontoggle=alert('t19')>",
    "<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgndDIwJyk8L3NjcmlwdD4=\"></object>",
]
CHARACTERS = [
    "nul\x00bell\x07escape\x1b[31mred\x1b[0m",                 # control characters, an ANSI colour
    "\u202egnp.exe\u202c report",                              # right-to-left override
    "\u2066isolated\u2069 \u2067rtl\u2069 \u200eLRM\u200f",
    "zero\u200bwidth\ufeffBOM\u2060joiner\u00adsoft",
    "line\nbreak\rcarriage\u2028separator\u2029para\x85next\x0bvt\x0cff",
    "\U000f0000 private use, \U000e0001 tag, \ufff9anchor\ufffb",
]
URLS = [
    "javascript:alert('u1')",
    " JaVaScRiPt:alert('u2')",
    "java\tscript:alert('u3')",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgndTQnKTwvc2NyaXB0Pg==",
    "vbscript:msgbox('u5')",
    "https://news.example/\"><script>alert('u6')</script>",
    "https://news.example/a b?q=<img src=x onerror=alert('u7')>",
    "https://news.\u202eexample/u8",
    "//news.example/protocol-relative",
    "https://news.example/" + "p" * 8100,                      # overlong (the contract's limit is 8,192)
    "https://news.example/%zz",                                # not a URI
]
TOWNS = ["Kharkiv", "Mosul", "Aleppo", "Kabul", "Mogadishu", "Gao", "Idlib", "Donetsk", "Sanaa", "Benghazi", "Goma",
         "Maiduguri", "Kandahar", "Homs", "Marib", "Bamako", "Juba", "Raqqa", "Herat", "Kherson", "Mariupol",
         "Kirkuk", "Hodeidah", "Timbuktu", "Sirte", "Deir ez-Zor", "Kunduz", "Bunia", "Beni", "Kidal"]


def hostile_articles(prefix: str = "h") -> list[dict[str, Any]]:
    """Reports of attacks (so that each alerts), each far from the others in place and time (so that each
    is its own event), carrying the vectors in their title, summary, source, feed, tags and URL."""
    texts = MARKUP + CHARACTERS
    out = []
    for n, vector in enumerate(texts):
        town = TOWNS[n % len(TOWNS)]
        killed = 3 + n
        day, hour = divmod(n * 53, 24)          # 53 h apart: never in one event's candidate window
        out.append({
            "id": f"{prefix}{n:02d}", "url": URLS[n % len(URLS)] if n % 2 else f"https://wire.example/{prefix}{n}",
            "feed": f"feed <b>{n}</b>" if n % 3 == 0 else f"feed-{n % 4}",
            "source": (vector[:500] if n % 4 == 0 else f"outlet{n}.example"),
            "title": f"Rocket attack on {town} kills {killed} {vector}"[:10_000],
            "summary": f"Rockets struck {town} on Monday, killing {killed} people, officials said. {vector} "
                       + ("<p>" + vector + "</p>") * 20,
            "published_at": f"2023-{1 + day // 28:02d}-{1 + day % 28:02d}T{hour:02d}:00:00Z",
            "language": "en", "tags": [vector[:300], "world", f"<i>{town}</i>"],
        })
    # overlong fields, within the contract's limits
    out.append({"id": f"{prefix}-long", "url": "https://wire.example/long", "feed": "f" * 256, "source": "s" * 512,
                "title": "Rocket attack on Tikrit kills 40 " + "<b>again</b> " * 700,
                "summary": "Rockets struck Tikrit, killing 40 people. " + "&lt;script&gt;x&lt;/script&gt; " * 20_000,
                "published_at": "2023-12-30T00:00:00Z", "language": "en", "tags": ["t" * 5000] * 40})
    return out


_TAG = re.compile(r"<[A-Za-z!/?]")
_BAD = frozenset("\u061c\u180e\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff")


def assert_text(value: str, where: str) -> None:
    assert not _TAG.search(value), f"{where}: markup in {value[:200]!r}"
    assert html.unescape(value) == value, f"{where}: a character reference in {value[:200]!r}"
    for ch in value:
        assert ch not in _BAD and unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn"), \
            f"{where}: character U+{ord(ch):04X} in {value[:200]!r}"


def _strings(value: Any, where: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{where}[{i}]")]
    return []


def alert_validator() -> Any:
    schema = json.loads((Path(streams.__file__).parent / "schemas" / "alert.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def assert_alert_is_text(alert: dict[str, Any], validator: Any = None) -> None:
    """Every field of the alert: the schema (formats checked), text without markup, entities, control or
    invisible characters, an http(s) URL or none, ids of the contract's characters, bounded lengths."""
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in (validator or alert_validator()).iter_errors(alert)]
    assert not errors, (errors, alert)
    for where, value in _strings(alert, "alert"):
        assert_text(value, where)
        assert len(value) <= (8192 if where == "alert.url" else 1000), f"{where}: {len(value)} characters"
    url = alert["url"]
    assert url == "" or (url.startswith(("http://", "https://")) and not re.search(r"[\s\"'<>\\^`{|}]", url)), url
    for name in ("alert_id", "event_id", "story_id", "merged_into"):
        assert alert[name] is None or ID_PATTERN.match(alert[name]), (name, alert[name])
    assert all(ID_PATTERN.match(a) for a in alert["articles"]), alert["articles"]
