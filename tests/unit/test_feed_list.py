"""A broken feed list fails at start naming the file, the line, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import ConfigError
from connectors.feeds import load_feeds

GOOD = """\
# two outlets
feeds:
  - id: courier
    url: https://courier.example/rss
    language: en
  - id: gazette
    url: ${SEED}/gazette.xml
    interval: 300
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, "utf-8")
    return path


def failure(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_feeds(path, env or {"SEED": "http://127.0.0.1:8000"})
    assert caught.value.file == str(path)
    where = str(path) if caught.value.line is None else f"{path}:{caught.value.line}"
    assert str(caught.value).startswith(where)                          # file:line first
    return caught.value


def test_a_good_list_loads_with_variables_expanded(tmp_path: Path) -> None:
    feeds = load_feeds(write(tmp_path, GOOD), {"SEED": "http://127.0.0.1:8000"})
    assert [(f.id, f.url, f.interval) for f in feeds] == [
        ("courier", "https://courier.example/rss", None), ("gazette", "http://127.0.0.1:8000/gazette.xml", 300.0)]


@pytest.mark.parametrize(("old", "new", "line", "key", "reason"), [
    ("language: en", "language: english", 5, "feeds[0].language", "ISO 639-1"),
    ("interval: 300", "interval: -1", 8, "feeds[1].interval", "positive number"),
    ("id: gazette", "id: courier", 6, "feeds[1].id", "duplicate feed id 'courier'"),
    ("id: gazette", "id: 'gaz ette'", 6, "feeds[1].id", "letters, digits"),
    ("url: https://courier.example/rss", "url: ftp://courier.example/rss", 4, "feeds[0].url", "only http(s)"),
    ("    interval: 300", "    intervall: 300", 8, "feeds[1].intervall", "unknown keys ['intervall']"),
    ("    url: ${SEED}/gazette.xml\n", "", 6, "feeds[1].url", "required"),
    ("  - id: gazette\n    url: ${SEED}/gazette.xml\n    interval: 300\n", "  - gazette\n", 6, "feeds[1]",
     "must be a mapping"),
])
def test_each_mistake_names_its_line_key_and_reason(tmp_path: Path, old: str, new: str, line: int, key: str,
                                                    reason: str) -> None:
    assert old in GOOD
    error = failure(tmp_path, GOOD.replace(old, new))
    assert (error.line, error.key) == (line, key)
    assert reason in error.reason


def test_an_unset_variable_is_named(tmp_path: Path) -> None:
    error = failure(tmp_path, GOOD, env={"OTHER": "x"})
    assert (error.line, error.key) == (7, "feeds[1].url") and "SEED is not set" in error.reason


def test_broken_yaml_and_a_missing_feeds_list(tmp_path: Path) -> None:
    error = failure(tmp_path, GOOD.replace("    language: en", "    language: [en"))
    assert error.line is not None and error.line >= 5 and "not valid YAML" in error.reason
    error = failure(tmp_path, "feed:\n  - id: a\n")
    assert error.line is None and "top-level `feeds:` list" in error.reason
    error = failure(tmp_path, "feeds: {id: a}\n")
    assert error.line == 1 and "top-level `feeds:` list" in error.reason
