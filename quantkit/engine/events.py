"""Loading one event into a strategy's ``ctx`` and sampling equity (jitted).

The per-event helpers are inlined into the driver loop (``inline="always"``).

Usage: called by the generated drivers (``quantkit.engine.codegen``) and by the live step API.
"""

from __future__ import annotations

import math

from numba import njit

from quantkit.engine.accounting import slot_delta
from quantkit.engine.jit import linked
from quantkit.engine.layout import (
    C_EQUITY,
    C_NEXT_SAMPLE,
    C_STATUS,
    EV_QUOTE,
    INVERSE,
    LINEAR,
    ST_LOG_OVERFLOW,
)


@njit(cache=True, inline="always")
def load_quote(ctx, slot, t, bid, ask, bid_size, ask_size):
    """Write one quote event of ``slot`` into ``ctx`` (scalars only: no reference counting)."""
    ctx.kind = EV_QUOTE
    ctx.ts = t
    ctx.slot = slot
    ctx.bid = bid
    ctx.ask = ask
    ctx.bid_size = bid_size
    ctx.ask_size = ask_size
    ctx.n_events += 1
    ctx.q_ts[slot] = t
    ctx.q_bid[slot] = bid
    ctx.q_ask[slot] = ask
    mid = 0.5 * (bid + ask)
    if not math.isnan(mid):
        ctx.q_mid[slot] = mid


@njit(cache=True, inline="always")
def load_more(ctx, slot, last, last_size, und, iv, delta, gamma, vega, theta):
    """Write the optional canonical columns of the current event (trade and option data)."""
    ctx.last = last
    ctx.last_size = last_size
    ctx.underlying_price = und
    ctx.mark_iv = iv
    ctx.delta = delta
    ctx.gamma = gamma
    ctx.vega = vega
    ctx.theta = theta
    if not math.isnan(und):
        ctx.q_underlying[slot] = und
    if not math.isnan(iv):
        ctx.q_iv[slot] = iv
    if not math.isnan(delta):
        ctx.q_delta[slot] = delta
        ctx.q_gamma[slot] = gamma
        ctx.q_vega[slot] = vega
        ctx.q_theta[slot] = theta


@linked
def sample_equity(ctxs, t, elog, counters, options):
    """Append one equity sample per strategy instance at time ``t``: realized, unrealized and
    fees in USD (``to_usd`` of each slot's amounts) and ``portfolio_delta(ctx, -1)``, summed in
    one pass over the slots. ``options`` is None when no instance holds an option: the option
    delta (Black-76 when the data has no delta) is then not even compiled."""
    n = counters[C_EQUITY]
    if n + ctxs.shape[0] > elog.shape[0]:
        counters[C_STATUS] = ST_LOG_OVERFLOW
        return
    for j in range(ctxs.shape[0]):
        ctx = ctxs[j]
        r = 0.0
        u = 0.0
        f = 0.0
        d = 0.0
        for s in range(ctx.n_slots):
            pos = ctx.position[s]
            x_r = ctx.realized[s]
            x_f = ctx.fees[s]
            if (pos == 0.0) & (x_r == 0.0) & (x_f == 0.0):
                continue  # adds nothing (every amount below would be 0)
            # to_usd(ctx, s, x), written out: 0 when x == 0, else x times the USD rate
            kind = ctx.inst_kind[s]
            mid = ctx.q_mid[s]
            rate = 1.0
            if kind == INVERSE:
                rate = mid
            elif kind != LINEAR:
                rate = ctx.q_underlying[s]
            if x_r != 0.0:
                r += x_r * rate
            if x_f != 0.0:
                f += x_f * rate
            if pos != 0.0:
                if mid == mid:  # slot_unrealized(ctx, s), written out
                    avg = ctx.avg_price[s]
                    x = pos * (mid - avg)
                    if kind == INVERSE:
                        x = pos * (1.0 / avg - 1.0 / mid)
                    if x != 0.0:
                        u += x * rate
                # slot_delta(ctx, s), its option part only when compiled in
                if kind == INVERSE:
                    d += pos / mid
                elif ctx.is_call[s] < 0:
                    d += pos
                elif options is not None:
                    d += slot_delta(ctx, s)
        rec = elog[n]
        rec.ts = t
        rec.instance = ctx.instance
        rec.realized_usd = r
        rec.unrealized_usd = u
        rec.fees_usd = f
        rec.equity_usd = r + u - f
        rec.delta = d
        n += 1
    counters[C_EQUITY] = n


@njit(cache=True, inline="always")
def maybe_sample(ctxs, t, sample_ns, elog, counters, options):
    """Sample equity when ``t`` reaches the next sampling boundary (every ``sample_ns``)."""
    if t >= counters[C_NEXT_SAMPLE]:
        boundary = (t // sample_ns) * sample_ns
        if counters[C_NEXT_SAMPLE] > 0:
            sample_equity(ctxs, boundary, elog, counters, options)
        counters[C_NEXT_SAMPLE] = boundary + sample_ns
