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


# Python 3.12 sums floats with Neumaier compensation (sum() is more exact than on 3.11), so an escalation
# score that lands on .xx5 can round the other way (7.32 on 3.11, 7.33 on 3.12+: one line of dedup-dev and
# one of escalation-dev). The digests are recorded on 3.11. Until streams/escalation/rules.py sums with
# math.fsum (the same correctly rounded result on every Python) and the digests are recorded again, the
# comparison is expected to fail on 3.12+ for the sets with such a score.
_SUM_DIFFERS = sys.version_info >= (3, 12)


@pytest.mark.parametrize("name", sorted(SETS))
@pytest.mark.xfail(_SUM_DIFFERS, reason="float sum() differs from 3.11's on 3.12+: escalation must use math.fsum",
                   strict=False)
def test_replay_outputs_are_the_recorded_ones(name: str) -> None:
    source = SETS[name]
    if not callable(source) and not source.exists():
        pytest.fail(f"{source} is missing: the bench sets live in ../shared/data")
    digest, n = golden.run_set(source, None)
    assert n > 0
    assert digest == RECORDED[name], f"{name}: the outputs changed ({n} lines)"
