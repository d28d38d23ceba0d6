"""Normalisation: article -> clean readable text + language + dedupe fingerprints.

Pure and stateless (it runs before the language re-keying, on any worker). The output keeps every
field of the article and adds `norm`:

    language      ISO 639-1 from the article, else detected (py3langid), "und" when unsure
    title, body   cleaned, readable text; body paragraphs separated by "\n" (escalation rules report
                  offsets into these two strings, so they must stay text a human can read)
    body_field    "content" when the body came from `content`, "summary" otherwise
    fingerprints  what `streams.dedupe` needs, all JSON-serialisable:
                    key    32-bit hashes of the first 400 lower-case words of the body without
                           dateline and trailing "Read more" (what copies are verified on), packed
                    lead   winnowed 63-bit hashes of word 5-grams at the start of the key
                           (indexed for copies; a common run of >= 16 words shares one)
                    probe  all word 5-gram hashes of the first 36 words (looked up for copies)
                    words  distinct content-word hashes (first 200, title + first 3,000 characters)
                           (rare-word lookup and vocabulary containment for rewrites)
                    names  the same for capitalised words inside sentences (rewrite lookup)
                    n      number of words in the key
                  Packed = base64 of little-endian uint32. All hashes come from one tokenisation and
                  one vectorised hashing pass (`tokenize`): stable across processes, unlike `hash`.
                  Changing the hash changes every fingerprint: records in a store written by an
                  older version stop matching new articles until they leave the window.

Cleaning removes HTML, zero-width and control characters, unifies quotes, and drops whole lines of
feed boilerplate ("Read also: ...", "Advertisement", newsletter and copyright lines, reporting
credits): they are not part of the story and would otherwise feed other stories' words to the
escalation rules.
"""

from __future__ import annotations

import binascii
import html
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
from numba import njit

MAX_RAW_CHARS = 1_000_000  # cut before any regex work: a 5 MB "content" must stay cheap
MAX_BODY_CHARS = 100_000
MAX_TITLE_CHARS = 1_000
KEY_TEXT_CHARS = 2_000  # verification compares prefixes; more costs time and store space
WORDS_FROM_CHARS = 3_000  # vocabulary for rewrite detection comes from the start of the article
KEY_SOURCE_CHARS = 4_000  # the key words come from the start of the body
KEY_WORDS = 400  # words of the key (copies are verified on 120 words against 380)
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
_TRAILER = re.compile(r"(?:\s*(?:\u2026|\.\.\.|\[\u2026\]|\[\.\.\.\]|continue reading|read more)\s*)+$", re.I)
# "LONDON (Reuters) - ", "KYIV, AP - ", "WASHINGTON, AFP \u2013 ": a capitalised place, an optional agency,
# then a dash. Only stripped from the key text: the readable body keeps it.
_DATELINE = re.compile(
    r"^[A-Z][A-Z.'\u2019 \-]{1,30}(?:,\s*[A-Z][\w.' \-]{0,25})?\s*(?:\([\w .\-/]{1,25}\))?\s*[\u2014\u2013\-]{1,2}\s+")
_WORD = re.compile(r"\w+")

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
    if text.isascii():
        # the only odd ASCII characters are the non-printable ones but "\n"; NFKC keeps ASCII as it is
        if not text.encode("ascii").translate(None, _PLAIN_ASCII):  # (faster than a regex or isprintable)
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


def _may_end_with_trailer(text: str) -> bool:
    """False only where `_TRAILER` cannot match: it needs the text, trailing whitespace left out, to
    end with "...", "\u2026", "]" or "reading"/"more" (any case; a non-ASCII last character may
    case-fold to a letter, so it also says True). Sentences end with one ".": most texts are out
    before the regex (~10 us a search) runs."""
    end = text.rstrip()[-3:]
    if not end:
        return False
    last = end[-1]
    if last == ".":
        return end == "..."
    return last in "\u2026]gGeE" or not last.isascii()


def key_text(body: str) -> str:
    """Lower-case words of the body without dateline and trailing "Read more"/ellipsis (readable form
    of what `fingerprints` hashes as `key`; for inspection and tests)."""
    text = _DATELINE.sub("", body[: KEY_TEXT_CHARS * 3], count=1)
    if len(text) < KEY_TEXT_CHARS:  # only a short text can end inside the key text
        text = text[:-120] + _TRAILER.sub("", text[-120:])
    return " ".join(_WORD.findall(text.lower()))[:KEY_TEXT_CHARS].rstrip()


