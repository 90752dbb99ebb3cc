"""Memory layout shared by every jitted kernel: constants, codes and record dtypes.

A strategy kernel never sees a batch. It sees three numpy *records* (passed by pointer, so calls
cost no reference counting, see ``shared/notes/numba-kernels.md``):

* ``ctx``: engine-owned (dtype :data:`CTX_DTYPE`): the current event, the last quote of every
  subscribed instrument ("slot"), positions, PnL, open orders, and an output buffer where the
  strategy writes orders with :func:`quantkit.engine.orders.submit`.
* ``p``: the strategy's parameters (dtype built from its defaults).
* ``s``: the strategy's own state (dtype it declares).

Inside ``ctx`` the fields every quote writes come first; open orders, the output buffer and the
fill queue are arrays of records (``ctx.oo[i].price``, dtypes :data:`OPEN_DTYPE`,
:data:`OUT_DTYPE`, :data:`FILLQ_DTYPE`), which numba compiles to far less code than 2-D arrays
or one array per field.

Usage::

    from quantkit.engine.layout import BUY, MARKET, MAX_SLOTS, CTX_DTYPE
"""

from __future__ import annotations

import numpy as np

MAX_SLOTS = 64  #: instruments one strategy instance may subscribe to
MAX_OPEN = 64  #: open orders one strategy instance may hold
MAX_OUT = 16  #: orders one hook call may emit
MAX_FILLQ = 80  #: fills waiting to be delivered to ``on_fill`` within one event
MAX_X = 8  #: extra numeric columns a strategy may request by name

# sides
BUY = 1
SELL = -1
# order types
MARKET = 0
LIMIT = 1
CANCEL = 2
# order flags (bit set)
POST_ONLY = 1
REDUCE_ONLY = 2
# event kinds seen by hooks in ctx.kind
EV_START = 0
EV_QUOTE = 1
EV_FILL = 2
NO_ROW = -(1 << 62)  #: no row (``ctx.timer_held``)
EV_TIMER = 3  #: the instance's timer fired (``set_timer``); ``ctx.ts`` is the timer's time
# instrument accounting kinds (ctx.inst_kind)
LINEAR = 0  #: size in units, price in quote currency, PnL = size x price change
INVERSE = 1  #: size in USD, price in USD per coin, PnL in coin = size x (1/entry - 1/exit)
COIN_QUOTED = 2  #: size in coin contracts, price in coin (Deribit options), PnL in coin
# order-log event codes
OE_NEW = 0
OE_REJECTED = 1
OE_CANCELLED = 2
OE_EXPIRED = 3
OE_DONE = 4
# reject / cancel reasons
R_NONE = 0
R_BAD_SIZE = 1
R_BAD_PRICE = 2
R_BAD_SLOT = 3
R_TOO_MANY_OPEN = 4
R_POST_ONLY_CROSS = 5
R_REDUCE_ONLY = 6
R_UNKNOWN_ORDER = 7
R_MARKET_REST = 8  #: the part of a market order the touch could not fill
R_OUT_FULL = 9
R_BAD_SIDE = 10
R_BY_STRATEGY = 11
R_BY_VENUE = 12
R_NO_SIZE = 13  #: a market order met a touch showing no size (0, or taken at this event)
R_TIMEOUT = 14  #: a market order found no quote on its side before its timeout

REASONS = {
    R_NONE: "",
    R_BAD_SIZE: "size must be positive and finite",
    R_BAD_PRICE: "limit price must be positive and finite",
    R_BAD_SLOT: "instrument slot not subscribed",
    R_TOO_MANY_OPEN: f"more than {MAX_OPEN} open orders",
    R_POST_ONLY_CROSS: "post-only order would cross",
    R_REDUCE_ONLY: "reduce-only order would not reduce the position",
    R_UNKNOWN_ORDER: "no open order with that id",
    R_MARKET_REST: "rest of market order not filled at the touch",
    R_OUT_FULL: f"more than {MAX_OUT} orders in one hook call",
    R_BAD_SIDE: "side must be BUY (1) or SELL (-1)",
    R_BY_STRATEGY: "cancelled by the strategy",
    R_BY_VENUE: "cancelled by the venue",
    R_NO_SIZE: "market order met no size at the touch",
    R_TIMEOUT: "market order found no quote before its timeout",
}
OE_NAMES = {
    OE_NEW: "new",
    OE_REJECTED: "rejected",
    OE_CANCELLED: "cancelled",
    OE_EXPIRED: "expired",
    OE_DONE: "filled",
}

