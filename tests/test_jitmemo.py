"""The memo of numba's function-type resolution (quantkit.jitmemo): installed by ``import
quantkit``, serves repeated resolutions within one compilation, keeps each compilation's own
flags, and leaves the engine's results as they are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numba import njit
from numba.extending import overload

import quantkit as qk
from quantkit import jitmemo

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_ticks.parquet"


def test_import_installs_the_memo_and_the_environment_can_turn_it_off() -> None:
    assert jitmemo.installed()
    code = "import quantkit.jitmemo as m, quantkit; print(m.installed())"
    env = {**os.environ, "QUANTKIT_NUMBA_MEMO": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_repeated_resolutions_within_one_compilation_are_served_from_the_memo() -> None:
    @njit
    def ema(xs, alpha):
        e = xs[0]
        for i in range(1, xs.shape[0]):
            e = e + alpha * (xs[i] - e)
        return e

    before = jitmemo.stats()
    assert ema(np.array([1.0, 2.0, 4.0]), 0.5) == 2.75
    after = jitmemo.stats()
    assert after["resolved"] > before["resolved"]
    assert after["served"] > before["served"]  # the loop is typed more than once, then lowered


def _ratio(a, b):
    return a / b


@overload(_ratio)
def _ratio_impl(a, b):
    def impl(a, b):
        return a / b

    return impl


def test_each_compilation_resolves_with_its_own_flags() -> None:
    """``@overload`` implementations are compiled with the caller's flags: a memo shared by two
    compilations would give the second the first one's error model."""

    @njit(error_model="numpy")
    def quiet(a, b):
        return _ratio(a, b)

    @njit(error_model="python")
    def loud(a, b):
        return _ratio(a, b)

    assert quiet(1.0, 0.0) == np.inf
    with pytest.raises(ZeroDivisionError):
        loud(1.0, 0.0)


RUN = """
import json, sys
import quantkit as qk, quantkit.jitmemo as m
res = qk.backtest(sys.argv[1], strategies=[qk.strategies.momentum(span=20)])
rows = {"fills": res.fills.rows(), "summary": res.summary.rows()}
print(json.dumps({"memo": m.installed(), **rows}, default=str))
"""


def test_the_engine_compiled_without_the_memo_gives_the_same_results(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QUANTKIT_NUMBA_MEMO": "0",
        "NUMBA_CACHE_DIR": str(tmp_path),  # compile everything anew, without the memo
        "QUANTKIT_CACHE_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(SAMPLE)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    plain = json.loads(out.stdout.strip().splitlines()[-1])
    assert plain["memo"] is False
    res = qk.backtest(SAMPLE, strategies=[qk.strategies.momentum(span=20)])
    assert res.fills.height > 0
    assert json.loads(json.dumps(res.fills.rows(), default=str)) == plain["fills"]
    assert json.loads(json.dumps(res.summary.rows(), default=str)) == plain["summary"]
