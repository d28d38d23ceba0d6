"""The wheel carries what an installed wirewatch needs: rules, seed feeds and article, broker files.

The wheel is built from this checkout without build isolation (no download: setuptools comes from the
test environment) and unpacked into a folder of its own; the commands then run with that folder first
on sys.path, from a directory outside the repository, so nothing of the checkout can stand in for a
missing file. (.ci/wheel-smoke does the same with `pip install` into a fresh virtualenv.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers.procs import REPO

from streams import __version__

SHIPPED = {
    "streams/seeds/rules": REPO / "seeds" / "rules",
    "streams/seeds/feeds": REPO / "seeds" / "feeds",
    "streams/shell/kafka": REPO / "deploy" / "kafka",
}


# what the build needs, as the image's build context has it (.dockerignore): a build from a clean copy,
# so that no stale build/ folder of the checkout can put a file in the wheel that the sources lack
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "streams", "connectors", "seeds", "deploy/kafka")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, source / name)
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out),
                             str(source)], capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (found,) = out.glob("wirewatch-*.whl")
    return found


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)  # what pip does with a pure-Python wheel, without the dependencies
    return target


def _wirewatch(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = (f"import sys; sys.path.insert(0, {str(site)!r}); import streams; "
            f"assert streams.__file__.startswith({str(site)!r}), streams.__file__; "
            "from streams.shell.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=240, check=False)


def test_the_wheel_holds_every_shipped_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for inside, folder in SHIPPED.items():
        for path in folder.iterdir():
            assert f"{inside}/{path.name}" in names, f"{path} is not in the wheel"
    for path in (REPO / "seeds").glob("*.*"):
        assert f"streams/seeds/{path.name}" in names
    assert {"streams/schemas/alert.schema.json", "connectors/schemas/article.schema.json"} <= names
    for path in (REPO / "streams" / "console" / "static").iterdir():   # the alert page's files
        assert f"streams/console/static/{path.name}" in names
    assert not any(name.startswith(("seeds/", "deploy/", "tests/", "bench/")) for name in names)
    metadata = zipfile.ZipFile(wheel).read(f"wirewatch-{__version__}.dist-info/METADATA").decode()
    for field in ("License-Expression: Apache-2.0", "Project-URL: Source", "Classifier: Programming Language :: "
                  "Python :: 3.13", "Requires-Python: >=3.11"):
        assert field in metadata


def test_the_installed_package_says_its_version_and_checks_its_rules(site: Path, tmp_path: Path) -> None:
    version = _wirewatch(site, tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"wirewatch {__version__}", version

    check = _wirewatch(site, tmp_path, "rules", "check")
    assert check.returncode == 0, check.stderr
    assert f"{site}/streams/seeds/rules/escalation.yaml" in check.stdout
    # (`replay --seed` from an installed wheel runs in .ci/wheel-smoke: the first run in a new location
    # compiles the numba kernels, about a minute, too slow for the unit suite; the checkout's replay is below)


def test_replay_of_the_seed_collapses_the_dispatch_and_its_copies(tmp_path: Path) -> None:
    from streams.shell.cli import main

    assert main(["replay", "--seed", "--output", str(tmp_path / "d.jsonl"), "--alerts", str(tmp_path / "a.jsonl")]) == 0
    decisions = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    alerts = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert len(decisions) == 7                      # three seed feeds, seven items
    # the seed dispatch and its two republished copies: one story, one event, one critical alert
    assert len([d for d in decisions if d["copy_of"]]) == 2
    assert len({d["story_id"] for d in decisions if d["escalation"]["severity"] == "critical"}) == 1
    assert [(a["severity"], "armed_attack" in a["categories"]) for a in alerts] == [("critical", True)]


def test_the_installed_package_finds_the_local_broker_files(site: Path, tmp_path: Path) -> None:
    code = (f"import sys; sys.path.insert(0, {str(site)!r}); from streams.resources import kafka_files, "
            "default_feeds, seed_article; print(kafka_files()); print(default_feeds()); print(seed_article())")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, check=True)
    kafka, feeds, article = (Path(line) for line in result.stdout.split())
    assert kafka == site / "streams" / "shell" / "kafka" and (kafka / "pom.xml").is_file()
    assert feeds == site / "streams" / "seeds" / "feeds.yaml" and feeds.is_file()
    assert article.parent == site / "streams" / "seeds" and article.suffix == ".txt"


def test_replay_takes_a_file_or_the_seed_not_both(tmp_path: Path) -> None:
    from streams.shell.cli import main

    assert main(["replay", "--output", str(tmp_path / "d.jsonl")]) == 2
