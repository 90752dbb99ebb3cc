"""The simulated venue: order acceptance, the fill model and the order/fill logs (jitted).

Fill model (also in the README):

* Market orders fill at the touch (buy at ``ask``, sell at ``bid``) of the first event of their
  instrument whose ``ts >= submit ts + latency``; with latency 0 that is the event that triggered
  them. An empty side (a NaN price) makes the order wait; it expires after ``market_timeout``
  (counted from ``submit ts + latency``). A touch showing size 0 is not empty: the fill is capped
  at 0 and the market order is cancelled, like the rest of any capped market order.
* Limit orders fill when the opposite touch reaches the price (buy when ``ask <= price``) at the
  limit price, as maker. A limit that crosses on arrival (its first match attempt) fills as taker
  at the touch; a post-only one that would cross is rejected instead.
* Fills are capped by the displayed size at the touch (when the size is known); that size is
  consumed within the event, so two orders cannot both take it. The rest of a limit order stays
  open; the rest of a market order is cancelled.
* Reduce-only orders never increase ``|position|``: capped at fill, cancelled when nothing is left.

Compile time matters here: a cold first backtest compiles all of it. Measured per construct
(numba 0.68, this project's 2-core machine): a loop ~23 ms, ``x if c else y`` or ``a and b`` ~14
ms, an ``if`` ~8 ms, ``a & b`` on two comparisons ~6 ms, a nested-array access
(``ctx.position[s]``) ~4 ms, an operator ~2 ms, a record field ~1 ms, plus ~50 ms per function.
So the code is a few functions with their steps written out (the acceptance checks, the match
of one order) rather than many small helpers; conditions are combined with ``&``/``|`` on
booleans (both sides are always evaluated: keep them cheap and safe), and there are no
conditional expressions. numba's IR inlining (``inline="always"``) re-translates and copies the
callee at every call site, so it is kept for one-liners. Nothing is called with constant
arguments (numba would compile one copy per constant). Orders and fills are records
(``ctx.oo[i].price``), which compile to much less code than rows of 2-D arrays.

Usage: called by the generated replay driver (``quantkit.engine.codegen``), not by strategies.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from quantkit.engine.accounting import apply_fill, fee_for
from quantkit.engine.jit import internal
from quantkit.engine.layout import (
    BUY,
    C_FILL_ID,
    C_FILLS,
    C_ORDERS,
    C_ROW0,
    C_STATUS,
    CANCEL,
    LIMIT,
    MARKET,
    MAX_FILLQ,
    MAX_OPEN,
    MAX_OUT,
    OE_CANCELLED,
    OE_DONE,
    OE_EXPIRED,
    OE_NEW,
    OE_REJECTED,
    POST_ONLY,
    R_BAD_PRICE,
    R_BAD_SIDE,
    R_BAD_SIZE,
    R_BAD_SLOT,
    R_BY_STRATEGY,
    R_MARKET_REST,
    R_NO_SIZE,
    R_NONE,
    R_OUT_FULL,
    R_POST_ONLY_CROSS,
    R_REDUCE_ONLY,
    R_TIMEOUT,
    R_TOO_MANY_OPEN,
    R_UNKNOWN_ORDER,
    REDUCE_ONLY,
    SELL,
    ST_FILLQ_OVERFLOW,
    ST_LOG_OVERFLOW,
)

_KEEP = -1  #: match outcome: the order stays open


@internal
def log_order(olog, counters, ctx, row, oid, slot, side, otype, flags, price, size, event, reason):
    """Append one order event to the order log."""
    n = counters[C_ORDERS]
    if n >= olog.shape[0]:
        counters[C_STATUS] = ST_LOG_OVERFLOW
        return
    rec = olog[n]
    rec.ts = ctx.ts
    rec.row = counters[C_ROW0] + row
    rec.instance = ctx.instance
    rec.order_id = oid
    code = -1
    if slot >= 0:
        code = ctx.inst_code[slot]
    rec.code = code
    rec.side = side
    rec.type = otype
    rec.flags = flags
    rec.price = price
    rec.size = size
    rec.event = event
    rec.reason = reason
    counters[C_ORDERS] = n + 1


@internal
def close_open(ctx, i, row, event, reason, olog, counters):
    """Log the end of open order ``i`` (``event``, ``reason``) and remove it, keeping the
    others in time priority."""
    o = ctx.oo[i]
    s = o.slot
    log_order(olog, counters, ctx, row, o.id, s, o.side, o.type, o.flags, o.price, o.remaining,
              event, reason)  # fmt: skip
    ctx.open_count[s] -= 1
    if o.side == BUY:
        ctx.open_buy[s] -= o.remaining
    else:
        ctx.open_sell[s] -= o.remaining
    oo = ctx.oo
    for j in range(i, ctx.n_open - 1):  # field by field: LLVM takes twice as long for
        a = oo[j]  # oo[j] = oo[j + 1], a copy of the whole record, in every caller
        b = oo[j + 1]
        a.id = b.id
        a.slot = b.slot
        a.side = b.side
        a.type = b.type
        a.flags = b.flags
        a.ts = b.ts
        a.active_ts = b.active_ts
        a.expire_ts = b.expire_ts
        a.checked = b.checked
        a.price = b.price
        a.size = b.size
        a.remaining = b.remaining
    ctx.n_open -= 1


@njit(cache=True, inline="always")
def find_open(ctx, order_id):
    """Index of open order ``order_id`` in ctx, or -1."""
    for i in range(ctx.n_open):
        if ctx.oo[i].id == order_id:
            return i
    return -1


@internal
def accept_orders(ctx, row, latency_ns, market_timeout_ns, olog, counters):
    """Move the hook's output buffer into the open orders (or reject / cancel), logging each.

    A new order is rejected (first rule that applies) for a bad side, an unsubscribed slot, a
    size that is not positive and finite, a limit price that is not, an unknown type, a
    reduce-only order that would not reduce, or when ``MAX_OPEN`` orders are open."""
    total = ctx.n_out
    ctx.n_out = 0
    for k in range(total):
        # what the log line says (an order emitted after the buffer was full, by default)
        oid = -1
        slot = -1
        side = 0
        otype = 0
        flags = 0
        price = math.nan
        size = 0.0
        event = OE_REJECTED
        reason = R_OUT_FULL
        if k < MAX_OUT:
            q = ctx.out[k]
            otype = q.type
            if otype == CANCEL:
                i = find_open(ctx, q.target)
                if i >= 0:
                    why = np.int64(R_BY_STRATEGY)  # not a constant: one compiled close_open
                    close_open(ctx, i, row, np.int64(OE_CANCELLED), why, olog, counters)
                    continue
                oid = q.target
                reason = R_UNKNOWN_ORDER
            else:
                oid = q.id
                slot = q.slot
                side = q.side
                flags = q.flags
                price = q.price
                size = q.size
                reason = R_NONE
                if (side != BUY) & (side != SELL):
                    reason = R_BAD_SIDE
                elif (slot < 0) | (slot >= ctx.n_slots):
                    reason = R_BAD_SLOT
                    slot = -1
                elif not ((size > 0.0) & (size < math.inf)):  # also NaN
                    reason = R_BAD_SIZE
                elif (otype != MARKET) & (
                    (otype != LIMIT) | (not ((price > 0.0) & (price < math.inf)))
                ):
                    reason = R_BAD_PRICE
                elif ((flags & REDUCE_ONLY) != 0) & (
                    (ctx.position[slot] == 0.0) | ((ctx.position[slot] > 0.0) == (side > 0))
                ):
                    reason = R_REDUCE_ONLY  # flat, or the order would add to the position
                elif ctx.n_open >= MAX_OPEN:
                    reason = R_TOO_MANY_OPEN
                else:  # open it: the newest in time priority
                    o = ctx.oo[ctx.n_open]
                    o.id = oid
                    o.slot = slot
                    o.side = side
                    o.type = otype
                    o.flags = flags
                    o.ts = ctx.ts
                    o.active_ts = ctx.ts + latency_ns
                    o.expire_ts = ctx.ts + latency_ns + market_timeout_ns
                    o.checked = 0
                    o.price = price
                    o.size = size
                    o.remaining = size
                    ctx.n_open += 1
                    ctx.open_count[slot] += 1
                    if side == BUY:
                        ctx.open_buy[slot] += size
                    else:
                        ctx.open_sell[slot] += size
                    ctx.n_orders += 1
                    event = OE_NEW
        log_order(olog, counters, ctx, row, oid, slot, side, otype, flags, price, size, event,
                  reason)  # fmt: skip


@internal
def record_fill(ctx, row, oid, slot, side, price, size, fee, maker, flog, counters):
    """Apply a fill to the account, log it and queue it for ``on_fill``."""
    apply_fill(ctx, slot, side, price, size, fee)
    ctx.n_fills += 1
    fid = counters[C_FILL_ID]
    counters[C_FILL_ID] = fid + 1
    n = counters[C_FILLS]
    if n >= flog.shape[0]:
        counters[C_STATUS] = ST_LOG_OVERFLOW
    else:
        rec = flog[n]
        rec.ts = ctx.ts
        rec.row = counters[C_ROW0] + row
        rec.instance = ctx.instance
        rec.fill_id = fid
        rec.order_id = oid
        rec.code = ctx.inst_code[slot]
        rec.side = side
        rec.price = price
        rec.size = size
        rec.fee = fee
        rec.maker = maker
        rec.position = ctx.position[slot]
        rec.realized = ctx.realized[slot]
        counters[C_FILLS] = n + 1
    nq = ctx.n_fq
    if nq >= MAX_FILLQ:
        counters[C_STATUS] = ST_FILLQ_OVERFLOW
        return
    f = ctx.fq[nq]
    f.id = fid
    f.order = oid
    f.slot = slot
    f.side = side
    f.price = price
    f.size = size
    f.fee = fee
    ctx.n_fq = nq + 1


@internal
def match_slot(ctx, slot, row, fee_maker_bps, fee_taker_bps, olog, flog, counters):
    """Match the active open orders of ``slot`` against the current event's quote (the fill
    model of the module docstring), in time priority; filled, expired, rejected and cancelled
    orders are closed. ``ctx.liq_bid_used``/``liq_ask_used`` hold the displayed size fills
    took at this event: the size left is ``size - used``, the shown size minus the sum taken
    (a running difference would round differently in the last bit); a NaN size is unlimited."""
    t = ctx.ts
    i = np.int64(0)  # not a constant: close_open is compiled once, for int64
    while i < ctx.n_open:
        o = ctx.oo[i]
        if (o.slot != slot) | (o.active_ts > t):
            i += 1
            continue
        side = o.side
        touch = ctx.bid
        size = ctx.bid_size
        used = ctx.liq_bid_used
        if side == BUY:
            touch = ctx.ask
            size = ctx.ask_size
            used = ctx.liq_ask_used
        avail = size - used  # <= 0: nothing shown, or all of it taken at this event
        if size != size:  # NaN: the data has no size
            avail = math.inf
        later = o.checked != 0  # not the order's first match attempt (its arrival)
        o.checked = 1
        is_market = o.type == MARKET
        has_touch = touch == touch  # a price: the side is not empty (NaN)
        # a market order takes any touch; a limit one a touch at or better than its price
        # (False for a NaN touch)
        crosses = is_market | ((touch - o.price) * side <= 0.0)
        # what happens to the order: it stays open (_KEEP) or is closed with (event, reason)
        event = _KEEP
        reason = R_NONE
        if is_market & ((later & (t > o.expire_ts)) | ((not has_touch) & (t >= o.expire_ts))):
            # a touch at the order's first event fills it however late that event comes; an
            # order that had to wait is gone past its deadline, even if this event has a touch
            event = OE_EXPIRED
            reason = R_TIMEOUT
        elif (not later) & (not is_market) & ((o.flags & POST_ONLY) != 0) & crosses:
            event = OE_REJECTED
            reason = R_POST_ONLY_CROSS
        elif has_touch & crosses & (o.remaining > 0.0):  # False for a NaN remaining size
            qty = o.remaining
            if avail < qty:
                qty = avail
            room = math.inf
            if o.flags & REDUCE_ONLY:
                room = -ctx.position[slot] * side  # > 0: the size that reduces the position
                if room < qty:
                    qty = room
            if room <= 0.0:  # nothing left to reduce
                event = OE_CANCELLED
                reason = R_REDUCE_ONLY
            elif qty <= 0.0:  # capped at 0 by the size shown: a limit order stays open
                if is_market:
                    event = OE_CANCELLED
                    reason = R_NO_SIZE
            else:
                # taker at the touch, except a limit order resting since an earlier event
                price = touch
                maker = np.int64(0)
                bps = fee_taker_bps
                if later & (not is_market):
                    price = o.price
                    maker = np.int64(1)
                    bps = fee_maker_bps
                if side == BUY:
                    ctx.liq_ask_used += qty
                    ctx.open_buy[slot] -= qty
                else:
                    ctx.liq_bid_used += qty
                    ctx.open_sell[slot] -= qty
                o.remaining -= qty
                fee = fee_for(ctx, slot, price, qty, bps)
                record_fill(ctx, row, o.id, slot, side, price, qty, fee, maker, flog, counters)
                if o.remaining <= 1e-12 * o.size:  # done; a rest that small is rounding
                    event = OE_DONE
                elif is_market:
                    event = OE_CANCELLED
                    reason = R_MARKET_REST
        if event == _KEEP:
            i += 1
        else:
            close_open(ctx, i, row, np.int64(event), np.int64(reason), olog, counters)


@njit(cache=True)
def external_cancel(ctxs, j, t, row, order_id, event, reason, olog, counters):
    """A venue cancelled or expired open order ``order_id`` of instance ``j``; returns 1 if open."""
    ctx = ctxs[j]
    i = find_open(ctx, order_id)
    if i < 0:
        return 0
    ctx.ts = t
    close_open(ctx, i, row, event, reason, olog, counters)
    return 1
