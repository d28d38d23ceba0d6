"""Cleaning: what a feed sends -> readable plain text.

Removes HTML, zero-width and control characters, unifies quotes and whitespace, and drops whole lines
of feed boilerplate ("Read also: ...", "Advertisement", newsletter and copyright lines, reporting
credits): they are not part of the story and would otherwise feed other stories' words to the
escalation rules. The result stays text a human can read (escalation rules report offsets into it).
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

MAX_RAW_CHARS = 1_000_000  # cut before any regex work: a 5 MB "content" must stay cheap
MAX_BODY_CHARS = 100_000
MAX_TITLE_CHARS = 1_000

_SCRIPT = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BLOCK = re.compile(r"</?(?:p|br|div|li|ul|ol|h[1-6]|tr|table|blockquote|section|article|header|footer"
                    r"|figure|figcaption|pre|hr|dd|dt)\b[^>]*>", re.I)
_TAG = re.compile(r"</?[A-Za-z][^>]{0,2000}>")
_ODD_MAP = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u2039": "'",
            "\u203a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
            "\u00ab": '"', "\u00bb": '"', "\t": " ", "\x0b": "\n", "\x0c": "\n", "\x1c": "\n", "\x1d": "\n",
            "\x1e": "\n", "\x85": "\n", "\r": "\n", "\u2028": "\n", "\u2029": "\n", "\u1680": " ", "\u180e": " "}
# quotes to straighten, whitespace to unify, and invisible/control characters (mapped to "") to drop
_ODD = re.compile("[" + "".join(_ODD_MAP) + "\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f"
                  "\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\ufff9-\ufffb]")
_PLAIN_ASCII = bytes(range(0x20, 0x7F)) + b"\n"  # ASCII that `_ODD` leaves alone
_SPACES = re.compile(r" {2,}")

# Whole lines of feed furniture. Matched only against short lines so that article text starting
# with the same words survives.
_BOILERPLATE = re.compile(
    r"""^(?:[\u2022*\u00b7\u25aa\u25ba>\-\u2013\u2014]\s*)?(?:
        (?:read|see|also\ read|watch|listen)(?:\ also|\ more)?\s*[:\-\u2013\u2014].*
      | related(?:\ (?:stories|articles|coverage|content|news|links?))?\s*[:\-\u2013\u2014].*
      | more\ on\ this(?:\ story)?\s*[:\-\u2013\u2014]?
      | (?:advertisement|advert|sponsored(?:\ content)?|ad)\.?
      | (?:story|article)\ continues\ (?:below|after)(?:\ (?:the|this))?\ (?:advertisement|advert|ad)\.?
      | continue\ reading.*
      | (?:sign\ up|subscribe)\b.{0,80}
      | click\ here\b.{0,80}
      | (?:share\ (?:this|on)|follow\ us)\b.{0,40}
      | \(?(?:additional\ )?(?:reporting|writing|editing|compiled|translated)\ by\b.{0,150}
      | (?:copyright|\u00a9|\(c\))\s.{0,100}
      | all\ rights\ reserved\.?
      | (?:by\ )?(?-i:(?:[A-Z][\w.'\-]*\ ){1,3})(?:staff|correspondent|reporter|desk|newsroom)\.?
    )$""", re.I | re.X)
_BOILERPLATE_MAX = 200


def clean_text(value: Any, *, limit: int = MAX_BODY_CHARS, boilerplate: bool = True) -> str:
    """Readable plain text: no HTML, no invisible characters, straight quotes, one space between
    words, one "\\n" between paragraphs, no boilerplate lines. Idempotent; never raises."""
    if not isinstance(value, str):
        value = "" if value is None else str(value)
    text = value[:MAX_RAW_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    for _ in range(4):  # to a fixed point: double-escaped feeds ("&amp;lt;p&amp;gt;") are common
        before = text
        text = _characters(_markup(text))
        if text == before:
            break
    lines = []
    for raw_line in text.split("\n"):
        line = raw_line.strip()
        if "  " in line:
            line = _SPACES.sub(" ", line)
        if line and not (boilerplate and len(line) <= _BOILERPLATE_MAX and _BOILERPLATE.match(line)):
            lines.append(line)
    return _cap("\n".join(lines), limit)


def _markup(text: str) -> str:
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _COMMENT.sub(" ", _SCRIPT.sub(" ", text))
        text = _TAG.sub(" ", _BLOCK.sub("\n", text))
    return text


def _characters(text: str) -> str:
    if text.isascii():
        # the only odd ASCII characters are the non-printable ones but "\n"; NFKC keeps ASCII as it is,
        # so ASCII text with nothing but printable characters and "\n" is clean already
        if not text.encode("ascii").translate(None, _PLAIN_ASCII):
            return text
        return _ODD.sub(_odd_char, text)
    if _ODD.search(text):
        text = _ODD.sub(_odd_char, text)
    return unicodedata.normalize("NFKC", text)


def _odd_char(match: re.Match[str]) -> str:
    return _ODD_MAP.get(match.group(), "")


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", limit - 200, limit)
    return text[: cut if cut > 0 else limit].rstrip()
