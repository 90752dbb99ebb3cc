"""``gamma_scalp``: buy options, then keep the portfolio delta inside a band with a hedge.

Rules: at the first quote of each option slot with an ask, market-buy ``option_size`` of it
(when the displayed size fills only part, the rest is bought on the following quotes).
Then on every quote of the hedge instrument (its market orders fill at that very quote), when
no order is open and at least ``min_rehedge_interval_ms`` passed since the last hedge, compute
the portfolio delta in coin (options: position x delta; hedge: inverse contracts
``position / mid``, linear ones ``position``). If ``|delta| > delta_band``,
market-trade the hedge instrument to bring it back to 0, the amount rounded to the hedge's
contract size (skipped when that rounds to 0).

Between an option's quote and the next quote of the hedge instrument the delta can sit outside
the band (the hedge cannot fill earlier), as can the part of a hedge the displayed size did not
fill (it is retried on the next quote).

Option delta comes from the data's ``delta`` column when present, else Black-76 from ``mark_iv``
and ``underlying_price`` (time to the 08:00 UTC expiry, 365-day year).

Usage::

    qk.strategies.gamma_scalp(instruments=["BTC-27DEC24-100000-C"], delta_band=0.05)
"""

from __future__ import annotations

import math

from numba import njit

from quantkit.engine.accounting import portfolio_delta
from quantkit.engine.layout import INVERSE
from quantkit.engine.orders import buy_market, submit
from quantkit.engine.strategy import Strategy


@njit(cache=True)
def gamma_scalp_on_quote(ctx, p, s):
    """Buy each option once, then hedge delta back to 0 when it leaves the band."""
    i = ctx.slot
    hedge = p.hedge_instrument
    if i != hedge:
        need = p.option_size - ctx.position[i] - ctx.open_buy[i]
        if need > 1e-9 * p.option_size and not math.isnan(ctx.ask):
            buy_market(ctx, i, need)  # the touch may fill part: the rest on later quotes
        return
    # hedge on the hedge's own quotes: the market order fills at this very event (latency 0)
    if ctx.open_count[hedge] > 0 or math.isnan(ctx.q_mid[hedge]):
        return
    if s.hedged_once == 1 and ctx.ts - s.last_hedge_ts < p.min_rehedge_interval_ms * 1_000_000:
        return
    for k in range(ctx.n_slots):
        if k != hedge and ctx.open_count[k] > 0:
            return
    delta = portfolio_delta(ctx, -1)  # options + hedge, in coin
    s.last_delta = delta
    if math.isnan(delta) or abs(delta) <= p.delta_band:
        return
    if ctx.inst_kind[hedge] == INVERSE:
        amount = -delta * ctx.q_mid[hedge]
    else:
        amount = -delta
    cs = ctx.contract_size[hedge]
    if cs > 0.0 and not math.isnan(cs):
        amount = round(amount / cs) * cs
    if amount == 0.0:
        return
    side = 1 if amount > 0.0 else -1
    submit(ctx, hedge, side, 0, math.nan, abs(amount), 0)
    s.last_hedge_ts = ctx.ts
    s.hedged_once = 1
    s.n_hedges += 1


gamma_scalp = Strategy(
    "gamma_scalp",
    gamma_scalp_on_quote,
    params={
        "option_size": 1.0,
        "delta_band": 0.1,
        "hedge_instrument": "BTC-PERPETUAL",
        "min_rehedge_interval_ms": 0.0,
    },
    state=[
        ("last_hedge_ts", "i8"),
        ("hedged_once", "i8"),
        ("n_hedges", "i8"),
        ("last_delta", "f8"),
    ],
    doc="Long options, delta-hedged with the hedge instrument inside +-delta_band (coin).",
    bounds={"option_size": "> 0", "delta_band": ">= 0", "min_rehedge_interval_ms": ">= 0"},
)
