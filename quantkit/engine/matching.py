"""The simulated venue: order acceptance, the fill model and the order/fill logs (jitted).

Fill model (also in the README):

* Market orders fill at the touch (buy at ``ask``, sell at ``bid``) of the first event of their
  instrument whose ``ts >= submit ts + latency``; with latency 0 that is the event that triggered
  them. An empty side (NaN, or size 0) makes the order wait; it expires after ``market_timeout``.
* Limit orders fill when the opposite touch reaches the price (buy when ``ask <= price``) at the
  limit price, as maker. A limit that crosses on arrival (its first match attempt) fills as taker
  at the touch; a post-only one that would cross is rejected instead.
* Fills are capped by the displayed size at the touch (when the size is known); that size is
  consumed within the event, so two orders cannot both take it. The rest of a limit order stays
  open; the rest of a market order is cancelled.
* Reduce-only orders never increase ``|position|``: capped at fill, cancelled when nothing is left.

Usage: called by the generated replay driver (``quantkit.engine.codegen``), not by strategies.
"""

from __future__ import annotations

import math

from numba import njit

from quantkit.engine.accounting import apply_fill, fee_for
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
    O_FLAGS,
    O_ID,
    O_PRICE,
    O_SIDE,
    O_SIZE,
    O_SLOT,
    O_TARGET,
    O_TYPE,
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
    R_NONE,
    R_OUT_FULL,
    R_POST_ONLY_CROSS,
    R_REDUCE_ONLY,
    R_TOO_MANY_OPEN,
    R_UNKNOWN_ORDER,
    REDUCE_ONLY,
    SELL,
    ST_FILLQ_OVERFLOW,
    ST_LOG_OVERFLOW,
)


@njit(cache=True)
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
    rec.code = ctx.inst_code[slot] if slot >= 0 else -1
    rec.side = side
    rec.type = otype
    rec.flags = flags
    rec.price = price
    rec.size = size
    rec.event = event
    rec.reason = reason
    counters[C_ORDERS] = n + 1


@njit(cache=True)
def log_open(olog, counters, ctx, row, i, event, reason):
    log_order(
        olog,
        counters,
        ctx,
        row,
        ctx.oo_id[i],
        ctx.oo_slot[i],
        ctx.oo_side[i],
        ctx.oo_type[i],
        ctx.oo_flags[i],
        ctx.oo_price[i],
        ctx.oo_remaining[i],
        event,
        reason,
    )


@njit(cache=True)
def remove_open(ctx, i):
    """Remove open order ``i`` keeping the others in time priority."""
    s = ctx.oo_slot[i]
    ctx.open_count[s] -= 1
    if ctx.oo_side[i] == BUY:
        ctx.open_buy[s] -= ctx.oo_remaining[i]
    else:
        ctx.open_sell[s] -= ctx.oo_remaining[i]
    for j in range(i, ctx.n_open - 1):
        ctx.oo_id[j] = ctx.oo_id[j + 1]
        ctx.oo_slot[j] = ctx.oo_slot[j + 1]
        ctx.oo_side[j] = ctx.oo_side[j + 1]
        ctx.oo_type[j] = ctx.oo_type[j + 1]
        ctx.oo_flags[j] = ctx.oo_flags[j + 1]
        ctx.oo_price[j] = ctx.oo_price[j + 1]
        ctx.oo_size[j] = ctx.oo_size[j + 1]
        ctx.oo_remaining[j] = ctx.oo_remaining[j + 1]
        ctx.oo_ts[j] = ctx.oo_ts[j + 1]
        ctx.oo_active_ts[j] = ctx.oo_active_ts[j + 1]
        ctx.oo_expire_ts[j] = ctx.oo_expire_ts[j + 1]
        ctx.oo_checked[j] = ctx.oo_checked[j + 1]
    ctx.n_open -= 1


@njit(cache=True)
def find_open(ctx, order_id):
    """Index of open order ``order_id`` in ctx, or -1."""
    for i in range(ctx.n_open):
        if ctx.oo_id[i] == order_id:
            return i
    return -1


