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

import base64
import html
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

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
    """Lower-case words of the body without dateline and trailing "Read more"/ellipsis (readable form
    of what `fingerprints` hashes as `key`; for inspection and tests)."""
    text = _DATELINE.sub("", body[: KEY_TEXT_CHARS * 3], count=1)
    if len(text) < KEY_TEXT_CHARS:  # only a short text can end inside the key text
        text = text[:-120] + _TRAILER.sub("", text[-120:])
    return " ".join(_WORD.findall(text.lower()))[:KEY_TEXT_CHARS].rstrip()


# ---- bulk word hashing -------------------------------------------------------------------------
#
# A text is tokenised and hashed in one go with numpy: the code points (UTF-32) are classified as
# word characters with a lookup table (the same class as the regex `\w`), a prefix polynomial hash
# over the code points gives every word's hash as (H[end] - H[start]) * P**-start mod 2**64, and a
# mixer spreads the bits. Stable across processes and machines (persisted state depends on it),
# unlike Python's `hash`.

_P = 0x100000001B3  # odd, so invertible mod 2**64
_M64 = (1 << 64) - 1
_POW = np.ones(1, dtype=np.uint64)
_INV = np.ones(1, dtype=np.uint64)


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    global _POW, _INV
    if len(_POW) < n:
        size = 1 << max(12, (n - 1).bit_length())
        p, q, inv = 1, pow(_P, -1, 1 << 64), 1
        pw, iv = [], []
        for _ in range(size):
            pw.append(p)
            iv.append(inv)
            p = p * _P & _M64
            inv = inv * q & _M64
        _POW, _INV = np.array(pw, dtype=np.uint64), np.array(iv, dtype=np.uint64)
    return _POW, _INV


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


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, in place on a fresh array."""
    h ^= h >> _S30
    h *= _C1
    h ^= h >> _S27
    h *= _C2
    h ^= h >> _S31
    return h


def tokenize(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""(start offsets, end offsets, 64-bit hashes) of the `\w+` words of `text`, hashed as they are
    (callers lower-case first)."""
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    n = len(cp)
    if not n:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.uint64)
    isw = np.zeros(n + 2, dtype=bool)
    isw[1:-1] = _word_chars()[cp]
    edges = np.flatnonzero(isw[1:] != isw[:-1])
    starts, ends = edges[0::2], edges[1::2]
    pw, inv = _powers(n + 1)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    # (array arithmetic wraps modulo 2**64 silently, as wanted)
    np.cumsum(cp * pw[:n], out=prefix[1:])
    return starts, ends, _mix((prefix[ends] - prefix[starts]) * inv[starts])


def word_hashes(words: list[str] | str) -> np.ndarray:
    r"""64-bit hashes of words (a list, or the `\w+` words of a string), as `fingerprints` computes them."""
    return tokenize(words if isinstance(words, str) else " ".join(words))[2]


def word_hash(word: str) -> int:
    """32-bit hash of one (lower-case) word, as stored in `words` / `names` / `key`."""
    h = word_hashes(word)
    return int(h[0] >> np.uint64(32)) if len(h) else 0


_STOP_HASHES: np.ndarray | None = None


def _stop_hashes() -> np.ndarray:
    global _STOP_HASHES
    if _STOP_HASHES is None:
        _STOP_HASHES = np.unique((word_hashes(sorted(STOPWORDS)) >> np.uint64(32)).astype(np.uint32))
    return _STOP_HASHES


def lead_hashes(hashes: np.ndarray) -> tuple[list[int], list[int]]:
    """Hashed word 5-grams of the first LEAD_TOKENS words (64-bit word hashes): (indexed, probed).

    Indexed: winnowing (Schleimer et al. 2003) keeps the minimum of every WINNOW consecutive
    hashes, so any run of WINNOW + SHINGLE - 1 words shared with another text shares an indexed
    hash, plus the first shingle. Probed: every shingle of the first PROBE_TOKENS words, so that a
    one-sentence summary finds its full article even when the sentence holds a single indexed hash.
    """
    h = hashes[:LEAD_TOKENS]
    if not len(h):
        return [], []
    if len(h) < SHINGLE:
        one = [_finish(int(np.bitwise_xor.reduce(h * (np.arange(len(h), dtype=np.uint64) + np.uint64(_P)))))]
        return one, one
    n = len(h) - SHINGLE + 1
    acc = h[:n] * _PU
    for i in range(1, SHINGLE - 1):
        acc += h[i:i + n]
        acc *= _PU
    acc += h[SHINGLE - 1:SHINGLE - 1 + n]
    acc = _mix(acc)
    acc &= _MASK63
    acc[acc == 0] = 1
    mins = acc
    width = 1
    while width * 2 <= WINNOW:  # sliding minimum over WINNOW by doubling
        mins = np.minimum(mins[:-width], mins[width:])
        width *= 2
    if width < WINNOW and len(mins) > WINNOW - width:
        mins = np.minimum(mins[: len(mins) - (WINNOW - width)], mins[WINNOW - width:])
    indexed = np.unique(np.append(mins if n > WINNOW else acc.min(), acc[0])).tolist()
    probe = list(dict.fromkeys(acc[: max(1, PROBE_TOKENS - SHINGLE + 1)].tolist()))
    return indexed, probe


