"""Synthetic wire traffic for benchmarks: invented words with a Zipf-like frequency, articles of
realistic length, and a share of republished copies (dateline, trimmed, summary-only, new headline)."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np

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
        # words are drawn in bulk with numpy (generation must not dominate a 1M-article bench run)
        self.np_rng = np.random.default_rng(seed)
        self.cum_np = np.array(cum) / total
        self.vocab_np = np.array(self.vocab, dtype=object)
        self.names_np = np.array(self.names, dtype=object)

    def sentence(self) -> str:
        return self._sentences([self.rng.randint(12, 28)])[0]

    def _sentences(self, lengths: list[int]) -> list[str]:
        """Sentences of the given lengths: Zipf words, three of them names, capitalised, full stop."""
        words = self.vocab_np[np.searchsorted(self.cum_np, self.np_rng.random(sum(lengths)))].tolist()
        names = self.names_np[self.np_rng.integers(0, len(self.names_np), 3 * len(lengths))].tolist()
        out, at = [], 0
        for k, length in enumerate(lengths):
            sent = words[at:at + length]
            at += length
            for j, i in enumerate(self.rng.sample(range(1, length), k=3)):
                sent[i] = names[3 * k + j]
            sent[0] = sent[0].capitalize()
            out.append(" ".join(sent) + ".")
        return out

    def body(self) -> list[str]:
        counts = [self.rng.randint(2, 4) for _ in range(self.rng.randint(3, 7))]
        sentences = self._sentences([self.rng.randint(12, 28) for _ in range(sum(counts))])
        paras, at = [], 0
        for c in counts:
            paras.append(" ".join(sentences[at:at + c]))
            at += c
        return paras

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
                title = " ".join(self.vocab_np[np.searchsorted(self.cum_np, self.np_rng.random(7))]).capitalize()
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
