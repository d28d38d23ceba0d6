"""Start-up of the rule author's command: wall seconds of `python -m streams.shell.cli rules test --text ...`.

    .venv/bin/python bench/startup.py [--runs 7] [--text "..."] [--impl auto|python|accel] [--profile]
    .venv/bin/python bench/startup.py --root /tmp/other-checkout      # the same command in another tree

Each run is a fresh process started from the repository root (interpreter start, imports, loading the
rules, scoring one text, printing), timed from outside; the figure is the median of `--runs` runs
after one warm-up run (which also fills the compiled-kernel cache). `--impl` sets WIREWATCH_IMPL for
the runs (default: the command's own choice). `--profile` prints where one run's time goes instead
(python -X importtime, then cProfile of the command).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = "An air strike killed 17 people near Abu Kamal. Officials said the militia could attack again."


ROOT_HELP = "the checkout to run the command in (default: this one)"


def command(text: str) -> list[str]:
    return [sys.executable, "-m", "streams.shell.cli", "rules", "test", "--text", text]


def run_once(text: str, env: dict[str, str], root: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command(text), cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def profile(text: str, env: dict[str, str], root: Path) -> None:
    imports = subprocess.run([sys.executable, "-X", "importtime", *command(text)[1:]], cwd=root, env=env,
                             check=True, capture_output=True, text=True).stderr.splitlines()
    rows = [line.split("|") for line in imports if line.startswith("import time:") and "|" in line]
    slowest = sorted(rows[1:], key=lambda r: -int(r[1]))[:15]
    print("imports (cumulative µs):")
    for row in slowest:
        print(f"  {int(row[1]):>9}  {row[2].rstrip()}")
    print("\ncProfile (cumulative):")
    report = subprocess.run([sys.executable, "-m", "cProfile", "-s", "cumulative", *command(text)[1:]], cwd=root,
                            env=env, check=True, capture_output=True, text=True).stdout
    print("\n".join(report[report.index("Ordered by"):].splitlines()[:35]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--text", default=TEXT)
    parser.add_argument("--impl", choices=("auto", "python", "accel"))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--root", type=Path, default=ROOT, help=ROOT_HELP)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    env = dict(os.environ)
    if args.impl:
        env["WIREWATCH_IMPL"] = args.impl
    if args.profile:
        profile(args.text, env, root)
        return 0
    run_once(args.text, env, root)  # warm-up: disk cache, compiled-kernel cache
    times = sorted(run_once(args.text, env, root) for _ in range(args.runs))
    print(f"rules test --text: median {statistics.median(times):.3f} s  (min {times[0]:.3f}, max {times[-1]:.3f}, "
          f"{args.runs} runs, WIREWATCH_IMPL={env.get('WIREWATCH_IMPL', '(command default)')}, {root})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
