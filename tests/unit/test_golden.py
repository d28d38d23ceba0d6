"""The replay outputs (decisions + alerts) over the seed feeds and the bench sets are those recorded in
tests/golden/digests.json (`bench/golden.py`): a refactor or a speed change must not move them, under
whichever implementation WIREWATCH_IMPL selects. (The real-feed sets run with `--real`, not here.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import golden  # noqa: E402

RECORDED = json.loads(golden.RECORD.read_text())
SETS = dict(golden.sets(golden.DATA, real=False))


@pytest.mark.parametrize("name", sorted(SETS))
def test_replay_outputs_are_the_recorded_ones(name: str) -> None:
    source = SETS[name]
    if not callable(source) and not source.exists():
        pytest.fail(f"{source} is missing: the bench sets live in ../shared/data")
    digest, n = golden.run_set(source, None)
    assert n > 0
    assert digest == RECORDED[name], f"{name}: the outputs changed ({n} lines)"
