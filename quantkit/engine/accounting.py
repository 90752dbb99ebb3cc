"""Positions and PnL per strategy and instrument slot (jitted, pure functions of ``ctx``).

Three kinds of instrument (``ctx.inst_kind[slot]``):

* ``LINEAR``: size in units, price in USD; PnL = size x (exit - entry), in USD.
* ``INVERSE`` (Deribit BTC/ETH perpetuals and futures): size in USD, price in USD per coin;
  PnL in coin = size x (1/entry - 1/exit); average entry is the harmonic mean, as Deribit keeps it.
* ``COIN_QUOTED`` (Deribit BTC/ETH options): size in coin, price in coin; PnL in coin.

Coin amounts are converted to USD at the latest price: the instrument's own mid for inverse
contracts, its ``underlying_price`` for options.

The functions are inlined into the kernels that call them (``inline="always"``): no separate
compilation, no call.

Usage (inside a kernel)::

    upnl = slot_unrealized(ctx, slot)     # in the slot's PnL currency
    usd = to_usd(ctx, slot, upnl)
"""

from __future__ import annotations

import math

from numba import njit

from quantkit.engine.layout import INVERSE, LINEAR
from quantkit.options.black76 import b76_delta

YEAR_NS = 365.0 * 86_400.0 * 1e9


@njit(cache=True, inline="always")
def fee_for(ctx, slot, price, size, bps):
    """Fee in the slot's PnL currency for a fill of ``size`` at ``price`` (bps of notional)."""
    if bps == 0.0:
        return 0.0
    if ctx.inst_kind[slot] == INVERSE:
        return size / price * bps / 1e4
    return size * price * bps / 1e4


@njit(cache=True, inline="always")
def apply_fill(ctx, slot, side, price, size, fee):
    """Update position, average entry, realized PnL and fees of ``slot`` for one fill."""
    pos = ctx.position[slot]
    avg = ctx.avg_price[slot]
    signed = size * side
    new = pos + signed
    inverse = ctx.inst_kind[slot] == INVERSE
    if (pos == 0.0) | ((pos > 0.0) == (signed > 0.0)):  # opens or adds
        if pos == 0.0:
            avg = price
        elif inverse:
            avg = new / (pos / avg + signed / price)
        else:
            avg = (pos * avg + signed * price) / new
    else:  # reduces, closes or flips: realize the closed part
        closed = size  # min(size, |pos|)
        if abs(pos) < size:
            closed = abs(pos)
        gain = price - avg
        if inverse:
            gain = 1.0 / avg - 1.0 / price
        ctx.realized[slot] += closed * math.copysign(1.0, pos) * gain
        if new == 0.0:
            avg = 0.0
        elif (new > 0.0) != (pos > 0.0):
            avg = price
    ctx.position[slot] = new
    ctx.avg_price[slot] = avg
    ctx.fees[slot] += fee


@njit(cache=True, inline="always")
def slot_unrealized(ctx, slot):
    """Unrealized PnL of ``slot`` at its last mid, in the slot's PnL currency (0 when flat)."""
    pos = ctx.position[slot]
    mid = ctx.q_mid[slot]
    if pos == 0.0 or math.isnan(mid):
        return 0.0
    if ctx.inst_kind[slot] == INVERSE:
        return pos * (1.0 / ctx.avg_price[slot] - 1.0 / mid)
    return pos * (mid - ctx.avg_price[slot])


@njit(cache=True, inline="always")
def usd_rate(ctx, slot):
    """USD per unit of the slot's PnL currency (1 for linear instruments)."""
    kind = ctx.inst_kind[slot]
    if kind == LINEAR:
        return 1.0
    if kind == INVERSE:
        return ctx.q_mid[slot]
    return ctx.q_underlying[slot]


@njit(cache=True, inline="always")
def to_usd(ctx, slot, amount):
    """Convert ``amount`` in the slot's PnL currency to USD (0 stays 0 even without a price).

    ``amount * usd_rate(ctx, slot)``, written out: results.py runs it uncompiled (``py_func``).
    """
    if amount == 0.0:
        return 0.0
    kind = ctx.inst_kind[slot]
    if kind == LINEAR:
        return amount * 1.0
    if kind == INVERSE:
        return amount * ctx.q_mid[slot]
    return amount * ctx.q_underlying[slot]


@njit(cache=True, inline="always")
def slot_delta(ctx, slot):
    """Delta of the slot's position in units of its underlying (coin for Deribit).

    Options use the data's ``delta`` column, else Black-76 from ``mark_iv`` (NaN without it).
    """
    pos = ctx.position[slot]
    if pos == 0.0:
        return 0.0
    if ctx.inst_kind[slot] == INVERSE:
        return pos / ctx.q_mid[slot]
    if ctx.is_call[slot] < 0:
        return pos
    delta = ctx.q_delta[slot]
    if math.isnan(delta):  # no delta column: Black-76 from mark_iv (percent) and the forward
        fwd = ctx.q_underlying[slot]
        iv = ctx.q_iv[slot]
        if math.isnan(fwd) or math.isnan(iv):
            return math.nan
        t = max(ctx.expiry_ns[slot] - ctx.ts, 0) / YEAR_NS
        delta = b76_delta(fwd, ctx.strike[slot], t, iv / 100.0, ctx.is_call[slot] == 1)
    return pos * delta


@njit(cache=True, inline="always")
def portfolio_delta(ctx, underlying_id):
    """Sum of position x delta over the slots on ``underlying_id`` (< 0: every slot)."""
    total = 0.0
    for s in range(ctx.n_slots):
        if underlying_id < 0 or ctx.underlying_id[s] == underlying_id:
            total += slot_delta(ctx, s)
    return total


@njit(cache=True, inline="always")
def portfolio_greek(ctx, underlying_id, q_greek):
    """Sum of position x greek (``q_greek`` is e.g. ``ctx.q_gamma``) over option slots."""
    total = 0.0
    for s in range(ctx.n_slots):
        if ctx.is_call[s] >= 0 and (underlying_id < 0 or ctx.underlying_id[s] == underlying_id):
            if ctx.position[s] != 0.0:
                total += ctx.position[s] * q_greek[s]
    return total
