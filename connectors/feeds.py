"""The feed list: a YAML file of feeds, validated at start (file, line, key and reason on error).

`${VAR}` in a URL, a header value or a credential is taken from the environment, or from the file
that VAR_FILE names (a mounted Kubernetes or Docker secret; a trailing newline is dropped). Passwords
and tokens may only come that way: the feed list itself (a ConfigMap, a repository file) holds none.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from connectors.base import FeedConfig
from connectors.errors import ConfigError
from connectors.fetcher import Access, origin
from connectors.settings import Secret

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_KNOWN = {"id", "url", "kind", "name", "language", "country", "interval", "tags", "options", "headers", "auth",
          "user_agent"}
_VAR = re.compile(r"\$\{(\w+)\}")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")   # an HTTP token (RFC 9110)
_RESERVED = {"host", "content-length", "transfer-encoding", "connection", "authorization", "user-agent",
             "if-none-match", "if-modified-since", "accept-encoding"}


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
    url = _expand(entry["url"], env, f"{where}.url", error)
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
                      tags=tuple(entry.get("tags") or ()), options=entry.get("options") or {},
                      access=_access(entry, url, env, where, error))


def _expand(text: str, env: dict[str, str], key: str, error: Any) -> str:
    """`${VAR}` from the environment, or from the file VAR_FILE names."""
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in env:
            return env[name]
        path = env.get(f"{name}_FILE", "").strip()
        if not path:
            raise error(f"environment variable {name} is not set (nor {name}_FILE)", key)
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise error(f"cannot read {name}_FILE {path}: {getattr(exc, 'strerror', None) or exc}", key) from None
    return _VAR.sub(value, text)


def _secret(entry: Any, env: dict[str, str], key: str, error: Any) -> Secret:
    if not isinstance(entry, str) or not _VAR.fullmatch(entry.strip()):
        raise error("a secret comes from the environment or a file: write ${VAR} (VAR or VAR_FILE set), "
                    "never the secret itself", key)
    value = _expand(entry.strip(), env, key, error)
    if not value:
        raise error(f"{entry.strip()} is empty", key)
    return Secret(value)


def _access(entry: dict[str, Any], url: str, env: dict[str, str], where: str, error: Any) -> Access:
    """`headers`, `auth` (basic: {username, password} or bearer) and `user_agent` of one feed."""
    headers = entry.get("headers") or {}
    if not isinstance(headers, dict):
        raise error("a mapping of header names to values", f"{where}.headers")
    sent: list[tuple[str, str]] = []
    for name, raw in headers.items():
        key = f"{where}.headers.{name}"
        if not isinstance(name, str) or not _HEADER.match(name) or name.lower() in _RESERVED:
            raise error(f"{name!r} cannot be set here (an HTTP token other than "
                        f"{', '.join(sorted(_RESERVED))}; use `auth` and `user_agent`)", key)
        if not isinstance(raw, str | int | float) or isinstance(raw, bool):
            raise error("a header value is a string", key)
        value = _expand(str(raw), env, key, error)
        if "\n" in value or "\r" in value:
            raise error("a header value is one line", key)
        sent.append((name, Secret(value) if _VAR.search(str(raw)) else value))
    basic, bearer = None, None
    auth = entry.get("auth")
    if auth is not None:
        if not isinstance(auth, dict) or len(auth) != 1 or next(iter(auth)) not in ("basic", "bearer"):
            raise error("`auth` is {basic: {username: ..., password: ${VAR}}} or {bearer: ${VAR}}",
                        f"{where}.auth")
        if "basic" in auth:
            spec = auth["basic"]
            if not isinstance(spec, dict) or set(spec) != {"username", "password"} or \
                    not isinstance(spec["username"], str) or not spec["username"]:
                raise error("basic needs `username` and `password` (${VAR})", f"{where}.auth.basic")
            basic = (_expand(spec["username"], env, f"{where}.auth.basic.username", error),
                     _secret(spec["password"], env, f"{where}.auth.basic.password", error))
        else:
            bearer = _secret(auth["bearer"], env, f"{where}.auth.bearer", error)
        if not url.startswith("https://"):
            import logging

            logging.getLogger(__name__).warning("feed %s sends credentials over plain http", entry["id"])
    user_agent = entry.get("user_agent")
    if user_agent is not None and (not isinstance(user_agent, str) or not user_agent.strip()
                                   or "\n" in user_agent):
        raise error("a non-empty one-line string", f"{where}.user_agent")
    return Access(origin=origin(url), headers=tuple(sent), basic=basic, bearer=bearer,
                  user_agent=user_agent.strip() if user_agent else None)
