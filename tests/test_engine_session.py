"""The live step API: venue fills and venue cancels drive the same kernel state."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import quantkit as qk


@pytest.fixture()
def live() -> qk.Session:
    sess = qk.Session([qk.strategies.momentum(span=3, threshold=0.0)], ["A"], sim=False)
    sess.start(0)
    assert sess.on_quote(1, "A", 1.0, 2.0) == []
    return sess


def test_partial_fill_then_venue_cancel_frees_the_instrument(live: qk.Session) -> None:
    (new,) = live.on_quote(2, "A", 2.0, 3.0)  # mid rose above the EMA: market buy 1
    assert (new.event, new.side, new.type, new.size) == ("new", 1, "market", 1.0)
    assert live.on_quote(3, "A", 3.0, 4.0) == []  # order working: no second buy
    assert live.on_fill(new.instance, new.order_id, price=3.0, size=0.4, ts=3) == []
    (cancelled,) = live.on_cancel(new.instance, new.order_id, ts=3)
    assert cancelled.event == "cancelled" and cancelled.reason == "cancelled by the venue"
    assert cancelled.size == pytest.approx(0.6)  # what was left open
    (sell,) = live.on_quote(4, "A", 1.0, 1.5)  # below the EMA while long 0.4: sell it all
    assert (sell.side, sell.size) == (-1, pytest.approx(0.4))
    (fill,) = live.fills()
    assert (fill.price, fill.size, fill.position) == (3.0, 0.4, 0.4)


def test_cancel_of_an_order_that_is_not_open_changes_nothing(live: qk.Session) -> None:
    assert live.on_cancel(0, 12345, ts=5) == []
    (new,) = live.on_quote(6, "A", 5.0, 6.0)
    (done,) = live.on_fill(new.instance, new.order_id, price=6.0, size=1.0, ts=7)
    assert (done.event, done.order_id) == ("filled", new.order_id)
    assert live.on_cancel(new.instance, new.order_id, ts=8) == []  # filled: not open any more
    (fill,) = live.fills()
    assert fill.position == 1.0 and not math.isnan(fill.price)


@pytest.mark.parametrize(
    ("field", "value"),
    [("size", math.nan), ("size", 0.0), ("size", -1.0), ("price", math.inf), ("price", "3"),
     ("fee", math.nan)],
)  # fmt: skip
def test_a_venue_fill_with_a_bad_number_is_an_error_and_books_nothing(
    live: qk.Session, field: str, value: object
) -> None:
    (new,) = live.on_quote(2, "A", 2.0, 3.0)
    fill = {"price": 3.0, "size": 1.0, "fee": 0.0, field: value}
    with pytest.raises(qk.ExchangeError, match=f"{field} must be"):
        live.on_fill(new.instance, new.order_id, ts=3, **fill)  # type: ignore[arg-type]
    assert live.fills() == []
    (done,) = live.on_fill(new.instance, new.order_id, price=3.0, size=1.0, ts=4)
    assert done.event == "filled"  # the order stayed open and whole


def test_a_venue_fill_takes_any_real_number_type(live: qk.Session) -> None:
    (new,) = live.on_quote(2, "A", 2.0, 3.0)
    live.on_fill(new.instance, new.order_id, price=Decimal("3"), size=np.int64(1), ts=3,
                 fee=Fraction(1, 4))  # fmt: skip
    (fill,) = live.fills()
    assert (fill.price, fill.size, fill.fee) == (3.0, 1.0, 0.25)
    with pytest.raises(qk.ExchangeError, match="size must be positive"):
        live.on_fill(new.instance, new.order_id, price=3.0, size=np.bool_(True), ts=4)


def test_unknown_instrument_is_a_clear_error(live: qk.Session) -> None:
    with pytest.raises(qk.ConfigError, match="no strategy subscribed to 'B'"):
        live.on_quote(9, "B", 1.0, 2.0)
