"""What an article is about, before its words are scored.

Most false alarms on real feeds are words from another domain: "kill" in a game guide, a "bomber"
kit in a match report, a "riot" of colour in a fashion review, "dead at 80" in an obituary. A reader
knows which page they are on before reading a word; so does the scorer. The rules' `context`
section (seeds/rules/context.yaml) names the contexts an article can be in and the evidence for each:

    sections   segments of the article's URL path (/sport/, /games/, /commentisfree/)
    tags       the item's and its feed's own categories, and the topics the feed list declares
    sources    outlets (domains) that publish only this kind of page
    labels     a headline's genre label: "Review:", "Opinion |", "... obituary"
    title_pattern  a regex on the headline (a question mark at its end)

and what each means for severity: `cap`, the highest severity an article in it can reach (a game
guide: none; an opinion piece: low, "analysis or opinion about a conflict that reports no new
event"), and `ambiguous`, whether words that are violence only in a news report ("attack",
"killed", "blast") count at all (in a match report they do not; "a gunman opened fire" still does).

An article in several contexts gets the strictest of each. The assessment is data an analyst can
read and change, and it is cheap: a few set look-ups and one regex per headline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from streams.escalation.model import SEVERITIES

if TYPE_CHECKING:
    import yaml

_RANK = {name: i for i, name in enumerate(SEVERITIES)}
_SEGMENT = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
LABEL_SEPARATORS = r"[:|\u2013\u2014\-]"


@dataclass(frozen=True)
class Context:
    """One kind of page and the evidence for it."""

    name: str
    cap: str = "critical"                   # highest severity of an article in this context
    ambiguous: bool = True                  # whether ambiguous phrases count in it
    sections: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    labels: tuple[str, ...] = ()
    title_pattern: re.Pattern[str] | None = None   # a regex the headline matches ("?" at its end: a question)
    description: str = ""


@dataclass(frozen=True)
class Assessment:
    """Where an article stands: the contexts found, the severity cap and whether ambiguous phrases count."""

    contexts: tuple[str, ...] = ()
    cap: str = "critical"
    ambiguous: bool = True

    def capped(self, severity: str) -> str:
        return severity if _RANK[severity] <= _RANK[self.cap] else self.cap


NEWS = Assessment()


class ContextFinder:
    """The contexts of an article, from its URL, tags, source and headline."""

    def __init__(self, contexts: Iterable[Context]) -> None:
        self.contexts = tuple(contexts)
        self._by_section: dict[str, list[Context]] = {}
        self._by_tag: dict[str, list[Context]] = {}
        self._by_source: dict[str, list[Context]] = {}
        labelled: list[tuple[str, Context]] = []
        for ctx in self.contexts:
            for section in ctx.sections:
                self._by_section.setdefault(section, []).append(ctx)
            for tag in {ctx.name, *ctx.tags}:
                self._by_tag.setdefault(tag, []).append(ctx)
            for source in ctx.sources:
                self._by_source.setdefault(source, []).append(ctx)
            labelled += [(label, ctx) for label in ctx.labels]
        self._labels = {label.lower(): ctx for label, ctx in labelled}
        self._patterned = [ctx for ctx in self.contexts if ctx.title_pattern is not None]
        ordered = sorted(labelled, key=lambda p: -len(p[0]))
        alternatives = "|".join(re.escape(label) for label, _ in ordered)
        phrases = "|".join(re.escape(label) for label, _ in ordered if " " in label) or "(?!)"
        # "Review: ...", "Opinion | ...", "... | Letters", "Teddy Thomas obituary", and a label of several
        # words opening the headline ("On this day in 1944, ...")
        self._label_re = re.compile(
            rf"^\s*(?:(?P<head>{alternatives})\s*{LABEL_SEPARATORS}|(?P<phrase>{phrases})\b)"
            rf"|(?:{LABEL_SEPARATORS}|\s)\s*(?P<tail>{alternatives})\s*$",
            re.IGNORECASE) if labelled else None
        self._longest_label = max((len(label) for label, _ in labelled), default=0)

    def assess(self, article: Mapping[str, Any], title: str) -> Assessment:
        found: dict[str, Context] = {}
        for ctx in self._evidence(article, title):
            found[ctx.name] = ctx
        if not found:
            return NEWS
        cap = min((ctx.cap for ctx in found.values()), key=_RANK.__getitem__)
        return Assessment(contexts=tuple(sorted(found)), cap=cap,
                          ambiguous=all(ctx.ambiguous for ctx in found.values()))

    def _evidence(self, article: Mapping[str, Any], title: str) -> Iterable[Context]:
        url = article.get("url")
        if isinstance(url, str) and url:
            try:
                parts = urlsplit(url)
            except ValueError:
                parts = None
            if parts is not None:
                host = parts.hostname or ""
                # the path's first segments and the host's subdomains: /sport/..., sport.example.com
                for segment in [*parts.path.lower().split("/")[1:4], *host.split(".")[:-2]]:
                    if _SEGMENT.fullmatch(segment):
                        yield from self._by_section.get(segment, ())
                yield from self._source(host)
        source = article.get("source")
        if isinstance(source, str):
            yield from self._source(source.lower())
        for field in ("tags", "topics"):
            values = article.get(field)
            if isinstance(values, list):
                for value in values[:50]:
                    if isinstance(value, str):
                        yield from self._by_tag.get(value.strip().lower(), ())
        if self._label_re is not None and title:
            m = self._label(title[:300])
            if m:
                yield self._labels[(m.group("head") or m.group("phrase") or m.group("tail")).lower()]
        for ctx in self._patterned:
            if title and ctx.title_pattern is not None and ctx.title_pattern.search(title[:1000]):
                yield ctx

    def _label(self, title: str) -> re.Match[str] | None:
        """What the label regex's search finds in `title`, trying only where a match can start: at 0
        (a label opening the headline), or a label closing it. That one ends where the headline's
        trailing spaces start, so it starts at most the longest label before, after the spaces and the
        separator before it (the regex would try every space of the headline)."""
        assert self._label_re is not None
        found = self._label_re.match(title)
        if found is None:
            start = len(title.rstrip()) - self._longest_label
            while start > 0 and title[start - 1].isspace():
                start -= 1
            found = self._label_re.search(title, max(1, start - 1))  # (^ matches at 0 only)
        return found

    def _source(self, host: str) -> Iterable[Context]:
        host = host.removeprefix("www.")
        while host:
            yield from self._by_source.get(host, ())
            _, _, host = host.partition(".")
            if "." not in host:
                break


def load_contexts(doc: Any, node: yaml.Node, taken: set[str]) -> list[Context]:
    """The `context` section of a rule file (doc: the loader's validating reader)."""
    out = []
    for name, (k_node, v_node) in doc.free_mapping(node, "context").items():
        key = f"context.{name}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise doc.error(k_node, key, "context names are lowercase snake_case")
        if name in taken:
            raise doc.error(k_node, key, f"context {name!r} is declared twice")
        raw = doc.mapping(v_node, key, {"cap", "ambiguous", "sections", "tags", "sources", "labels", "title_pattern",
                                        "description"})
        pattern = None
        if "title_pattern" in raw:
            try:
                pattern = re.compile(doc.string(raw["title_pattern"], f"{key}.title_pattern"))
            except re.error as exc:
                raise doc.error(raw["title_pattern"], f"{key}.title_pattern", f"bad regex: {exc}") from None
        cap = doc.string(raw["cap"], f"{key}.cap") if "cap" in raw else "critical"
        if cap not in _RANK:
            raise doc.error(raw["cap"], f"{key}.cap", f"{cap!r} is not a severity ({', '.join(SEVERITIES)})")

        lists = {part: frozenset(w.strip().lower() for w, _ in doc.strings(raw[part], f"{key}.{part}"))
                 if part in raw else frozenset() for part in ("sections", "tags", "sources", "labels")}
        for section in lists["sections"]:
            if not _SEGMENT.fullmatch(section):
                raise doc.error(raw["sections"], f"{key}.sections", f"{section!r} is not a URL path segment")
        out.append(Context(name=name, cap=cap,
                           ambiguous=doc.boolean(raw["ambiguous"], f"{key}.ambiguous") if "ambiguous" in raw else True,
                           sections=lists["sections"], tags=lists["tags"], sources=lists["sources"],
                           labels=tuple(sorted(lists["labels"])), title_pattern=pattern,
                           description=doc.string(raw["description"], f"{key}.description")
                           if "description" in raw else ""))
        taken.add(name)
    return out
