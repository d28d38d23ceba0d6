"""The feed list: a YAML file of feeds, validated at start (file, key and reason on error)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from connectors.base import FeedConfig
from connectors.errors import ConfigError

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
DEFAULT_FEEDS = SEEDS / "feeds.yaml"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_KNOWN = {"id", "url", "kind", "name", "language", "country", "interval", "tags", "options"}


def load_feeds(path: str | Path, environ: dict[str, str] | None = None) -> list[FeedConfig]:
    """Read a feed list; `${VAR}` in URLs is taken from the environment (the offline seed server)."""
    env = dict(os.environ if environ is None else environ)
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read feed list: {exc.strerror}", file=str(path)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                          line=mark.line + 1 if mark else None) from exc
    entries = doc.get("feeds") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ConfigError("expected a top-level `feeds:` list", file=str(path))
    feeds, seen = [], set()
    for i, entry in enumerate(entries):
        feed = _feed(entry, env, str(path), f"feeds[{i}]")
        if feed.id in seen:
            raise ConfigError(f"duplicate feed id {feed.id!r}", file=str(path), key=f"feeds[{i}].id")
        seen.add(feed.id)
        feeds.append(feed)
    return feeds


def _feed(entry: Any, env: dict[str, str], file: str, where: str) -> FeedConfig:
    if not isinstance(entry, dict):
        raise ConfigError("each feed must be a mapping", file=file, key=where)
    unknown = set(entry) - _KNOWN
    if unknown:
        raise ConfigError(f"unknown keys {sorted(unknown)}", file=file, key=where)
    for key in ("id", "url"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ConfigError("required, a non-empty string", file=file, key=f"{where}.{key}")
    if not _ID.match(entry["id"]):
        raise ConfigError("ids are letters, digits, '.', '_' and '-'", file=file, key=f"{where}.id")
    try:
        url = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], entry["url"])
    except KeyError as exc:
        raise ConfigError(f"environment variable {exc.args[0]} is not set", file=file,
                          key=f"{where}.url") from None
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"only http(s) URLs are supported, got {url!r}", file=file, key=f"{where}.url")
    interval = entry.get("interval")
    if interval is not None and (not isinstance(interval, int | float) or interval <= 0):
        raise ConfigError("seconds, a positive number", file=file, key=f"{where}.interval")
    language = entry.get("language")
    if language is not None and not (isinstance(language, str) and re.fullmatch(r"[a-z]{2}", language)):
        raise ConfigError("an ISO 639-1 code such as 'en'", file=file, key=f"{where}.language")
    return FeedConfig(id=entry["id"], url=url, kind=entry.get("kind", "rss"), name=entry.get("name"),
                      language=language, country=entry.get("country"),
                      interval=float(interval) if interval is not None else None,
                      tags=tuple(entry.get("tags") or ()), options=entry.get("options") or {})
