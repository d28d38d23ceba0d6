"""`wirewatch rules test` and `wirewatch rules check` through streams.shell.cli.main."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.shell.cli import main

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_aa3391fe6c98fe85.txt"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_text_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "test", "--text",
                       "An air strike killed 17 people. Officials said the militia could attack again.")
    assert code == 0
    assert "severity critical" in out and "casualties 17" in out      # 17 killed: mass casualties
    assert "'killed'" in out and "high, weight 3 = 3; count 17" in out   # a casualty phrase reaches high
    assert "'air strike'" in out and "medium, weight 3 = 3" in out
    assert "medium, weight 3 = 3; hedge: at most low" in out        # the modifier that capped `attack`
    assert "| Officials said the militia could attack again." in out


def test_json_lists_every_match_with_offsets_weights_and_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    text = "The army denied shelling the village. Rebels attacked a checkpoint."
    code, out, _ = run(capsys, "rules", "test", "--json", "--text", text)
    assert code == 0
    result = json.loads(out)
    esc = result["escalation"]
    assert esc["severity"] == "medium" and esc["categories"] == ["armed_attack"]
    by_term = {m["term"]: m for m in esc["matches"]}
    shelling, attacked = by_term["shelling"], by_term["Rebels attacked"]
    assert text[shelling["start"]:shelling["end"]] == "shelling" and shelling["field"] == "content"
    # a denial caps what the phrase reaches (low) instead of scaling its weight
    assert shelling["modifier"] == "denial" and shelling["modifier_cap"] == "low"
    assert shelling["modifier_factor"] == 1.0 and shelling["tier"] == "medium"
    assert shelling["weight"] == 3 and shelling["base_weight"] == 3
    assert shelling["sentence"] == "The army denied shelling the village."
    assert attacked["tier"] == "medium" and "modifier_cap" not in attacked
    assert attacked["weight"] == 3 and attacked["sentence"] == "Rebels attacked a checkpoint."
    assert result["rule_version"]
    code, out, _ = run(capsys, "rules", "test", "--json", "--text", "The army denied shelling the village.")
    assert json.loads(out)["escalation"]["severity"] == "low"      # the denied shelling alone


def test_a_match_dated_to_an_earlier_year_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the scorer marks violence of an earlier year "dated", a modifier no rule file declares: until
    # 2026-12 explaining it raised KeyError
    article = tmp_path / "dated.json"
    article.write_text(json.dumps({"id": "dated", "title": "", "published_at": "2023-10-01T10:00:00Z",
                                   "content": "In 2019, gunmen attacked a checkpoint near the town.",
                                   "language": "en"}), "utf-8")
    code, out, _ = run(capsys, "rules", "test", str(article))
    assert code == 0 and "severity low" in out and "; dated" in out
    code, out, _ = run(capsys, "rules", "test", str(article), "--json")
    (dated,) = [m for m in json.loads(out)["escalation"]["matches"] if m.get("modifier") == "dated"]
    assert dated["modifier_factor"] == 1.0 and "modifier_cap" not in dated


def test_article_json_jsonl_and_plain_text_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    title, _, body = SEED.read_text("utf-8").partition("\n")
    one = tmp_path / "a.json"
    one.write_text(json.dumps({"id": "seed", "title": title, "content": body, "language": "en"}), "utf-8")
    code, out, _ = run(capsys, "rules", "test", str(one), "--json")
    result = json.loads(out)
    assert code == 0 and result["id"] == "seed"
    assert result["escalation"]["severity"] == "critical" and result["escalation"]["casualties"] == 17
    assert any(m["field"] == "title" for m in result["escalation"]["matches"])

    many = tmp_path / "a.jsonl"
    many.write_text("\n".join(json.dumps({"id": f"a{i}", "title": t, "summary": "", "content": ""})
                              for i, t in enumerate(["Rebels attack army post", "Markets rise"])), "utf-8")
    code, out, _ = run(capsys, "rules", "test", str(many), "--json")
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["id"] for r in results] == ["a0", "a1"]
    assert [r["escalation"]["severity"] for r in results] == ["medium", "none"]

    plain = tmp_path / "notes.txt"
    plain.write_text("Des frappes ont tué 12 personnes.\n", "utf-8")
    code, out, _ = run(capsys, "rules", "test", str(plain), "--language", "fr")
    assert code == 0 and "notes.txt  [fr]" in out and "casualties 12" in out


def test_stdin_and_other_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text('version: "mine"\n'
                     "categories:\n  unrest: {tier: medium, weight: 2}\nlanguage: en\nphrases:\n  unrest: [picket*]\n",
                     "utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("Workers picketed the plant."))
    code, out, _ = run(capsys, "rules", "test", "-", "--rules", str(rules))
    assert code == 0 and "rules mine" in out and "severity medium" in out and "'picketed'" in out


def test_text_and_file_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["rules", "test", "--text", "x", "file.txt"])
    assert caught.value.code == 2
    capsys.readouterr()


def test_check_shipped_and_broken_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "check")
    assert code == 0 and out.startswith("ok: ") and "languages en, fr" in out

    broken = tmp_path / "bad.yaml"
    broken.write_text('version: "t"\nseverity: {mass_casualties: 10}\n'
                      "categories:\n  armed_attack: {tier: medium, weight: 3}\nlanguage: en\nphrases:\n"
                      "  armed_attack: [attack*, \"kil{led\"]\n", "utf-8")
    code, out, err = run(capsys, "rules", "check", str(broken))
    assert code == 2 and out == ""
    assert err.startswith(f"{broken}:7: phrases.armed_attack[1]: bad phrase")

    code, _, err = run(capsys, "rules", "check", str(tmp_path / "missing.yaml"))
    assert code == 2 and "missing.yaml" in err and "cannot read" in err


def test_broken_rules_in_test_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "bad.yaml"
    broken.write_text("version: [\n", "utf-8")
    code, _, err = run(capsys, "rules", "test", "--text", "x", "--rules", str(broken))
    assert code == 2 and str(broken) in err


_AUTO = "accel" if importlib.util.find_spec("numba") else "python"


@pytest.mark.parametrize(("variable", "chosen"), [(None, "python None"), ("auto", f"{_AUTO} auto")])
def test_rules_commands_choose_the_reference_implementation(variable: str | None, chosen: str) -> None:
    # one text is scored at once by the reference; WIREWATCH_IMPL still decides, and is not passed on

    env = {k: v for k, v in os.environ.items() if k != "WIREWATCH_IMPL"}
    if variable:
        env["WIREWATCH_IMPL"] = variable
    code = ("import os; from streams.shell import cli; cli._reference_implementation_for_this_process(); "
            "import streams._accel as a; print(a.IMPL, os.environ.get('WIREWATCH_IMPL'))")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == chosen
