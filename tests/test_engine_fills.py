"""The simulated venue's fill model, driven by a scripted test strategy on hand-written ticks.

The ``scripted`` strategy reads its orders from the data: each tick may carry ``cmd_*`` columns
(side, type, price, size, flags, target, repeat) and the kernel submits exactly that order on the
tick's instrument. Tests write a few ticks, run ``qk.backtest`` and read the fills / order log.
The other engine test modules import ``scripted``, ``tick`` and ``run_ticks`` from here.

Usage: ``pytest tests/test_engine_fills.py``
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

import quantkit as qk
from quantkit.engine import (
    BUY,
    CANCEL,
    LIMIT,
    MARKET,
    MAX_SLOTS,
    POST_ONLY,
    REDUCE_ONLY,
    SELL,
    cancel,
    cancel_all,
    submit,
)
from quantkit.engine.layout import (
    C_ORDERS,
    CTX_DTYPE,
    N_COUNTERS,
    OE_CANCELLED,
    OPEN_DTYPE,
    ORDER_LOG_DTYPE,
    R_BY_STRATEGY,
)
from quantkit.engine.matching import close_open
from quantkit.engine.results import BacktestResult

NAN = math.nan
FLATTEN = 3  #: scripted command: cancel the instrument's orders, then close it (reduce-only market)
CMD_COLUMNS = ("cmd_side", "cmd_type", "cmd_price", "cmd_size", "cmd_flags", "cmd_target",
               "cmd_repeat")  # fmt: skip
QUOTE_COLUMNS = ("bid", "ask", "bid_size", "ask_size")


@njit(cache=True)
def scripted_on_quote(ctx, p, s):
    """Submit the order this tick's cmd_* columns describe (nothing when cmd_type is NaN)."""
    kind = ctx.x[1]
    if math.isnan(kind):
        return
    slot = ctx.slot
    if kind == CANCEL:
        cancel(ctx, int(ctx.x[5]))
    elif kind == FLATTEN:
        cancel_all(ctx, slot)
        pos = ctx.position[slot]
        if pos != 0.0:
            side = SELL if pos > 0.0 else BUY
            submit(ctx, slot, side, MARKET, math.nan, abs(pos), REDUCE_ONLY)
    else:
        flags = 0 if math.isnan(ctx.x[4]) else int(ctx.x[4])
        repeat = 1 if math.isnan(ctx.x[6]) else int(ctx.x[6])
        for _ in range(repeat):
            submit(ctx, slot, int(ctx.x[0]), int(kind), ctx.x[2], ctx.x[3], flags)


@njit(cache=True)
def scripted_on_fill(ctx, p, s):
    """Count the fills delivered to the strategy and sum them per slot."""
    s.fills += 1
    s.signed[ctx.fill_slot] += ctx.fill_side * ctx.fill_size
    s.fees += ctx.fill_fee


scripted = qk.Strategy(
    "scripted",
    scripted_on_quote,
    state=[("fills", "i8"), ("signed", "f8", (MAX_SLOTS,)), ("fees", "f8")],
    on_fill=scripted_on_fill,
    columns=CMD_COLUMNS,
)


# --------------------------------------------------------------------------- helpers


def market(side: int, size: float, flags: int = 0, repeat: int = 1) -> dict[str, float]:
    """cmd_* columns of a market order."""
    return {"side": side, "type": MARKET, "size": size, "flags": flags, "repeat": repeat}


def limit(side: int, price: float, size: float, flags: int = 0) -> dict[str, float]:
    """cmd_* columns of a limit order."""
    return {"side": side, "type": LIMIT, "price": price, "size": size, "flags": flags}


def cancel_cmd(order_id: int) -> dict[str, float]:
    """cmd_* columns cancelling order ``order_id``."""
    return {"type": CANCEL, "target": order_id}


def flatten() -> dict[str, float]:
    """cmd_* columns closing the tick's instrument (after cancelling its orders)."""
    return {"type": FLATTEN}