# kernel status codes (counters[C_STATUS]); the Python wrapper turns them into KernelError
ST_OK = 0
ST_FILL_STORM = 1  #: on_fill/on_quote kept emitting orders that filled at once (> 64 rounds)
ST_LOG_OVERFLOW = 2  #: an order/fill log filled up within one event (engine bug guard)
ST_FILLQ_OVERFLOW = 3  #: more than MAX_FILLQ fills in one event
STATUS_TEXT = {
    ST_FILL_STORM: "the strategy kept emitting orders that filled at once (more than 64 rounds "
    "within one event); check on_fill for a loop",
    ST_LOG_OVERFLOW: "order/fill log overflow within one event",
    ST_FILLQ_OVERFLOW: f"more than {MAX_FILLQ} fills within one event",
}

#: the quote columns every event carries (see quantkit.data.schema)
QUOTE_COLUMNS = ("bid", "ask", "bid_size", "ask_size")
#: the optional canonical columns; a run whose data has none of them skips them per event
MORE_COLUMNS = (
    "last", "last_size", "underlying_price", "mark_iv", "delta", "gamma", "vega", "theta",
)  # fmt: skip
EVENT_COLUMNS = QUOTE_COLUMNS + MORE_COLUMNS

#: an order a hook emitted (``ctx.out[k]``); ``target`` is the order a CANCEL cancels
OUT_DTYPE = np.dtype(
    [(f, np.int64) for f in ("id", "slot", "side", "type", "flags", "target")]
    + [("price", np.float64), ("size", np.float64)]
)
#: an open order (``ctx.oo[i]``, oldest first); ``active_ts``: submit ts + latency, the first ts
#: it may fill at; ``expire_ts``: when a market order waiting for a quote is cancelled;
#: ``checked``: 0 until its first match attempt (arrival)
OPEN_DTYPE = np.dtype(
    [(f, np.int64) for f in ("id", "slot", "side", "type", "flags", "ts", "active_ts")]
    + [("expire_ts", np.int64), ("checked", np.int64)]
    + [(f, np.float64) for f in ("price", "size", "remaining")]
)
#: a fill waiting to be delivered to ``on_fill`` (``ctx.fq[q]``)
FILLQ_DTYPE = np.dtype(
    [(f, np.int64) for f in ("id", "order", "slot", "side")]
    + [(f, np.float64) for f in ("price", "size", "fee")]
)

_S = (MAX_SLOTS,)

