"""Size bounds of what the worker produces (streams/records.py): cut before produced, never lost."""

from __future__ import annotations

import hashlib
import json

import orjson
import pytest

from streams.pipeline import normalize_stage
from streams.records import DLQ_PREFIX_BYTES, MAX_VALUE_BYTES, RecordTooLarge, dlq_copy, fit
from streams.worker.agents import KEEP

PRODUCER_LIMIT = 1_000_000      # the producer's max_request_size (aiokafka's and Faust's default)


def big_article(content_bytes: int) -> dict[str, object]:
    paragraph = "<p>Rockets struck the harbour town on Monday, killing 3 people, officials said.</p>\n"
    return {"id": "big-1", "url": "https://wire.example/big", "title": "Rocket attack on the harbour kills 3",
            "published_at": "2023-09-01T10:00:00Z", "source": "wire.example", "feed": "wire", "language": "en",
            "summary": "Rockets struck the harbour town on Monday.",
            "content": (paragraph * (content_bytes // len(paragraph) + 1))[:content_bytes]}


def test_a_945_kB_article_is_cut_content_first_and_keeps_its_decision_inputs() -> None:
    article = big_article(945_000)
    assert len(json.dumps(article).encode()) < 1_048_588       # it fits news.articles (message.max.bytes)
    normed = normalize_stage(article)
    assert len(orjson.dumps(normed)) > PRODUCER_LIMIT           # ... but its normalised form did not fit
    value, cut = fit(normed, KEEP)
    assert len(value) <= MAX_VALUE_BYTES < PRODUCER_LIMIT and cut == ["content"]
    record = orjson.loads(value)
    assert record["truncated"] == ["content"] and record["content"] == normed["content"][: len(record["content"])]
    assert record["norm"] == normed["norm"]                      # what the stages read is whole
    assert {k: v for k, v in record.items() if k not in ("content", "truncated")} == \
        {k: v for k, v in normed.items() if k != "content"}


def test_a_record_that_fits_is_sent_as_it_is() -> None:
    normed = normalize_stage(big_article(10_000))
    assert fit(normed, KEEP) == (orjson.dumps(normed), [])


def test_then_summary_then_unknown_fields_then_lists() -> None:
    record = {"id": "x", "content": "c" * 600_000, "summary": "s" * 600_000, "extra": "e" * 600_000,
              "tags": ["t" * 1000] * 2000, "norm": {"body": "b" * 1000}}
    value, cut = fit(record, KEEP)
    assert len(value) <= MAX_VALUE_BYTES and cut == ["content", "summary", "extra", "tags"]
    out = orjson.loads(value)
    assert out["content"] == "" and out["summary"] == "" and "extra" not in out and len(out["tags"]) < 900
    with pytest.raises(RecordTooLarge):
        fit({"id": "x", "norm": {"body": "b" * 2_000_000}}, KEEP)
    # every character costs at least a byte: one cut is enough, whatever the characters
    value, _ = fit({"content": "\u00e9\"\\\u0001" * 400_000}, KEEP)
    assert len(value) <= MAX_VALUE_BYTES


def test_a_dlq_copy_too_large_keeps_error_headers_and_a_prefix() -> None:
    value = b"{" + b"x" * 1_020_000               # a 1.02 MB record that is not JSON
    headers = [("error", b"not JSON"), ("source.topic", b"news.articles"), ("source.partition", b"1"),
               ("source.offset", b"42")]
    key, copy, out = dlq_copy(b"k", value, headers)
    assert key == b"k" and copy == value[:DLQ_PREFIX_BYTES]
    names = dict(out)
    assert names["error"] == b"not JSON" and names["source.offset"] == b"42"
    assert names["value.truncated"] == b"1" and names["value.bytes"] == b"1020001"
    assert names["value.sha256"] == hashlib.sha256(value).hexdigest().encode()
    assert dlq_copy(b"k", b"small", headers) == (b"k", b"small", headers)
    key, _, out = dlq_copy(b"k" * 2_000_000, b"v", headers)
    assert key is not None and len(key) == 4096 and dict(out)["key.bytes"] == b"2000000"