def tick(
    ts: int,
    bid: float,
    ask: float,
    bid_size: float = NAN,
    ask_size: float = NAN,
    instrument: str = "X",
    cmd: dict[str, float] | None = None,
    **extra: float,
) -> dict:
    """One row of tick data; ``cmd`` (from market()/limit()/...) becomes the cmd_* columns."""
    row: dict[str, Any] = {
        "ts": ts,
        "instrument": instrument,
        "bid": bid,
        "ask": ask,
        "bid_size": bid_size,
        "ask_size": ask_size,
        **extra,
    }
    for key, value in (cmd or {}).items():
        row[f"cmd_{key}"] = float(value)
    return row


def write_ticks(path: Path, rows: list[dict]) -> Path:
    """Write rows (dicts from tick()) as a canonical tick file with the cmd_* columns."""
    extra = sorted(
        {k for r in rows for k in r} - {"ts", "instrument", *QUOTE_COLUMNS, *CMD_COLUMNS}
    )
    floats = [*QUOTE_COLUMNS, *extra, *CMD_COLUMNS]
    data: dict[str, Any] = {
        "ts": pl.Series([r["ts"] for r in rows], dtype=pl.Int64),
        "instrument": pl.Series([r["instrument"] for r in rows], dtype=pl.String),
    }
    for col in floats:
        data[col] = pl.Series([float(r.get(col, NAN)) for r in rows], dtype=pl.Float64)
    pl.DataFrame(data).write_parquet(path)
    return path


def run_ticks(path: Path, rows: list[dict], **settings: Any) -> BacktestResult:
    """Backtest the scripted strategy on ``rows`` (written to ``path``); settings as keywords."""
    settings.setdefault("accounting", "linear")
    return qk.backtest(write_ticks(path, rows), [scripted()], **settings)


def fills(res: Any) -> list[dict]:
    """The fills as dicts (side as +-1)."""
    out = res.fills.to_dicts()
    for f in out:
        f["side"] = BUY if f["side"] == "buy" else SELL
    return out


def order_events(res: Any) -> list[tuple[int, int, str]]:
    """The order log as (ts, order_id, event)."""
    return list(res.orders.select("ts", "order_id", "event").iter_rows())


# --------------------------------------------------------------------------- limit orders


def test_resting_limit_fills_at_its_price_as_maker_when_the_touch_reaches_it(
    tmp_path: Path,
) -> None:
    res = run_ticks(tmp_path / "t.parquet", [
        tick(1, 99.0, 101.0, 5, 5, cmd=limit(BUY, 100.0, 2)),  # ask above the limit: rests
        tick(2, 99.5, 100.5, 5, 5),  # still above
        tick(3, 98.0, 99.5, 5, 5),  # ask 99.5 <= 100: fills at the limit price, not at 99.5
    ], fee_bps_maker=1.0, fee_bps_taker=10.0)  # fmt: skip
    [f] = fills(res)
    assert (f["ts"], f["side"], f["price"], f["size"], f["maker"]) == (3, BUY, 100.0, 2.0, True)
    assert f["fee"] == pytest.approx(2 * 100.0 * 1.0 / 1e4)
    assert order_events(res) == [(1, 0, "new"), (3, 0, "filled")]


def test_sell_limit_rests_until_the_bid_reaches_it(tmp_path: Path) -> None:
    res = run_ticks(tmp_path / "t.parquet", [
        tick(1, 99.0, 101.0, cmd=limit(SELL, 102.0, 1)),
        tick(2, 101.5, 102.5),
        tick(3, 102.5, 103.0),  # bid 102.5 >= 102: fills at 102
    ])  # fmt: skip
    [f] = fills(res)
    assert (f["ts"], f["side"], f["price"], f["maker"]) == (3, SELL, 102.0, True)


def test_limit_crossing_on_arrival_fills_as_taker_at_the_touch(tmp_path: Path) -> None:
    res = run_ticks(tmp_path / "t.parquet", [
        tick(1, 99.0, 101.0, 5, 5, cmd=limit(BUY, 102.0, 2)),  # buy above the ask: pays 101
        tick(2, 99.0, 101.0, 5, 5, cmd=limit(SELL, 97.0, 1)),  # sell below the bid: gets 99
    ], fee_bps_maker=-1.0, fee_bps_taker=4.0)  # fmt: skip
    got = [(f["ts"], f["side"], f["price"], f["size"], f["maker"]) for f in fills(res)]
    assert got == [(1, BUY, 101.0, 2.0, False), (2, SELL, 99.0, 1.0, False)]
    assert [f["fee"] for f in fills(res)] == pytest.approx([2 * 101 * 4e-4, 1 * 99 * 4e-4])


