"""Compiled twin of streams.escalation.namescreen: the capitalised runs the watchlist may match.

`name_screen(...)` turns the watchlist index into arrays (bucket of a two-char skeleton head, the
keys of each bucket as bit-parallel LCS masks and as bytes, the transliteration folds, the exact
aliases as an open-addressing table) plus a table of word verdicts; `screen_runs(screen, text)` finds
the capitalised runs of `text` and leaves out, in the same compiled pass, those the watchlist
provably cannot match. Text is scanned as bytes: ASCII as is, each non-ASCII char as one byte of its
class (capital word char, capital non-word char, other word char, other), so offsets stay char
offsets; words with a non-ASCII char or a hyphen are always kept (Python decides).

Speed: most capitalised words never start a name, and most that may ("Blair" in a bucket) are followed
by words that take every n-gram out of reach. Deciding that in Python costs a name key, a bucket test
and LCS bounds per new word (~4 µs) and a best-name call per candidate run (~5 µs); this pass decides
both for ~2 µs a call plus tens of ns a word, and its verdict table makes a known word one memory
read (16-byte slots: one cache line, also when other stages have evicted the CPU caches).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

import numpy as np
from numba import njit

_HASH_MASK = (1 << 48) - 1
_LONG_KEY = 64   # keys this long or longer: LCS by dynamic programming (a bit-parallel state holds 63 chars)


class NameScreen(NamedTuple):
    classes: np.ndarray       # byte -> 1 may precede no run start, 2 continues a run, 4 starts a run
    class_of: dict[str, int]  # non-ASCII char -> the byte scanned for it (filled as chars are met)
    name_start: re.Pattern[str]
    run_char: re.Pattern[str]
    verdicts: VerdictTable
    exact: tuple[np.ndarray, np.ndarray, np.ndarray]                 # slots, offsets, pool
    folds: tuple[np.ndarray, np.ndarray]                             # fold_at, fold_pool
    buckets: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # see name_screen
    growth: int               # how many times longer than a word its key can get (folds that lengthen)
    threshold: float
    max_tail: int


class VerdictTable:
    """Word -> screen verdict, for words of up to 15 bytes: open addressing over slots of two uint64
    cells holding the word itself (see _verdict_slot), 16 bytes a slot, so that a look-up in a cold CPU
    cache (the replay: other stages run between articles) costs one memory read, not the three of a
    table of offsets into a pool. Cleared past `limit` words: bounded."""

    def __init__(self, slots: int = 1 << 17, limit: int = 50_000) -> None:
        self.cells = np.zeros(2 * slots, dtype=np.uint64)
        self.used = np.zeros(1, dtype=np.int64)
        self.limit = min(limit, slots // 2 - 1)

    def clear(self) -> None:
        self.cells[:] = 0
        self.used[:] = 0


def name_screen(buckets: Mapping[str, Sequence[str]], longest: Mapping[str, int], exact: Collection[str],
                folds: Sequence[tuple[str, str]], threshold: float, max_tail: int, name_start: str,
                run_char: str) -> NameScreen:
    """The arrays of the watchlist index (same parameters as streams.escalation.namescreen.name_screen)."""
    start, word = re.compile(name_start), re.compile(run_char)
    classes = np.zeros(256, dtype=np.uint8)
    for code in range(128):
        char = chr(code)
        if word.match(char):
            classes[code] |= 2 if char == "-" else 3
        if start.match(char):
            classes[code] |= 4
    # non-ASCII chars, scanned as one byte of their class (_class_byte): 0x80 capital word char, 0x81 a
    # capital that is not a word char ("×"), 0x82 another word char ("é", "’"), 0x83 other
    classes[0x80], classes[0x81], classes[0x82], classes[0x83] = 7, 4, 3, 0
    plain = [alias for alias in exact if alias.isascii()]
    table = (np.zeros(1 << max(3, (4 * len(plain) + 4).bit_length()), dtype=np.int32),
             np.zeros(len(plain) + 3, dtype=np.int32), np.zeros(sum(map(len, plain)) + 1, dtype=np.uint8))
    meta = np.zeros(2, dtype=np.int64)
    for alias in plain:
        _table_add(np.frombuffer(alias.encode("ascii"), dtype=np.uint8), *table, meta)
    fold_at, fold_pool = [0], b""
    growth = 1
    for src, dst in folds:
        fold_pool += src.encode("ascii")
        fold_at.append(len(fold_pool))
        fold_pool += dst.encode("ascii")
        fold_at.append(len(fold_pool))
        growth *= max(1, -(-len(dst) // len(src)))
    bucket_of = np.full(36 * 36, -1, dtype=np.int32)
    bucket_at, key_at, key_pool = [0], [0], b""
    masks: list[int] = []
    longest_of: list[int] = []
    for prefix, keys in buckets.items():
        if len(prefix) != 2:
            continue  # a one-char skeleton: never the bucket of an n-gram of two consonants or more
        bucket_of[int(prefix[0], 36) * 36 + int(prefix[1], 36)] = len(longest_of)  # as _skeleton_head
        for k in keys:
            key_at.append(key_at[-1] + len(k))
            key_pool += k.encode("ascii")
            masks += _key_mask_row(k)
        bucket_at.append(len(key_at) - 1)
        longest_of.append(longest[prefix])
    index = (bucket_of, np.array(bucket_at, dtype=np.int32), np.array(key_at, dtype=np.int32),
             np.array(masks or [0], dtype=np.uint64), np.array(longest_of or [0], dtype=np.int64),
             np.frombuffer(key_pool or b"\0", dtype=np.uint8).copy())
    return NameScreen(classes, {}, start, word, VerdictTable(), table,
                      (np.array(fold_at, dtype=np.int32), np.frombuffer(fold_pool or b"\0", dtype=np.uint8).copy()),
                      index, growth, float(threshold), int(max_tail))


def screen_runs(screen: NameScreen, text: str) -> list[int]:
    """The capitalised runs of `text` the watchlist may match, as flat (start, end) pairs."""
    table = screen.verdicts
    if table.used[0] > table.limit:
        table.clear()
    return _screen_runs(_scan_bytes(screen, text), screen.classes, table.cells, table.used, *screen.exact,
                        *screen.folds, *screen.buckets, screen.threshold, screen.max_tail,
                        screen.growth).tolist()


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _scan_bytes(screen: NameScreen, text: str) -> np.ndarray:
    """`text` as the bytes the screen scans: ASCII as is, each non-ASCII char as the byte of its class."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    data = bytearray(text.encode("ascii", "replace"))
    for m in _NON_ASCII.finditer(text):
        data[m.start()] = _class_byte(screen, m.group())
    return np.frombuffer(data, dtype=np.uint8)


