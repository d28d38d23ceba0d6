"""Escalation outputs, dumped for a byte-for-byte comparison across code changes.

    .venv/bin/python bench/escalation_equivalence.py [DATA_DIR] --out FILE      # write the dump
    .venv/bin/python bench/escalation_equivalence.py [DATA_DIR] --check FILE    # compare with a dump

Scores every escalation-dev article, the first 2,000 dedup-dev articles, every story-dev article,
2,000 synthetic articles (bench/synth.py, seed 7) and the seed article (also repeated x6, and each
article again with `language: und` and `fr`, which use the other compiled pattern sets), and writes
one line per article: `corpus<TAB>id<TAB>json(Escalation.to_dict())` (full JSON, so a difference
can be read). The dump holds data-set text (matched terms): keep it outside the repo.
Every article is scored twice (cold and warm caches): both must give the same result.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from streams.escalation import DEFAULT_RULES, Rules  # noqa: E402
from streams.normalize import normalize  # noqa: E402


def corpora(data: Path) -> Iterator[tuple[str, dict]]:
    def jsonl(path: Path, limit: int | None = None) -> Iterator[dict]:
        with path.open("rb") as lines:
            for i, line in enumerate(lines):
                if limit is not None and i >= limit:
                    break
                if line.strip():
                    yield json.loads(line)

    for raw in jsonl(data / "escalation-dev" / "articles.jsonl"):
        yield "dev", normalize(raw)
    for raw in jsonl(data / "dedup-dev" / "articles.jsonl", 2000):
        yield "dedup", normalize(raw)
    for raw in jsonl(data / "story-dev" / "articles.jsonl"):
        yield "story", normalize(raw)
    from synth import Synth

    for raw in Synth(seed=7).articles(2000):
        yield "synth", normalize(raw)
    seed_path = next((ROOT / "seeds").glob("000_*.txt"))
    title, _, body = seed_path.read_text("utf-8").partition("\n")
    for times in (1, 6):
        yield f"seed{times}", normalize({"id": f"seed{times}", "url": "https://example.org/seed", "title": title,
                                         "content": "\n".join([body] * times),
                                         "published_at": "2021-02-26T00:00:00Z", "source": "example.org",
                                         "feed": "seed", "language": "en"})


def with_language(item: dict, language: str) -> dict:
    return {**item, "norm": {**item["norm"], "language": language}}


def dump(data: Path, rules_path: str) -> list[str]:
    rules = Rules.load(rules_path)
    items = list(corpora(data))
    lines = []
    for corpus, item in items:
        for variant, it in (("", item), ("und", with_language(item, "und")), ("fr", with_language(item, "fr"))):
            if variant and corpus not in ("dev", "seed1", "story"):
                continue
            first = json.dumps(rules.score(it).to_dict(), ensure_ascii=False, sort_keys=False)
            lines.append(f"{corpus}{'/' + variant if variant else ''}\t{item.get('id')}\t{first}")
    # second pass: warm caches must not change anything
    for (corpus, item), line in zip(items, (ln for ln in lines if "/" not in ln.split("\t")[0]), strict=True):
        again = json.dumps(rules.score(item).to_dict(), ensure_ascii=False, sort_keys=False)
        if line.split("\t", 2)[2] != again:
            raise SystemExit(f"cold and warm scores differ: {corpus} {item.get('id')}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--rules", default=str(DEFAULT_RULES))
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out")
    group.add_argument("--check")
    args = parser.parse_args(argv)
    lines = dump(Path(args.data), args.rules)
    text = "\n".join(lines) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()
    if args.out:
        Path(args.out).write_text(text, "utf-8")
        print(f"{len(lines)} results written to {args.out}, sha256 {digest}")
        return 0
    expected = Path(args.check).read_text("utf-8").splitlines()
    diffs = [(a, b) for a, b in zip(expected, lines, strict=False) if a != b]
    if len(expected) != len(lines):
        print(f"line count differs: expected {len(expected)}, got {len(lines)}")
    for a, b in diffs[:5]:
        print(f"- {a[:400]}\n+ {b[:400]}")
    ok = not diffs and len(expected) == len(lines)
    print(f"{len(lines)} results, {len(diffs)} differ, sha256 {digest}: {'IDENTICAL' if ok else 'DIFFERENT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
