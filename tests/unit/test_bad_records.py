"""Records the contract accepts must be records every stage can process; records it refuses are refused
with the field named, and `wirewatch replay` reports every bad record and goes on, as a worker does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors import article as contract
from streams.shell.cli import REPLAY_BAD_RECORDS, main


def valid(**extra: Any) -> dict[str, Any]:
    return {"id": "abc", "url": "https://example.org/a", "title": "Rockets hit the harbour",
            "published_at": "2021-02-26T05:12:00Z", "source": "example.org", "feed": "f",
            "content": "Rockets struck the harbour town on Monday, killing 3 people, officials said.", **extra}


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(("field", "value"), [
    ("published_at", "2023-12-31T23:59:60Z"),   # a leap second: RFC 3339 syntax, but rfc3339-validator refuses it
    ("published_at", "2023-02-30T10:00:00Z"),   # no such day
    ("published_at", "2023-04-31T10:00:00Z"),
    ("published_at", "2023-01-01T24:00:00Z"),
    ("fetched_at", "yesterday"),                # fetched_at has no pattern: only the format check catches it
    ("fetched_at", "2023-02-29T00:00:00Z"),     # not a leap year
])
def test_date_time_formats_are_checked_and_the_error_names_the_field(field: str, value: str) -> None:
    with pytest.raises(contract.InvalidRecord, match=f"article field {field}: .*date-time"):
        contract.validate(valid(**{field: value}))
    with pytest.raises(contract.InvalidRecord, match=f"article field {field}"):
        contract.decode(json.dumps(valid(**{field: value})))


def test_valid_times_still_pass() -> None:
    for value in ("2024-02-29T23:59:59Z", "2021-02-26T05:12:00.123456Z", "2021-02-26T05:12:00+00:00",
                  "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"):
        assert contract.decode(json.dumps(valid(published_at=value, fetched_at=value)))["published_at"] == value


def test_deeply_nested_records_are_refused_not_a_recursion_error() -> None:
    for depth in (contract.MAX_DEPTH + 1, 900, 5000, 100_000):
        line = json.dumps(valid(extra=nested(1)))[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
        with pytest.raises(contract.InvalidRecord, match="nested deeper"):
            contract.decode(line)
        with pytest.raises(contract.InvalidRecord, match="nested deeper"):
            contract.decode(line.encode())
    assert contract.decode(json.dumps(valid(extra=nested(contract.MAX_DEPTH - 1))))["id"] == "abc"
    with pytest.raises(contract.InvalidRecord, match="nested deeper"):
        contract.validate(valid(extra=nested(contract.MAX_DEPTH + 5)))


def test_a_missing_format_checker_fails_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema

    from connectors.errors import ConfigError

    class Blind(jsonschema.FormatChecker):
        def __init__(self) -> None:
            super().__init__(formats=())

    contract._validator.cache_clear()
    contract._fast_validator.cache_clear()
    monkeypatch.setattr(jsonschema, "FormatChecker", Blind)
    try:
        with pytest.raises(ConfigError, match="date-time.*format-nongpl"):
            contract.ready()
    finally:
        monkeypatch.undo()
        contract._validator.cache_clear()
        contract._fast_validator.cache_clear()
    contract.ready()


def test_replay_reports_every_bad_record_with_its_line_and_goes_on(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    good = [valid(id=f"g{i}", url=f"https://example.org/{i}") for i in range(3)]
    lines = [
        json.dumps(good[0]),
        json.dumps(valid(id="leap", published_at="2023-12-31T23:59:60Z")),
        json.dumps(valid(id="feb30", published_at="2023-02-30T10:00:00Z")),
        json.dumps(valid(id="yesterday", fetched_at="yesterday")),
        json.dumps(good[1]),
        '{"id": "deep", "x": ' + "[" * 50_000 + "]" * 50_000 + "}",
        "{not json",
        json.dumps(good[2]),
    ]
    source = tmp_path / "articles.jsonl"
    source.write_text("\n".join(lines) + "\n", "utf-8")
    status = main(["replay", str(source), "--output", str(tmp_path / "d.jsonl"), "--alerts", str(tmp_path / "a.jsonl")])
    err = capsys.readouterr().err
    assert status == REPLAY_BAD_RECORDS
    decided = [json.loads(line)["id"] for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert decided == ["g0", "g1", "g2"]
    for number, field in ((2, "published_at"), (3, "published_at"), (4, "fetched_at")):
        assert f"{source}:{number}: article field {field}" in err, err
    assert f"{source}:6: article nested deeper" in err
    assert f"{source}:7: not JSON" in err
    assert "5 bad records" in err and "Traceback" not in err


def test_replay_of_good_records_exits_0(tmp_path: Path) -> None:
    source = tmp_path / "articles.jsonl"
    source.write_text(json.dumps(valid()) + "\n", "utf-8")
    assert main(["replay", str(source), "--output", str(tmp_path / "d.jsonl")]) == 0
