"""Plain text, http(s) URLs and ids for what leaves wirewatch: every text field of an alert.

Alerts are shown on a web page and in Slack, Teams and e-mail. Each medium escapes what it shows
(STYLE.md, "Untrusted text"), and on top of that an alert carries no markup at all, so that a consumer
that forgets to escape, or one that renders twice, shows text:

- `plain`: markup parsed away with the standard library's HTML tokenizer (`html.parser`, the HTML
  spec's tokenizer rules: attributes with `>` inside quotes, comments, CDATA; `<script>` and `<style>`
  with their contents), character references resolved (`convert_charrefs`), repeated until nothing
  changes, so that markup escaped several times (`&amp;lt;img onerror=...&amp;gt;`) is resolved and then
  removed as well. A tag cut off by a length limit (`<img src=x onerror=...` with no `>`) is dropped with
  the rest of the text. Then control characters, bidirectional overrides and isolates, zero-width and
  other invisible format characters are removed, whitespace becomes single spaces, and the text is cut
  at a word boundary to its limit.
- `http_url`: an absolute http(s) URL with a host, percent-encoded by w3lib's `safe_url_string` (no
  quote, angle bracket, space or control character survives), valid as an RFC 3986 URI; else "".
- `safe_id`: ids are made of ID_CHARACTERS (the contract's `id` pattern); anything else is replaced
  by a digest of itself, so that it still identifies the same thing.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache
from html.parser import HTMLParser
from typing import Any

from w3lib.url import safe_url_string

from connectors.article import is_http_url

ID_CHARACTERS = "A-Za-z0-9._:~+=@-"        # ids: letters, digits and these (no markup, quote or space)
ID_PATTERN = re.compile(f"^[A-Za-z0-9][{ID_CHARACTERS}]{{0,127}}$")
MAX_URL = 8192
MAX_ROUNDS = 10                             # levels of escaped markup resolved before giving up on them
_SKIPPED = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg", "math"})
_INLINE = frozenset({"a", "abbr", "b", "bdi", "bdo", "cite", "code", "del", "dfn", "em", "font", "i", "ins", "kbd",
                     "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u",
                     "var"})                 # (other tags separate words: a space stands for them)
_TAG_START = re.compile(r"[A-Za-z/!?]")
# Format characters that reorder or hide text: bidi embeddings, overrides, isolates and marks, zero-width
# space, word joiner and invisible operators, BOM, interlinear annotation. (ZWNJ and ZWJ stay: Persian,
# Indic scripts and emoji sequences need them.)
_INVISIBLE = frozenset("\u061c\u180e\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063"
                       "\u2064\u2066\u2067\u2068\u2069\ufeff\ufff9\ufffa\ufffb")


class _Text(HTMLParser):
    """The text of a fragment of HTML: data only, the contents of script-like elements left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _SKIPPED:
            self.skipping.append(tag)
        self._separate(tag)

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        self._separate(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.skipping:
            del self.skipping[self.skipping.index(tag):]
        self._separate(tag)

    def _separate(self, tag: str) -> None:
        if tag not in _INLINE:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)

    def text(self) -> str:
        return "".join(self.parts)


def _strip(text: str) -> str:
    parser = _Text()
    parser.feed(text)
    # What the tokenizer left unread at the end: a tag it could not finish ("<img src=x onerror=..." cut
    # off before its ">") is markup, not text: dropped. (Other leftovers, "< 2" or "&amp", are text.)
    if parser.rawdata.startswith("<") and _TAG_START.match(parser.rawdata, 1):
        parser.rawdata = ""
    parser.close()
    return parser.text()


def plain(value: Any, limit: int) -> str:
    """Plain text of at most `limit` characters (module docstring)."""
    if value is None:
        return ""
    text = str(value)[: 20 * limit + 1000]            # markup and entities shrink; more is never shown
    # invisible characters out before markup is read (a "<" + U+202E + "b>" is a tag once the override is
    # gone), and again after (a reference may stand for one): until neither changes anything
    for _ in range(MAX_ROUNDS):
        visible = "".join(" " if ch in _SPACES else ch for ch in text if _visible(ch))
        stripped = _strip(visible) if ("<" in visible or "&" in visible) else visible
        if stripped == text:
            break
        text = stripped
    else:  # still markup after MAX_ROUNDS levels of escaping: no bracket or ampersand survives
        text = "".join(ch for ch in text.replace("<", " ").replace(">", " ").replace("&", " ") if _visible(ch))
    text = " ".join(text.split())
    if len(text) > limit:
        cut = text.rfind(" ", max(0, limit - 100), limit)
        text = text[: cut if cut > 0 else limit].rstrip()
    return text


_SPACES = frozenset("\t\n\r\x0b\x0c\x85\u2028\u2029")


@cache
def _visible(ch: str) -> bool:
    if ch in _SPACES:
        return True                                   # whitespace: becomes a space
    return ch not in _INVISIBLE and unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn")


def http_url(value: Any) -> str:
    """An absolute http(s) URL, percent-encoded, valid as an RFC 3986 URI; "" for anything else."""
    if not isinstance(value, str):
        return ""
    text = "".join(ch for ch in value.strip() if _visible(ch) and not ch.isspace())
    if not text or len(text) > MAX_URL or not is_http_url(text):
        return ""
    try:
        # (and the apostrophe, which RFC 3986 allows but which ends a single-quoted HTML attribute)
        url = safe_url_string(text).replace("'", "%27")
    except (ValueError, UnicodeError):
        return ""
    return url if len(url) <= MAX_URL and is_http_url(url) and _is_uri(url) else ""


def _is_uri(url: str) -> bool:
    return bool(_uri_checker().conforms(url, "uri"))


@cache
def _uri_checker() -> Any:
    import jsonschema

    checker = jsonschema.FormatChecker()
    if "uri" not in checker.checkers:   # (rfc3986-validator: pinned through jsonschema[format-nongpl])
        raise RuntimeError("jsonschema cannot check the uri format: install jsonschema[format-nongpl]")
    return checker


def safe_id(value: Any) -> str:
    """The id as it is when made of ID_CHARACTERS, else "x-" + a digest of it."""
    text = "" if value is None else str(value)
    if ID_PATTERN.match(text):
        return text
    return "x-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]
