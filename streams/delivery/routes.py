"""The routes file: named destinations and the routes that send alerts to them.

    destinations:
      ops-slack: {url: "${SLACK_WEBHOOK_URL}"}          # any Apprise URL; ${VAR} from the environment
    routes:
      - name: critical-everywhere
        to: [ops-slack]
        match: {min_severity: critical}
        min_interval: 10m                 # updates of one alert at most this often (unless severity rises)
        quiet_hours: {from: "22:00", to: "07:00", timezone: Europe/Paris, urgent: critical}
        digest: 30m                       # one message per 30 minutes instead of one per alert

Validated when it is loaded: an error names the file, the line, the key and the reason, like the
feed list and the rule files. Every route that matches an alert delivers it (routes are not tried
in order); the criteria of one route combine with AND, the values of one criterion with OR.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from connectors.errors import ConfigError
from streams.delivery.timing import QuietHours, parse_clock, parse_duration, zone

SEVERITIES = ("none", "low", "medium", "high", "critical")
RANK = {name: i for i, name in enumerate(SEVERITIES)}
REASONS = ("new", "escalated", "spread", "merged")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV = re.compile(r"\$\{(\w+)\}")
_ROUTE_KEYS = {"name", "to", "match", "min_interval", "quiet_hours", "digest", "digest_max", "description"}
_MATCH_LISTS = ("categories", "languages", "places", "sources", "feeds", "tags", "reasons")
_MATCH_KEYS = {"min_severity", "max_severity", "text", "not_text", *_MATCH_LISTS}
_QUIET_KEYS = {"from", "to", "timezone", "urgent"}


@dataclass(frozen=True)
class Destination:
    name: str
    urls: tuple[str, ...]          # Apprise URLs, environment expanded (secrets: never logged)
    shown: tuple[str, ...]         # the URLs as written in the file (with ${VAR}), for messages


@dataclass(frozen=True)
class Match:
    """What an alert must carry to take a route. Fields absent from an alert match no list criterion."""

    min_severity: str = "medium"
    max_severity: str = "critical"
    categories: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    places: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    feeds: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset()
    text: re.Pattern[str] | None = None
    not_text: re.Pattern[str] | None = None

    def __call__(self, alert: Mapping[str, Any]) -> bool:
        rank = RANK.get(str(alert.get("severity", "none")), 0)
        if not RANK[self.min_severity] <= rank <= RANK[self.max_severity]:
            return False
        if self.reasons and str(alert.get("reason", "")) not in self.reasons:
            return False
        for name in ("categories", "languages", "places", "feeds", "tags"):
            wanted: frozenset[str] = getattr(self, name)
            if wanted and not wanted & _folded(alert.get(name)):
                return False
        if self.sources and not self.sources & (_folded(alert.get("sources")) | _folded([alert.get("source")])):
            return False
        text = searchable(alert)
        if self.text is not None and not self.text.search(text):
            return False
        return self.not_text is None or not self.not_text.search(text)


def searchable(alert: Mapping[str, Any]) -> str:
    """The text that `text` criteria and pattern mutes look at: the title and the matched terms."""
    terms = [str(m.get("term", "")) for m in alert.get("matches") or () if isinstance(m, Mapping)]
    return " ".join([str(alert.get("title", "")), *terms])


def _folded(values: Any) -> frozenset[str]:
    if not isinstance(values, list | tuple | set | frozenset):
        return frozenset()
    return frozenset(str(v).casefold() for v in values if v)


@dataclass(frozen=True)
class Route:
    name: str
    to: tuple[str, ...]
    match: Match = field(default_factory=Match)
    min_interval_s: float = 0.0
    quiet: QuietHours | None = None
    digest_s: float = 0.0
    digest_max: int = 20


@dataclass(frozen=True)
class Routes:
    destinations: Mapping[str, Destination]
    routes: tuple[Route, ...]
    source: str = ""

    def matching(self, alert: Mapping[str, Any]) -> list[Route]:
        return [route for route in self.routes if route.match(alert)]


def load_routes(path: str | Path, environ: Mapping[str, str] | None = None,
                check_url: Callable[[str], bool] | None = None) -> Routes:
    """Read and validate a routes file. `check_url` says whether a destination URL is one the
    channel library understands (default: Apprise's own parser)."""
    env = os.environ if environ is None else environ
    path = Path(path)
    try:
        text = path.read_text("utf-8")
        doc = yaml.safe_load(text)
        lines = _lines(yaml.compose(text, Loader=yaml.SafeLoader), "")
    except OSError as exc:
        raise ConfigError(f"cannot read the routes file: {exc.strerror}", file=str(path)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                          line=mark.line + 1 if mark else None) from exc

    def error(reason: str, key: str) -> ConfigError:
        where = key
        while where not in lines and any(sep in where for sep in ".["):
            where = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", where)
        return ConfigError(reason, file=str(path), key=key, line=lines.get(where, 1))

    if not isinstance(doc, dict):
        raise error("expected a mapping with `destinations:` and `routes:`", "routes")
    unknown = set(doc) - {"destinations", "routes"}
    if unknown:
        raise error(f"unknown top-level keys {sorted(unknown)} (destinations, routes)", sorted(unknown)[0])
    destinations = _destinations(doc.get("destinations"), env, error, check_url or _apprise_understands)
    entries = doc.get("routes")
    if not isinstance(entries, list) or not entries:
        raise error("a non-empty list of routes", "routes")
    routes, names = [], set()
    for i, entry in enumerate(entries):
        route = _route(entry, f"routes[{i}]", destinations, error)
        if route.name in names:
            raise error(f"duplicate route name {route.name!r}", f"routes[{i}].name")
        names.add(route.name)
        routes.append(route)
    return Routes(destinations, tuple(routes), str(path))


def _apprise_understands(url: str) -> bool:
    import apprise

    return apprise.Apprise.instantiate(url, suppress_exceptions=True) is not None


def _destinations(value: Any, env: Mapping[str, str], error: Any, check_url: Callable[[str], bool]
                  ) -> dict[str, Destination]:
    if not isinstance(value, dict) or not value:
        raise error("a mapping of destination names to {url: ...}", "destinations")
    found = {}
    for name, spec in value.items():
        where = f"destinations.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise error("names are letters, digits, '.', '_' and '-'", where)
        if isinstance(spec, str):
            spec = {"url": spec}
        if not isinstance(spec, dict) or set(spec) - {"url", "urls", "description"}:
            raise error("a mapping with `url` (or `urls`, a list) and an optional `description`", where)
        raw = spec.get("urls", [spec["url"]] if "url" in spec else [])
        if not isinstance(raw, list) or not raw or not all(isinstance(u, str) and u.strip() for u in raw):
            raise error("one or more notification URLs (Apprise syntax, e.g. slack://..., mailtos://...)",
                        f"{where}.url" if "url" in spec else f"{where}.urls")
        urls = []
        for shown in raw:
            key = f"{where}.url" if "url" in spec else f"{where}.urls"
            missing = [v for v in _ENV.findall(shown) if not env.get(v)]
            if missing:
                raise error(f"environment variable {missing[0]} is not set", key)
            url = _ENV.sub(lambda m: env[m.group(1)], shown)
            if not check_url(url):
                raise error(f"not a notification URL this version of Apprise understands: {shown!r}", key)
            urls.append(url)
        found[name] = Destination(name, tuple(urls), tuple(raw))
    return found


def _route(entry: Any, where: str, destinations: Mapping[str, Destination], error: Any) -> Route:
    if not isinstance(entry, dict):
        raise error("each route is a mapping with `name`, `to` and `match`", where)
    unknown = set(entry) - _ROUTE_KEYS
    if unknown:
        raise error(f"unknown keys {sorted(unknown)} (one of {', '.join(sorted(_ROUTE_KEYS))})",
                    f"{where}.{sorted(unknown)[0]}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise error("required: letters, digits, '.', '_' and '-'", f"{where}.name")
    to = entry.get("to")
    to = [to] if isinstance(to, str) else to
    if not isinstance(to, list) or not to:
        raise error("a list of destination names", f"{where}.to")
    for i, target in enumerate(to):
        if target not in destinations:
            raise error(f"no destination named {target!r} (known: {', '.join(sorted(destinations))})",
                        f"{where}.to[{i}]")
    try:
        interval = parse_duration(entry.get("min_interval", 0))
    except ValueError as exc:
        raise error(str(exc), f"{where}.min_interval") from None
    try:
        digest = parse_duration(entry.get("digest", 0))
    except ValueError as exc:
        raise error(str(exc), f"{where}.digest") from None
    if digest and digest < 1:
        raise error("a digest period of at least 1s", f"{where}.digest")
    digest_max = entry.get("digest_max", 20)
    if not isinstance(digest_max, int) or isinstance(digest_max, bool) or not 1 <= digest_max <= 500:
        raise error("a whole number between 1 and 500", f"{where}.digest_max")
    return Route(name=name, to=tuple(to), match=_match(entry.get("match") or {}, f"{where}.match", error),
                 min_interval_s=interval, quiet=_quiet(entry.get("quiet_hours"), f"{where}.quiet_hours", error),
                 digest_s=digest, digest_max=digest_max)


def _match(spec: Any, where: str, error: Any) -> Match:
    if not isinstance(spec, dict):
        raise error("a mapping of criteria", where)
    unknown = set(spec) - _MATCH_KEYS
    if unknown:
        raise error(f"unknown criteria {sorted(unknown)} (one of {', '.join(sorted(_MATCH_KEYS))})",
                    f"{where}.{sorted(unknown)[0]}")
    values: dict[str, Any] = {}
    for key in ("min_severity", "max_severity"):
        if key in spec:
            if spec[key] not in RANK:
                raise error(f"one of {', '.join(SEVERITIES)}, got {spec[key]!r}", f"{where}.{key}")
            values[key] = spec[key]
    if RANK[values.get("min_severity", "medium")] > RANK[values.get("max_severity", "critical")]:
        raise error("min_severity is above max_severity", f"{where}.max_severity")
    for key in _MATCH_LISTS:
        if key in spec:
            items = spec[key] if isinstance(spec[key], list) else [spec[key]]
            if not items or not all(isinstance(v, str) and v.strip() for v in items):
                raise error("a non-empty string or a list of them", f"{where}.{key}")
            if key == "reasons" and set(items) - set(REASONS):
                raise error(f"reasons are {', '.join(REASONS)}", f"{where}.{key}")
            values[key] = frozenset(v.strip().casefold() for v in items)
    for key in ("text", "not_text"):
        if key in spec:
            if not isinstance(spec[key], str) or not spec[key].strip():
                raise error("a regular expression (case-insensitive)", f"{where}.{key}")
            try:
                values[key] = re.compile(spec[key], re.IGNORECASE)
            except re.error as exc:
                raise error(f"not a valid regular expression: {exc}", f"{where}.{key}") from None
    return Match(**values)


def _quiet(spec: Any, where: str, error: Any) -> QuietHours | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or set(spec) - _QUIET_KEYS or not {"from", "to"} <= set(spec):
        raise error("a mapping with `from` and `to` (HH:MM), optional `timezone` (default UTC) and `urgent` "
                    "(the lowest severity never held, default critical)", where)
    try:
        start, end = parse_clock(spec["from"]), parse_clock(spec["to"])
    except ValueError as exc:
        raise error(str(exc), f"{where}.from") from None
    if start == end:
        raise error("`from` and `to` are the same time", f"{where}.to")
    try:
        tz = zone(spec.get("timezone", "UTC"))
    except ValueError as exc:
        raise error(str(exc), f"{where}.timezone") from None
    urgent = spec.get("urgent", "critical")
    if urgent not in RANK:
        raise error(f"one of {', '.join(SEVERITIES)}", f"{where}.urgent")
    return QuietHours(start, end, tz, urgent)


def _lines(node: yaml.Node | None, prefix: str) -> dict[str, int]:
    """1-based line of every mapping key and sequence item, by dotted path (`routes[0].match.text`)."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}.{key.value}" if prefix else str(key.value)
            lines[path] = key.start_mark.line + 1
            lines.update(_lines(value, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{prefix}[{i}]"
            lines[path] = item.start_mark.line + 1
            lines.update(_lines(item, path))
    return lines


def describe(routes: Routes) -> Sequence[str]:
    """One line per route, for `wirewatch routes check` and the start-up log."""
    out = []
    for route in routes.routes:
        extra = [f"min_interval {route.min_interval_s:g}s" if route.min_interval_s else "",
                 f"digest {route.digest_s:g}s" if route.digest_s else "",
                 f"quiet {route.quiet.start:%H:%M}-{route.quiet.end:%H:%M} {route.quiet.tz.key}" if route.quiet else ""]
        out.append(f"{route.name}: >= {route.match.min_severity} -> {', '.join(route.to)}"
                   + "".join(f"; {e}" for e in extra if e))
    return out
