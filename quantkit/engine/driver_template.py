"""Source of the jitted drivers that call one strategy's hooks (filled in by ``codegen``).

Each strategy gets its own module, generated from ``HEADER`` + ``BODY``, so that the hooks are
compile-time constants of the loop (no function pointers, no reference counting per event) and
numba's on-disk cache works across processes. Entry points (each compiled on first use):

* ``replay_one``: the backtest loop over a columnar batch for a group of one instance that
  takes each instrument once (the common case: no routing, the records are loop constants);
  ``replay``: the same for any group (sweeps). The step API of live trading feeds them one row
  at a time;
* ``start``: calls ``on_start`` of every instance once;
* ``fire_timers``: runs the due timers of every instance (live trading, between quotes);
* ``external_fill``: a fill reported by a venue, delivered to ``on_fill`` (live trading).

Timers (``quantkit.engine.timers``) are compiled in only for strategies with an ``on_timer``
hook: the loops take ``timers=None`` otherwise, and numba prunes that code before typing it.

The per-event path loads the quote into ``ctx`` and calls an inlined copy of ``on_quote``
(:func:`quantkit.engine.hooks.inlined`); anything else (open orders on the instrument, emitted
orders, equity samples) goes to out-of-line functions.

Usage: ``quantkit.engine.codegen.driver_for(strategy).replay_one(...)``.
"""

HEADER_IMPORT = """\
from {module} import {name} as {alias}
"""

