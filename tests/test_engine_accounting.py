"""Accounting by instrument kind, against numbers worked out by hand.

* inverse (BTC-PERPETUAL): size in USD, PnL in coin = size x (1/entry - 1/exit), the average
  entry is harmonic; coin converts to USD at the instrument's last mid;
* coin-quoted options: size in coin, price in coin, PnL in coin, USD via ``underlying_price``;
* linear: PnL in USD.

The summary reports coin amounts in ``pnl_by_currency`` and USD in ``realized_pnl``,
``unrealized_pnl`` and ``fees``.

Usage: ``pytest tests/test_engine_accounting.py``
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine_fills import fills, market, run_ticks, scripted_streams, tick

from quantkit.engine import BUY, SELL

PERP = "BTC-PERPETUAL"
BTC_CALL = "BTC-27DEC24-100000-C"
ETH_PUT = "ETH-31JAN25-3500-P"


def run_auto(path: Path, rows: list[dict], **kw: Any) -> dict[str, Any]:
    """Backtest the scripted rows (Deribit accounting unless told); summary, fills and result."""
    kw.setdefault("accounting", "auto")
    res = run_ticks(path, rows, **kw)
    return {"summary": res.strategies[0], "fills": fills(res), "res": res}


# --------------------------------------------------------------------------- inverse


def test_inverse_long_with_harmonic_entry(tmp_path: Path) -> None:
    out = run_auto(tmp_path / "t.parquet", [
        tick(1, 49_999.5, 50_000.0, instrument=PERP, cmd=market(BUY, 1_000)),  # 0.02 BTC
        tick(2, 39_999.5, 40_000.0, instrument=PERP, cmd=market(BUY, 1_000)),  # 0.025 BTC
        tick(3, 60_000.0, 60_000.5, instrument=PERP, cmd=market(SELL, 500)),
        tick(4, 47_999.5, 48_000.5, instrument=PERP),  # last mid 48000
    ], fee_bps_taker=5.0)  # fmt: skip
    # entry of 2000 USD bought for 0.045 BTC: 2000 / 0.045 = 44444.44 (1/entry = 0.0000225)
    # sell 500 at 60000: 500 x (0.0000225 - 1/60000)            = 0.0029166... BTC
    # left 1500 at mid 48000: 1500 x (0.0000225 - 1/48000)      = 0.0025 BTC
    # fees 5 bps of coin notional: (0.02 + 0.025 + 500/60000) x 5e-4 = 0.0000266... BTC
    realized, unrealized = 500 * (0.0000225 - 1 / 60_000), 0.0025
    fees = (0.02 + 0.025 + 500 / 60_000) * 5e-4
    s = out["summary"]
    assert s["pnl_by_currency"] == {
        "BTC": pytest.approx(
            {"realized": realized, "unrealized": unrealized, "fees": fees}, rel=1e-12
        )
    }
    assert [f["position"] for f in out["fills"]] == [1_000.0, 2_000.0, 1_500.0]
    assert out["fills"][-1]["realized"] == pytest.approx(realized, rel=1e-12)
    # USD at the last mid: 0.0029166 x 48000 = 140, 0.0025 x 48000 = 120, fees 1.28
    assert (s["realized_pnl"], s["unrealized_pnl"], s["fees"]) == pytest.approx((140, 120, 1.28))
    assert s["positions"] == {PERP: 1_500.0}
    assert s["greeks"]["delta"] == pytest.approx(1_500 / 48_000)  # coin
    last = out["res"].equity.row(-1, named=True)
    assert last["equity"] == pytest.approx(140 + 120 - 1.28)
    assert last["delta"] == pytest.approx(1_500 / 48_000)  # the driver without option code


def test_inverse_short_then_flip_long(tmp_path: Path) -> None:
    out = run_auto(tmp_path / "t.parquet", [
        tick(1, 50_000.0, 50_000.5, instrument=PERP, cmd=market(SELL, 3_000)),  # short at 50000
        tick(2, 39_999.5, 40_000.0, instrument=PERP, cmd=market(BUY, 1_000)),
        tick(3, 39_999.5, 40_000.0, instrument=PERP, cmd=market(BUY, 5_000)),  # long 3000
        tick(4, 49_999.5, 50_000.5, instrument=PERP),  # mid 50000
    ])  # fmt: skip
    # a short gains when the price falls: 1000 x -(1/50000 - 1/40000) = 0.005 BTC,
    # then the other 2000: 0.01 BTC; the rest of the buy opens a long of 3000 at 40000
    assert [f["realized"] for f in out["fills"]] == pytest.approx([0.0, 0.005, 0.015], rel=1e-12)
    assert [f["position"] for f in out["fills"]] == [-3_000.0, -2_000.0, 3_000.0]
    s = out["summary"]
    # 3000 x (1/40000 - 1/50000) = 0.015 BTC unrealized; both 750 USD at 50000
    assert s["pnl_by_currency"]["BTC"]["unrealized"] == pytest.approx(0.015, rel=1e-12)
    assert (s["realized_pnl"], s["unrealized_pnl"]) == pytest.approx((750.0, 750.0))


def test_linear_accounting_treats_the_perpetual_as_linear(tmp_path: Path) -> None:
    out = run_auto(tmp_path / "t.parquet", [
        tick(1, 49_999.5, 50_000.0, instrument=PERP, cmd=market(BUY, 2)),
        tick(2, 51_000.0, 51_000.5, instrument=PERP, cmd=market(SELL, 2)),
    ], accounting="linear", fee_bps_taker=1.0)  # fmt: skip
    s = out["summary"]
    assert s["realized_pnl"] == pytest.approx(2 * 1_000.0)
    assert s["fees"] == pytest.approx((2 * 50_000 + 2 * 51_000) * 1e-4)
    assert set(s["pnl_by_currency"]) == {"USD"}


# --------------------------------------------------------------------------- options


def test_coin_quoted_options_in_coin_and_usd_via_the_underlying(tmp_path: Path) -> None:
    out = run_auto(tmp_path / "t.parquet", [
        tick(1, 0.048, 0.05, instrument=BTC_CALL, underlying_price=95_000.0, cmd=market(BUY, 2)),
        tick(2, 9.5, 10.0, instrument="XYZ", cmd=market(BUY, 2)),
        tick(3, 0.07, 0.072, instrument=BTC_CALL, underlying_price=100_000.0,
             cmd=market(SELL, 1)),
        tick(4, 0.098, 0.1, instrument=ETH_PUT, underlying_price=3_400.0, cmd=market(BUY, 1)),
        tick(5, 12.0, 12.5, instrument="XYZ", cmd=market(SELL, 2)),
        tick(6, 0.06, 0.062, instrument=BTC_CALL, underlying_price=98_000.0),  # mid 0.061
        tick(7, 0.118, 0.122, instrument=ETH_PUT, underlying_price=3_500.0),  # mid 0.12
    ], fee_bps_taker=3.0)  # fmt: skip
    s = out["summary"]
    by = s["pnl_by_currency"]
    # BTC call: bought 2 at 0.05, sold 1 at 0.07 -> 0.02 BTC; 1 left at mid 0.061 -> 0.011 BTC
    # fees 3 bps of coin notional: (2 x 0.05 + 0.07) x 3e-4
    assert by["BTC"] == pytest.approx(
        {"realized": 0.02, "unrealized": 0.011, "fees": 0.17 * 3e-4}, rel=1e-9
    )
    # ETH put: 1 at 0.1, mid 0.12 -> 0.02 ETH
    assert by["ETH"] == pytest.approx({"realized": 0.0, "unrealized": 0.02, "fees": 0.1 * 3e-4})
    # linear XYZ: 2 x (12 - 10) = 4 USD
    assert by["USD"] == pytest.approx({"realized": 4.0, "unrealized": 0.0, "fees": 44 * 3e-4})
    # USD at each option's latest underlying price: BTC 98000, ETH 3500
    assert s["realized_pnl"] == pytest.approx(0.02 * 98_000 + 4.0)
    assert s["unrealized_pnl"] == pytest.approx(0.011 * 98_000 + 0.02 * 3_500)
    assert s["fees"] == pytest.approx(0.17 * 3e-4 * 98_000 + 0.1 * 3e-4 * 3_500 + 44 * 3e-4)
    assert s["positions"] == {BTC_CALL: 1.0, ETH_PUT: 1.0, "XYZ": 0.0}


def test_option_greeks_are_position_weighted(tmp_path: Path) -> None:
    greeks = {"delta": 0.4, "gamma": 2e-5, "vega": 50.0, "theta": -80.0}
    out = run_auto(tmp_path / "t.parquet", [
        tick(1, 0.048, 0.05, instrument=BTC_CALL, underlying_price=95_000.0,
             cmd=market(BUY, 3), **greeks),
    ])  # fmt: skip
    assert out["summary"]["greeks"] == pytest.approx({k: 3 * v for k, v in greeks.items()})
    assert out["res"].equity["delta"][-1] == pytest.approx(3 * 0.4)  # the driver with options


# --------------------------------------------------------------------------- properties


@pytest.fixture(scope="module")
def prop_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file path the property test overwrites for each example."""
    return tmp_path_factory.mktemp("accounting_props") / "t.parquet"