CTX_DTYPE = np.dtype(
    [
        # --- the current event (what a quote event writes comes first, in 64 bytes) -------
        ("kind", np.int64),  # EV_START / EV_QUOTE / EV_FILL / EV_TIMER
        ("ts", np.int64),  # event time, ns
        ("slot", np.int64),  # which subscribed instrument the event is about
        *[(c, np.float64) for c in QUOTE_COLUMNS],
        ("n_events", np.int64),  # quote events delivered
        ("n_out", np.int64),  # orders the current hook call emitted (also those beyond MAX_OUT)
        *[(c, np.float64) for c in MORE_COLUMNS],
        ("x", np.float64, (MAX_X,)),  # extra columns the strategy asked for, in its order
        ("liq_bid_used", np.float64),  # displayed size already taken at this event (fill model)
        ("liq_ask_used", np.float64),
        # --- the last quote of each slot ---------------------------------------------------
        ("q_ts", np.int64, _S),
        ("q_bid", np.float64, _S),
        ("q_ask", np.float64, _S),
        ("q_mid", np.float64, _S),  # last finite mid, NaN before the first two-sided quote
        ("q_underlying", np.float64, _S),
        ("q_iv", np.float64, _S),
        ("q_delta", np.float64, _S),
        ("q_gamma", np.float64, _S),
        ("q_vega", np.float64, _S),
        ("q_theta", np.float64, _S),
        # --- instrument facts per slot (set by the engine before the run) ------------------
        ("n_slots", np.int64),
        ("inst_code", np.int64, _S),  # global instrument code in the data
        ("inst_kind", np.int64, _S),  # LINEAR / INVERSE / COIN_QUOTED
        ("contract_size", np.float64, _S),
        ("tick_size", np.float64, _S),
        ("strike", np.float64, _S),  # options; NaN otherwise
        ("expiry_ns", np.int64, _S),  # options and futures; 0 otherwise
        ("is_call", np.int64, _S),  # 1 call, 0 put, -1 not an option
        ("underlying_id", np.int64, _S),  # same number for instruments on the same underlying
        # --- account per slot (engine-owned, read-only for strategies) ---------------------
        ("position", np.float64, _S),
        ("avg_price", np.float64, _S),
        ("realized", np.float64, _S),  # in the slot's PnL currency (USD linear, coin otherwise)
        ("fees", np.float64, _S),  # same currency as realized
        ("open_count", np.int64, _S),  # open orders per slot
        ("open_buy", np.float64, _S),  # unfilled size of open buy orders per slot
        ("open_sell", np.float64, _S),
        ("n_fills", np.int64),
        ("n_orders", np.int64),
        ("timer_at", np.int64),  # when on_timer runs next, ns (0: no timer); see set_timer
        ("timer_held", np.int64),  # row where the timer was re-armed not ahead (NO_ROW: none)
        # --- open orders (engine-owned) --------------------------------------------------
        ("n_open", np.int64),
        ("oo", OPEN_DTYPE, (MAX_OPEN,)),
        # --- output buffer: orders emitted by the current hook call ----------------------
        ("next_id", np.int64),
        ("out", OUT_DTYPE, (MAX_OUT,)),
        # --- fills waiting for on_fill, and the fill being delivered ----------------------
        ("n_fq", np.int64),
        ("fq", FILLQ_DTYPE, (MAX_FILLQ,)),
        ("fill_order", np.int64),
        ("fill_slot", np.int64),
        ("fill_side", np.int64),
        ("fill_price", np.float64),
        ("fill_size", np.float64),
        ("fill_fee", np.float64),
        # --- engine settings ------------------------------------------------------------
        ("sim", np.int64),  # 1: the engine simulates fills; 0: fills come from a venue
        ("instance", np.int64),  # this instance's row in the run
    ]
)

ORDER_LOG_DTYPE = np.dtype(
    [
        ("ts", np.int64),
        ("row", np.int64),  # global event index that triggered the log line
        ("instance", np.int64),
        ("order_id", np.int64),
        ("code", np.int64),  # global instrument code
        ("side", np.int64),
        ("type", np.int64),
        ("flags", np.int64),
        ("price", np.float64),
        ("size", np.float64),
        ("event", np.int64),  # OE_*
        ("reason", np.int64),  # R_*
    ]
)

FILL_LOG_DTYPE = np.dtype(
    [
        ("ts", np.int64),
        ("row", np.int64),
        ("instance", np.int64),
        ("fill_id", np.int64),
        ("order_id", np.int64),
        ("code", np.int64),
        ("side", np.int64),
        ("price", np.float64),
        ("size", np.float64),
        ("fee", np.float64),
        ("maker", np.int64),
        ("position", np.float64),  # position after the fill
        ("realized", np.float64),  # slot's realized PnL after the fill (PnL currency)
    ]
)

EQUITY_LOG_DTYPE = np.dtype(
    [
        ("ts", np.int64),
        ("instance", np.int64),
        ("realized_usd", np.float64),
        ("unrealized_usd", np.float64),
        ("fees_usd", np.float64),
        ("equity_usd", np.float64),
        ("delta", np.float64),  # portfolio delta in coin/units, summed over slots
    ]
)

#: run-wide counters shared by the driver and its Python wrapper (an int64 array)
#: ``C_INSTANCE``: the instance whose event the driver is handling (for error messages)
C_ORDERS, C_FILLS, C_EQUITY, C_NEXT_SAMPLE, C_FILL_ID, C_ROW0, C_INSTANCE, C_STATUS = range(8)
N_COUNTERS = 8
