"""A deterministic stream of articles with known copies and escalations, for delivery tests."""

from __future__ import annotations

import random
from typing import Any

SYLLABLES = ("ka", "lo", "mi", "ra", "te", "vo", "su", "ne", "di", "pa", "gu", "ze", "ri", "to", "ba", "chi")
TOWNS = ("Ardmore", "Belcastle", "Corrin", "Dunvale", "Eastwick", "Fenmoor", "Glenrock", "Harwood")


def _vocabulary(rng: random.Random) -> list[str]:
    """Invented words, so that unrelated stories share no vocabulary (as real unrelated news barely does)."""
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(60)]


def _sentence(rng: random.Random, words: list[str]) -> str:
    chosen = [rng.choice(words) for _ in range(rng.randint(9, 16))]
    return chosen[0].capitalize() + " " + " ".join(chosen[1:]) + "."


def story_articles(n_stories: int, seed: int = 7) -> list[dict[str, Any]]:
    """Stories of 1-4 articles: a wire original, republished copies, sometimes a higher toll."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for s in range(n_stories):
        words = _vocabulary(rng)
        body = [" ".join(_sentence(rng, words) for _ in range(4)) for _ in range(4)]
        violent = s % 2 == 0
        toll = rng.randint(3, 30)
        town = rng.choice(TOWNS)
        lead = (f"Rockets struck {town} on Monday, killing {toll} people, officials said." if violent
                else f"Officials in {town} presented plans on Monday for the {rng.choice(words)} programme.")
        copies = rng.randint(1, 4)
        for c in range(copies):
            if violent and c == copies - 1 and copies > 1:
                lead = lead.replace(f"killing {toll} people", f"killing {toll + 5} people")
            dateline = "" if c == 0 else f"{town.upper()} (Wire) - "
            paragraphs = [dateline + lead, *body] if c % 2 == 0 else [dateline + lead, "Read also: more news", *body]
            minute = s * 5 + c
            out.append({"id": f"s{s:03d}c{c}", "url": f"https://outlet{c}.example/{s}", "feed": f"feed{c}",
                        "title": f"Story {s} headline {'rewritten ' * c}".strip(), "source": f"outlet{c}.example",
                        "published_at": f"2021-03-01T{minute // 60:02d}:{minute % 60:02d}:00Z",
                        "language": "en", "content": "\n\n".join(paragraphs)})
    return out