def test_post_only_limit_that_would_cross_is_rejected(tmp_path: Path) -> None:
    res = run_ticks(tmp_path / "t.parquet", [
        tick(1, 99.0, 101.0, 5, 5, cmd=limit(BUY, 101.0, 2, POST_ONLY)),  # would take the ask
        tick(2, 99.0, 101.0, 5, 5, cmd=limit(BUY, 100.0, 2, POST_ONLY)),  # rests
        tick(3, 98.0, 99.0, 5, 5),  # both prices are crossed now; only the resting one fills
    ])  # fmt: skip
    rejected = res.orders.filter(pl.col("event") == "rejected")
    assert rejected["order_id"].to_list() == [0]
    assert "post-only" in rejected["reason"][0]
    assert rejected["post_only"].to_list() == [True]
    [f] = fills(res)
    assert (f["order_id"], f["ts"], f["price"], f["maker"]) == (1, 3, 100.0, True)


# --------------------------------------------------------------------------- displayed size


def test_partial_fills_leave_the_limit_rest_open_and_cancel_the_market_rest(tmp_path: Path) -> None:
    res = run_ticks(tmp_path / "t.parquet", [
        tick(1, 99.0, 101.0, 5, 3, cmd=limit(BUY, 101.0, 5)),  # takes the 3 shown, 2 rest
        tick(2, 99.0, 100.5, 5, 1),  # 1 more at the limit price, as maker
        tick(3, 99.0, 101.0, 5, 10),  # the last 1
        tick(4, 99.0, 101.0, 4, 10, cmd=market(SELL, 6)),  # 4 at the bid; the other 2 cancelled
    ])  # fmt: skip
    got = [(f["ts"], f["side"], f["price"], f["size"], f["maker"]) for f in fills(res)]
    assert got == [
        (1, BUY, 101.0, 3.0, False),
        (2, BUY, 101.0, 1.0, True),
        (3, BUY, 101.0, 1.0, True),
        (4, SELL, 99.0, 4.0, False),
    ]
    assert order_events(res) == [
        (1, 0, "new"),
        (3, 0, "filled"),
        (4, 1, "new"),
        (4, 1, "cancelled"),
    ]
    cancelled = res.orders.filter(pl.col("event") == "cancelled").row(0, named=True)
    assert cancelled["size"] == 2.0
    assert "market" in cancelled["reason"]
    assert res.strategies[0]["positions"] == {"X": 1.0}


def test_orders_in_one_event_share_the_displayed_size(tmp_path: Path) -> None:
    res = run_ticks(tmp_path / "t.parquet", [
        tick(1, 99.0, 101.0, 5, 3, cmd=market(BUY, 2, repeat=2)),  # 3 shown: 2 + 1
        tick(2, 99.0, 101.0, 5, 3, cmd=market(BUY, 2)),  # a new event shows 3 again
    ])  # fmt: skip
    assert [(f["ts"], f["order_id"], f["size"]) for f in fills(res)] == [
        (1, 0, 2.0), (1, 1, 1.0), (2, 2, 2.0)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        # the size left is the shown size minus the sum taken, not a running difference:
        # 1.0 - (0.3 + 0.6) is 0.10000000000000009, (1.0 - 0.3) - 0.6 is 0.09999999999999998
        ((0.3, 0.6, 1.0), [0.3, 0.6, 1.0 - (0.3 + 0.6)]),
        # 1.0 - (0.7 + 0.3) is 0: the third order gets nothing (a running difference leaves
        # 5.6e-17 and books a dust fill)
        ((0.7, 0.3, 1.0), [0.7, 0.3]),
    ],
)
def test_the_size_left_at_the_touch_is_the_shown_size_minus_the_sum_taken(
    tmp_path: Path, sizes: tuple[float, ...], expected: list[float]
) -> None:
    rows = [tick(k + 1, 99.0, 101.0, 5, 5, cmd=limit(BUY, 100.0, q)) for k, q in enumerate(sizes)]
    rows.append(tick(9, 99.0, 100.0, 5, 1.0))  # all three rest at 100; 1.0 shown at 100
    assert [f["size"] for f in fills(run_ticks(tmp_path / "t.parquet", rows))] == expected