@njit(cache=True)
def _reject_reason(ctx, k):
    side = ctx.out_i[k, O_SIDE]
    slot = ctx.out_i[k, O_SLOT]
    size = ctx.out_f[k, O_SIZE]
    if side != BUY and side != SELL:
        return R_BAD_SIDE
    if slot < 0 or slot >= ctx.n_slots:
        return R_BAD_SLOT
    if not (size > 0.0 and math.isfinite(size)):
        return R_BAD_SIZE
    if ctx.out_i[k, O_TYPE] == LIMIT:
        price = ctx.out_f[k, O_PRICE]
        if not (price > 0.0 and math.isfinite(price)):
            return R_BAD_PRICE
    elif ctx.out_i[k, O_TYPE] != MARKET:
        return R_BAD_PRICE
    if ctx.out_i[k, O_FLAGS] & REDUCE_ONLY:
        pos = ctx.position[slot]
        if pos == 0.0 or (pos > 0.0) == (side > 0):
            return R_REDUCE_ONLY
    if ctx.n_open >= MAX_OPEN:
        return R_TOO_MANY_OPEN
    return R_NONE


@njit(cache=True)
def _open(ctx, k, latency_ns, market_timeout_ns):
    i = ctx.n_open
    slot = ctx.out_i[k, O_SLOT]
    ctx.oo_id[i] = ctx.out_i[k, O_ID]
    ctx.oo_slot[i] = slot
    ctx.oo_side[i] = ctx.out_i[k, O_SIDE]
    ctx.oo_type[i] = ctx.out_i[k, O_TYPE]
    ctx.oo_flags[i] = ctx.out_i[k, O_FLAGS]
    ctx.oo_price[i] = ctx.out_f[k, O_PRICE]
    ctx.oo_size[i] = ctx.out_f[k, O_SIZE]
    ctx.oo_remaining[i] = ctx.out_f[k, O_SIZE]
    ctx.oo_ts[i] = ctx.ts
    ctx.oo_active_ts[i] = ctx.ts + latency_ns
    ctx.oo_expire_ts[i] = ctx.ts + latency_ns + market_timeout_ns
    ctx.oo_checked[i] = 0
    ctx.n_open = i + 1
    ctx.open_count[slot] += 1
    if ctx.out_i[k, O_SIDE] == BUY:
        ctx.open_buy[slot] += ctx.out_f[k, O_SIZE]
    else:
        ctx.open_sell[slot] += ctx.out_f[k, O_SIZE]


@njit(cache=True)
def accept_orders(ctx, row, latency_ns, market_timeout_ns, olog, counters):
    """Move the hook's output buffer into the open orders (or reject / cancel), logging each."""
    for k in range(ctx.n_out):
        if ctx.out_i[k, O_TYPE] == CANCEL:
            i = find_open(ctx, ctx.out_i[k, O_TARGET])
            if i < 0:
                log_order(
                    olog,
                    counters,
                    ctx,
                    row,
                    ctx.out_i[k, O_TARGET],
                    -1,
                    0,
                    CANCEL,
                    0,
                    math.nan,
                    0.0,
                    OE_REJECTED,
                    R_UNKNOWN_ORDER,
                )
            else:
                log_open(olog, counters, ctx, row, i, OE_CANCELLED, R_BY_STRATEGY)
                remove_open(ctx, i)
            continue
        reason = _reject_reason(ctx, k)
        slot = ctx.out_i[k, O_SLOT]
        event = OE_NEW if reason == R_NONE else OE_REJECTED
        log_order(
            olog,
            counters,
            ctx,
            row,
            ctx.out_i[k, O_ID],
            slot if reason != R_BAD_SLOT else -1,
            ctx.out_i[k, O_SIDE],
            ctx.out_i[k, O_TYPE],
            ctx.out_i[k, O_FLAGS],
            ctx.out_f[k, O_PRICE],
            ctx.out_f[k, O_SIZE],
            event,
            reason,
        )
        if reason == R_NONE:
            _open(ctx, k, latency_ns, market_timeout_ns)
            ctx.n_orders += 1
    ctx.n_out = 0
    for _ in range(ctx.out_dropped):
        log_order(olog, counters, ctx, row, -1, -1, 0, 0, 0, math.nan, 0.0, OE_REJECTED, R_OUT_FULL)
    ctx.out_dropped = 0


@njit(cache=True)
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
    q = ctx.n_fq
    if q >= MAX_FILLQ:
        counters[C_STATUS] = ST_FILLQ_OVERFLOW
        return
    ctx.fq_id[q] = fid
    ctx.fq_order[q] = oid
    ctx.fq_slot[q] = slot
    ctx.fq_side[q] = side
    ctx.fq_price[q] = price
    ctx.fq_size[q] = size
    ctx.fq_fee[q] = fee
    ctx.n_fq = q + 1


