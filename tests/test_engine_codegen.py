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
from limits import SIZE
from quantkit.engine import Strategy, buy_market


@njit(cache=True)
def on_quote(ctx, p, s):
    if ctx.position[ctx.slot] == 0.0 and helpers.wants_to_buy(0.5 * (ctx.bid + ctx.ask)):
        buy_market(ctx, ctx.slot, SIZE)


Buyer = Strategy("buyer", on_quote)
"""

RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
import quantkit as qk
from quantkit.engine import codegen
from strat import Buyer
res = qk.backtest(sys.argv[2], [Buyer()], accounting="linear")
[driver] = codegen._loaded.values()
hits = sum(driver.replay_one.stats.cache_hits.values())
print(json.dumps([res.fills["ts"].to_list(), res.fills["size"].to_list(), hits]))
"""


def _run(pkg: Path, data: Path, cache: Path) -> list:
    """[fill times, fill sizes, 1 if the driver came from the cache] of one fresh process."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "QUANTKIT_CACHE_DIR": str(cache),
           "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip  # edits within one second: no stale .pyc
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
    (pkg / "limits.py").write_text("SIZE = 1.0\n")
    data = tmp_path / "ticks.parquet"
    pl.DataFrame({
        "ts": [1, 2, 3],
        "instrument": ["X", "X", "X"],
        "bid": [99.0, 149.0, 199.0],
        "ask": [101.0, 151.0, 201.0],
        "bid_size": [5.0, 5.0, 5.0],
        "ask_size": [5.0, 5.0, 5.0],
    }).write_parquet(data)  # fmt: skip
    cache = tmp_path / "cache"
    assert _run(pkg, data, cache) == [[2], [1.0], 0]  # mid 150 > 100; compiled
    assert _run(pkg, data, cache) == [[2], [1.0], 1]  # loaded from the cache
    (pkg / "helpers.py").write_text(HELPER.format(threshold=175.0))
    assert _run(pkg, data, cache) == [[3], [1.0], 0]  # mid 200 > 175: the edit is seen
    (pkg / "limits.py").write_text("SIZE = 2.0\n")  # a constant numba froze into the code
    assert _run(pkg, data, cache) == [[3], [2.0], 0]


def test_dependencies_are_found_through_modules_and_direct_names() -> None:
    from quantkit.strategies.gamma_scalp import gamma_scalp_on_quote
    from quantkit.strategies.momentum import momentum_on_quote

    deps = {getattr(f, "__name__", "") for f in _jitted_deps([gamma_scalp_on_quote])[0]}
    assert {"portfolio_delta", "slot_delta", "b76_delta", "submit"} <= deps
    deps = {getattr(f, "__name__", "") for f in _jitted_deps([momentum_on_quote])[0]}
    assert {"buy_market", "sell_market", "submit"} <= deps
    assert "MAX_OUT=16" in _jitted_deps([momentum_on_quote])[1]  # submit reads it


DIGEST = """
from quantkit.engine.codegen import driver_for
from quantkit.strategies.gamma_scalp import gamma_scalp as g
print(driver_for(g.on_quote, g.on_fill, g.on_start, g.on_timer).__name__)
"""


def test_the_driver_name_is_the_same_in_every_process(tmp_path: Path) -> None:
    names = set()
    for seed in ("0", "1", "2", "3", "random"):  # set order differs with the hash seed
        env = {**os.environ, "PYTHONHASHSEED": seed, "QUANTKIT_CACHE_DIR": str(tmp_path)}
        out = subprocess.run(
            [sys.executable, "-c", DIGEST], capture_output=True, text=True, env=env, check=True
        )
        names.add(out.stdout.strip())
    assert len(names) == 1