BODY = '''
import numpy as np
from numba import njit

from quantkit.engine.events import load_more, load_quote, maybe_sample, sample_equity
from quantkit.engine.hooks import inlined
from quantkit.engine.layout import (
    C_EQUITY, C_FILLS, C_INSTANCE, C_NEXT_SAMPLE, C_ORDERS, C_ROW0, C_STATUS, EV_FILL, EV_QUOTE,
    EV_START, EV_TIMER, OE_DONE, R_NONE, ST_FILL_STORM,
)
from quantkit.engine.matching import accept_orders, close_open, find_open, match_slot, record_fill
from quantkit.jitlink import separate

_on_quote_inline = inlined(_on_quote)
_on_fill_inline = inlined(_on_fill)
_on_start_inline = inlined(_on_start)
_on_timer_inline = inlined(_on_timer)
# what _slow is called for
M_MATCH = 0
M_ORDERS = 1
M_DRAIN = 2


@separate(cache=CACHE)
def _slow(ctx, p, st, mode, row, settings, olog, flog, counters):
    """Everything but a plain quote. ``mode``: M_MATCH, a quote (already in ctx) of a slot with
    open orders, before on_quote: match them; M_ORDERS: the inlined on_quote emitted orders;
    M_DRAIN: orders or fills are pending. Then accept the orders the hooks emit, match them and
    deliver their fills to ``on_fill`` until quiet (at most 64 rounds)."""
    if mode != M_DRAIN:
        ctx.liq_bid_used = 0.0  # displayed size taken by fills at this event
        ctx.liq_ask_used = 0.0
    if (mode == M_MATCH) & (ctx.sim == 1):
        match_slot(ctx, ctx.slot, row, settings[2], settings[3], olog, flog, counters)
    rounds = 0
    while (ctx.n_out > 0) | (ctx.n_fq > 0):
        rounds += 1
        if rounds > 64:
            counters[C_STATUS] = ST_FILL_STORM
            return
        if ctx.n_out > 0:
            accept_orders(ctx, row, np.int64(settings[0]), np.int64(settings[1]), olog, counters)
            if (ctx.sim == 1) & (ctx.kind == EV_QUOTE):
                if ctx.open_count[ctx.slot] > 0:
                    match_slot(ctx, ctx.slot, row, settings[2], settings[3], olog, flog,
                               counters)  # fmt: skip
        kind = ctx.kind
        for q in range(ctx.n_fq):  # the fills, each delivered to on_fill
            f = ctx.fq[q]
            ctx.kind = EV_FILL
            ctx.fill_order = f.order
            ctx.fill_slot = f.slot
            ctx.fill_side = f.side
            ctx.fill_price = f.price
            ctx.fill_size = f.size
            ctx.fill_fee = f.fee
            _on_fill_inline(ctx, p, st)
        ctx.n_fq = 0
        ctx.kind = kind


@separate(cache=CACHE)
def _fire_timers(ctx, p, st, t, row, settings, olog, flog, counters, cap_o, cap_f):
    """Run ``on_timer`` while the instance's timer is due at ``t``, each time at the timer's own
    time. Returns 1 when the logs must be flushed first (then call again with the same row),
    else 0. A timer re-armed at or before the time it fired at waits for the next row: the row
    is kept in ``ctx.timer_held``, so calling again for the same row does not fire it twice."""
    g = counters[C_ROW0] + row
    while 0 < ctx.timer_at <= t:
        if ctx.timer_held == g:
            return 0
        full = (counters[C_ORDERS] > cap_o) | (counters[C_FILLS] > cap_f)
        if full | (counters[C_STATUS] != 0):
            return 1
        due = ctx.timer_at
        ctx.timer_at = 0
        ctx.kind = EV_TIMER
        ctx.ts = due
        ctx.slot = -1
        _on_timer_inline(ctx, p, st)
        if (ctx.n_out > 0) | (ctx.n_fq > 0):
            _slow(ctx, p, st, np.int64(M_DRAIN), row, settings, olog, flog, counters)
        if ctx.timer_at <= due:
            ctx.timer_held = g
            return 0
    return 0


@njit(cache=CACHE, no_cfunc_wrapper=True)
def fire_timers(ctxs, params, states, t, row, settings, olog, flog, counters, cap_o, cap_f):
    """``_fire_timers`` for every instance; returns 1 when the logs must be flushed first (then
    call again), else 0."""
    for j in range(ctxs.shape[0]):
        counters[C_INSTANCE] = j
        if _fire_timers(ctxs[j], params[j], states[j], t, row, settings, olog, flog, counters,
                        cap_o, cap_f):  # fmt: skip
            return 1
    return 0


@njit(cache=CACHE, no_cfunc_wrapper=True)
def replay_one(ts, code, quote, more, has_more, extras, slot_of, ctxs, params, states, settings,
               olog, flog, elog, counters, r, margin, close, options, timers):
    """Replay a batch from row ``r`` through the group's only instance, whose slot of
    instrument ``c`` is ``slot_of[c]`` (-1: not subscribed). ``code`` is uint32 (no negative
    index handling); ``more`` the optional event columns (loaded when ``has_more``) and
    ``extras`` the strategy's extra columns: None when absent, their code then compiled out.
    Returns the row to resume at: ``len(ts)`` when the batch is done; otherwise the logs need
    flushing (or a status is set). With ``close`` it only takes the closing equity sample, at
    ``ts[0]``. ``options`` is None when no slot is an option (see ``sample_equity``), ``timers``
    None when the strategy has no ``on_timer``: that code is then not compiled."""
    if close:
        sample_equity(ctxs, ts[0], elog, counters, options)
        return r
    ctx = ctxs[0]
    p = params[0]
    st = states[0]
    counters[C_INSTANCE] = 0
    bid, ask, bid_size, ask_size = quote
    n = ts.shape[0]
    sample_ns = np.int64(settings[4])
    cap_o = olog.shape[0] - margin
    cap_f = flog.shape[0] - margin
    cap_e = elog.shape[0] - ctxs.shape[0]
    next_sample = counters[C_NEXT_SAMPLE]
    r = r if r > 0 else 0  # lets LLVM drop negative-index handling: r only grows
    while r < n:
        t = ts[r]
        if t >= next_sample:
            if counters[C_EQUITY] > cap_e:
                return r
            maybe_sample(ctxs, t, sample_ns, elog, counters, options)
            next_sample = counters[C_NEXT_SAMPLE]
        s = slot_of[code[r]]
        if s < 0:
            r += 1
            continue
        if timers is not None and 0 < ctx.timer_at <= t:  # the instance's clock: its events
            if _fire_timers(ctx, p, st, t, r, settings, olog, flog, counters, cap_o, cap_f):
                return r
        load_quote(ctx, s, t, bid[r], ask[r], bid_size[r], ask_size[r])
        if more is not None and has_more:
            load_more(ctx, s, more[0][r], more[1][r], more[2][r], more[3][r], more[4][r],
                      more[5][r], more[6][r], more[7][r])
        if extras is not None:
            for x in range(extras.shape[0]):
                ctx.x[x] = extras[x, r]
        after = M_ORDERS
        if ctx.open_count[s] > 0:
            _slow(ctx, p, st, np.int64(M_MATCH), r, settings, olog, flog, counters)
            after = M_DRAIN  # the fill model's liquidity stays taken for the whole event
        _on_quote_inline(ctx, p, st)
        if ctx.n_out > 0:
            _slow(ctx, p, st, np.int64(after), r, settings, olog, flog, counters)
        elif after == M_ORDERS:
            r += 1
            continue
        r += 1
        full = (counters[C_ORDERS] > cap_o) | (counters[C_FILLS] > cap_f)
        if full | (counters[C_STATUS] != 0):
            return r
    return r


@njit(cache=CACHE, no_cfunc_wrapper=True)
def replay(ts, code, quote, more, has_more, extras, route_ptr, route_inst, route_slot, ctxs,
           params, states, settings, olog, flog, elog, counters, r, k, margin, close, options,
           timers):
    """Replay a batch from (row, route) ``(r, k)`` through every instance (routes
    ``route_ptr[code]`` up to ``route_ptr[code + 1]``); returns where to resume,
    ``(len(ts), -1)`` when the batch is done. ``close``, ``options``, ``timers``: as in
    ``replay_one``."""
    if close:
        sample_equity(ctxs, ts[0], elog, counters, options)
        return r, k
    bid, ask, bid_size, ask_size = quote
    n = ts.shape[0]
    sample_ns = np.int64(settings[4])
    cap_o = olog.shape[0] - margin
    cap_f = flog.shape[0] - margin
    cap_e = elog.shape[0] - ctxs.shape[0]
    next_sample = counters[C_NEXT_SAMPLE]
    r = r if r > 0 else 0
    while r < n:
        t = ts[r]
        c = code[r]
        if k < 0:
            if t >= next_sample:
                if counters[C_EQUITY] > cap_e:
                    return r, -1
                maybe_sample(ctxs, t, sample_ns, elog, counters, options)
                next_sample = counters[C_NEXT_SAMPLE]
            k = route_ptr[c]
        b = route_ptr[c + 1]
        while k < b:
            j = route_inst[k]
            s = route_slot[k]
            counters[C_INSTANCE] = j
            ctx = ctxs[j]
            p = params[j]
            st = states[j]
            if timers is not None and 0 < ctx.timer_at <= t:  # the instance's clock: its events
                if _fire_timers(ctx, p, st, t, r, settings, olog, flog, counters, cap_o, cap_f):
                    return r, k
            k += 1
            load_quote(ctx, s, t, bid[r], ask[r], bid_size[r], ask_size[r])
            if more is not None and has_more:
                load_more(ctx, s, more[0][r], more[1][r], more[2][r], more[3][r], more[4][r],
                          more[5][r], more[6][r], more[7][r])
            if extras is not None:
                for x in range(extras.shape[0]):
                    ctx.x[x] = extras[x, r]
            after = M_ORDERS
            if ctx.open_count[s] > 0:
                _slow(ctx, p, st, np.int64(M_MATCH), r, settings, olog, flog, counters)
                after = M_DRAIN
            _on_quote_inline(ctx, p, st)
            if ctx.n_out > 0:
                _slow(ctx, p, st, np.int64(after), r, settings, olog, flog, counters)
            elif after == M_ORDERS:
                continue
            full = (counters[C_ORDERS] > cap_o) | (counters[C_FILLS] > cap_f)
            if full | (counters[C_STATUS] != 0):
                return (r + 1, -1) if k == b else (r, k)
        r += 1
        k = -1
    return r, -1


@njit(cache=CACHE, no_cfunc_wrapper=True)
def start(ctxs, params, states, t, row, settings, olog, flog, counters):
    """Call ``on_start`` of every instance (orders it emits are accepted at time ``t``)."""
    for j in range(ctxs.shape[0]):
        counters[C_INSTANCE] = j
        ctx = ctxs[j]
        ctx.kind = EV_START
        ctx.ts = t
        ctx.slot = -1
        _on_start_inline(ctx, params[j], states[j])
        _slow(ctx, params[j], states[j], np.int64(M_DRAIN), row, settings, olog, flog, counters)


@njit(cache=CACHE, no_cfunc_wrapper=True)
def external_fill(ctxs, params, states, j, t, row, order_id, slot, side, price, size, fee, maker,
                  settings, olog, flog, counters):
    """Apply a fill reported by a venue to instance ``j`` and deliver it to ``on_fill``."""
    counters[C_INSTANCE] = j
    ctx = ctxs[j]
    kind = ctx.kind
    ctx.kind = EV_FILL
    ctx.ts = t
    ctx.fill_slot = slot  # (on_fill gets each fill's own fields from the queue)
    record_fill(ctx, row, order_id, slot, side, price, size, fee, maker, flog, counters)
    i = find_open(ctx, order_id)
    if i >= 0:
        o = ctx.oo[i]
        o.remaining -= size
        if side > 0:
            ctx.open_buy[slot] -= size
        else:
            ctx.open_sell[slot] -= size
        if o.remaining <= 1e-12 * o.size:
            close_open(ctx, i, row, np.int64(OE_DONE), np.int64(R_NONE), olog, counters)
    _slow(ctx, params[j], states[j], np.int64(M_DRAIN), row, settings, olog, flog, counters)
    ctx.kind = kind
'''