@njit(cache=True)
def _fill_open(ctx, i, row, price, qty, bps, maker, flog, counters):
    slot = ctx.oo_slot[i]
    side = ctx.oo_side[i]
    ctx.oo_remaining[i] -= qty
    if side == BUY:
        ctx.open_buy[slot] -= qty
    else:
        ctx.open_sell[slot] -= qty
    fee = fee_for(ctx, slot, price, qty, bps)
    record_fill(ctx, row, ctx.oo_id[i], slot, side, price, qty, fee, maker, flog, counters)


@njit(cache=True)
def _available(size, used):
    if math.isnan(size):
        return math.inf
    return size - used


@njit(cache=True)
def match_slot(ctx, slot, row, fee_maker_bps, fee_taker_bps, olog, flog, counters):
    """Match the active open orders of ``slot`` against the current event's quote."""
    t = ctx.ts
    bid = ctx.bid
    ask = ctx.ask
    i = 0
    while i < ctx.n_open:
        if ctx.oo_slot[i] != slot or ctx.oo_active_ts[i] > t:
            i += 1
            continue
        side = ctx.oo_side[i]
        if side == BUY:
            touch = ask
            avail = _available(ctx.ask_size, ctx.liq_ask_used)
        else:
            touch = bid
            avail = _available(ctx.bid_size, ctx.liq_bid_used)
        has_touch = not math.isnan(touch) and avail > 0.0
        first = ctx.oo_checked[i] == 0
        ctx.oo_checked[i] = 1
        if ctx.oo_type[i] == MARKET:
            # past its deadline a waiting market order is gone, even if this event has a touch
            expire = ctx.oo_expire_ts[i]
            if t > expire or (not has_touch and t >= expire):
                log_open(olog, counters, ctx, row, i, OE_EXPIRED, R_MARKET_REST)
                remove_open(ctx, i)
                continue
            if not has_touch:
                i += 1
                continue
            price = touch
            maker = 0
        else:
            limit = ctx.oo_price[i]
            crosses = has_touch and (touch <= limit if side == BUY else touch >= limit)
            if first and ctx.oo_flags[i] & POST_ONLY:
                would_cross = not math.isnan(touch) and (
                    touch <= limit if side == BUY else touch >= limit
                )
                if would_cross:
                    log_open(olog, counters, ctx, row, i, OE_REJECTED, R_POST_ONLY_CROSS)
                    remove_open(ctx, i)
                    continue
            if not crosses:
                i += 1
                continue
            price = touch if first else limit
            maker = 0 if first else 1
        qty = min(ctx.oo_remaining[i], avail)
        if ctx.oo_flags[i] & REDUCE_ONLY:
            pos = ctx.position[slot]
            room = abs(pos) if (pos > 0.0) != (side > 0) else 0.0
            if room <= 0.0:
                log_open(olog, counters, ctx, row, i, OE_CANCELLED, R_REDUCE_ONLY)
                remove_open(ctx, i)
                continue
            qty = min(qty, room)
        if side == BUY:
            ctx.liq_ask_used += qty
        else:
            ctx.liq_bid_used += qty
        _fill_open(
            ctx,
            i,
            row,
            price,
            qty,
            fee_taker_bps if maker == 0 else fee_maker_bps,
            maker,
            flog,
            counters,
        )
        if ctx.oo_remaining[i] <= 0.0:
            log_open(olog, counters, ctx, row, i, OE_DONE, R_NONE)
            remove_open(ctx, i)
        elif ctx.oo_type[i] == MARKET:
            log_open(olog, counters, ctx, row, i, OE_CANCELLED, R_MARKET_REST)
            remove_open(ctx, i)
        else:
            i += 1


@njit(cache=True)
def external_cancel(ctxs, j, t, row, order_id, event, reason, olog, counters):
    """A venue cancelled or expired open order ``order_id`` of instance ``j``; returns 1 if open."""
    ctx = ctxs[j]
    i = find_open(ctx, order_id)
    if i < 0:
        return 0
    ctx.ts = t
    log_open(olog, counters, ctx, row, i, event, reason)
    remove_open(ctx, i)
    return 1
