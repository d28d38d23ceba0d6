"""Normalisation: article -> clean readable text + language + dedupe fingerprints.

Pure and stateless (it runs before the language re-keying, on any worker). The output keeps every
field of the article and adds `norm`:

    language      ISO 639-1 from the article, else detected (py3langid), "und" when unsure
    title, body   cleaned, readable text; body paragraphs separated by "\n" (escalation rules report
                  offsets into these two strings, so they must stay text a human can read)
    body_field    "content" when the body came from `content`, "summary" otherwise
    fingerprints  what `streams.dedupe` needs, all JSON-serialisable:
                    text   "key text" prefix: lower-case words of the body without dateline and
                           feed boilerplate, single-spaced (what copies are verified on)
                    lead   winnowed 63-bit hashes of word 5-grams at the start of the key text
                           (indexed for copies; a common run of >= 16 words shares one)
                    probe  all word 5-gram hashes of the first 36 words (looked up for copies)
                    words  distinct content-word hashes (crc32) as base64 of little-endian uint32
                           (rare-word lookup and vocabulary containment for rewrites)
                    names  the same for capitalised words inside sentences (rewrite lookup)
                    n      number of words in the key text

Cleaning removes HTML, zero-width and control characters, unifies quotes, and drops whole lines of
feed boilerplate ("Read also: ...", "Advertisement", newsletter and copyright lines, reporting
credits): they are not part of the story and would otherwise feed other stories' words to the
escalation rules.
"""

from __future__ import annotations

import base64
import html
import re
import unicodedata
import zlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

MAX_RAW_CHARS = 1_000_000  # cut before any regex work: a 5 MB "content" must stay cheap
MAX_BODY_CHARS = 100_000
MAX_TITLE_CHARS = 1_000
KEY_TEXT_CHARS = 2_000  # verification compares prefixes; more costs time and store space
WORDS_FROM_CHARS = 3_000  # vocabulary for rewrite detection comes from the start of the article
MAX_WORDS = 200
LEAD_TOKENS = 64
PROBE_TOKENS = 36
SHINGLE = 5
WINNOW = 12
MIN_DETECT_LETTERS = 20

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
_TRAILER = re.compile(r"(?:\s*(?:\u2026|\.\.\.|\[\u2026\]|\[\.\.\.\]|continue reading|read more)\s*)+$", re.I)
# "LONDON (Reuters) - ", "KYIV, AP - ", "WASHINGTON, AFP \u2013 ": a capitalised place, an optional agency,
# then a dash. Only stripped from the key text: the readable body keeps it.
_DATELINE = re.compile(
    r"^[A-Z][A-Z.'\u2019 \-]{1,30}(?:,\s*[A-Z][\w.' \-]{0,25})?\s*(?:\([\w .\-/]{1,25}\))?\s*[\u2014\u2013\-]{1,2}\s+")
_WORD = re.compile(r"\w+")
# capitalised words inside a sentence: names of people, places, organisations (what rewrites keep)
_NAME = re.compile(r"(?<=[\w,;:)] )[A-Z\u00c0-\u00d6\u00d8-\u00de]\w+")