def test_a_rest_left_by_rounding_closes_the_order_instead_of_filling_dust_later(
    tmp_path: Path,
) -> None:
    # 0.3 shown, three resting buys of 0.1: the third gets 0.3 - (0.1 + 0.1), which is
    # 0.09999999999999998, and would keep 2.8e-17 open for a "dust" fill at the next event
    rows = [tick(k + 1, 99.0, 101.0, 5, 5, cmd=limit(BUY, 100.0, 0.1)) for k in range(3)]
    rows += [tick(9, 99.0, 100.0, 5, 0.3), tick(10, 99.0, 100.0, 5, 5)]
    res = run_ticks(tmp_path / "t.parquet", rows)
    assert [(f["ts"], f["size"]) for f in fills(res)] == [
        (9, 0.1), (9, 0.1), (9, 0.3 - (0.1 + 0.1))
    ]  # fmt: skip
    assert [e for e in order_events(res) if e[2] != "new"] == [
        (9, 0, "filled"), (9, 1, "filled"), (9, 2, "filled")
    ]  # fmt: skip


def test_unknown_displayed_size_does_not_cap_the_fill(tmp_path: Path) -> None:
    res = run_ticks(tmp_path / "t.parquet", [tick(1, 99.0, 101.0, NAN, NAN, cmd=market(BUY, 1e6))])
    assert [f["size"] for f in fills(res)] == [1e6]


# --------------------------------------------------------------------------- market orders


def test_market_order_on_an_empty_side_waits_for_a_quote(tmp_path: Path) -> None:
    ms = 1_000_000
    res = run_ticks(tmp_path / "t.parquet", [
        tick(0, 99.0, NAN, 5, NAN, cmd=market(BUY, 1)),  # no ask: waits
        tick(1 * ms, 99.0, NAN, 5, 3.0),  # a size without a price is still empty
        tick(2 * ms, 99.0, 101.5, 5, 5),  # fills here
        tick(3 * ms, 99.0, 101.0, 5, 5),
    ], market_timeout_ms=10.0)  # fmt: skip
    [f] = fills(res)
    assert (f["ts"], f["price"], f["size"]) == (2 * ms, 101.5, 1.0)
    assert order_events(res) == [(0, 0, "new"), (2 * ms, 0, "filled")]


def test_a_touch_showing_size_0_cancels_a_market_order_and_keeps_a_limit_open(
    tmp_path: Path,
) -> None:
    """Only a NaN price is an empty side. A touch showing 0 caps the fill at 0: the rest of a
    market order is cancelled (here all of it), the rest of a limit order stays open. The same
    holds for a size that earlier orders of the same event used up."""
    ms = 1_000_000
    res = run_ticks(tmp_path / "t.parquet", [
        tick(0, 99.0, 101.0, 5, 0.0, cmd=market(BUY, 1)),  # ask shown with size 0
        tick(1 * ms, 99.0, 101.0, 5, 0.0, cmd=limit(BUY, 101.5, 1)),  # crosses, nothing shown
        tick(2 * ms, 99.0, 101.0, 5, 3.0, cmd=market(BUY, 2, repeat=3)),  # 3 shown
    ])  # fmt: skip
    assert [(f["ts"], f["order_id"], f["price"], f["size"], f["maker"]) for f in fills(res)] == [
        (2 * ms, 1, 101.5, 1.0, True),  # the limit rested; now it fills first, as maker
        (2 * ms, 2, 101.0, 2.0, False),  # then the market orders share the 2 left
    ]  # fmt: skip
    cancelled = res.orders.filter(pl.col("event") == "cancelled")
    assert cancelled["order_id"].to_list() == [0, 3, 4]  # nothing left for 3 and 4
    assert cancelled["ts"].to_list() == [0, 2 * ms, 2 * ms]
    assert set(cancelled["reason"]) == {"market order met no size at the touch"}


