"""``momentum``: long-only EMA breakout, per instrument.

Rules (exact; acceptance compares fills and PnL): ``mid = (bid + ask) / 2``; events with a NaN
side are skipped. The EMA starts at the first mid (no signal then). On each later event, before
updating the EMA: if flat and ``mid > ema * (1 + threshold)`` market-buy ``size``; if long and
``mid < ema * (1 - threshold)`` market-sell the whole position. Then
``ema += alpha * (mid - ema)`` with ``alpha = 2 / (span + 1)``.

While an order of the instrument is still open (latency > 0, or live trading waiting for the
venue) no new order is sent; with the default latency 0 that never happens in a backtest.

On options the mid is the option's quoted (coin) price, so it runs unchanged on ETH options.

Usage::

    qk.backtest("ticks.parquet", strategies=[qk.strategies.momentum(span=50, threshold=0.001)])
"""

from __future__ import annotations

import math

from numba import njit

from quantkit.engine.layout import MAX_SLOTS
from quantkit.engine.orders import buy_market, sell_market
from quantkit.engine.strategy import Strategy


@njit(cache=True)
def momentum_on_quote(ctx, p, s):
    """The momentum rules for one quote event (see the module docstring)."""
    bid = ctx.bid
    ask = ctx.ask
    if math.isnan(bid) | math.isnan(ask):
        return
    i = ctx.slot
    mid = (bid + ask) / 2.0
    if s.seen[i] == 0:
        s.seen[i] = 1
        s.ema[i] = mid
        return
    ema = s.ema[i]
    pos = ctx.position[i]
    if ctx.open_count[i] > 0:
        pass  # an order is still working (latency, or live): no new signal until it resolves
    elif pos == 0.0:
        if mid > ema * (1.0 + p.threshold):
            buy_market(ctx, i, p.size)
    elif pos > 0.0:
        if mid < ema * (1.0 - p.threshold):
            sell_market(ctx, i, pos)
    s.ema[i] = ema + (2.0 / (p.span + 1.0)) * (mid - ema)


momentum = Strategy(
    "momentum",
    momentum_on_quote,
    params={"span": 100, "threshold": 0.0005, "size": 1.0},
    state=[("ema", "f8", (MAX_SLOTS,)), ("seen", "i8", (MAX_SLOTS,))],
    needs=("bid", "ask"),
    bounds={"span": ">= 1", "threshold": ">= 0", "size": "> 0"},
    doc="Long-only EMA breakout per instrument: buy when mid > ema*(1+threshold), "
    "sell all when mid < ema*(1-threshold).",
)