def _class_byte(screen: NameScreen, char: str) -> int:
    code = screen.class_of.get(char)
    if code is None:
        start, word = screen.name_start.match(char) is not None, screen.run_char.match(char) is not None
        code = 0x80 if start and word else 0x81 if start else 0x82 if word else 0x83
        if len(screen.class_of) < 100_000:  # bounded: a text in a new script brings new chars
            screen.class_of[char] = code
    return code


def _key_mask_row(key: str) -> list[int]:
    """The bit-parallel LCS masks of a name key (chars 0-9a-z): per char, the bits of its positions
    (none for a long key, whose LCS is computed by _lcs_dp)."""
    row = [0] * 36
    if len(key) < _LONG_KEY:
        for bit, ch in enumerate(key):
            row[int(ch, 36)] |= 1 << bit
    return row


@njit(cache=True, nogil=True)
def _table_add(word: np.ndarray, slots: np.ndarray, offsets: np.ndarray, pool: np.ndarray,
               meta: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Add `word` (bytes, not in the table yet) to the table of exact aliases: open addressing
    (`slots`: entry + 1, 0 = empty) over words stored back to back in `pool` (entry e is
    pool[offsets[e]:offsets[e + 1]]); meta holds (entries, pool bytes used). False when full."""
    entries, used = meta[0], meta[1]
    if entries + 1 >= len(offsets) - 1 or used + len(word) > len(pool) or 2 * (entries + 1) > len(slots):
        return False
    h = np.int64(word[0])
    for c in word[1:]:
        h = (h * 31 + c) & _HASH_MASK
    mask = len(slots) - 1
    slot = h & mask
    while slots[slot] != 0:
        slot = (slot + 1) & mask
    pool[used:used + len(word)] = word
    offsets[entries + 1] = used + len(word)
    slots[slot] = entries + 1
    meta[0] = entries + 1
    meta[1] = used + len(word)
    return True


@njit(cache=True, nogil=True)
def _table_find(text: np.ndarray, i: int, j: int, slots: np.ndarray, offsets: np.ndarray,
                pool: np.ndarray) -> int:  # pragma: no cover - compiled
    """Entry of the table of exact aliases holding text[i:j] (same hash as _table_add), -1 if none."""
    h = np.int64(text[i])
    for k in range(i + 1, j):
        h = (h * 31 + text[k]) & _HASH_MASK
    mask = len(slots) - 1
    slot = h & mask
    while slots[slot] != 0:
        entry = slots[slot] - 1
        a = offsets[entry]
        if offsets[entry + 1] - a == j - i:
            same = True
            for k in range(j - i):
                if pool[a + k] != text[i + k]:
                    same = False
                    break
            if same:
                return entry
        slot = (slot + 1) & mask
    return -1



@njit(cache=True, nogil=True)
def _is_word_byte(c: int) -> bool:  # pragma: no cover - compiled
    return 97 <= c <= 122 or 48 <= c <= 57 or c == 95   # \w on lowercase ASCII



@njit(cache=True, nogil=True)
def _word_key(text: np.ndarray, i: int, j: int, fold_at: np.ndarray, fold_pool: np.ndarray,
              key: np.ndarray, spare: np.ndarray) -> int:  # pragma: no cover - compiled
    """name_key(text[i:j])[0] for ASCII bytes, written to key[:length] (len(key), len(spare) >= the
    word's length times NameScreen.growth); returns the length. A fold is replaced in place, left to
    right, when it does not lengthen the key (the writer never passes the reader); from a copy in
    `spare` when it does."""
    n = j - i
    marks = False
    for k in range(n):
        c = text[i + k]
        if 65 <= c <= 90:
            c += 32
        key[k] = c
        if c == 45 or c == 39:
            marks = True
    start = 0
    if marks:  # _ARTICLE: ^(?:a[lnrstdz]|el|ash)[-'](?=\w)
        if n >= 4 and key[2] in (45, 39) and _is_word_byte(key[3]) and (
                key[0] == 97 and key[1] in (108, 110, 114, 115, 116, 100, 122) or key[0] == 101 and key[1] == 108):
            start = 3   # al-, an-, ..., el-
        elif n >= 5 and key[0] == 97 and key[1] == 115 and key[2] == 104 and key[3] in (45, 39) \
                and _is_word_byte(key[4]):
            start = 4
    m = 0
    present = 0   # bit (c - 97) for each letter c of the key: folds whose first letter is absent are skipped
    for k in range(start, n):
        c = key[k]
        if 97 <= c <= 122 or 48 <= c <= 57:
            key[m] = c
            m += 1
            if c >= 97:
                present |= 1 << (c - 97)
    for f in range(0, len(fold_at) - 2, 2):  # str.replace(src, dst), left to right, in place (dst <= src)
        src, end = fold_at[f], fold_at[f + 1]
        size, dst_size = end - src, fold_at[f + 2] - end
        first = fold_pool[src]
        if not present & (1 << (first - 97)):
            continue
        for k in range(dst_size):
            present |= 1 << (fold_pool[end + k] - 97)
        source = key
        if dst_size > size:
            spare[:m] = key[:m]
            source = spare
        r = w = 0
        while r < m:
            hit = source[r] == first and r + size <= m
            if hit:
                for k in range(size):
                    if source[r + k] != fold_pool[src + k]:
                        hit = False
                        break
            if hit:
                for k in range(dst_size):
                    key[w + k] = fold_pool[end + k]
                w += dst_size
                r += size
            else:
                key[w] = source[r]
                w += 1
                r += 1
        m = w
    if m > 1:  # _REPEATS: each run of one char -> the char
        w = 1
        for k in range(1, m):
            if key[k] != key[w - 1]:
                key[w] = key[k]
                w += 1
        m = w
    return m



@njit(cache=True, nogil=True)
def _skeleton_head(key: np.ndarray, m: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """(length of the skeleton of key[:m], bucket code of its first two chars or -1): the skeleton is
    the key without vowels (aeiouy), or the key itself when that leaves nothing."""
    consonants = 0
    code = 0
    for k in range(m):
        c = key[k]
        if c not in (97, 101, 105, 111, 117, 121):
            if consonants < 2:
                code = code * 36 + (c - 48 if c <= 57 else c - 87)
            consonants += 1
    if consonants == 0:
        consonants = m
        code = 0
        for k in range(min(m, 2)):
            c = key[k]
            code = code * 36 + (c - 48 if c <= 57 else c - 87)
    return consonants, code if consonants >= 2 else -1



@njit(cache=True, nogil=True)
def _lcs_extend(state: np.ndarray, key: np.ndarray, m: int, lo: int, hi: int, masks: np.ndarray,
                key_at: np.ndarray) -> None:  # pragma: no cover - compiled
    """Append key[:m] to the n-gram whose LCS with each bucket key t in lo..hi is tracked bit-parallel in
    state[t - lo] (Allison-Dix / Hyyro: masks[t * 36 + char] has bit s set where key t has that char
    at s; a zero bit of the state is a char of key t in the LCS). Long keys are left to _lcs_dp."""
    for t in range(lo, hi):
        if key_at[t + 1] - key_at[t] >= 64:
            continue
        v = state[t - lo]
        for q in range(m):
            c = key[q]
            u = v & masks[t * 36 + (c - 48 if c <= 57 else c - 87)]
            v = (v + u) | (v - u)
        state[t - lo] = v



@njit(cache=True, nogil=True)
def _lcs_of(v: np.uint64, size: int) -> int:  # pragma: no cover - compiled
    """LCS length held in a state of _lcs_extend for a key of `size` (< 64) chars: its zero bits."""
    x = ~v & ((np.uint64(1) << np.uint64(size)) - np.uint64(1))
    count = 0
    while x:
        x &= x - np.uint64(1)
        count += 1
    return count



@njit(cache=True, nogil=True)
def _lcs_dp(a: np.ndarray, m: int, pool: np.ndarray, lo: int, hi: int,
            row: np.ndarray) -> int:  # pragma: no cover - compiled
    """LCS length of a[:m] and pool[lo:hi] by dynamic programming, one row (len(row) > hi - lo)."""
    size = hi - lo
    row[:size + 1] = 0
    for p in range(m):
        diagonal = 0
        for q in range(1, size + 1):
            above = row[q]
            if a[p] == pool[lo + q - 1]:
                row[q] = diagonal + 1
            elif row[q - 1] > above:
                row[q] = row[q - 1]
            diagonal = above
    return row[size]


@njit(cache=True, nogil=True)
def _lcs(state: np.ndarray, t: int, lo: int, a: np.ndarray, m: int, key_at: np.ndarray, pool: np.ndarray,
         row: np.ndarray) -> int:  # pragma: no cover - compiled
    """LCS length of a[:m] (the n-gram so far) and bucket key t: from its bit-parallel state, or for a
    long key by dynamic programming."""
    size = key_at[t + 1] - key_at[t]
    if size < 64:
        return _lcs_of(state[t - lo], size)
    return _lcs_dp(a, m, pool, key_at[t], key_at[t + 1], row)


@njit(cache=True, nogil=True)
def _verdict(text: np.ndarray, i: int, j: int, fold_at: np.ndarray, fold_pool: np.ndarray,
             bucket_of: np.ndarray, bucket_at: np.ndarray, key_at: np.ndarray, masks: np.ndarray,
             key_pool: np.ndarray, threshold: float, key: np.ndarray, spare: np.ndarray, state: np.ndarray,
             row: np.ndarray) -> int:  # pragma: no cover - compiled
    """The verdict of namescreen for the plain word text[i:j] (not an exact alias): 2 a skeleton of one
    char (the next words decide), 0 no bucket or no n-gram can reach the threshold, 1 it may start a
    name. `key`, `spare`, `state`, `row`: scratch (see _screen_runs)."""
    m = _word_key(text, i, j, fold_at, fold_pool, key, spare)
    size, code = _skeleton_head(key, m)
    if size < 2:
        return 2
    bucket = bucket_of[code]
    if bucket < 0:
        return 0
    lo, hi = bucket_at[bucket], bucket_at[bucket + 1]
    state[:hi - lo] = ~np.uint64(0)
    _lcs_extend(state, key, m, lo, hi, masks, key_at)
    for t in range(lo, hi):
        k_size = key_at[t + 1] - key_at[t]
        if 200.0 * k_size >= (threshold - 1e-6) * (m + 2 * k_size - _lcs(state, t, lo, key, m, key_at, key_pool, row)):
            return 1
    return 0



@njit(cache=True, nogil=True)
def _may_name(text: np.ndarray, i: int, j: int, classes: np.ndarray, fold_at: np.ndarray,
              fold_pool: np.ndarray, bucket_of: np.ndarray, bucket_at: np.ndarray, key_at: np.ndarray,
              masks: np.ndarray, longest: np.ndarray, key_pool: np.ndarray, threshold: float, max_tail: int,
              key: np.ndarray, spare: np.ndarray, joined_key: np.ndarray, state: np.ndarray,
              row: np.ndarray) -> bool:  # pragma: no cover - compiled
    """namescreen's may_name for the run text[i:j] (verdict 1 or 2) and the words after it."""
    n = len(text)
    joined = 0
    skeleton = 0      # skeleton chars so far, up to 2
    code = 0          # their bucket code (as _skeleton_head)
    bucket = lo = hi = -1
    a, at = i, j
    for word in range(max_tail + 1):
        if word:  # the next word: one space, then [\w'’-]+
            if at + 1 >= n or text[at] != 32 or not classes[text[at + 1]] & 2:
                return False
            a = at = at + 1
            while at < n and classes[text[at]] & 2:
                if text[at] >= 128:
                    return True  # not plain: Python decides
                at += 1
        m = _word_key(text, a, at, fold_at, fold_pool, key, spare)
        joined_key[joined:joined + m] = key[:m]
        joined += m
        if bucket < 0:
            vowels_only = True
            for k in range(m):
                if key[k] not in (97, 101, 105, 111, 117, 121):
                    vowels_only = False
                    break
            for k in range(m):  # the word's skeleton: its consonants, or the key if it has none
                c = key[k]
                if skeleton < 2 and (vowels_only or c not in (97, 101, 105, 111, 117, 121)):
                    code = code * 36 + (c - 48 if c <= 57 else c - 87)
                    skeleton += 1
            if skeleton < 2:
                continue
            bucket = bucket_of[code]
            if bucket < 0:
                return False
            lo, hi = bucket_at[bucket], bucket_at[bucket + 1]
            state[:hi - lo] = ~np.uint64(0)
            _lcs_extend(state, joined_key, joined, lo, hi, masks, key_at)
        else:
            _lcs_extend(state, key, m, lo, hi, masks, key_at)
        if joined > longest[bucket]:
            return False
        reachable = False
        for t in range(lo, hi):
            k_size = key_at[t + 1] - key_at[t]
            lcs = _lcs(state, t, lo, joined_key, joined, key_at, key_pool, row)
            if joined + k_size == 0 or 200.0 * lcs >= (threshold - 0.01) * (joined + k_size):
                return True
            if 200.0 * k_size >= (threshold - 1e-6) * (joined + 2 * k_size - lcs):
                reachable = True
        if not reachable:
            return False
    return False



@njit(cache=True, nogil=True)
def _verdict_slot(cells: np.ndarray, text: np.ndarray, i: int, j: int) -> tuple[np.int64, np.uint64, np.uint64]:
    # pragma: no cover - compiled
    """Where the word text[i:j] (at most 15 bytes) is, or would go, in a VerdictTable: (slot, its two
    cells). A word is its bytes packed little-endian in the cells, the length and the verdict + 1 in the
    top byte of the second (never 0: 0, 0 is an empty slot), so a look-up reads one cache line."""
    w0 = np.uint64(0)
    w1 = np.uint64(j - i) << np.uint64(60)
    for k in range(j - i):
        if k < 8:
            w0 |= np.uint64(text[i + k]) << np.uint64(8 * k)
        else:
            w1 |= np.uint64(text[i + k]) << np.uint64(8 * (k - 8))
    h = w0 * np.uint64(0x9E3779B97F4A7C15) + w1 * np.uint64(0xC2B2AE3D27D4EB4F)
    h ^= h >> np.uint64(29)
    mask = len(cells) // 2 - 1
    slot = np.int64(h & np.uint64(mask))
    top = np.uint64(0xF0) << np.uint64(56)      # the length nibble; the verdict nibble below it is not compared
    low = ~(np.uint64(0xFF) << np.uint64(56))
    while True:
        a, b = cells[2 * slot], cells[2 * slot + 1]
        if (a == 0 and b == 0) or (a == w0 and (b & low) == (w1 & low) and (b & top) == (w1 & top)):
            return slot, w0, w1
        slot = (slot + 1) & mask



@njit(cache=True)  # holds the GIL: it writes the verdict table, which threads scoring at once share
def _screen_runs(text: np.ndarray, classes: np.ndarray, cells: np.ndarray, used: np.ndarray, ex_slots: np.ndarray,
                 ex_offsets: np.ndarray, ex_pool: np.ndarray, fold_at: np.ndarray, fold_pool: np.ndarray,
                 bucket_of: np.ndarray, bucket_at: np.ndarray, key_at: np.ndarray, masks: np.ndarray,
                 longest: np.ndarray, key_pool: np.ndarray, threshold: float, max_tail: int,
                 growth: int) -> np.ndarray:  # pragma: no cover
    r"""namescreen.screen_runs over the scanned bytes: the capitalised runs (a capital not after a
    [\w'] byte, then every [\w'-] byte after it), as flat (start, end) pairs, less the plain runs
    (ASCII, no hyphen) that cannot start a name (verdict 0) and those that may (verdict 1, or 2: one
    skeleton char) but whose n-grams, with the words that follow them, all end without a hit
    (_may_name). Verdicts of words up to 15 bytes are kept in the VerdictTable (cells, used); longer
    words, or words past half its size, are decided again."""
    n = len(text)
    out = np.empty(2 * n, dtype=np.int32)
    key = np.empty(n * growth + 1, dtype=np.uint8)                  # scratch: the key of any word fits
    spare = np.empty(n * growth + 1, dtype=np.uint8)
    joined_key = np.empty(n * growth + 1, dtype=np.uint8)           # scratch: so does any n-gram's
    state = np.empty(max(1, len(key_at) - 1), dtype=np.uint64)       # scratch: one LCS state per key
    row = np.zeros(len(key_pool) + 1, dtype=np.int64)               # scratch: a row of _lcs_dp
    count = 0
    i = 0
    while i < n:
        if not (classes[text[i]] & 4 and (i == 0 or not classes[text[i - 1]] & 1)):
            i += 1
            continue
        j = i + 1
        plain = text[i] < 128
        while j < n and classes[text[j]] & 2:
            if text[j] >= 128 or text[j] == 45:
                plain = False
            j += 1
        keep = not plain
        if plain:
            verdict: int | np.int64  # -1 (not decided yet), or 0-3; read back from the table as np.int64
            slot: int | np.int64  # -1 (the word is not in the table), or _verdict_slot's slot
            verdict = slot = -1
            w0 = w1 = np.uint64(0)
            if j - i <= 15:
                slot, w0, w1 = _verdict_slot(cells, text, i, j)
                if cells[2 * slot + 1]:
                    verdict = np.int64((cells[2 * slot + 1] >> np.uint64(56)) & np.uint64(15)) - 1
            if verdict < 0:
                if _table_find(text, i, j, ex_slots, ex_offsets, ex_pool) >= 0:
                    verdict = 3
                else:
                    verdict = _verdict(text, i, j, fold_at, fold_pool, bucket_of, bucket_at, key_at, masks,
                                       key_pool, threshold, key, spare, state, row)
                if slot >= 0 and 2 * used[0] < len(cells) // 2:  # at most half full: probes stay short
                    cells[2 * slot] = w0
                    cells[2 * slot + 1] = w1 | (np.uint64(verdict + 1) << np.uint64(56))
                    used[0] += 1
            if verdict == 3:
                keep = True
            elif verdict:
                keep = _may_name(text, i, j, classes, fold_at, fold_pool, bucket_of, bucket_at, key_at,
                                 masks, longest, key_pool, threshold, max_tail, key, spare, joined_key, state, row)
        if keep:
            out[count] = i
            out[count + 1] = j
            count += 2
        i = j
    return out[:count]
