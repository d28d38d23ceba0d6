"""Files wirewatch ships beside its code: the escalation rules, the seed feeds and article, and the
local broker's build files (Maven POM, server and log configuration).

In the repository they live in top-level folders (`seeds/`, `deploy/kafka/`); the wheel carries them
as the data packages `streams.seeds` and `streams.shell.kafka` (setup.py maps the folders there), so
an installed wirewatch finds them through `importlib.resources`. A source checkout (recognised by
the `pyproject.toml` beside the `streams` package) uses its own folders first, so that an editable
install of another checkout in the same virtualenv never hands this tree someone else's files.

The rules load their includes by path, so every function returns a real directory or file: pip
installs wheels unpacked, and a zip import (no files on disk) is refused with the reason.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from connectors.errors import ConfigError

__all__ = ["default_feeds", "default_rules", "kafka_files", "seed_article", "seed_articles", "seed_feeds", "seeds"]

_CHECKOUT = Path(__file__).resolve().parent.parent
# data package in the wheel -> folder in the repository (setup.py maps the same pairs)
SHIPPED = {"streams.seeds": "seeds", "streams.shell.kafka": "deploy/kafka"}


def _shipped(package: str) -> Path:
    folder = _CHECKOUT / SHIPPED[package]
    if (_CHECKOUT / "pyproject.toml").is_file() and folder.is_dir():
        return folder
    # through the regular parent package: a data folder without __init__.py is a namespace package,
    # whose files() is a MultiplexedPath rather than a directory
    parent, _, leaf = package.rpartition(".")
    found = resources.files(parent).joinpath(leaf)
    if not isinstance(found, Path):
        raise ConfigError(f"the shipped files ({package}) are not on the file system ({found!r}): install "
                          "wirewatch unpacked (pip does), not as a zip", key=package)
    if not found.is_dir():
        raise ConfigError(f"the shipped files ({package}) are missing from {found}: reinstall wirewatch from "
                          "its wheel or sdist", key=package)
    return found


def seeds() -> Path:
    """The folder of the shipped rules (rules/), seed feeds (feeds/, feeds.yaml) and seed article."""
    return _shipped("streams.seeds")


def default_rules() -> Path:
    """The shipped escalation rule file (it includes the others of its folder)."""
    return seeds() / "rules" / "escalation.yaml"


def seed_feeds() -> Path:
    """The recorded demo feeds that `wirewatch run` serves on a local HTTP server."""
    return seeds() / "feeds"


def default_feeds() -> Path:
    """The feed list of the recorded demo feeds (`${WIREWATCH_SEED_SERVER}` URLs)."""
    return seeds() / "feeds.yaml"


def seed_article() -> Path:
    """The seed AFP dispatch (plain text) that the demo feeds carry with two republished copies."""
    return min(path for path in seeds().glob("000_*.txt") if len(path.suffixes) == 1)   # (not 000_*.fr.txt)


def kafka_files() -> Path:
    """deploy/kafka: the pinned broker's POM, server.properties templates and log4j2 configuration."""
    return _shipped("streams.shell.kafka")


def seed_articles() -> list[str]:
    """The seed feeds' items as Article JSON lines, parsed by the RSS connector as `wirewatch run`
    publishes them, with fixed fetch times (the item's own time) so every run gives the same lines.
    `wirewatch replay --seed` and bench/golden.py replay these."""
    from connectors.base import FeedConfig, Fetched
    from connectors.rss import RssConnector

    lines = []
    for path in sorted(seed_feeds().iterdir()):
        feed = FeedConfig(id=path.stem, url=f"http://127.0.0.1/{path.name}", name=f"{path.stem}.example")
        fetched = Fetched(url=feed.url, status=200, body=path.read_bytes(), fetched_at="2021-02-26T12:00:00Z")
        for article in RssConnector.from_config(feed).parse(fetched):
            article["fetched_at"] = article["published_at"]  # (a real fetch time would differ per run)
            article.pop("legacy_id", None)                      # (the poll drops it before publishing)
            lines.append(json.dumps(article, sort_keys=True))
    return lines
