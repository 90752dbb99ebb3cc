"""The generated drivers' on-disk cache: an edit anywhere in a strategy's code compiles anew.

numba's cache checks only the file of the function it compiled; a driver inlines the hooks and
links every jitted helper they call, so the driver's name hashes all of those files. The test
runs a strategy whose signal lives in a helper module, in fresh processes sharing one cache,
edits the helper between runs and expects the new behaviour.

Usage: ``pytest tests/test_engine_codegen.py``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl

from quantkit.engine.codegen import _jitted_deps

HELPER = """
from numba import njit


@njit(cache=True)
def wants_to_buy(mid):
    return mid > {threshold}
"""

STRATEGY = """
from numba import njit

import helpers
from quantkit.engine import Strategy, buy_market


@njit(cache=True)
def on_quote(ctx, p, s):
    if ctx.position[ctx.slot] == 0.0 and helpers.wants_to_buy(0.5 * (ctx.bid + ctx.ask)):
        buy_market(ctx, ctx.slot, 1.0)


Buyer = Strategy("buyer", on_quote)
"""

RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
import quantkit as qk
from strat import Buyer
res = qk.backtest(sys.argv[2], [Buyer()], accounting="linear")
print(json.dumps(res.fills["ts"].to_list()))
"""


def _run(pkg: Path, data: Path, cache: Path) -> list[int]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "QUANTKIT_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(pkg), str(data)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_editing_a_helper_module_recompiles_the_driver(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "strat.py").write_text(textwrap.dedent(STRATEGY))
    (pkg / "helpers.py").write_text(HELPER.format(threshold=100.0))
    data = tmp_path / "ticks.parquet"
    pl.DataFrame({
        "ts": [1, 2, 3],
        "instrument": ["X", "X", "X"],
        "bid": [99.0, 149.0, 199.0],
        "ask": [101.0, 151.0, 201.0],
        "bid_size": [1.0, 1.0, 1.0],
        "ask_size": [1.0, 1.0, 1.0],
    }).write_parquet(data)  # fmt: skip
    cache = tmp_path / "cache"
    assert _run(pkg, data, cache) == [2]  # mid 150 > 100
    assert _run(pkg, data, cache) == [2]  # loaded from the cache
    (pkg / "helpers.py").write_text(HELPER.format(threshold=175.0))
    assert _run(pkg, data, cache) == [3]  # mid 200 > 175: the edit is seen


def test_dependencies_are_found_through_modules_and_direct_names() -> None:
    from quantkit.strategies.gamma_scalp import gamma_scalp_on_quote
    from quantkit.strategies.momentum import momentum_on_quote

    deps = {getattr(f, "__name__", "") for f in _jitted_deps([gamma_scalp_on_quote])}
    assert {"portfolio_delta", "slot_delta", "b76_delta", "submit"} <= deps
    deps = {getattr(f, "__name__", "") for f in _jitted_deps([momentum_on_quote])}
    assert {"buy_market", "sell_market", "submit"} <= deps