@given(rows=scripted_streams(), taker=st.sampled_from([0.0, 5.0]))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_inverse_round_trips_realize_the_coin_flows(
    prop_file: Path, rows: list[dict], taker: float
) -> None:
    rows = [{**r, "instrument": PERP} for r in rows]  # the streams end flat
    out = run_auto(prop_file, rows, fee_bps_taker=taker, fee_bps_maker=-1.0)
    # buying S USD at p takes S/p coin of exposure; flat again, PnL is the net coin flow
    coin = sum(f["side"] * f["size"] / f["price"] for f in out["fills"])
    fees = sum(f["size"] / f["price"] * (-1.0 if f["maker"] else taker) / 1e4 for f in out["fills"])
    btc = out["summary"]["pnl_by_currency"]["BTC"]
    assert out["summary"]["positions"][PERP] == pytest.approx(0.0, abs=1e-9)
    assert btc["realized"] == pytest.approx(coin, rel=1e-9, abs=1e-12)
    assert btc["fees"] == pytest.approx(fees, rel=1e-9, abs=1e-15)
    assert btc["unrealized"] == 0.0
    last_mid = next(
        (r["bid"] + r["ask"]) / 2 for r in reversed(rows) if not math.isnan(r["bid"] + r["ask"])
    )
    assert out["summary"]["realized_pnl"] == pytest.approx(coin * last_mid, rel=1e-9, abs=1e-9)
