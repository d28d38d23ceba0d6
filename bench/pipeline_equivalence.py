"""Do decode + normalize + dedupe give the same outputs as before a change? (speed work must not move a result)

    python bench/pipeline_equivalence.py --dump OUT.jsonl.gz [DATA_DIR]     # record the current outputs
    python bench/pipeline_equivalence.py --compare OUT.jsonl.gz [DATA_DIR]  # compare with a recording

Runs every line of dedup-dev, story-dev and escalation-dev (`articles.jsonl`, as `wirewatch replay`
reads them), 5,000 synthetic articles (`bench/synth.py`, 25 % copies, all in one window) and 3,000
synthetic articles spread over 3 windows (expiry), plus invented edge cases (invalid records, HTML,
odd characters), through `connectors.article.decode`, `streams.normalize.normalize` and
`streams.pipeline.dedupe_stage`, in file order with one `DedupeIndex` per corpus, and records per
line: the validated article or the error message, the whole normalised article (`norm`: language,
title, body, fingerprints) and the dedupe outputs (copy_of, story_id, similarity). Each corpus runs
three times: with a dict store, with a RocksDB store (rocksdict, as the worker), and with the dict
store re-opened half-way (`DedupeIndex` rebuilt from the records, as after a restart); all three must
agree with each other and with the recording. Recordings hold corpus text: keep them out of the repo
(default DATA_DIR: ../shared/data from the repo root).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synth import Synth  # noqa: E402

from connectors import article as contract  # noqa: E402
from streams.dedupe import DedupeIndex  # noqa: E402
from streams.diskstore import DiskStore  # noqa: E402
from streams.normalize import normalize  # noqa: E402
from streams.pipeline import dedupe_stage  # noqa: E402


def edge_cases() -> list[str]:
    """Invented records for the corners: invalid JSON and contract violations (the error message is
    compared), HTML, entities, odd whitespace and characters, empty bodies, non-string fields."""
    base = {"id": "edge-0", "url": "https://edge.example/0", "title": "Edge case",
            "published_at": "2024-05-01T10:00:00Z", "source": "edge.example", "feed": "edge"}
    body = ("Rockets struck the harbour town on Monday, killing three people and wounding 12 others, "
            "officials said. The army said it had intercepted most of them over the sea.")
    variants: list[Any] = [
        {"content": body},
        {"content": "<p>" + body + "</p><p>Read also: another story here</p><script>x=1</script>"},
        {"content": "&lt;p&gt;" + body + "&lt;/p&gt;&amp;amp;", "language": "en"},
        {"content": "\u201cQuoted\u201d \u2018text\u2019\u00a0with\u200b zero\u00adwidth\tand\r\ncontrol\x07 " + body},
        {"content": "LONDON (Reuters) - " + body + " ... Read more"},
        {"content": "ＦＵＬＬＷＩＤＴＨ ﬁ ligature İstanbul ǅ " + body, "language": None},
        {"content": "", "summary": body},
        {"content": None, "summary": None},
        {"content": "<div><!-- c --><h1>Title</h1><br/>" + body + "<style>p{}</style></div>"},
        {"content": "Advertisement\n\n" + body + "\n\nAll rights reserved."},
        {"content": body * 60},
        {"content": "Не тот язык. " * 30, "language": "ru-RU"},
        {"content": body, "authors": ["A", "B"], "tags": [], "fetched_at": "2024-05-01T10:00:05Z",
         "connector": "rss", "extra": {"kept": True}},
        {"published_at": "2024-05-01T10:00:00+00:00", "content": body},
        {"published_at": "2024-05-01T10:00:00.123Z", "content": body},
        {"published_at": "2024-05-01T10:00:00Z\n", "content": body},
        {"published_at": "yesterday"},
        {"published_at": "2024-05-01T10:00:00+02:00"},
        {"id": ""},
        {"id": 7},
        {"title": None},
        {"language": "english"},
        {"language": "EN"},
        {"authors": ["a", 3]},
        {"authors": "a"},
        {"fetched_at": "not a time"},
        {"source": "x" * 600},
        {"summary": 3, "content": [1]},
    ]
    lines = []
    for k, extra in enumerate(variants):
        lines.append(json.dumps({**base, "id": f"edge-{k}", **extra}))
    missing = dict(base)
    del missing["title"]
    lines += [json.dumps(missing), json.dumps({}), "[1, 2]", '"text"', "{not json", "", "  ", "null",
              '{"id": "x", "id": "y"}', json.dumps({**base, "id": "edge-nan", "score": float("nan")}),
              json.dumps({**base, "id": "edge-big", "n": 10 ** 30}), '{"id": "\\ud800"}',
              "\ufeff" + json.dumps(base)]
    return lines


def corpora(data: Path) -> Iterator[tuple[str, list[str | bytes]]]:
    for name in ("dedup-dev", "story-dev", "escalation-dev"):
        path = data / name / "articles.jsonl"
        if path.exists():
            yield name, [line for line in path.read_bytes().split(b"\n") if line.strip()]
        else:
            print(f"warning: {path} missing", file=sys.stderr)
    yield "synth-5k", [json.dumps(a) for a in Synth(seed=1).articles(5000)]
    yield "synth-3k-expiry", [json.dumps(a).encode() for a in Synth(seed=7).articles(3000, hours=216.0)]
    yield "edge", edge_cases()


def run(lines: list[str | bytes], mode: str) -> list[dict[str, Any]]:
    tmp = tempfile.mkdtemp(prefix="wirewatch-equiv-") if mode == "rocksdict" else None
    store: Any = DiskStore(tmp) if tmp else {}
    index = DedupeIndex(store)
    out = []
    for i, line in enumerate(lines):
        if mode == "restart" and i == len(lines) // 2:
            index = DedupeIndex(store)
        row: dict[str, Any] = {"i": i}
        try:
            valid = contract.decode(line)
        except contract.InvalidRecord as exc:
            row["error"] = str(exc)
            out.append(row)
            continue
        row["valid"] = valid
        try:
            normed = normalize(valid)
        except Exception as exc:  # noqa: BLE001 (recorded: a change must not add or remove failures)
            row["normalize_error"] = f"{type(exc).__name__}: {exc}"
            out.append(row)
            continue
        row["normed"] = normed
        story = dedupe_stage(normed, index)
        row["story"] = {k: story[k] for k in ("copy_of", "story_id", "similarity")}
        row["story_has_all"] = all(story.get(k) == v for k, v in normed.items())
        out.append(row)
    if tmp:
        store.db.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def canon(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, default=repr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", type=Path, default=ROOT.parent / "shared" / "data")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--dump", type=Path)
    group.add_argument("--compare", type=Path)
    args = parser.parse_args(argv)
    recorded: dict[tuple[str, int], str] = {}
    if args.compare:
        with gzip.open(args.compare, "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                name = row.pop("corpus")
                recorded[(name, row["i"])] = canon(row)
    sink = gzip.open(args.dump, "wt", encoding="utf-8") if args.dump else None  # noqa: SIM115
    failures = total = 0
    for name, lines in corpora(args.data):
        runs = {mode: run(lines, mode) for mode in ("dict", "rocksdict", "restart")}
        base = runs["dict"]
        for mode in ("rocksdict", "restart"):
            bad = [a["i"] for a, b in zip(base, runs[mode], strict=True) if canon(a) != canon(b)]
            if bad:
                failures += len(bad)
                print(f"{name}: {mode} store differs from dict store on {len(bad)} lines, first {bad[:5]}")
        differ = []
        for row in base:
            total += 1
            if sink:
                sink.write(json.dumps({"corpus": name, **row}, sort_keys=True, ensure_ascii=False, default=repr)
                           + "\n")
            elif recorded.get((name, row["i"])) != canon(row):
                differ.append(row["i"])
        if differ:
            failures += len(differ)
            first = differ[0]
            print(f"{name}: {len(differ)} of {len(base)} lines differ from the recording, first {differ[:10]}")
            old = recorded.get((name, first))
            new = canon(base[first])
            at = next((k for k, (x, y) in enumerate(zip(old or "", new, strict=False)) if x != y), 0)
            print(f"  line {first}: recorded ...{(old or '<none>')[max(0, at - 80):at + 120]}...\n"
                  f"  line {first}: now      ...{new[max(0, at - 80):at + 120]}...")
        kinds = {k: sum(k in r for r in base) for k in ("error", "normalize_error", "story")}
        copies = sum(1 for r in base if r.get("story", {}).get("copy_of"))
        agree = all(canon(a) == canon(b) for m in ("rocksdict", "restart") for a, b in zip(base, runs[m], strict=True))
        print(f"{name}: {len(base)} lines, {kinds['error']} invalid, {kinds['normalize_error']} normalize errors, "
              f"{kinds['story']} deduped, {copies} copies; stores agree: {agree}", flush=True)
    if sink:
        sink.close()
        print(f"recorded {total} lines to {args.dump}")
        return 0
    missing = len(recorded) - total
    print(f"compared {total} lines: {failures} differences" + (f", {missing} recorded lines not produced"
                                                              if missing else ""))
    return 1 if failures or missing else 0


if __name__ == "__main__":
    sys.exit(main())
