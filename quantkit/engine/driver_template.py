"""Source of the jitted drivers that call one strategy's hooks (filled in by ``codegen``).

Each strategy gets its own module, generated from ``HEADER`` + ``BODY``, so that the hooks are
compile-time constants of the loop (no function pointers, no reference counting per event) and
numba's on-disk cache works across processes. Three entry points share one event path:

* ``replay``: the backtest and sweep loop over a columnar batch (also used, one row at a time,
  by the step API that live trading calls);
* ``start``: calls ``on_start`` of every instance once;
* ``external_fill``: a fill reported by a venue, delivered to ``on_fill`` (live trading).

Usage: ``quantkit.engine.codegen.driver_for(strategy).replay(...)``.
"""

HEADER_IMPORT = """\
from {module} import {name} as {alias}
"""

BODY = '''
from numba import njit

from quantkit.engine.events import load_more, load_quote, maybe_sample
from quantkit.engine.layout import (
    C_EQUITY, C_FILLS, C_NEXT_SAMPLE, C_ORDERS, C_STATUS, EV_FILL, EV_QUOTE, EV_START,
    ST_FILL_STORM,
)

WHY_DONE = 0
WHY_SAMPLE = 1
WHY_OPEN = 2
WHY_OUT = 3
from quantkit.engine.matching import accept_orders, log_open, match_slot, record_fill, remove_open


@njit(cache=CACHE)
def _deliver_fills(ctx, p, st):
    n = ctx.n_fq
    kind = ctx.kind
    for q in range(n):
        ctx.kind = EV_FILL
        ctx.fill_order = ctx.fq_order[q]
        ctx.fill_slot = ctx.fq_slot[q]
        ctx.fill_side = ctx.fq_side[q]
        ctx.fill_price = ctx.fq_price[q]
        ctx.fill_size = ctx.fq_size[q]
        ctx.fill_fee = ctx.fq_fee[q]
        _on_fill(ctx, p, st)
    ctx.n_fq = 0
    ctx.kind = kind


@njit(cache=CACHE)
def _drain(ctx, p, st, row, settings, olog, flog, counters):
    rounds = 0
    while ctx.n_out > 0 or ctx.out_dropped > 0 or ctx.n_fq > 0:
        rounds += 1
        if rounds > 64:
            counters[C_STATUS] = ST_FILL_STORM
            return
        if ctx.n_out > 0 or ctx.out_dropped > 0:
            accept_orders(ctx, row, int(settings[0]), int(settings[1]), olog, counters)
            if ctx.sim == 1 and ctx.kind == EV_QUOTE and ctx.open_count[ctx.slot] > 0:
                match_slot(ctx, ctx.slot, row, settings[2], settings[3], olog, flog, counters)
        if ctx.n_fq > 0:
            _deliver_fills(ctx, p, st)


@njit(cache=CACHE)
def _fast(ts, code, quote, more, has_more, extras, route_ptr, route_inst, route_slot, ctxs, params,
          states, r, kk, next_sample):
    """The common case: load the quote, call on_quote. Stops at anything else; returns where."""
    n = ts.shape[0]
    nx = extras.shape[0]
    while r < n:
        t = ts[r]
        c = code[r]
        a = route_ptr[c]
        b = route_ptr[c + 1]
        if kk < 0:
            if t >= next_sample:
                return r, -1, WHY_SAMPLE
            kk = a
        if kk < b:
            bid = quote[0][r]
            ask = quote[1][r]
            bsz = quote[2][r]
            asz = quote[3][r]
            for k in range(kk, b):
                j = route_inst[k]
                s = route_slot[k]
                ctx = ctxs[j]
                if ctx.open_count[s] > 0:
                    return r, k, WHY_OPEN
                load_quote(ctx, s, t, bid, ask, bsz, asz)
                if has_more:
                    load_more(ctx, s, more[0][r], more[1][r], more[2][r], more[3][r],
                              more[4][r], more[5][r], more[6][r], more[7][r])
                for x in range(nx):
                    ctx.x[x] = extras[x, r]
                _on_quote(ctx, params[j], states[j])
                if ctx.n_out > 0 or ctx.out_dropped > 0:
                    return r, k, WHY_OUT
        r += 1
        kk = -1
    return r, -1, WHY_DONE


@njit(cache=CACHE)
def _slow_event(ts, quote, more, has_more, extras, ctxs, params, states, r, j, s, settings, olog,
                flog, counters):
    """One event of an instance that has open orders: match them, then on_quote, then drain."""
    ctx = ctxs[j]
    p = params[j]
    st = states[j]
    load_quote(ctx, s, ts[r], quote[0][r], quote[1][r], quote[2][r], quote[3][r])
    if has_more:
        load_more(ctx, s, more[0][r], more[1][r], more[2][r], more[3][r], more[4][r],
                  more[5][r], more[6][r], more[7][r])
    for x in range(extras.shape[0]):
        ctx.x[x] = extras[x, r]
    ctx.liq_bid_used = 0.0
    ctx.liq_ask_used = 0.0
    if ctx.sim == 1:
        match_slot(ctx, s, r, settings[2], settings[3], olog, flog, counters)
        if ctx.n_fq > 0:
            _drain(ctx, p, st, r, settings, olog, flog, counters)
    _on_quote(ctx, p, st)
    if ctx.n_out > 0 or ctx.out_dropped > 0:
        _drain(ctx, p, st, r, settings, olog, flog, counters)


@njit(cache=CACHE)
def replay(ts, code, quote, more, has_more, extras, route_ptr, route_inst, route_slot, ctxs,
           params, states, settings, olog, flog, elog, counters, start_row, start_k, margin):
    """Replay a batch from (row, route) ``(start_row, start_k)``; returns where to resume.

    Returns ``(row, k)``: ``row == len(ts)`` when the batch is done; otherwise the logs need
    flushing (or a status is set) and the call must be repeated from there.
    """
    sample_ns = int(settings[4])
    cap_o = olog.shape[0] - margin
    cap_f = flog.shape[0] - margin
    cap_e = elog.shape[0] - ctxs.shape[0]
    r = start_row
    k = start_k
    while True:
        r, k, why = _fast(ts, code, quote, more, has_more, extras, route_ptr, route_inst,
                          route_slot, ctxs, params, states, r, k, counters[C_NEXT_SAMPLE])
        if why == WHY_DONE:
            return r, -1
        if why == WHY_SAMPLE:
            if counters[C_EQUITY] > cap_e:
                return r, -1
            maybe_sample(ctxs, ts[r], sample_ns, elog, counters)
            continue
        j = route_inst[k]
        if why == WHY_OPEN:
            _slow_event(ts, quote, more, has_more, extras, ctxs, params, states, r, j,
                        route_slot[k], settings, olog, flog, counters)
        else:
            ctx = ctxs[j]
            ctx.liq_bid_used = 0.0
            ctx.liq_ask_used = 0.0
            _drain(ctx, params[j], states[j], r, settings, olog, flog, counters)
        if k + 1 == route_ptr[code[r] + 1]:
            r += 1
            k = -1
        else:
            k += 1
        if counters[C_STATUS] != 0:
            return r, k
        if counters[C_ORDERS] > cap_o or counters[C_FILLS] > cap_f:
            return r, k


@njit(cache=CACHE)
def start(ctxs, params, states, t, settings, olog, flog, counters):
    """Call ``on_start`` of every instance (orders it emits are accepted at time ``t``)."""
    for j in range(ctxs.shape[0]):
        ctx = ctxs[j]
        ctx.kind = EV_START
        ctx.ts = t
        ctx.slot = -1
        _on_start(ctx, params[j], states[j])
        if ctx.n_out > 0 or ctx.out_dropped > 0:
            _drain(ctx, params[j], states[j], -1, settings, olog, flog, counters)


@njit(cache=CACHE)
def external_fill(ctxs, params, states, j, t, row, order_id, slot, side, price, size, fee, maker,
                  settings, olog, flog, counters):
    """Apply a fill reported by a venue to instance ``j`` and deliver it to ``on_fill``."""
    ctx = ctxs[j]
    kind = ctx.kind
    ctx.kind = EV_FILL
    ctx.ts = t
    record_fill(ctx, row, order_id, slot, side, price, size, fee, maker, flog, counters)
    for i in range(ctx.n_open):
        if ctx.oo_id[i] == order_id:
            ctx.oo_remaining[i] -= size
            if side > 0:
                ctx.open_buy[slot] -= size
            else:
                ctx.open_sell[slot] -= size
            if ctx.oo_remaining[i] <= 1e-12 * ctx.oo_size[i]:
                log_open(olog, counters, ctx, row, i, 4, 0)
                remove_open(ctx, i)
            break
    _drain(ctx, params[j], states[j], row, settings, olog, flog, counters)
    ctx.kind = kind
'''
