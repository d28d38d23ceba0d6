"""The language of an article: declared by the feed, else detected (py3langid), "und" when unsure.

Dedupe partitions by language (an article is only compared with articles of its own language), so a
wrong guess costs a missed copy: short or letter-poor texts and unsure detections say "und".
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

MIN_DETECT_LETTERS = 20
_LANG = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language_of(declared: Any, title: str, body: str) -> str:
    """ISO 639-1 (or -2/-3) code, lower case: the declared one ("en-GB" -> "en"), else detected."""
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
