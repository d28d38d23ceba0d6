"""Loading rule files: every key validated, every error with file, line, key and reason.

YAML nodes keep their marks, so an error names the line it is on. The main file (escalation.yaml)
declares thresholds, scoring, categories and modifiers and includes the other files; each file with
phrases names its `language:`; the watchlist may sit in any file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connectors.errors import RuleError
from streams.escalation.context import Context, load_contexts
from streams.escalation.model import MAX_CASUALTIES, SEVERITIES, Category, Entity, Language, Modifier, Watchlist
from streams.escalation.phrases import compile_phrase, fold


class _Doc:
    """Validating reader over a composed YAML node tree of one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise RuleError(f"cannot read rule file: {exc.strerror or exc}", file=str(path)) from exc
        except UnicodeDecodeError as exc:
            raise RuleError("rule file is not UTF-8", file=str(path)) from exc
        try:
            self.root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else None
            raise RuleError(f"YAML syntax: {exc.problem}", file=str(path), line=line) from exc
        except yaml.YAMLError as exc:
            raise RuleError(f"YAML: {exc}", file=str(path)) from exc
        if self.root is None:
            raise RuleError("empty rule file", file=str(path), line=1)

    def error(self, node: yaml.Node | None, key: str, reason: str) -> RuleError:
        line = node.start_mark.line + 1 if node is not None else None
        return RuleError(reason, file=str(self.path), line=line, key=key or None)

    def mapping(self, node: yaml.Node, key: str, allowed: set[str],
                required: set[str] = frozenset()) -> dict[str, yaml.Node]:  # type: ignore[assignment]
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, key, "expected a mapping")
        out: dict[str, yaml.Node] = {}
        for k_node, v_node in node.value:
            name = self.scalar(k_node, key)
            path = f"{key}.{name}" if key else name
            if allowed and name not in allowed:
                raise self.error(k_node, path, f"unknown key {name!r} (allowed: {', '.join(sorted(allowed))})")
            if name in out:
                raise self.error(k_node, path, f"duplicate key {name!r}")
            out[name] = v_node
        missing = sorted(set(required) - set(out))
        if missing:
            raise self.error(node, key, f"missing required key {missing[0]!r}")
        return out

    def free_mapping(self, node: yaml.Node, key: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """A mapping whose keys are names chosen by the author (categories, words)."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, key, "expected a mapping")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k_node, v_node in node.value:
            name = self.scalar(k_node, key)
            if name in out:
                raise self.error(k_node, f"{key}.{name}", f"duplicate key {name!r}")
            out[name] = (k_node, v_node)
        return out

    def scalar(self, node: yaml.Node, key: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, key, "expected a single value")
        return str(node.value)

    def string(self, node: yaml.Node, key: str) -> str:
        value = self.scalar(node, key).strip()
        if not value:
            raise self.error(node, key, "empty string")
        return value

    def number(self, node: yaml.Node, key: str, *, lo: float = 0.0, hi: float = 1e9) -> float:
        raw = self.scalar(node, key)
        try:
            value = float(raw)
        except ValueError:
            raise self.error(node, key, f"expected a number, got {raw!r}") from None
        if not lo <= value <= hi:
            raise self.error(node, key, f"{value:g} is outside [{lo:g}, {hi:g}]")
        return value

    def integer(self, node: yaml.Node, key: str, *, lo: int = 0, hi: int = 1_000_000_000) -> int:
        raw = self.scalar(node, key)
        if not re.fullmatch(r"-?\d+", raw.strip()):
            raise self.error(node, key, f"expected an integer, got {raw!r}")
        value = int(raw)
        if not lo <= value <= hi:
            raise self.error(node, key, f"{value} is outside [{lo}, {hi}]")
        return value

    def strings(self, node: yaml.Node, key: str) -> list[tuple[str, yaml.Node]]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, key, "expected a list")
        return [(self.string(item, f"{key}[{i}]"), item) for i, item in enumerate(node.value)]

    def boolean(self, node: yaml.Node, key: str) -> bool:
        raw = self.scalar(node, key).lower()
        if raw not in ("true", "false"):
            raise self.error(node, key, f"expected true or false, got {raw!r}")
        return raw == "true"


@dataclass
class _LanguageDraft:
    """What the files say about one language, gathered file by file, then frozen into a Language."""

    code: str
    phrases: list[tuple[str, str]] = field(default_factory=list)
    ambiguous: list[tuple[str, str]] = field(default_factory=list)
    armed: list[str] = field(default_factory=list)
    headline: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    modifiers: list[tuple[str, str]] = field(default_factory=list)
    number_words: dict[str, int] = field(default_factory=dict)
    scales: dict[str, int] = field(default_factory=dict)
    count_window: int = 5
    count_stop: set[str] = field(default_factory=set)
    count_not_after: set[str] = field(default_factory=set)
    count_not_before: set[str] = field(default_factory=set)

    def frozen(self) -> Language:
        return Language(self.code, tuple(self.phrases), tuple(self.ambiguous), tuple(self.armed),
                        tuple(self.headline), tuple(self.exclude), tuple(self.modifiers), self.number_words,
                        self.scales, self.count_window, frozenset(self.count_stop), frozenset(self.count_not_after),
                        frozenset(self.count_not_before))


def load_rules(path: str | Path) -> dict[str, Any]:
    """Load and validate a rule file and the files it includes: the fields of Rules."""
    main_path = Path(path)
    doc = _Doc(main_path)
    top = doc.mapping(doc.root, "", {"version", "severity", "scoring", "casualty_bonus", "categories",
                                     "modifiers", "default_language", "include", "language", "numbers",
                                     "phrases", "ambiguous", "armed", "headline", "exclude", "casualty_counts",
                                     "watchlist", "context"},
                      {"version", "categories"})
    version = doc.string(top["version"], "version")
    severity = _severity(doc, top.get("severity"))
    scoring = _scoring(doc, top.get("scoring"))
    casualty_bonus = _casualty_bonus(doc, top.get("casualty_bonus"))
    categories = _categories(doc, top["categories"])
    modifiers = _modifiers(doc, top.get("modifiers"))
    default_language = doc.string(top["default_language"], "default_language") \
        if "default_language" in top else "en"
    languages: dict[str, _LanguageDraft] = {}
    entities: list[Entity] = []
    watch: dict[str, Any] = {"weight": 0.5, "cap": 1.5, "threshold": 88.0, "exact_below": 6, "folds": []}
    files = [str(main_path)]
    parts: list[tuple[_Doc, dict[str, yaml.Node]]] = [(doc, top)]
    if "include" in top:
        for name, node in doc.strings(top["include"], "include"):
            sub_path = (main_path.parent / name)
            if not sub_path.is_file():
                raise doc.error(node, "include", f"included file {name!r} not found")
            sub = _Doc(sub_path)
            sub_top = sub.mapping(sub.root, "", {"language", "numbers", "phrases", "ambiguous", "armed", "headline",
                                                 "exclude", "modifiers", "casualty_counts", "watchlist", "context"})
            parts.append((sub, sub_top))
            files.append(str(sub_path))
    contexts: list[Context] = []
    for part_doc, part in parts:
        language_keys = {"numbers", "phrases", "ambiguous", "armed", "headline", "exclude", "modifiers",
                         "casualty_counts"} & set(part)
        if part is top:
            language_keys.discard("modifiers")  # the main file's modifiers are the declarations
        if language_keys:
            if "language" not in part:
                key = sorted(language_keys)[0]
                raise part_doc.error(part[key], key, "phrases need a `language:` (ISO 639-1) in this file")
            code = part_doc.string(part["language"], "language").lower()
            if not re.fullmatch(r"[a-z]{2}", code):
                raise part_doc.error(part["language"], "language", f"{code!r} is not an ISO 639-1 code")
            lang = languages.setdefault(code, _LanguageDraft(code))
            sub_root = {k: part[k] for k in language_keys}
            _load_language(part_doc, sub_root, categories, modifiers, lang)
        if "watchlist" in part:
            _watchlist(part_doc, part["watchlist"], watch, entities)
        if "context" in part:
            contexts.extend(load_contexts(part_doc, part["context"], {c.name for c in contexts}))
    if not languages:
        raise doc.error(doc.root, "", "no phrases: no file declares a `language:` with phrases")
    if default_language not in languages:
        raise doc.error(top.get("default_language"), "default_language",
                        f"no phrases for default language {default_language!r}")
    return {"version": version, "severity": severity, "categories": categories, "modifiers": modifiers,
            "scoring": scoring, "casualty_bonus": tuple(casualty_bonus), "default_language": default_language,
            "files": tuple(files), "language_rules": {code: lang.frozen() for code, lang in languages.items()},
            "watchlist": Watchlist(weight=watch["weight"], cap=watch["cap"], threshold=watch["threshold"],
                                   exact_below=int(watch["exact_below"]),
                                   folds=tuple(watch["folds"]), entities=tuple(entities)),
            "contexts": tuple(contexts)}



def _load_language(doc: _Doc, root: dict[str, yaml.Node], categories: Mapping[str, Category],
                   modifiers: Mapping[str, Modifier], lang: _LanguageDraft) -> None:
    target: dict[str, int] | set[str]  # numbers: word -> value; casualty_counts: a set of words
    if "numbers" in root:
        nums = doc.mapping(root["numbers"], "numbers", {"words", "scales"})
        for part, target in (("words", lang.number_words), ("scales", lang.scales)):
            if part in nums:
                for word, (_k, v_node) in doc.free_mapping(nums[part], f"numbers.{part}").items():
                    target[fold(word)] = doc.integer(v_node, f"numbers.{part}.{word}", lo=0, hi=MAX_CASUALTIES)
    for section, target_list in (("phrases", lang.phrases), ("ambiguous", lang.ambiguous)):
        if section not in root:
            continue
        for cat, (k_node, v_node) in doc.free_mapping(root[section], section).items():
            if cat not in categories:
                raise doc.error(k_node, f"{section}.{cat}",
                                f"unknown category {cat!r}: declare it under categories in the main file")
            for i, (phrase, node) in enumerate(doc.strings(v_node, f"{section}.{cat}")):
                _checked(doc, node, f"{section}.{cat}[{i}]", phrase, lang)
                target_list.append((cat, phrase))
    for section, sources in (("armed", lang.armed), ("headline", lang.headline)):
        if section in root:
            for i, (phrase, node) in enumerate(doc.strings(root[section], section)):
                _checked(doc, node, f"{section}[{i}]", phrase, lang)
                sources.append(phrase)
    if "exclude" in root:
        for i, (phrase, node) in enumerate(doc.strings(root["exclude"], "exclude")):
            _checked(doc, node, f"exclude[{i}]", phrase, lang)
            lang.exclude.append(phrase)
    if "modifiers" in root:
        for name, (k_node, v_node) in doc.free_mapping(root["modifiers"], "modifiers").items():
            if name not in modifiers:
                raise doc.error(k_node, f"modifiers.{name}",
                                f"unknown modifier {name!r}: declare it under modifiers in the main file")
            for i, (phrase, node) in enumerate(doc.strings(v_node, f"modifiers.{name}")):
                _checked(doc, node, f"modifiers.{name}[{i}]", phrase, lang)
                lang.modifiers.append((name, phrase))
    if "casualty_counts" in root:
        key = "casualty_counts"
        cc = doc.mapping(root[key], key, {"window", "stop", "not_after", "not_before"})
        if "window" in cc:
            lang.count_window = doc.integer(cc["window"], f"{key}.window", lo=1, hi=20)
        for part, target in (("stop", lang.count_stop), ("not_after", lang.count_not_after),
                             ("not_before", lang.count_not_before)):
            if part in cc:
                target.update(fold(w) for w, _ in doc.strings(cc[part], f"{key}.{part}"))


def _checked(doc: _Doc, node: yaml.Node, key: str, phrase: str, lang: _LanguageDraft) -> None:
    try:
        regex = compile_phrase(phrase, lang.number_words)
        compiled = re.compile(regex)
    except (ValueError, re.error) as exc:
        raise doc.error(node, key, f"bad phrase {phrase!r}: {exc}") from None
    if compiled.match(""):
        raise doc.error(node, key, f"phrase {phrase!r} matches the empty string")


_SEVERITY_DEFAULTS = {"mass_casualties": 10}


def _severity(doc: _Doc, node: yaml.Node | None) -> dict[str, int]:
    """What the policy fixes in numbers: `mass_casualties`, people killed in one event that make it
    mass-casualty violence (critical)."""
    values = dict(_SEVERITY_DEFAULTS)
    if node is None:
        return values
    raw = doc.mapping(node, "severity", set(_SEVERITY_DEFAULTS))
    for name, value in raw.items():
        values[name] = doc.integer(value, f"severity.{name}", lo=1, hi=MAX_CASUALTIES)
    return values


_SCORING_DEFAULTS = {"title_factor": 1.5, "repeat_bonus": 0.25, "category_cap": 1.5, "max_chars": 20_000.0,
                     "count_min_factor": 0.5}


def _scoring(doc: _Doc, node: yaml.Node | None) -> dict[str, float]:
    values = dict(_SCORING_DEFAULTS)
    if node is None:
        return values
    raw = doc.mapping(node, "scoring", set(_SCORING_DEFAULTS))
    limits = {"title_factor": (0, 10), "repeat_bonus": (0, 1), "category_cap": (1, 10),
              "max_chars": (100, 5_000_000), "count_min_factor": (0, 1)}
    for name, value in raw.items():
        lo, hi = limits[name]
        values[name] = doc.number(value, f"scoring.{name}", lo=lo, hi=hi)
    return values


def _casualty_bonus(doc: _Doc, node: yaml.Node | None) -> list[tuple[int, float]]:
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise doc.error(node, "casualty_bonus", "expected a list of {min: N, add: X}")
    out = []
    for i, item in enumerate(node.value):
        key = f"casualty_bonus[{i}]"
        raw = doc.mapping(item, key, {"min", "add"}, {"min", "add"})
        out.append((doc.integer(raw["min"], f"{key}.min", lo=1),
                    doc.number(raw["add"], f"{key}.add", lo=0, hi=100)))
    return out


def _categories(doc: _Doc, node: yaml.Node) -> dict[str, Category]:
    out = {}
    for name, (k_node, v_node) in doc.free_mapping(node, "categories").items():
        key = f"categories.{name}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise doc.error(k_node, key, "category names are lowercase snake_case")
        if name == "watchlist":
            raise doc.error(k_node, key, "`watchlist` is reserved for watchlist matches")
        raw = doc.mapping(v_node, key, {"weight", "tier", "counts", "killed", "needs", "description"},
                          {"weight", "tier"})
        if "needs" in raw and doc.string(raw["needs"], f"{key}.needs") != "armed":
            raise doc.error(raw["needs"], f"{key}.needs", "the only requirement is `armed` (armed context)")
        out[name] = Category(name=name, weight=doc.number(raw["weight"], f"{key}.weight", lo=0, hi=100),
                             counts=doc.boolean(raw["counts"], f"{key}.counts") if "counts" in raw else False,
                             description=doc.string(raw["description"], f"{key}.description")
                             if "description" in raw else "",
                             tier=_tier(doc, raw["tier"], f"{key}.tier"),
                             counts_killed=doc.boolean(raw["killed"], f"{key}.killed") if "killed" in raw else False,
                             needs_armed="needs" in raw)
    if not out:
        raise doc.error(node, "categories", "no categories")
    return out


def _modifiers(doc: _Doc, node: yaml.Node | None) -> dict[str, Modifier]:
    out: dict[str, Modifier] = {}
    if node is None:
        return out
    for name, (_k, v_node) in doc.free_mapping(node, "modifiers").items():
        key = f"modifiers.{name}"
        raw = doc.mapping(v_node, key, {"factor", "cap", "applies_to", "frames", "before", "after", "scope",
                                        "description"})
        if "factor" not in raw and "cap" not in raw:
            raise doc.error(v_node, key, "a modifier needs a `factor` (0 drops the phrase) and/or a `cap`")
        applies = doc.string(raw["applies_to"], f"{key}.applies_to") if "applies_to" in raw else "all"
        if applies not in ("all", "ambiguous"):
            raise doc.error(raw["applies_to"], f"{key}.applies_to", "`all` phrases or `ambiguous` ones only")
        scope = doc.string(raw["scope"], f"{key}.scope") if "scope" in raw else "window"
        if scope not in ("window", "sentence"):
            raise doc.error(raw["scope"], f"{key}.scope", "scope is `window` (before/after words) or `sentence`")
        before = doc.integer(raw["before"], f"{key}.before", hi=50) if "before" in raw else 0
        after = doc.integer(raw["after"], f"{key}.after", hi=50) if "after" in raw else 0
        if scope == "window" and not before and not after:
            raise doc.error(v_node, key, "a window modifier needs `before` and/or `after` (words)")
        out[name] = Modifier(name=name, factor=doc.number(raw["factor"], f"{key}.factor", lo=0, hi=1)
                             if "factor" in raw else 1.0,
                             before=before, after=after, sentence=scope == "sentence",
                             cap=_tier(doc, raw["cap"], f"{key}.cap") if "cap" in raw else None,
                             ambiguous_only=applies == "ambiguous",
                             frames=doc.boolean(raw["frames"], f"{key}.frames") if "frames" in raw else False)
    return out


def _watchlist(doc: _Doc, node: yaml.Node, watch: dict[str, Any], entities: list[Entity]) -> None:
    raw = doc.mapping(node, "watchlist", {"weight", "cap", "threshold", "exact_below", "transliteration",
                                                     "actors", "places"})
    for name, lo, hi in (("weight", 0, 10), ("cap", 0, 100), ("threshold", 50, 100), ("exact_below", 0, 20)):
        if name in raw:
            watch[name] = doc.number(raw[name], f"watchlist.{name}", lo=lo, hi=hi)
    if "transliteration" in raw:
        for src, (k_node, v_node) in doc.free_mapping(raw["transliteration"], "watchlist.transliteration").items():
            dst = doc.scalar(v_node, f"watchlist.transliteration.{src}")
            if not re.fullmatch(r"[a-z]+", src) or not re.fullmatch(r"[a-z]*", dst):
                raise doc.error(k_node, f"watchlist.transliteration.{src}", "use lowercase ASCII letters")
            watch["folds"].append((src, dst))
    for kind_key, kind in (("actors", "actor"), ("places", "place")):
        if kind_key not in raw:
            continue
        for name, (_k, v_node) in doc.free_mapping(raw[kind_key], f"watchlist.{kind_key}").items():
            key = f"watchlist.{kind_key}.{name}"
            aliases = [name] + [a for a, _ in doc.strings(v_node, key)] if isinstance(v_node, yaml.SequenceNode) \
                else _raise(doc.error(v_node, key, "expected a list of aliases (may be empty: [])"))
            exact = frozenset(a for a in aliases if len(re.sub(r"\W", "", a)) < 5)
            keys = [a for a in aliases if a not in exact]
            entities.append(Entity(name=name, kind=kind, exact=exact, keys=tuple(keys)))


def _tier(doc: _Doc, node: yaml.Node, key: str) -> str:
    tier = doc.string(node, key)
    if tier not in SEVERITIES:
        raise doc.error(node, key, f"{tier!r} is not a severity ({', '.join(SEVERITIES)})")
    return tier


def _raise(exc: Exception) -> Any:
    raise exc
