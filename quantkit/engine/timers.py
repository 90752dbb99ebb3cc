"""Timers: a strategy asks to be woken at a time of its choosing, without waiting for a quote.

Each strategy instance has one timer, ``ctx.timer_at`` (ns, 0 when unset). When the event clock
reaches it, the engine clears it and calls the strategy's ``on_timer(ctx, p, s)`` with
``ctx.kind == EV_TIMER``, ``ctx.ts`` = the timer's time and ``ctx.slot == -1``:

* in a backtest an instance's clock is the ``ts`` of the events it receives (those of its own
  instruments, so what it does never depends on what other strategies read): a timer at ``T``
  fires before the instance's first event with ``ts >= T``, and a timer ``on_timer`` re-arms
  further ahead fires again at its own time, so a 100 ms timer fires ten times across a
  one-second gap in the data. A timer still pending when the data ends never fires;
* live, the step API fires due timers before each quote and on :meth:`Session.on_time` (the
  wall clock), which runs those that :meth:`Session.next_timer` reports.

Orders placed in ``on_timer`` are accepted at the timer's time. The fill model still needs a
quote: a market order fills at the first quote of its instrument with
``ts >= timer time + latency``, however late that quote comes. A timer re-armed to its own time
or earlier fires again only at the next event (never twice within one).

Usage (inside a kernel)::

    set_timer(ctx, ctx.ts + 60_000_000_000)   # on_timer in one minute
    cancel_timer(ctx)
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, inline="always")
def set_timer(ctx, t):
    """Run ``on_timer`` at time ``t`` (ns, > 0), replacing any timer already set."""
    ctx.timer_at = t


@njit(cache=True, inline="always")
def cancel_timer(ctx):
    """Clear the instance's timer."""
    ctx.timer_at = 0
