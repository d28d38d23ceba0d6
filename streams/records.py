"""How large a record wirewatch produces may be, and what is cut when one would be larger.

Kafka refuses a record larger than the producer's `max_request_size` (1,000,000 bytes by default, for
the record with its key, headers and batch framing) or the topic's `max.message.bytes` (1,048,588 by
default). An article of 945 kB fits `news.articles`, but its normalised form (the article + the cleaned
text + fingerprints) was ~1,048,000 bytes: the send failed, outside the agent's handling, and the record
was in no topic and no DLQ. So every value an agent produces is encoded and measured first (`fit`):

- at most MAX_VALUE_BYTES (900,000 bytes: under both limits with room for key, headers and framing);
- when larger, the article's raw text is cut, `content` first (the raw feed HTML: the stages read
  `norm.body`, its cleaned text, already cut to 100,000 characters), then `summary`, then fields the
  contract does not know are dropped, then `authors` and `tags` are shortened; what was cut is listed
  in the record's `truncated` field (a field the contract's consumers ignore: unknown fields are kept).
  Decisions never change: they read `norm`, which is not cut.
- a record that still does not fit raises RecordTooLarge: the input record goes to its DLQ.

A DLQ copy (`dlq_copy`) that would be larger keeps the error and source headers and the first
DLQ_PREFIX_BYTES of the value, with `value.truncated`, `value.bytes` (the original size) and
`value.sha256` headers, so that the record is never lost without a trace.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from streams.diskstore import dumps

MAX_VALUE_BYTES = 900_000
MAX_KEY_BYTES = 4_096
DLQ_PREFIX_BYTES = 65_536
CUT_TEXT = ("content", "summary")            # cut in this order
CUT_LISTS = ("authors", "tags")              # shortened last
TRUNCATED = "truncated"                      # the field that lists what was cut


class RecordTooLarge(ValueError):
    """A record that does not fit MAX_VALUE_BYTES even with the article's own text cut."""


def fit(record: Mapping[str, Any], keep: Iterable[str], limit: int = MAX_VALUE_BYTES) -> tuple[bytes, list[str]]:
    """(the record encoded, at most `limit` bytes; the fields cut: none when it fitted as it is). Cut as
    the module docstring says; `keep`: the fields never dropped (the contract's and those stages add)."""
    data = dumps(record)
    if len(data) <= limit:
        return data, []
    out = dict(record)
    cut: list[str] = list(out.get(TRUNCATED) or [])

    def note(name: str) -> None:
        if name not in cut:
            cut.append(name)
        out[TRUNCATED] = cut

    for name in CUT_TEXT:
        text = out.get(name)
        if isinstance(text, str) and text:
            note(name)
            data = dumps(out)
            # every character costs at least one byte encoded: dropping `over` characters is enough
            over = len(data) - limit
            out[name] = text[: max(0, len(text) - over)]
            data = dumps(out)
            if len(data) <= limit:
                return data, cut
    keep = set(keep) | {TRUNCATED}
    for name in [n for n in out if n not in keep]:
        del out[name]
        note(name)
        data = dumps(out)
        if len(data) <= limit:
            return data, cut
    for name in CUT_LISTS:
        items = out.get(name)
        if isinstance(items, list) and items:
            note(name)
            while items and len(dumps(out)) > limit:
                items = items[: len(items) // 2]
                out[name] = items
            data = dumps(out)
            if len(data) <= limit:
                return data, cut
    raise RecordTooLarge(f"record of {len(data)} bytes after cutting {', '.join(cut) or 'nothing'}: "
                         f"over the {limit}-byte bound")


def dlq_copy(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]],
             limit: int = MAX_VALUE_BYTES) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """(key, value, headers) of a DLQ record: the original when it fits, else the error and source
    headers with a bounded prefix of the value (and of the key)."""
    headers = list(headers)
    size = sum(len(name) + len(data) for name, data in headers) + len(key or b"") + len(value or b"")
    if size <= limit:
        return key, value, headers
    if key is not None and len(key) > MAX_KEY_BYTES:
        headers += [("key.truncated", b"1"), ("key.bytes", str(len(key)).encode())]
        key = key[:MAX_KEY_BYTES]
    if value is not None and len(value) > DLQ_PREFIX_BYTES:
        headers += [("value.truncated", b"1"), ("value.bytes", str(len(value)).encode()),
                    ("value.sha256", hashlib.sha256(value).hexdigest().encode())]
        value = value[:DLQ_PREFIX_BYTES]
    return key, value, headers