def _finish(value: int) -> int:
    # JSON-safe positive int below 2**63, never 0 (0 marks an empty slot in the dedupe tables)
    return (value & 0x7FFFFFFFFFFFFFFF) or 1


def _content_mask(h32: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Words that carry content: no stopwords, no 1-2 letter words."""
    stop = _stop_hashes()
    pos = np.searchsorted(stop, h32).clip(max=len(stop) - 1)
    return (lengths > 2) & (stop[pos] != h32)


def _distinct(h32: np.ndarray, limit: int = MAX_WORDS) -> np.ndarray:
    """Distinct values in order of first occurrence, the first `limit`."""
    if len(h32) < 2:
        return h32
    order = np.argsort(h32, kind="stable")
    ranked = h32[order]
    first = np.ones(len(h32), dtype=bool)
    np.not_equal(ranked[1:], ranked[:-1], out=first[1:])
    keep = order[first]
    keep.sort()
    return h32[keep[:limit]]


def pack_words(words: Any) -> str:
    return base64.b64encode(np.asarray(words, dtype="<u4").tobytes()).decode("ascii")


def unpack_words(packed: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(packed), dtype="<u4")


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


def fingerprints(title: str, body: str) -> dict[str, Any]:
    """See the module docstring. One tokenisation and one hashing pass over title + body start."""
    dateline = _DATELINE.match(body)
    key_from = dateline.end() if dateline else 0
    key_to = len(body)
    if key_to - key_from < KEY_TEXT_CHARS:  # only a short text can end inside the key text
        tail = key_to - min(120, key_to - key_from)
        trailer = _TRAILER.search(body, tail)
        if trailer:
            key_to = trailer.start()
    text = title + "\n" + body[:KEY_SOURCE_CHARS]
    low = text.lower()
    if len(low) != len(text):  # a few characters lower-case to two (Turkish dotted I): keep offsets
        odd = {ord(c): c.lower()[0] for c in set(text) if len(c.lower()) != 1}
        low = text.translate(odd).lower()
    starts, ends, h64 = tokenize(low)
    h32 = (h64 >> np.uint64(32)).astype(np.uint32)
    lengths = ends - starts
    off = len(title) + 1
    k0, k1 = np.searchsorted(starts, [off + key_from, off + key_to])
    k1 = min(k1, k0 + KEY_WORDS)
    if int(lengths[k0:k1].sum()) + (k1 - k0) < 41 and k0:  # no usable body: fall back on the headline
        key = np.concatenate([h64[:np.searchsorted(starts, off)], h64[k0:k1]])
    else:
        key = h64[k0:k1]
    vocab_end = int(np.searchsorted(starts, off + WORDS_FROM_CHARS))
    lead, probe = lead_hashes(key)
    # names: capitalised words inside a sentence (after "word " or ", ", "; ", ": ", ") ")
    s = starts[:vocab_end]
    vocab = h32[:vocab_end]
    content = _content_mask(vocab, lengths[:vocab_end])
    names = vocab[:0]
    if len(s):
        orig = np.frombuffer((text[: off + WORDS_FROM_CHARS + 40] + "  ").encode("utf-32-le", "surrogatepass"),
                             dtype=np.uint32)
        s2 = np.maximum(s, 2)
        is_name = content & (s >= 2) & _CAPITAL[orig[s2]] & (orig[s2 - 1] == 32) & _before_name()[orig[s2 - 2]]
        names = np.unique(vocab[is_name])
    return {"key": pack_words(key >> np.uint64(32)), "lead": lead, "probe": probe,
            "words": pack_words(_distinct(vocab[content])), "names": pack_words(names), "n": int(len(key))}


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
