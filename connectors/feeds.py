"""The feed list: a YAML file of feeds, validated at start (file, line, key and reason on error)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from connectors.base import FeedConfig
from connectors.errors import ConfigError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_KNOWN = {"id", "url", "kind", "name", "language", "country", "interval", "tags", "options"}


def load_feeds(path: str | Path, environ: dict[str, str] | None = None) -> list[FeedConfig]:
    """Read a feed list; `${VAR}` in URLs is taken from the environment (the offline seed server)."""
    env = dict(os.environ if environ is None else environ)
    path = Path(path)
    try:
        text = path.read_text("utf-8")
        doc = yaml.safe_load(text)
        lines = _lines(yaml.compose(text, Loader=yaml.SafeLoader))
    except OSError as exc:
        raise ConfigError(f"cannot read feed list: {exc.strerror}", file=str(path)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                          line=mark.line + 1 if mark else None) from exc
    entries = doc.get("feeds") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ConfigError("expected a top-level `feeds:` list", file=str(path), line=lines.get("feeds"))

    def error(reason: str, key: str) -> ConfigError:
        """The line of the key itself, else of the nearest enclosing entry."""
        where = key
        while where not in lines and "." in where:
            where = where.rsplit(".", 1)[0]
        return ConfigError(reason, file=str(path), key=key, line=lines.get(where))

    feeds, seen = [], set()
    for i, entry in enumerate(entries):
        feed = _feed(entry, env, f"feeds[{i}]", error)
        if feed.id in seen:
            raise error(f"duplicate feed id {feed.id!r}", f"feeds[{i}].id")
        seen.add(feed.id)
        feeds.append(feed)
    return feeds


def _lines(root: yaml.Node | None) -> dict[str, int]:
    """1-based line of `feeds`, of each `feeds[i]` and of each `feeds[i].key` value in the file."""
    lines: dict[str, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key, value in root.value:
        if key.value != "feeds":
            continue
        lines["feeds"] = key.start_mark.line + 1
        if not isinstance(value, yaml.SequenceNode):
            continue
        for i, item in enumerate(value.value):
            lines[f"feeds[{i}]"] = item.start_mark.line + 1
            if isinstance(item, yaml.MappingNode):
                for k, v in item.value:
                    lines[f"feeds[{i}].{k.value}"] = v.start_mark.line + 1
    return lines


def _feed(entry: Any, env: dict[str, str], where: str, error: Any) -> FeedConfig:
    if not isinstance(entry, dict):
        raise error("each feed must be a mapping", where)
    unknown = set(entry) - _KNOWN
    if unknown:
        raise error(f"unknown keys {sorted(unknown)}", f"{where}.{sorted(unknown)[0]}")
    for key in ("id", "url"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise error("required, a non-empty string", f"{where}.{key}")
    if not _ID.match(entry["id"]):
        raise error("ids are letters, digits, '.', '_' and '-'", f"{where}.id")
    try:
        url = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], entry["url"])
    except KeyError as exc:
        raise error(f"environment variable {exc.args[0]} is not set", f"{where}.url") from None
    if not url.startswith(("http://", "https://")):
        raise error(f"only http(s) URLs are supported, got {url!r}", f"{where}.url")
    interval = entry.get("interval")
    if interval is not None and (not isinstance(interval, int | float) or interval <= 0):
        raise error("seconds, a positive number", f"{where}.interval")
    language = entry.get("language")
    if language is not None and not (isinstance(language, str) and re.fullmatch(r"[a-z]{2}", language)):
        raise error("an ISO 639-1 code such as 'en'", f"{where}.language")
    return FeedConfig(id=entry["id"], url=url, kind=entry.get("kind", "rss"), name=entry.get("name"),
                      language=language, country=entry.get("country"),
                      interval=float(interval) if interval is not None else None,
                      tags=tuple(entry.get("tags") or ()), options=entry.get("options") or {})
