"""Portfolio greeks per underlying are available inside kernels (options + hedge positions)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from numba import njit

import quantkit as qk
from quantkit.engine import MAX_SLOTS, buy_market, portfolio_delta, portfolio_greek, sell_market
from quantkit.engine.run import Engine

OPTION = "BTC-27DEC24-100000-C"
ETH_OPTION = "ETH-27DEC24-3600-C"


@njit(cache=True)
def greeks_on_quote(ctx, p, s):
    """Buy 2 of slot 0 and 1 of slot 2, short 20000 USD of slot 1; record portfolio greeks."""
    i = ctx.slot
    if s.done[i] == 0 and not math.isnan(ctx.ask) and not math.isnan(ctx.bid):
        s.done[i] = 1
        if i == 0:
            buy_market(ctx, i, 2.0)
        elif i == 1:
            sell_market(ctx, i, 20000.0)
        else:
            buy_market(ctx, i, 1.0)
    s.delta_btc = portfolio_delta(ctx, ctx.underlying_id[0])
    s.delta_eth = portfolio_delta(ctx, ctx.underlying_id[2])
    s.gamma_btc = portfolio_greek(ctx, ctx.underlying_id[0], ctx.q_gamma)
    s.vega_all = portfolio_greek(ctx, -1, ctx.q_vega)


GreeksProbe = qk.Strategy(
    "greeks_probe",
    greeks_on_quote,
    state=[
        ("done", "i8", (MAX_SLOTS,)),
        ("delta_btc", "f8"),
        ("delta_eth", "f8"),
        ("gamma_btc", "f8"),
        ("vega_all", "f8"),
    ],
)


def test_kernels_see_portfolio_greeks_per_underlying(bundled_sample: Path) -> None:
    cfg = GreeksProbe(instruments=[OPTION, "BTC-PERPETUAL", ETH_OPTION])
    scan = qk.data.scan(bundled_sample, instruments=[OPTION, "BTC-PERPETUAL", ETH_OPTION])
    batch = next(iter(scan.batches(batch_size=0)))
    eng = Engine([cfg], scan.instruments, float_columns=scan.float_columns, more=True)
    eng.start(int(batch.ts[0]))
    eng.feed(batch.ts, batch.code, batch.columns)
    g = eng.groups[0]
    ctx, st = g.ctxs[0], g.states[0]
    pos = ctx["position"]
    assert (pos[0], pos[1], pos[2]) == (2.0, -20000.0, 1.0)
    # by hand: options contribute position x delta, the inverse perpetual position / mid (coin)
    btc = pos[0] * ctx["q_delta"][0] + pos[1] / ctx["q_mid"][1]
    assert st["delta_btc"] == pytest.approx(btc, rel=1e-12)
    assert st["delta_eth"] == pytest.approx(pos[2] * ctx["q_delta"][2], rel=1e-12)
    assert st["gamma_btc"] == pytest.approx(pos[0] * ctx["q_gamma"][0], rel=1e-12)
    vega = pos[0] * ctx["q_vega"][0] + pos[2] * ctx["q_vega"][2]
    assert st["vega_all"] == pytest.approx(vega, rel=1e-12)
    assert ctx["underlying_id"][0] == ctx["underlying_id"][1] != ctx["underlying_id"][2]