# Packed words are base64 (standard alphabet, "=" padding) of little-endian uint32. binascii takes
# ~5 ns a character (~11 us for a 400-word key); the compiled decoder below ~0.3 ns. It only takes
# canonical input (what `pack_words` writes: length a multiple of 4, alphabet characters, padding at
# the end, a whole number of words) and says so otherwise: anything else goes to binascii as before.
_B64 = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", dtype=np.uint8)
_B64_DEC = np.full(256, 255, dtype=np.uint8)
_B64_DEC[_B64] = np.arange(64, dtype=np.uint8)


@njit(cache=True, nogil=True)
def _b64_words(src: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, bool]:  # pragma: no cover (compiled)
    """(uint32 words, True) of canonical base64 `src` (uint8), else (empty, False)."""
    n = len(src)
    if n == 0:
        return np.empty(0, np.uint32), True
    if n % 4:
        return np.empty(0, np.uint32), False
    pad = 0
    if src[n - 1] == 61:
        pad = 2 if src[n - 2] == 61 else 1
    size = n // 4 * 3 - pad
    if size % 4:
        return np.empty(0, np.uint32), False
    raw = np.empty(size, np.uint8)
    full = n // 4 - (1 if pad else 0)
    o = 0
    for q in range(full):
        i = q * 4
        a = dec[src[i]]
        b = dec[src[i + 1]]
        c = dec[src[i + 2]]
        d = dec[src[i + 3]]
        if (a | b | c | d) & 0xC0:
            return np.empty(0, np.uint32), False
        v = (np.uint32(a) << 18) | (np.uint32(b) << 12) | (np.uint32(c) << 6) | np.uint32(d)
        raw[o] = (v >> 16) & 0xFF
        raw[o + 1] = (v >> 8) & 0xFF
        raw[o + 2] = v & 0xFF
        o += 3
    if pad:
        i = n - 4
        a = dec[src[i]]
        b = dec[src[i + 1]]
        c = dec[src[i + 2]] if pad == 1 else np.uint8(0)
        if (a | b | c) & 0xC0:
            return np.empty(0, np.uint32), False
        v = (np.uint32(a) << 18) | (np.uint32(b) << 12) | (np.uint32(c) << 6)
        raw[o] = (v >> 16) & 0xFF
        if pad == 1:
            raw[o + 1] = (v >> 8) & 0xFF
    out = np.empty(size // 4, np.uint32)  # little-endian words, whatever the machine
    for i in range(size // 4):
        out[i] = (np.uint32(raw[4 * i]) | (np.uint32(raw[4 * i + 1]) << 8) | (np.uint32(raw[4 * i + 2]) << 16)
                  | (np.uint32(raw[4 * i + 3]) << 24))
    return out, True


@njit(cache=True, nogil=True)
def _b64_pack(words: np.ndarray, enc: np.ndarray, out: np.ndarray, at: int) -> int:  # pragma: no cover
    """Write base64 of `words` (uint32, little-endian bytes) into `out` from `at`; returns the end."""
    n = 4 * len(words)
    raw = np.empty(n, np.uint8)  # little-endian bytes, whatever the machine
    for i in range(len(words)):
        w = np.uint32(words[i])
        raw[4 * i] = w & 0xFF
        raw[4 * i + 1] = (w >> 8) & 0xFF
        raw[4 * i + 2] = (w >> 16) & 0xFF
        raw[4 * i + 3] = w >> 24
    o = at
    full = n - n % 3
    for i in range(0, full, 3):
        v = (np.uint32(raw[i]) << 16) | (np.uint32(raw[i + 1]) << 8) | np.uint32(raw[i + 2])
        out[o] = enc[v >> 18]
        out[o + 1] = enc[(v >> 12) & 63]
        out[o + 2] = enc[(v >> 6) & 63]
        out[o + 3] = enc[v & 63]
        o += 4
    rest = n - full
    if rest:
        v = np.uint32(raw[full]) << 16
        if rest == 2:
            v |= np.uint32(raw[full + 1]) << 8
        out[o] = enc[v >> 18]
        out[o + 1] = enc[(v >> 12) & 63]
        out[o + 2] = enc[(v >> 6) & 63] if rest == 2 else 61
        out[o + 3] = 61
        o += 4
    return o


# ---- bulk word hashing -------------------------------------------------------------------------
#
# A text is tokenised and hashed in one compiled pass (numba, cached on disk after the first run):
# the code points (UTF-32) are classified as word characters with a lookup table (the same class as
# the regex `\w`), a word's hash is sum(code point[k] * P**k) mod 2**64 through the splitmix64
# finaliser. Stable across processes and machines (persisted state depends on it), unlike `hash`.

_P = 0x100000001B3


@lru_cache(maxsize=1)
def _word_chars() -> np.ndarray:
    r"""Lookup table code point -> is a word character (str.isalnum or "_", as `\w` in `re`)."""
    table = np.fromiter(map(str.isalnum, map(chr, range(0x110000))), dtype=bool, count=0x110000)
    table[ord("_")] = True
    return table


_PU = np.uint64(_P)
_MASK63 = np.uint64(0x7FFFFFFFFFFFFFFF)
_C1, _C2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_Z = np.uint64(0)
_ONE = np.uint64(1)
_I64 = np.uint64(32)


@njit(cache=True, nogil=True)
def _mix1(h: np.uint64) -> np.uint64:  # pragma: no cover (compiled)
    h ^= h >> _S30
    h *= _C1
    h ^= h >> _S27
    h *= _C2
    h ^= h >> _S31
    return h


@njit(cache=True, nogil=True)
def _tokens(cp: np.ndarray, wch: np.ndarray, lower: bool = False
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Word spans and hashes: sum(code point[k] * P**k) over the word, mixed (position independent).
    `lower`: `cp` is ASCII (bytes) and A-Z hash as a-z (= str.lower on ASCII)."""
    n = len(cp)
    starts = np.empty(n // 2 + 1, np.int64)
    ends = np.empty(n // 2 + 1, np.int64)
    hashes = np.empty(n // 2 + 1, np.uint64)
    t = 0
    i = 0
    while i < n:
        if wch[cp[i]]:
            start = i
            h = _Z
            p = _ONE
            while i < n and wch[cp[i]]:
                c = np.uint64(cp[i])
                if lower and c - np.uint64(65) < np.uint64(26):
                    c += np.uint64(32)
                h += c * p
                p *= _PU
                i += 1
            starts[t] = start
            ends[t] = i
            hashes[t] = _mix1(h)
            t += 1
        else:
            i += 1
    return starts[:t], ends[:t], hashes[:t]


@njit(cache=True, nogil=True)
def _scan(low: np.ndarray, orig: np.ndarray, wch: np.ndarray, capital: np.ndarray, before: np.ndarray,
          stop: np.ndarray, off: int, key_lo: int, key_hi: int, vocab_hi: int, lower: bool, enc: np.ndarray,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """The fingerprints of one text (see `fingerprints`): (key, words and names packed one after
    the other (base64 text), [length of packed key, of packed words, of lead, words in key], lead
    then probe hashes). `low` is the lower-cased text, or with `lower` the ASCII text itself (then
    `orig` is the same array)."""
    # (for mypy: two names are reused, first as loop indices, then for numpy scalars)
    w: int | np.uint32  # a winnowing window's start, then a word's 32-bit hash
    j: int | np.int64  # an offset into a shingle or window, then a stop-word table slot
    starts, ends, h64 = _tokens(low, wch, lower)
    k0 = np.searchsorted(starts, key_lo)
    k1 = min(np.searchsorted(starts, key_hi), k0 + KEY_WORDS)
    chars = 0
    for i in range(k0, k1):
        chars += ends[i] - starts[i] + 1
    if chars < 41 and k0 > 0:  # no usable body: fall back on the headline
        key = np.concatenate((h64[: np.searchsorted(starts, off)], h64[k0:k1]))
    else:
        key = h64[k0:k1].copy()
    # lead shingles, winnowed; probe = the first ones
    m = min(len(key), LEAD_TOKENS)
    if m == 0:
        lead = np.empty(0, np.uint64)
        probe = np.empty(0, np.uint64)
    elif m < SHINGLE:
        x = _Z
        for i in range(m):
            x ^= key[i] * (np.uint64(i) + _PU)
        x &= _MASK63
        lead = np.array([x if x != _Z else _ONE])
        probe = lead.copy()
    else:
        ns = m - SHINGLE + 1
        acc = np.empty(ns, np.uint64)
        for i in range(ns):
            a = key[i] * _PU
            for j in range(1, SHINGLE - 1):
                a = (a + key[i + j]) * _PU
            a = _mix1(a + key[i + SHINGLE - 1]) & _MASK63
            acc[i] = a if a != _Z else _ONE
        if ns > WINNOW:
            picks = np.empty(ns - WINNOW + 2, np.uint64)
            picks[0] = acc[0]
            for w in range(ns - WINNOW + 1):
                low_v = acc[w]
                for j in range(1, WINNOW):
                    if acc[w + j] < low_v:
                        low_v = acc[w + j]
                picks[w + 1] = low_v
        else:
            picks = np.array([acc[0], acc.min()])
        picks.sort()  # sorted, distinct (= np.unique)
        nu = 0
        for i in range(len(picks)):
            if i == 0 or picks[i] != picks[i - 1]:
                picks[nu] = picks[i]
                nu += 1
        lead = picks[:nu]
        pn = min(ns, max(1, PROBE_TOKENS - SHINGLE + 1))
        probe = np.empty(pn, np.uint64)
        q = 0
        for i in range(pn):
            seen = False
            for j in range(q):
                if probe[j] == acc[i]:
                    seen = True
                    break
            if not seen:
                probe[q] = acc[i]
                q += 1
        probe = probe[:q]
    # content words of title + body start: distinct, first occurrence first; names among them
    vn: int | np.intp = np.searchsorted(starts, vocab_hi)
    size = 1
    while size < 2 * vn + 2:
        size *= 2
    table = np.zeros(size, np.uint32)
    used = np.zeros(size, np.bool_)
    words = np.empty(min(vn, MAX_WORDS), np.uint32)
    names = np.empty(vn, np.uint32)
    nw = 0
    nn = 0
    smask = len(stop) - 1
    for i in range(vn):
        if ends[i] - starts[i] <= 2:
            continue
        w = np.uint32(h64[i] >> _I64)
        j = np.int64(w) & smask  # stop words: an open-addressing set (-1 = empty slot)
        while stop[j] >= 0 and stop[j] != w:
            j = (j + 1) & smask
        if stop[j] >= 0:
            continue
        st = starts[i]
        if st >= 2 and capital[orig[st]] and orig[st - 1] == 32 and before[orig[st - 2]]:
            names[nn] = w
            nn += 1
        if nw < MAX_WORDS:
            slot = np.int64(w) & (size - 1)
            while used[slot] and table[slot] != w:
                slot = (slot + 1) & (size - 1)
            if not used[slot]:
                used[slot] = True
                table[slot] = w
                words[nw] = w
                nw += 1
    key32 = np.empty(len(key), np.uint32)
    for i in range(len(key)):
        key32[i] = np.uint32(key[i] >> _I64)
    # names: sorted, distinct (= np.unique)
    names = np.sort(names[:nn])
    nu = 0
    for i in range(nn):
        if i == 0 or names[i] != names[i - 1]:
            names[nu] = names[i]
            nu += 1
    names = names[:nu]
    words = words[:nw]
    packed = np.empty(((len(key32) + nw + nu) * 4 + 8) // 3 * 4 + 12, np.uint8)
    e1 = _b64_pack(key32, enc, packed, 0)
    e2 = _b64_pack(words, enc, packed, e1)
    e3 = _b64_pack(names, enc, packed, e2)
    sizes = np.array([e1, e2 - e1, len(lead), len(key32)], np.int64)
    return packed[:e3], sizes, np.concatenate((lead, probe))


def tokenize(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""(start offsets, end offsets, 64-bit hashes) of the `\w+` words of `text`, hashed as they are
    (callers lower-case first)."""
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _tokens(cp, _word_chars())


def word_hashes(words: list[str] | str) -> np.ndarray:
    r"""64-bit hashes of words (a list, or the `\w+` words of a string), as `fingerprints` computes them."""
    return tokenize(words if isinstance(words, str) else " ".join(words))[2]


def word_hash(word: str) -> int:
    """32-bit hash of one (lower-case) word, as stored in `words` / `names` / `key`."""
    h = word_hashes(word)
    return int(h[0] >> np.uint64(32)) if len(h) else 0


_STOP_HASHES: np.ndarray | None = None
_STOP_TABLE: np.ndarray | None = None


def _stop_hashes() -> np.ndarray:
    global _STOP_HASHES
    if _STOP_HASHES is None:
        _STOP_HASHES = np.unique((word_hashes(sorted(STOPWORDS)) >> np.uint64(32)).astype(np.uint32))
    return _STOP_HASHES


def _stop_table() -> np.ndarray:
    """The 32-bit stop-word hashes as an open-addressing set for `_scan`: int64 slots, -1 = empty,
    a hash sits at (its low bits + probes) mod size; at most 1/8 full, so a look-up is ~one load."""
    global _STOP_TABLE
    if _STOP_TABLE is None:
        hashes = _stop_hashes()
        size = 16
        while size < 8 * len(hashes):
            size *= 2
        table = np.full(size, -1, dtype=np.int64)
        for h in hashes.tolist():
            j = h & (size - 1)
            while table[j] >= 0:
                j = (j + 1) & (size - 1)
            table[j] = h
        _STOP_TABLE = table
    return _STOP_TABLE


def pack_words(words: Any) -> str:  # = base64.b64encode(...).decode("ascii"), less overhead
    return binascii.b2a_base64(np.asarray(words, dtype="<u4").tobytes(), newline=False).decode("ascii")


def unpack_words(packed: str) -> np.ndarray:
    """The uint32 words of a packed string (= np.frombuffer(base64.b64decode(packed), "<u4"))."""
    if type(packed) is str and packed.isascii():
        words, ok = _b64_words(np.frombuffer(packed.encode("ascii"), dtype=np.uint8), _B64_DEC)
        if ok:
            return words
    return np.frombuffer(binascii.a2b_base64(packed), dtype="<u4")  # = base64.b64decode, less overhead


_CAPITAL = np.zeros(0x110000, dtype=bool)
_CAPITAL[ord("A"):ord("Z") + 1] = True
_CAPITAL[0xC0:0xD7] = True
_CAPITAL[0xD8:0xDF] = True


@lru_cache(maxsize=1)
def _before_name() -> np.ndarray:
    """Code points that may precede the space before a name: word characters and , ; : )"""
    table = _word_chars().copy()
    table[[ord(c) for c in ",;:)"]] = True
    return table


_BOTH_SCANS_LOADED = False


def fingerprints(title: str, body: str) -> dict[str, Any]:
    """See the module docstring. One compiled pass over title + body start tokenises and hashes."""
    global _BOTH_SCANS_LOADED
    if not _BOTH_SCANS_LOADED:
        # `_scan` is compiled twice (ASCII bytes, code points): the first call loads both from numba's
        # cache, not the first non-ASCII article (a ~20 ms stall that per-article timings would count)
        _BOTH_SCANS_LOADED = True
        fingerprints("\u00e9t\u00e9", "\u00c9t\u00e9 \u00e0 Paris")
    dateline = _DATELINE.match(body)
    key_from = dateline.end() if dateline else 0
    key_to = len(body)
    if key_to - key_from < KEY_TEXT_CHARS and _may_end_with_trailer(body):  # only a short text can end inside
        trailer = _TRAILER.search(body, key_to - min(120, key_to - key_from))  # the key text
        if trailer:
            key_to = trailer.start()
    text = title + "\n" + body[:KEY_SOURCE_CHARS]
    off = len(title) + 1
    if text.isascii():  # (most texts) one byte a character, lower-cased inside the scan
        low = orig = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        lower = True
    else:
        low_text = text.lower()
        if len(low_text) != len(text):  # a few characters lower-case to two (Turkish dotted I): keep offsets
            odd = {ord(c): c.lower()[0] for c in set(text) if len(c.lower()) != 1}
            low_text = text.translate(odd).lower()
        low = np.frombuffer(low_text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        orig = np.frombuffer((text + "  ").encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        lower = False
    packed, sizes, lead_probe = _scan(low, orig, _word_chars(), _CAPITAL, _before_name(), _stop_table(), off,
                                      off + key_from, off + key_to, off + WORDS_FROM_CHARS, lower, _B64)
    key_end, words_len, n_lead, n = sizes.tolist()
    # numpy's stubs give ndarray __buffer__ only on Python 3.12+ (PEP 688); on 3.11 it has the buffer protocol too
    packed_text = str(packed, "ascii")  # type: ignore[call-overload]
    hashes = lead_probe.tolist()
    return {"key": packed_text[:key_end], "lead": hashes[:n_lead], "probe": hashes[n_lead:],
            "words": packed_text[key_end:key_end + words_len], "names": packed_text[key_end + words_len:], "n": n}


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
