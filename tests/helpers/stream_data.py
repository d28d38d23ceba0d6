"""A deterministic stream of articles with known copies and escalations, for delivery tests."""

from __future__ import annotations

import random
from typing import Any

SYLLABLES = ("ka", "lo", "mi", "ra", "te", "vo", "su", "ne", "di", "pa", "gu", "ze", "ri", "to", "ba", "chi")
TOWNS = ("Ardmore", "Belcastle", "Corrin", "Dunvale", "Eastwick", "Fenmoor", "Glenrock", "Harwood")
# Where the violent stories happen: real towns the event stage's gazetteer knows (one sense each, far apart),
# so that it places each story and tells the occurrences apart, as it would real news. Invented names are no
# place to it: stories of one day and kind would all be one occurrence somewhere unknown.
WAR_TOWNS = ("Mosul", "Aleppo", "Kharkiv", "Peshawar", "Maiduguri", "Sirte", "Taiz", "Bunia", "Timbuktu",
             "Mandera", "Kismayo", "Raqqa", "Mariupol", "Basra", "Fallujah", "Nyala", "Butembo", "Diffa",
             "Agadez", "Misrata", "Baidoa", "Uvira", "Kumba", "Malakal", "Kidal", "Garissa", "Zinder",
             "Bamenda", "Aden", "Kherson", "Tikrit", "Gondar")
# (headline, lead) of a kind of violence; {town}, {toll}. One town sees another kind only after every town
# saw the first, so each violent story of a stream is its own occurrence (town, kind), as the event stage
# should find it.
KINDS = (("Rocket attack on {town} kills {toll}",
          "Rockets struck {town} on Monday, killing {toll} people, officials said."),
         ("Gunmen kill {toll} in {town}",
          "Gunmen opened fire on a checkpoint in {town} on Monday, killing {toll} people, officials said."),
         ("Car bomb kills {toll} in {town}",
          "A car bomb exploded at a market in {town} on Monday, killing {toll} people, officials said."))


def _vocabulary(rng: random.Random) -> list[str]:
    """Invented words, so that unrelated stories share no vocabulary (as real unrelated news barely does)."""
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(60)]


def _sentence(rng: random.Random, words: list[str]) -> str:
    chosen = [rng.choice(words) for _ in range(rng.randint(9, 16))]
    return chosen[0].capitalize() + " " + " ".join(chosen[1:]) + "."


def story_articles(n_stories: int, seed: int = 7) -> list[dict[str, Any]]:
    """Stories of 1-4 articles: a wire original, republished copies, sometimes a higher toll. Every other
    story is violent (a rocket attack, a car bomb or a shooting in a town of WAR_TOWNS, with a headline that
    says so): those alert, and their copies update the alert."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for s in range(n_stories):
        words = _vocabulary(rng)
        body = [" ".join(_sentence(rng, words) for _ in range(4)) for _ in range(4)]
        violent = s % 2 == 0
        toll = rng.randint(3, 30)
        town = rng.choice(TOWNS)
        if violent:
            n = s // 2
            town = WAR_TOWNS[n % len(WAR_TOWNS)]
            headline, lead = KINDS[n // len(WAR_TOWNS) % len(KINDS)]
        else:
            headline = f"Story {s} headline"
            lead = f"Officials in {town} presented plans on Monday for the {rng.choice(words)} programme."
        copies = rng.randint(1, 4)
        for c in range(copies):
            killed = toll + 5 if violent and c == copies - 1 and copies > 1 else toll   # a higher toll
            dateline = "" if c == 0 else f"{town.upper()} (Wire) - "
            first = dateline + lead.format(town=town, toll=killed)
            paragraphs = [first, *body] if c % 2 == 0 else [first, "Read also: more news", *body]
            minute = s * 5 + c
            title = headline.format(town=town, toll=killed) if violent else f"{headline} {'rewritten ' * c}".strip()
            out.append({"id": f"s{s:03d}c{c}", "url": f"https://outlet{c}.example/{s}", "feed": f"feed{c}",
                        "title": title, "source": f"outlet{c}.example",
                        "published_at": f"2021-03-01T{minute // 60:02d}:{minute % 60:02d}:00Z",
                        "language": "en", "content": "\n\n".join(paragraphs)})
    return out
