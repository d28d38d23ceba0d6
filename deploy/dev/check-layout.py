#!/usr/bin/env python3
"""Layout rules that keep the domain readable (run by `make lint`; exit 1 with every finding).

- Compiled code stays in streams/_accel: no numba import or @njit anywhere else.
- streams/_accel imports nothing from the domain (`streams.*` other than `streams._accel`).
- The stage packages (normalize, dedupe, escalation, events, alerts, pipeline) import neither Faust
  nor Kafka clients: the worker and the shell wrap them.
- No module over MAX_LINES lines.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 600
PURE = ("streams/normalize", "streams/dedupe", "streams/escalation", "streams/events", "streams/alerts",
        "streams/pipeline.py")
FRAMEWORKS = ("faust", "mode", "aiokafka", "kafka")


def imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def check(path: Path) -> list[str]:
    rel = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=rel)
    problems = []
    in_accel = rel.startswith("streams/_accel/")
    for line, module in imports(tree):
        top = module.split(".")[0]
        if top in ("numba", "llvmlite") and not in_accel:
            problems.append(f"{rel}:{line}: imports {module}: compiled code belongs in streams/_accel")
        if in_accel and module.startswith("streams.") and not module.startswith("streams._accel"):
            problems.append(f"{rel}:{line}: streams/_accel imports the domain ({module}); pass it in")
        if rel.startswith(PURE) and top in FRAMEWORKS:
            problems.append(f"{rel}:{line}: imports {module}: stages stay free of Faust and Kafka")
    if not in_accel and ("@njit" in text or "@jit" in text):
        problems.append(f"{rel}: compiled kernels belong in streams/_accel")
    lines = text.count("\n")
    if lines > MAX_LINES:
        problems.append(f"{rel}: {lines} lines (over {MAX_LINES}): split it by concern")
    return problems


def main() -> int:
    problems = []
    for folder in ("streams", "connectors"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            problems += check(path)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