def test_waiting_market_order_expires_after_market_timeout(tmp_path: Path) -> None:
    ms = 1_000_000
    res = run_ticks(tmp_path / "t.parquet", [
        tick(0, NAN, 101.0, NAN, 5, cmd=market(SELL, 1)),  # no bid: waits
        tick(5 * ms, NAN, 101.0, NAN, 5),
        tick(10 * ms, NAN, 101.0, NAN, 5),  # deadline reached with no bid: expired
        tick(11 * ms, NAN, 101.0, NAN, 5, cmd=market(SELL, 1)),  # waits again
        tick(30 * ms, 99.0, 101.0, 5, 5),  # a bid, but 19 ms later: too late, no fill
    ], market_timeout_ms=10.0)  # fmt: skip
    assert fills(res) == []
    assert order_events(res) == [
        (0, 0, "new"), (10 * ms, 0, "expired"), (11 * ms, 1, "new"), (30 * ms, 1, "expired"),
    ]  # fmt: skip
    expired = res.orders.filter(pl.col("event") == "expired")
    assert set(expired["reason"]) == {"market order found no quote before its timeout"}


def test_latency_delays_the_first_chance_to_fill(tmp_path: Path) -> None:
    ms = 1_000_000
    res = run_ticks(tmp_path / "t.parquet", [
        tick(0, 99.0, 101.0, 5, 5, cmd=market(BUY, 1)),
        tick(2 * ms, 99.0, 101.0, 5, 5),  # before ts + latency
        tick(2 * ms, 99.0, 101.0, 5, 5, instrument="Y"),  # another instrument
        tick(5 * ms, 99.0, 102.0, 5, 5),  # first event of X at ts >= 0 + 5 ms
    ], latency_ms=5.0)  # fmt: skip
    [f] = fills(res)
    assert (f["ts"], f["instrument"], f["price"]) == (5 * ms, "X", 102.0)


# --------------------------------------------------------------------------- reduce-only, cancel


def test_reduce_only_orders_never_increase_the_position(tmp_path: Path) -> None:
    res = run_ticks(tmp_path / "t.parquet", [
        tick(1, 99.0, 101.0, cmd=market(SELL, 1, REDUCE_ONLY)),  # flat: rejected
        tick(2, 99.0, 101.0, cmd=market(BUY, 3)),  # long 3
        tick(3, 99.0, 101.0, cmd=market(BUY, 1, REDUCE_ONLY)),  # would add: rejected
        tick(4, 99.0, 101.0, cmd=limit(SELL, 100.0, 5, REDUCE_ONLY)),  # 5 > 3: capped at fill
        tick(5, 100.0, 101.0),  # fills 3 at 100; 2 left open
        tick(6, 100.0, 101.0),  # crosses again with nothing to reduce: cancelled
    ])  # fmt: skip
    assert [(f["ts"], f["side"], f["size"], f["position"]) for f in fills(res)] == [
        (2, BUY, 3.0, 3.0), (5, SELL, 3.0, 0.0)
    ]  # fmt: skip
    bad = res.orders.filter(pl.col("event").is_in(["rejected", "cancelled"]))
    assert bad.select("ts", "order_id", "event").rows() == [
        (1, 0, "rejected"), (3, 2, "rejected"), (6, 3, "cancelled")
    ]  # fmt: skip
    assert all("reduce-only" in r for r in bad["reason"])


