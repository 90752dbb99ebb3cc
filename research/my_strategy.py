"""A complete user-defined strategy: buy dips with limit orders, take profit on fill.

Rules per instrument: when flat with no order working, rest a post-only limit buy ``dip`` below
the mid; if it has not filled after ``ttl_ms``, cancel it (and re-quote on a later event). When
the buy fills, ``on_fill`` rests a limit sell ``take_profit`` above the fill price for the whole
position.

Run it::

    quantkit backtest --strategy research/my_strategy.py:MyStrategy --param dip=0.001
    quantkit backtest --strategy research.my_strategy:MyStrategy      # from the repo root

or from Python::

    from research.my_strategy import MyStrategy
    qk.backtest("data/sample_ticks.parquet", strategies=[MyStrategy(dip=0.001)])
"""

from __future__ import annotations

import math

from numba import njit

from quantkit.engine import (
    BUY,
    MAX_SLOTS,
    POST_ONLY,
    REDUCE_ONLY,
    Strategy,
    buy_limit,
    cancel,
    sell_limit,
)


@njit(cache=True)
def on_quote(ctx, p, s):
    """Quote a dip-buying limit order, or cancel it when it has waited too long."""
    i = ctx.slot
    if math.isnan(ctx.bid) or math.isnan(ctx.ask):
        return
    mid = 0.5 * (ctx.bid + ctx.ask)
    if ctx.open_count[i] > 0:
        if s.buy_id[i] >= 0 and ctx.ts - s.buy_ts[i] > p.ttl_ms * 1_000_000:
            cancel(ctx, s.buy_id[i])
            s.buy_id[i] = -1
        return
    if ctx.position[i] == 0.0:
        s.buy_id[i] = buy_limit(ctx, i, mid * (1.0 - p.dip), p.size, POST_ONLY)
        s.buy_ts[i] = ctx.ts


@njit(cache=True)
def on_fill(ctx, p, s):
    """When a buy fills, rest a reduce-only take-profit sell for the whole position."""
    i = ctx.fill_slot
    if ctx.fill_side == BUY:
        if ctx.fill_order == s.buy_id[i] and ctx.open_buy[i] <= 0.0:
            s.buy_id[i] = -1
        sell_limit(ctx, i, ctx.fill_price * (1.0 + p.take_profit), ctx.fill_size, REDUCE_ONLY)


@njit(cache=True)
def on_start(ctx, p, s):
    """No buy order is working at the start."""
    for i in range(ctx.n_slots):
        s.buy_id[i] = -1


MyStrategy = Strategy(
    "my_strategy",
    on_quote,
    params={"dip": 0.0005, "take_profit": 0.001, "size": 1.0, "ttl_ms": 5_000.0},
    state=[("buy_id", "i8", (MAX_SLOTS,)), ("buy_ts", "i8", (MAX_SLOTS,))],
    on_fill=on_fill,
    on_start=on_start,
    doc="Buy dips with post-only limits; take profit with a reduce-only limit on fill.",
)
