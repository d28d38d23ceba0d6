"""Normalisation: article -> clean readable text + language + dedupe fingerprints.

Pure and stateless (it runs before the language re-keying, on any worker). The output keeps every
field of the article and adds `norm`:

    language      ISO 639-1 from the article, else detected (`language`), "und" when unsure
    title, body   cleaned, readable text (`clean`); body paragraphs separated by "\\n" (escalation
                  rules report offsets into these two strings, so they must stay text a human can read)
    body_field    "content" when the body came from `content`, "summary" otherwise
    fingerprints  what `streams.dedupe` needs (`fingerprinting`: key, lead, probe, words, names, n)

The package is plain Python; the steps with a compiled twin in `streams._accel` are run through
`steps`, which picks one implementation when it is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streams.normalize import steps
from streams.normalize.clean import MAX_BODY_CHARS, MAX_RAW_CHARS, MAX_TITLE_CHARS, clean_text
from streams.normalize.fingerprinting import (
    KEY_SOURCE_CHARS,
    KEY_TEXT_CHARS,
    KEY_WORDS,
    WORDS_FROM_CHARS,
    key_span,
    key_text,
)
from streams.normalize.language import language_of
from streams.normalize.packing import pack_words
from streams.normalize.steps import tokenize, unpack_words
from streams.normalize.words import STOPWORDS, word_hash, word_hashes


def fingerprints(title: str, body: str) -> dict[str, Any]:
    """The fingerprints of a cleaned title and body (see `streams.normalize.fingerprinting`)."""
    key_start, key_end = key_span(body)
    text = title + "\n" + body[:KEY_SOURCE_CHARS]
    off = len(title) + 1
    return steps.fingerprint_text(text, off, off + key_start, off + key_end, off + WORDS_FROM_CHARS)


def normalize(article: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the article with a `norm` object: language, title, body, body_field, fingerprints."""
    content = clean_text(article.get("content"))
    body_field = "content" if content else "summary"
    body = content or clean_text(article.get("summary"))
    # A headline is never feed furniture: "Watch: ..." or "Read: ..." is a label, and the headline counts
    title = clean_text(article.get("title"), limit=MAX_TITLE_CHARS, boilerplate=False).replace("\n", " ")
    out = dict(article)
    out["norm"] = {
        "language": language_of(article.get("language"), title, body),
        "title": title,
        "body": body,
        "body_field": body_field,
        "fingerprints": fingerprints(title, body),
    }
    return out


__all__ = ["KEY_TEXT_CHARS", "KEY_WORDS", "MAX_BODY_CHARS", "MAX_RAW_CHARS", "MAX_TITLE_CHARS", "STOPWORDS",
           "clean_text", "fingerprints", "key_text", "language_of", "normalize", "pack_words", "tokenize",
           "unpack_words", "word_hash", "word_hashes"]
