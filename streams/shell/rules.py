"""`wirewatch rules test` and `wirewatch rules check`: what a rule author runs while editing rules.

    wirewatch rules test --text "An air strike killed 17 people"     explain the score of a text
    wirewatch rules test article.json | articles.jsonl | notes.txt   ... of articles or a text file
    echo "..." | wirewatch rules test -                             ... of standard input
    wirewatch rules check [seeds/rules/escalation.yaml]              validate a rule file (exit 2 on error)

Input files: Article JSON (one object), Article JSONL (one per line) or plain text (the body of one
article, language detected). Everything runs through the same normalisation and `Rules.score` as
the pipeline, so what this prints is what `wirewatch replay` and the worker decide.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from connectors.errors import RuleError
from streams.escalation import Rules, sentence_bounds
from streams.normalize import normalize
from streams.resources import default_rules

MAX_SENTENCE = 240


def read_articles(text: str, name: str) -> list[dict[str, Any]]:
    """Article JSON, Article JSONL, or plain text (one article whose body is the text)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return [value]
        articles: list[dict[str, Any]] = []
        for line in stripped.splitlines():
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                articles = []
                break
            if isinstance(value, dict):
                articles.append(value)
        if articles:
            return articles
    return [{"id": name, "title": "", "content": text}]


def explain(rules: Rules, article: dict[str, Any], language: str | None = None) -> dict[str, Any]:
    """The escalation of one article, every match with its sentence and how its weight was made."""
    if language:
        article = {**article, "language": language}
    normed = normalize(article)
    norm = normed["norm"]
    esc = rules.score(normed).to_dict()
    texts = {"title": norm["title"], norm["body_field"]: norm["body"]}
    for m in esc["matches"]:
        text = texts.get(m["field"], "")
        s_start, s_end = sentence_bounds(text, m["start"])
        sentence = text[s_start:s_end].strip()
        if len(sentence) > MAX_SENTENCE:  # keep the match in view
            lo = max(s_start, m["start"] - MAX_SENTENCE // 2)
            sentence = "..." + text[lo:lo + MAX_SENTENCE].strip() + "..."
        m["sentence"] = sentence
        if m["category"] == "watchlist":
            continue
        category = rules.categories[m["category"]]
        m["base_weight"] = category.weight
        m["tier"] = category.tier              # the severity an event of its category reaches
        m["field_factor"] = rules.scoring["title_factor"] if m["field"] == "title" else 1.0
        if m.get("modifier"):
            # a declared modifier drops (factor) or caps; the scorer's own ("dated": violence of an earlier
            # year) is declared nowhere
            modifier = rules.modifiers.get(m["modifier"])
            m["modifier_factor"] = modifier.factor if modifier is not None else 1.0
            if modifier is not None and modifier.cap is not None:
                m["modifier_cap"] = modifier.cap
    return {"id": article.get("id"), "language": norm["language"], "rule_version": rules.version,
            "escalation": esc}


def format_explained(result: dict[str, Any], out: TextIO) -> None:
    esc = result["escalation"]
    print(f"{result['id']}  [{result['language']}]  rules {result['rule_version']}", file=out)
    print(f"  severity {esc['severity']}   score {esc['score']}   casualties {esc['casualties']}", file=out)
    print(f"  categories: {', '.join(esc['categories']) or '-'}", file=out)
    print(f"  matches ({len(esc['matches'])}):", file=out)
    for m in esc["matches"]:
        where = f"{m['field']}[{m['start']}:{m['end']}]"
        if m["category"] == "watchlist":
            how = f"{m['kind']} {m['entity']!r}" + (f", similarity {m['similarity']}" if "similarity" in m else "")
        else:
            how = f"{m['tier']}, weight {m['weight']:g} = {m['base_weight']:g}"
            if m["field_factor"] != 1.0:
                how += f" x title {m['field_factor']:g}"
            if m.get("modifier"):
                if m["modifier_factor"] != 1.0:
                    how += f" x {m['modifier']} {m['modifier_factor']:g}"
                if "modifier_cap" in m:
                    how += f"; {m['modifier']}: at most {m['modifier_cap']}"
                elif m["modifier_factor"] == 1.0:
                    how += f"; {m['modifier']}"
            if "count" in m:
                how += f"; count {m['count']}"
        print(f"    {m['term']!r:<26} {m['category']:<20} {where:<20} {how}", file=out)
        print(f"        | {m['sentence']}", file=out)


def rules_test(*, rules_path: str | None, text: str | None, source: str | None, as_json: bool,
               language: str | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    rules = Rules.load(rules_path or default_rules())
    if text is not None:
        articles = [{"id": "text", "title": "", "content": text}]
    elif source in (None, "-"):
        articles = read_articles(sys.stdin.read(), "stdin")
    else:
        path = Path(source)
        try:
            content = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"wirewatch: error: cannot read {source}: {exc}", file=sys.stderr)
            return 2
        articles = read_articles(content, path.name)
    for n, article in enumerate(articles):
        result = explain(rules, article, language)
        if as_json:
            print(json.dumps(result, ensure_ascii=False), file=out)
        else:
            if n:
                print(file=out)
            format_explained(result, out)
    return 0


def rules_check(path: str | None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Load and validate; print a summary, or `file:line: key: reason` and return 2."""
    out, err = out or sys.stdout, err or sys.stderr
    target = path or str(default_rules())
    try:
        rules = Rules.load(target)
    except RuleError as exc:
        where = ":".join(str(p) for p in (exc.file or target, exc.line) if p is not None)
        print(f"{where}: " + (f"{exc.key}: " if exc.key else "") + exc.reason, file=err)
        return 2
    phrases = sum(len(lang.phrases) for lang in rules.language_rules.values())
    print(f"ok: {target}: version {rules.version}, {len(rules.categories)} categories, "
          f"{len(rules.modifiers)} modifiers, languages {', '.join(rules.languages)}, {phrases} phrases, "
          f"{len(rules.watchlist.entities)} watchlist entities; files: {', '.join(rules.files)}", file=out)
    return 0