_STOPWORDS_TEXT = """
a about after against all also an and any are as at be because been before being between both but by
can could did do does during each for from had has have he her here hers him his how i if in into is it
its just last may me more most mr mrs ms my new no nor not now of off on once one only or other our out
over own said same says she should so some such than that the their them then there these they this
those through to too two under until up very was we were what when where which while who whom why will
with would year years you your
le la les un une des du de et est en que qui dans pour pas sur au aux par il elle ils sont ont avec
der die das und ist nicht ein eine den dem des mit von zu im auf sich auch als an es für
el los las y del se por con para una al lo como más pero sus su
il di che è per non con gli della
o os as um uma do da dos das em no na com não para
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def clean_text(value: Any, *, limit: int = MAX_BODY_CHARS) -> str:
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
        if line and not (len(line) <= _BOILERPLATE_MAX and _BOILERPLATE.match(line)):
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


def key_text(body: str) -> str:
    """Lower-case words of the body without dateline and trailing "Read more"/ellipsis."""
    text = _DATELINE.sub("", body[: KEY_TEXT_CHARS * 3], count=1)
    if len(text) < KEY_TEXT_CHARS:  # only a short text can end inside the key text
        text = text[:-120] + _TRAILER.sub("", text[-120:])
    return " ".join(_WORD.findall(text.lower()))[:KEY_TEXT_CHARS].rstrip()


def word_hash(word: str) -> int:
    return zlib.crc32(word.encode("utf-8", "surrogatepass"))


_P = np.uint64(0x100000001B3)


def lead_hashes(tokens: list[str]) -> tuple[list[int], list[int]]:
    """Hashed word 5-grams of the first LEAD_TOKENS words: (indexed, probed).

    Indexed: winnowing (Schleimer et al. 2003) picks the minimum of every WINNOW consecutive
    hashes, so any run of WINNOW + SHINGLE - 1 words shared with another text shares an indexed
    hash, plus the first shingle. Probed: every shingle of the first PROBE_TOKENS words, so that a
    one-sentence summary finds its full article even when the sentence holds a single indexed hash.
    """
    head = tokens[:LEAD_TOKENS]
    if not head:
        return [], []
    h = np.fromiter((word_hash(w) for w in head), dtype=np.uint64, count=len(head))
    if len(head) < SHINGLE:
        one = [_finish(int(np.bitwise_xor.reduce(h * (np.arange(len(h), dtype=np.uint64) + _P))))]
        return one, one
    n = len(head) - SHINGLE + 1
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(SHINGLE):
            acc = acc * _P + h[i:i + n] + np.uint64(i)
        acc ^= acc >> np.uint64(29)
        acc *= np.uint64(0xBF58476D1CE4E5B9)
        acc ^= acc >> np.uint64(32)
    if n <= WINNOW:
        picks = {0, int(acc.argmin())}
    else:
        windows = np.lib.stride_tricks.sliding_window_view(acc, WINNOW)
        picks = {0, *(windows.argmin(axis=1) + np.arange(len(windows))).tolist()}
    finished = [_finish(v) for v in acc.tolist()]
    probe = list(dict.fromkeys(finished[: max(1, PROBE_TOKENS - SHINGLE + 1)]))
    return sorted({finished[i] for i in picks}), probe


def _finish(value: int) -> int:
    # JSON-safe positive int below 2**63, never 0 (0 marks an empty slot in the dedupe tables)
    return (value & 0x7FFFFFFFFFFFFFFF) or 1


def content_words(tokens: list[str]) -> list[int]:
    """Distinct hashes of words that carry content (no stopwords, no 1-2 letter words)."""
    keep = [w for w in dict.fromkeys(tokens) if len(w) > 2 and w not in STOPWORDS][:MAX_WORDS]
    crc32 = zlib.crc32
    return [crc32(w.encode("utf-8", "surrogatepass")) for w in keep]


def pack_words(words: list[int]) -> str:
    return base64.b64encode(np.asarray(words, dtype="<u4").tobytes()).decode("ascii")


def unpack_words(packed: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(packed), dtype="<u4")


def fingerprints(title: str, body: str) -> dict[str, Any]:
    text = key_text(body)
    if len(text) < 40:  # no usable body: fall back on the headline
        text = (" ".join(_WORD.findall(title.lower())) + " " + text).strip()
    tokens = text.split()
    vocab_tokens = _WORD.findall((title + "\n" + body[:WORDS_FROM_CHARS]).lower())
    lead, probe = lead_hashes(tokens)
    names = _NAME.findall(title + "\n" + body[:WORDS_FROM_CHARS])
    return {"text": text, "lead": lead, "probe": probe, "words": pack_words(content_words(vocab_tokens)),
            "names": pack_words(content_words([n.lower() for n in names])), "n": len(tokens)}


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


_LANG = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")


def language_of(declared: Any, title: str, body: str) -> str:
    if isinstance(declared, str):
        m = _LANG.match(declared.strip())
        if m:
            return m.group(1).lower()
    sample = (title + "\n" + body[:2000]).strip()
    if sum(ch.isalpha() for ch in sample[:400]) < MIN_DETECT_LETTERS:
        return "und"
    try:
        lang, prob = _identifier().classify(sample)
    except Exception:  # a detector failure must not lose the article
        return "und"
    return str(lang) if prob >= 0.5 else "und"


def normalize(article: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the article with a `norm` object: language, title, body, body_field, fingerprints."""
    content = clean_text(article.get("content"))
    body_field = "content" if content else "summary"
    body = content or clean_text(article.get("summary"))
    title = clean_text(article.get("title"), limit=MAX_TITLE_CHARS).replace("\n", " ")
    out = dict(article)
    out["norm"] = {
        "language": language_of(article.get("language"), title, body),
        "title": title,
        "body": body,
        "body_field": body_field,
        "fingerprints": fingerprints(title, body),
    }
    return out
