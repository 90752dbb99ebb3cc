"""The step API: feed events one at a time to the same compiled kernels (paper and live trading).

``Session(sim=True)`` simulates fills exactly like the backtest (paper trading). With
``sim=False`` the engine never fills anything: the orders each call returns go to a venue, and
the venue's fills come back through :meth:`Session.on_fill`, which runs the strategy's
``on_fill`` and returns any orders it emits.

Usage::

    sess = Session([qk.strategies.momentum(span=50)], instruments=["BTC-PERPETUAL"], sim=False)
    sess.start(ts)
    for ev in sess.on_quote(ts, "BTC-PERPETUAL", bid=60000.0, ask=60000.5):
        venue.send(ev)                      # ev.side, ev.type, ev.size, ev.price ...
    sess.on_fill(ev.instance, ev.order_id, price=60000.5, size=1.0, ts=ts2)
    if (due := sess.next_timer()) is not None and due <= now:
        orders = sess.on_time(now)          # strategies' timers, between quotes

Instances are numbered in the order the strategies were given (``OrderEvent.instance``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quantkit.engine.group import in_event_order
from quantkit.engine.layout import OE_NAMES, REASONS
from quantkit.engine.run import Engine
from quantkit.engine.settings import EngineSettings
from quantkit.engine.strategy import StrategyConfig
from quantkit.errors import ConfigError, ExchangeError, did_you_mean
from quantkit.jitdefer import interrupts_after

_TYPES = {0: "market", 1: "limit", 2: "cancel"}


@dataclass(frozen=True)
class OrderEvent:
    """One line of the order log: a new order, a rejection, a cancel, an expiry or a completion."""

    strategy: str
    instance: int
    order_id: int
    instrument: str | None
    event: str  # new / rejected / cancelled / expired / filled
    side: int  # 1 buy, -1 sell
    type: str  # market / limit / cancel
    price: float
    size: float
    post_only: bool
    reduce_only: bool
    reason: str
    ts: int


@dataclass(frozen=True)
class FillEvent:
    """One fill, as the engine accounted it."""

    strategy: str
    instance: int
    order_id: int
    instrument: str
    side: int
    price: float
    size: float
    fee: float
    position: float
    ts: int


class Session:
    """Drive strategy kernels one event at a time (``sim=True``: paper; ``False``: live)."""

    def __init__(
        self,
        configs: Sequence[StrategyConfig],
        instruments: Sequence[str],
        settings: EngineSettings | None = None,
        sim: bool = True,
        columns: Sequence[str] = (),
    ) -> None:
        self.engine = Engine(configs, instruments, settings, tuple(columns), sim=sim, more=True)
        self.labels = [c.name for c in self.engine.configs]
        self._codes = {name: i for i, name in enumerate(self.engine.instruments)}
        self._seen_orders = [0] * len(self.engine.groups)
        self._seen_fills = [0] * len(self.engine.groups)

    @property
    def rows(self) -> int:
        """Quotes fed so far (the row of the last one is ``rows - 1``)."""
        return self.engine.rows

    def start(self, ts: int) -> list[OrderEvent]:
        """Run every ``on_start``; returns the orders they placed."""
        self.engine.start(int(ts))
        for g in self.engine.groups:
            g.flush()
        return self._new_orders()

    def on_quote(
        self,
        ts: int,
        instrument: str,
        bid: float,
        ask: float,
        bid_size: float = math.nan,
        ask_size: float = math.nan,
        **fields: float,
    ) -> list[OrderEvent]:
        """Deliver one quote (canonical tick fields) to the strategies subscribed to it."""
        code = self._code(instrument)
        cols = {"bid": bid, "ask": ask, "bid_size": bid_size, "ask_size": ask_size, **fields}
        arrays = {k: np.array([v], dtype=np.float64) for k, v in cols.items()}
        self.engine.feed(np.array([ts], dtype=np.int64), np.array([code], dtype=np.int32), arrays)
        return self._new_orders()

    def on_time(self, ts: int) -> list[OrderEvent]:
        """Advance the clock to ``ts`` without a quote: run the timers due by then (each at its
        own time); returns the orders they placed. ``on_quote`` runs due timers by itself.

        Usage: ``sess.on_time(time.time_ns())`` when ``sess.next_timer()`` has passed.
        """
        with interrupts_after():  # every strategy's timers run (orders come with the next call)
            for g in self.engine.groups:
                g.fire_timers(int(ts), self.rows - 1)
        return self._new_orders()

    def next_timer(self) -> int | None:
        """When the earliest timer of any strategy instance is due (ns), or None."""
        row = self.rows - 1
        times = [t for g in self.engine.groups if (t := g.next_timer(row)) is not None]
        return min(times) if times else None

    def on_fill(
        self,
        instance: int,
        order_id: int,
        price: float,
        size: float,
        ts: int,
        fee: float = 0.0,
        maker: bool = False,
        instrument: str | None = None,
        side: int | None = None,
    ) -> list[OrderEvent]:
        """Apply a venue fill of ``order_id`` to strategy ``instance``; returns new orders.

        ``price`` and ``size`` must be positive and finite, ``fee`` finite (a venue message
        that breaks this is an error, not a fill: a NaN size would poison the position)."""
        checked = []
        for name, value, low in (("price", price, 0.0), ("size", size, 0.0), ("fee", fee, None)):
            x = _number(value)
            if not math.isfinite(x) or (low is not None and x <= low):
                what = "finite" if low is None else "positive and finite"
                raise ExchangeError(
                    f"venue fill of order {order_id}: {name} must be {what}, got {value!r}"
                )
            checked.append(x)
        price, size, fee = checked  # plain floats: one compiled signature for every caller
        g, j = self.engine.instances[instance]
        ctx = g.ctxs[j]
        slot, oside = self._order_slot(ctx, order_id)
        if slot < 0:
            if instrument is None or side is None:
                raise ConfigError(
                    f"order {order_id} is not open for instance {instance}; pass "
                    f"instrument= and side= to book the fill anyway"
                )
            slot, oside = g.slots[j].index(instrument), side
        # logged against the last event fed (-1 before the first one)
        with interrupts_after():  # the fill is booked (its orders come with the next call)
            g.external_fill(j, int(ts), self.rows - 1, order_id, slot, oside, price, size, fee,
                            maker)  # fmt: skip
            g.flush()
        return self._new_orders()

    def on_cancel(
        self, instance: int, order_id: int, ts: int, expired: bool = False
    ) -> list[OrderEvent]:
        """The venue cancelled (or expired) ``order_id`` of ``instance``: it stops being open.

        Returns the logged cancel event, or ``[]`` when the order was not open (already filled
        or cancelled: nothing changes).
        Usage: ``sess.on_cancel(ev.instance, ev.order_id, ts)`` for the unfilled rest of an IOC.
        """
        g, j = self.engine.instances[instance]
        with interrupts_after():
            g.external_cancel(j, int(ts), self.rows - 1, order_id, expired)
            g.flush()
        return self._new_orders()

    def fills(self) -> list[FillEvent]:
        """Fills booked since the last call."""
        return [
            FillEvent(
                self.labels[int(r["instance"])],
                int(r["instance"]),
                int(r["order_id"]),
                self.engine.instruments[int(r["code"])],
                int(r["side"]),
                float(r["price"]),
                float(r["size"]),
                float(r["fee"]),
                float(r["position"]),
                int(r["ts"]),
            )
            for r in self._new_rows("fills", self._seen_fills)
        ]

    def _code(self, instrument: str) -> int:
        try:
            return self._codes[instrument]
        except KeyError:
            raise ConfigError(
                f"no strategy subscribed to {instrument!r}{did_you_mean(instrument, self._codes)}"
            ) from None

    @staticmethod
    def _order_slot(ctx: np.void, order_id: int) -> tuple[int, int]:
        for o in ctx["oo"][: int(ctx["n_open"])]:
            if int(o["id"]) == order_id:
                return int(o["slot"]), int(o["side"])
        return -1, 0

    def _new_orders(self) -> list[OrderEvent]:
        return [self._order_event(r) for r in self._new_rows("orders", self._seen_orders)]

    def _new_rows(self, log: str, seen: list[int]) -> np.ndarray | list:
        """Log lines of every group not returned yet, in event order (row, then instance)."""
        parts = []
        for gi, g in enumerate(self.engine.groups):
            g.flush()
            rows = _rows(getattr(g, log))[seen[gi] :]
            seen[gi] += len(rows)
            if len(rows):
                parts.append(rows)
        if not parts:
            return []
        return in_event_order(np.concatenate(parts))

    def _order_event(self, r: np.void) -> OrderEvent:
        code = int(r["code"])
        return OrderEvent(
            strategy=self.labels[int(r["instance"])],
            instance=int(r["instance"]),
            order_id=int(r["order_id"]),
            instrument=self.engine.instruments[code] if code >= 0 else None,
            event=OE_NAMES[int(r["event"])],
            side=int(r["side"]),
            type=_TYPES.get(int(r["type"]), "?"),
            price=float(r["price"]),
            size=float(r["size"]),
            post_only=bool(r["flags"] & 1),
            reduce_only=bool(r["flags"] & 2),
            reason=REASONS.get(int(r["reason"]), ""),
            ts=int(r["ts"]),
        )


def _rows(parts: list[np.ndarray]) -> np.ndarray:
    if len(parts) > 1:
        parts[:] = [np.concatenate(parts)]
    return parts[0] if parts else np.zeros(0)


def _number(value: object) -> float:
    """``float(value)``, or NaN when it is not a number (``"1.5"`` and ``True`` are not)."""
    if isinstance(value, str | bytes | bool | np.bool_):
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
