"""gamma_scalp: buys its options, then keeps the portfolio delta inside the band with the hedge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import quantkit as qk
from quantkit.strategies.seed import SEED_BTC_OPTION, seed_configs

HEDGE = "BTC-PERPETUAL"


@pytest.fixture(scope="module")
def seed_run(bundled_sample: Path) -> qk.engine.results.BacktestResult:
    return qk.backtest(bundled_sample, seed_configs()[:1])


def test_delta_stays_in_the_band_at_every_sampled_point(seed_run) -> None:
    band = seed_configs()[0].params["delta_band"]
    eq = seed_run.equity
    assert eq.height > 100  # a sample per minute over three hours
    assert eq["delta"].is_finite().all()
    assert eq["delta"].abs().max() <= band


def test_it_holds_its_options_and_hedges_in_whole_contracts(seed_run, bundled_sample) -> None:
    (s,) = seed_run.strategies
    assert s["positions"][SEED_BTC_OPTION] == pytest.approx(1.0)
    hedges = seed_run.fills.filter(pl.col("instrument") == HEDGE)
    assert hedges.height >= 3
    assert (hedges["size"] % 10.0 == 0).all()  # BTC-PERPETUAL contract size: 10 USD
    assert set(hedges["side"]) == {"buy", "sell"}  # it re-hedges both ways as spot moves
    no_hedge = qk.strategies.gamma_scalp(instruments=[SEED_BTC_OPTION], delta_band=10.0)
    unhedged = qk.backtest(bundled_sample, [no_hedge])
    assert unhedged.equity["delta"].abs().max() > 0.3  # without hedging the call's delta shows


def test_delta_from_mark_iv_when_the_data_has_no_delta(
    tmp_path: Path, seed_run, bundled_sample: Path
) -> None:
    """Without the greek columns the kernel computes delta with Black-76 from mark_iv."""
    frame = qk.data.scan(bundled_sample).to_polars().drop("delta", "gamma", "vega", "theta")
    path = tmp_path / "no_greeks.parquet"
    frame.write_parquet(path)
    res = qk.backtest(path, seed_configs()[:1])
    with_col = seed_run.fills.filter(pl.col("instrument") == HEDGE)
    computed = res.fills.filter(pl.col("instrument") == HEDGE)
    assert computed.height >= 3
    # same hedging decisions up to the rounding of the published deltas
    assert abs(computed.height - with_col.height) <= 2
    assert computed["ts"][0] == with_col["ts"][0]
    assert np.isclose(computed["size"][0], with_col["size"][0], rtol=0.01, atol=10)
    # the engine's own portfolio delta falls back to Black-76 as well: the band holds
    band = seed_configs()[0].params["delta_band"]
    assert res.equity["delta"].is_finite().all()
    assert res.equity["delta"].abs().max() <= band


def test_min_rehedge_interval_is_respected(bundled_sample: Path) -> None:
    cfg = qk.strategies.gamma_scalp(
        instruments=[SEED_BTC_OPTION],
        option_size=10.0,
        delta_band=0.01,
        min_rehedge_interval_ms=60_000.0,
    )
    res = qk.backtest(bundled_sample, [cfg])
    orders = res.orders.filter((pl.col("instrument") == HEDGE) & (pl.col("event") == "new"))
    gaps = np.diff(orders["ts"].to_numpy())
    assert len(gaps) >= 3
    assert gaps.min() >= 60_000 * 1_000_000