def test_cancel_by_id(tmp_path: Path) -> None:
    res = run_ticks(tmp_path / "t.parquet", [
        tick(1, 98.0, 101.0, cmd=limit(BUY, 100.0, 1)),  # id 0
        tick(2, 98.0, 101.0, cmd=limit(BUY, 99.0, 1)),  # id 1
        tick(3, 98.0, 101.0, cmd=cancel_cmd(0)),
        tick(4, 98.0, 101.0, cmd=cancel_cmd(7)),  # no such order
        tick(5, 97.0, 98.5),  # crosses both prices: only order 1 is still there
    ])  # fmt: skip
    assert [(f["order_id"], f["price"]) for f in fills(res)] == [(1, 99.0)]
    log = res.orders.select("ts", "order_id", "event", "reason").rows()
    assert (3, 0, "cancelled", "cancelled by the strategy") in log
    assert (4, 7, "rejected", "no open order with that id") in log


# --------------------------------------------------------------------------- fees


def test_fees_are_bps_of_notional_and_a_negative_maker_fee_is_a_rebate(tmp_path: Path) -> None:
    res = run_ticks(tmp_path / "t.parquet", [
        tick(1, 99.0, 101.0, cmd=limit(BUY, 100.0, 2)),
        tick(2, 99.0, 100.0),  # maker buy 2 @ 100: fee 2*100*(-2.5)/1e4 = -0.05
        tick(3, 101.0, 102.0, cmd=market(SELL, 2)),  # taker sell 2 @ 101: 2*101*5/1e4 = 0.101
    ], fee_bps_maker=-2.5, fee_bps_taker=5.0)  # fmt: skip
    assert [f["fee"] for f in fills(res)] == pytest.approx([-0.05, 0.101])
    s = res.strategies[0]
    assert s["fees"] == pytest.approx(0.051)
    assert s["realized_pnl"] == pytest.approx(2.0)  # fees are kept apart from realized PnL
    last = res.equity.row(-1, named=True)
    assert last["equity"] == pytest.approx(2.0 - 0.051)


def test_taker_fee_must_not_be_negative() -> None:
    with pytest.raises(qk.ConfigError, match="fee_bps_taker"):
        qk.EngineSettings(fee_bps_taker=-1.0)


# --------------------------------------------------------------------------- on_fill


def test_on_fill_sees_every_fill_the_engine_books() -> None:
    sess = qk.Session([scripted()], instruments=["X", "Y"], columns=CMD_COLUMNS)
    sess.start(0)
    blank = dict.fromkeys(CMD_COLUMNS, NAN)
    steps = [("X", market(BUY, 2)), ("Y", market(SELL, 1.5)), ("X", market(SELL, 0.5)),
             ("Y", limit(BUY, 50.0, 1))]  # fmt: skip
    for ts, (inst, cmd) in enumerate(steps, start=1):
        cols = blank | {f"cmd_{k}": float(v) for k, v in cmd.items()}
        sess.on_quote(ts, inst, bid=99.0, ask=101.0, **cols)
    booked = sess.fills()
    group = sess.engine.groups[0]
    state, ctx = group.states[0], group.ctxs[0]
    assert state["fills"] == len(booked) == 3
    assert list(state["signed"][:2]) == [1.5, -1.5] == list(ctx["position"][:2])
    assert state["fees"] == sum(f.fee for f in booked)


# --------------------------------------------------------------------------- properties

_cmds = st.one_of(
    st.none(),
    st.builds(market, st.sampled_from([BUY, SELL]), st.sampled_from([0.5, 1.0, 2.0, 3.0])),
    st.builds(lambda side, off, size, post: (side, off, size, post),
              st.sampled_from([BUY, SELL]), st.integers(-3, 3), st.sampled_from([0.5, 1.0, 2.5]),
              st.booleans()),
)  # fmt: skip
_sizes = st.sampled_from([NAN, 0.0, 0.5, 1.0, 4.0])


@st.composite
def scripted_streams(draw: st.DrawFn) -> list[dict]:
    """Random quotes (empty sides, small sizes) carrying random orders, then a flatten tick."""
    n = draw(st.integers(1, 25))
    rows, level = [], 100.0
    for i in range(n):
        level += draw(st.integers(-3, 3)) * 0.5
        bid = NAN if draw(st.integers(0, 9)) == 0 else level
        ask = NAN if draw(st.integers(0, 9)) == 0 else level + 0.5 * draw(st.integers(1, 3))
        cmd = draw(_cmds)
        if isinstance(cmd, tuple):
            side, off, size, post = cmd
            cmd = limit(side, level + 0.5 * off, size, POST_ONLY if post else 0)
        rows.append(tick(i, bid, ask, draw(_sizes), draw(_sizes), cmd=cmd))
    rows.append(tick(n, level, level + 0.5, cmd=flatten()))  # unlimited size: always closes
    return rows


