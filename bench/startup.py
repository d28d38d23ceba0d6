"""Start-up of the rule author's commands: wall seconds of `python -m streams.shell.cli rules test --text ...`,
or with --replay of `python -m streams.shell.cli replay ONE.jsonl --output ...` over one article (the text).

    .venv/bin/python bench/startup.py [--runs 7] [--text "..."] [--impl auto|python|accel] [--profile] [--replay]
    .venv/bin/python bench/startup.py --root /tmp/other-checkout      # the same command in another tree

Each run is a fresh process started from the repository root (interpreter start, imports, loading the
rules, scoring one text, printing), timed from outside; the figure is the median of `--runs` runs
after one warm-up run (which also fills the compiled-kernel cache). `--impl` sets WIREWATCH_IMPL for
the runs (default: the command's own choice). `--profile` prints where one run's time goes instead
(python -X importtime, then cProfile of the command).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = "An air strike killed 17 people near Abu Kamal. Officials said the militia could attack again."


ROOT_HELP = "the checkout to run the command in (default: this one)"


REPLAY_DIR = Path(tempfile.gettempdir()) / "wirewatch-startup-bench"


def command(text: str, replay: bool = False) -> list[str]:
    if not replay:
        return [sys.executable, "-m", "streams.shell.cli", "rules", "test", "--text", text]
    REPLAY_DIR.mkdir(exist_ok=True)
    article = {"id": "startup-1", "url": "https://example.org/startup-1", "title": text.split(".")[0],
               "content": text, "published_at": "2026-01-01T00:00:00Z", "source": "example.org", "feed": "bench",
               "language": "en"}
    (REPLAY_DIR / "one.jsonl").write_text(json.dumps(article) + "\n", "utf-8")
    return [sys.executable, "-m", "streams.shell.cli", "replay", str(REPLAY_DIR / "one.jsonl"),
            "--output", str(REPLAY_DIR / "decisions.jsonl"), "--alerts", str(REPLAY_DIR / "alerts.jsonl")]


def run_once(text: str, env: dict[str, str], root: Path, replay: bool = False) -> float:
    argv = command(text, replay)
    started = time.perf_counter()
    subprocess.run(argv, cwd=root, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL if replay else None)  # (replay's summary line)
    return time.perf_counter() - started


def profile(text: str, env: dict[str, str], root: Path, replay: bool = False) -> None:
    imports = subprocess.run([sys.executable, "-X", "importtime", *command(text, replay)[1:]], cwd=root, env=env,
                             check=True, capture_output=True, text=True).stderr.splitlines()
    rows = [line.split("|") for line in imports if line.startswith("import time:") and "|" in line]
    slowest = sorted(rows[1:], key=lambda r: -int(r[1]))[:15]
    print("imports (cumulative µs):")
    for row in slowest:
        print(f"  {int(row[1]):>9}  {row[2].rstrip()}")
    print("\ncProfile (cumulative):")
    report = subprocess.run([sys.executable, "-m", "cProfile", "-s", "cumulative", *command(text, replay)[1:]],
                            cwd=root, env=env, check=True, capture_output=True, text=True).stdout
    print("\n".join(report[report.index("Ordered by"):].splitlines()[:35]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--impl", choices=("auto", "python", "accel"))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--root", type=Path, default=ROOT, help=ROOT_HELP)
    parser.add_argument("--replay", action="store_true", help="time a one-article `replay` instead of `rules test`")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    env = dict(os.environ)
    if args.impl:
        env["WIREWATCH_IMPL"] = args.impl
    if args.profile:
        profile(args.text, env, root, args.replay)
        return 0
    run_once(args.text, env, root, args.replay)  # warm-up: disk cache, compiled-kernel cache
    times = sorted(run_once(args.text, env, root, args.replay) for _ in range(args.runs))
    what = "replay of one article" if args.replay else "rules test --text"
    print(f"{what}: median {statistics.median(times):.3f} s  (min {times[0]:.3f}, max {times[-1]:.3f}, "
          f"{args.runs} runs, WIREWATCH_IMPL={env.get('WIREWATCH_IMPL', '(command default)')}, {root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
