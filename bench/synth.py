"""Synthetic wire traffic for benchmarks: invented words with a Zipf-like frequency, articles of
realistic length, and a share of republished copies (dateline, trimmed, summary-only, new headline)."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from datetime import UTC, datetime

DATELINES = ["LONDON (Reuters) - ", "PARIS, AFP - ", "KYIV (AP) \u2014 ", "NAIROBI, EFE \u2013 ", ""]


class Synth:
    def __init__(self, seed: int = 1, vocab_size: int = 60_000) -> None:
        self.rng = random.Random(seed)
        letters = string.ascii_lowercase
        words = {"".join(self.rng.choice(letters) for _ in range(self.rng.randint(3, 10)))
                 for _ in range(vocab_size)}
        self.vocab = sorted(words)
        self.rng.shuffle(self.vocab)
        cum, total = [], 0.0
        for rank in range(len(self.vocab)):
            total += 1.0 / (rank + 1) ** 1.05
            cum.append(total)
        self.cum = cum
        self.names = [w.capitalize() for w in self.vocab[2000:12000]]

    def sentence(self) -> str:
        words = self.rng.choices(self.vocab, cum_weights=self.cum, k=self.rng.randint(12, 28))
        for i in self.rng.sample(range(1, len(words)), k=min(3, len(words) - 1)):
            words[i] = self.rng.choice(self.names)
        words[0] = words[0].capitalize()
        return " ".join(words) + "."

    def body(self) -> list[str]:
        return [" ".join(self.sentence() for _ in range(self.rng.randint(2, 4)))
                for _ in range(self.rng.randint(3, 7))]

    def articles(self, n: int, hours: float = 72.0, copy_share: float = 0.25,
                 start: float = 1_700_000_000.0) -> Iterator[dict]:
        recent: list[tuple[str, list[str]]] = []
        step = hours * 3600.0 / max(n, 1)
        for i in range(n):
            aid = f"{i:012x}"
            ts = datetime.fromtimestamp(start + i * step, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if recent and self.rng.random() < copy_share:
                title, paras = self.rng.choice(recent)
                paras = self._edit(paras)
                title = self.rng.choice([title, "UPDATE 1-" + title, title + " | Gazette"])
            else:
                paras = self.body()
                title = " ".join(self.rng.choices(self.vocab, cum_weights=self.cum, k=7)).capitalize()
                recent.append((title, paras))
                if len(recent) > 2000:
                    recent.pop(0)
            yield {"id": aid, "url": f"https://synth.example/{aid}", "title": title,
                   "summary": paras[0][:200], "content": "\n\n".join(paras), "published_at": ts,
                   "source": f"outlet{self.rng.randrange(50)}.example", "feed": "synth", "language": "en"}

    def _edit(self, paras: list[str]) -> list[str]:
        r = self.rng.random()
        if r < 0.2:
            return [paras[0]]  # summary-only
        out = list(paras)
        if r < 0.5 and len(out) > 2:
            out = out[: self.rng.randint(2, len(out))]  # trimmed
        elif r < 0.7 and len(out) > 3:
            del out[self.rng.randrange(1, len(out))]  # dropped paragraph
        out[0] = self.rng.choice(DATELINES) + out[0]
        if self.rng.random() < 0.3:
            out.insert(1, "Read also: " + self.sentence())
        return out
