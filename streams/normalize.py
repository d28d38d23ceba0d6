"""Normalisation: article -> clean text + language + fingerprints. PLACEHOLDER (walking skeleton)."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\u00a0]+")


def clean_text(value: str | None) -> str:
    text = html.unescape(_TAG.sub(" ", value or ""))
    text = unicodedata.normalize("NFKC", text)
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.splitlines() if line.strip())


def normalize(article: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the article with a `norm` object: language, title, body, body_field, fingerprints."""
    body_field = "content" if article.get("content") else "summary"
    out = dict(article)
    out["norm"] = {
        "language": article.get("language") or "en",
        "title": clean_text(article.get("title")),
        "body": clean_text(article.get(body_field)),
        "body_field": body_field,
        "fingerprints": {},
    }
    return out
