"""Placing and cancelling orders from inside a kernel, and the typed order domain for Python.

Kernels call the jitted helpers; they write into ``ctx``'s output buffer and return the order id
(or -1 when the buffer is full; the engine logs such orders as rejected)::

    oid = buy_market(ctx, ctx.slot, 1.0)
    oid = submit(ctx, slot, SELL, LIMIT, 101.5, 2.0, POST_ONLY)
    cancel(ctx, oid)

Python code (live adapters, tests) uses :class:`Order`, :class:`Side` and :class:`OrderType`, which
reject malformed values with a clear message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from numba import njit

from quantkit.engine.layout import BUY, CANCEL, LIMIT, MARKET, MAX_OUT, POST_ONLY, REDUCE_ONLY, SELL
from quantkit.errors import ConfigError, did_you_mean

# --------------------------------------------------------------------------- jitted helpers
# ``inline="always"``: numba inlines them into the calling kernel (no separate compilation per
# call signature); the driver checks ``ctx.n_out`` after every hook call.


@njit(cache=True, inline="always")
def submit(ctx, slot, side, otype, price, size, flags=0):
    """Queue an order for the engine; returns its id, or -1 if this call emitted too many."""
    n = ctx.n_out
    ctx.n_out = n + 1  # rows beyond MAX_OUT are only counted (the engine logs them as rejected)
    if n >= MAX_OUT:
        return -1
    oid = ctx.next_id
    ctx.next_id = oid + 1
    o = ctx.out[n]
    o.id = oid
    o.slot = slot
    o.side = side
    o.type = otype
    o.flags = flags
    o.target = -1
    o.price = price
    o.size = size
    return oid


@njit(cache=True, inline="always")
def buy_market(ctx, slot, size):
    """Market buy ``size`` of ``slot``; returns the order id."""
    return submit(ctx, slot, BUY, MARKET, math.nan, size, 0)


@njit(cache=True, inline="always")
def sell_market(ctx, slot, size):
    """Market sell ``size`` of ``slot``; returns the order id."""
    return submit(ctx, slot, SELL, MARKET, math.nan, size, 0)


@njit(cache=True, inline="always")
def buy_limit(ctx, slot, price, size, flags=0):
    """Limit buy; ``flags`` may be ``POST_ONLY | REDUCE_ONLY``; returns the order id."""
    return submit(ctx, slot, BUY, LIMIT, price, size, flags)


@njit(cache=True, inline="always")
def sell_limit(ctx, slot, price, size, flags=0):
    """Limit sell; ``flags`` may be ``POST_ONLY | REDUCE_ONLY``; returns the order id."""
    return submit(ctx, slot, SELL, LIMIT, price, size, flags)


@njit(cache=True, inline="always")
def cancel(ctx, order_id):
    """Ask the engine to cancel open order ``order_id``; returns 0, or -1 if the buffer is full."""
    n = ctx.n_out
    ctx.n_out = n + 1
    if n >= MAX_OUT:
        return -1
    o = ctx.out[n]
    o.id = -1
    o.slot = -1
    o.side = 0
    o.type = CANCEL
    o.flags = 0
    o.target = order_id
    o.price = math.nan
    o.size = 0.0
    return 0


@njit(cache=True, inline="always")
def cancel_all(ctx, slot):
    """Cancel every open order of ``slot`` (all slots when ``slot`` < 0); returns how many."""
    k = 0
    for i in range(ctx.n_open):
        o = ctx.oo[i]
        if slot < 0 or o.slot == slot:
            if cancel(ctx, o.id) == 0:
                k += 1
    return k


# --------------------------------------------------------------------------- typed domain


class Side(Enum):
    """Order side. ``Side.parse("buy")`` accepts names, case-insensitively."""

    BUY = BUY
    SELL = SELL

    @classmethod
    def parse(cls, value: str | int | Side) -> Side:
        """``Side.parse("sell") -> Side.SELL``; raises ConfigError on anything else."""
        return _parse_enum(cls, value, "side")


class OrderType(Enum):
    """Order type. ``OrderType.parse("limit")``."""

    MARKET = MARKET
    LIMIT = LIMIT

    @classmethod
    def parse(cls, value: str | int | OrderType) -> OrderType:
        """``OrderType.parse("market") -> OrderType.MARKET``; raises ConfigError otherwise."""
        return _parse_enum(cls, value, "order type")


def _parse_enum(cls: Any, value: Any, what: str) -> Any:
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        key = value.strip().upper()
        if key in cls.__members__:
            return cls[key]
        names = [m.lower() for m in cls.__members__]
        raise ConfigError(
            f"{what} {value!r} is not one of {names}{did_you_mean(value.lower(), names)}"
        )
    if isinstance(value, int) and not isinstance(value, bool):
        for m in cls:
            if m.value == value:
                return m
    raise ConfigError(f"{what} {value!r} is not one of {[m.name.lower() for m in cls]}")


@dataclass(frozen=True)
class Order:
    """A validated order request.

    Usage: ``Order("BTC-PERPETUAL", Side.BUY, OrderType.LIMIT, size=10, price=60000.5)``
    """

    instrument: str
    side: Side
    type: OrderType
    size: float
    price: float | None = None
    post_only: bool = False
    reduce_only: bool = False
    client_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side.parse(self.side))
        object.__setattr__(self, "type", OrderType.parse(self.type))
        if not isinstance(self.instrument, str) or not self.instrument:
            raise ConfigError(
                f"order instrument must be a non-empty string, got {self.instrument!r}"
            )
        if not _positive(self.size):
            raise ConfigError(f"order size must be a positive finite number, got {self.size!r}")
        if self.type is OrderType.LIMIT and not _positive(self.price):
            raise ConfigError(f"limit order price must be positive and finite, got {self.price!r}")
        if self.type is OrderType.MARKET and self.price is not None:
            raise ConfigError("market orders take no price; use OrderType.LIMIT to set one")
        if self.type is OrderType.MARKET and self.post_only:
            raise ConfigError("post_only applies to limit orders only")

    @property
    def flags(self) -> int:
        """Kernel flag bits: ``POST_ONLY | REDUCE_ONLY``."""
        return (POST_ONLY if self.post_only else 0) | (REDUCE_ONLY if self.reduce_only else 0)


def _positive(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x > 0