@pytest.fixture(scope="module")
def prop_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file path the property tests overwrite for each example."""
    return tmp_path_factory.mktemp("fills_props") / "t.parquet"


@given(rows=scripted_streams(), maker=st.sampled_from([-2.0, 0.0, 1.0]),
       taker=st.sampled_from([0.0, 5.0]))  # fmt: skip
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_linear_accounting_invariants(
    prop_file: Path, rows: list[dict], maker: float, taker: float
) -> None:
    res = run_ticks(prop_file, rows, fee_bps_maker=maker, fee_bps_taker=taker)
    f = res.fills
    signed = (f["size"] * pl.Series([1.0 if s == "buy" else -1.0 for s in f["side"]])).to_numpy()
    # the position after each fill is the running sum of signed fill sizes, ending flat
    np.testing.assert_allclose(f["position"].to_numpy(), np.cumsum(signed), atol=1e-9)
    assert res.strategies[0]["positions"]["X"] == pytest.approx(0.0, abs=1e-9)
    # flat again: realized PnL of the round trips is the cash flow of all fills
    cash = float(-(signed * f["price"].to_numpy()).sum())
    assert res.strategies[0]["realized_pnl"] == pytest.approx(cash, rel=1e-9, abs=1e-9)
    assert res.strategies[0]["unrealized_pnl"] == 0.0
    # fees: bps of each fill's notional, maker or taker, summed into the summary
    bps = np.where(f["maker"].to_numpy(), maker, taker)
    expected = f["size"].to_numpy() * f["price"].to_numpy() * bps / 1e4
    np.testing.assert_allclose(f["fee"].to_numpy(), expected, rtol=1e-12, atol=1e-15)
    assert res.strategies[0]["fees"] == pytest.approx(float(expected.sum()), abs=1e-12)
    # takers trade at the touch of the triggering tick, makers at their own limit price
    limits = dict(res.orders.filter(pl.col("event") == "new").select("order_id", "price").rows())
    for fill in fills(res):
        row = rows[fill["row"]]
        touch = row["ask"] if fill["side"] == BUY else row["bid"]
        assert fill["price"] == (limits[fill["order_id"]] if fill["maker"] else touch)
    assert res.strategies[0]["fills"] == f.height


@njit
def _close_open(ctxs, i, olog, counters):
    close_open(ctxs[0], i, np.int64(0), np.int64(OE_CANCELLED), np.int64(R_BY_STRATEGY), olog,
               counters)  # fmt: skip


def test_closing_an_open_order_moves_every_field_of_the_later_ones_up() -> None:
    """``close_open`` copies the later orders field by field (for compile time): each field of
    ``OPEN_DTYPE``, a new one included, must move with its order."""
    rng = np.random.default_rng(11)
    ctxs = np.zeros(1, CTX_DTYPE)
    oo = ctxs[0]["oo"]
    for name in OPEN_DTYPE.names:
        oo[name][:6] = rng.integers(1, 1_000_000, 6)
    oo["slot"][:6] = rng.permutation(MAX_SLOTS)[:6]  # distinct: a lost slot would show
    oo["side"][:6] = [BUY, SELL, SELL, BUY, SELL, BUY]
    ctxs[0]["n_open"] = 6
    before = oo[:6].copy()
    olog = np.zeros(4, ORDER_LOG_DTYPE)
    counters = np.zeros(N_COUNTERS, np.int64)
    _close_open(ctxs, 2, olog, counters)
    assert ctxs[0]["n_open"] == 5
    assert counters[C_ORDERS] == 1 and olog[0]["order_id"] == before[2]["id"]
    kept = before[[0, 1, 3, 4, 5]]
    for name in OPEN_DTYPE.names:
        assert ctxs[0]["oo"][name][:5].tolist() == kept[name].tolist(), name
