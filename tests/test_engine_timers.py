"""Timers: ``on_timer`` runs at the times a strategy sets with ``set_timer``, in every driver.

The ``clock`` strategy arms its timer in ``on_start`` and, on each firing, places a market buy
(so the order log shows when it fired: an order's ``ts`` is the time it was placed) and re-arms
``interval`` ns later. A firing that does not see ``ctx.kind == EV_TIMER`` and ``ctx.slot == -1``
places an order with size -1, which the engine rejects, so the tests would see it.

Usage: ``pytest tests/test_engine_timers.py``
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from numba import njit
from test_engine_fills import tick, write_ticks
from test_engine_invariants import (
    assert_same_result,
    feed,
    quote_rows,
    session_order_rows,
    table_order_rows,
)

import quantkit as qk
from quantkit.engine import BUY, EV_TIMER, LIMIT, cancel, cancel_timer, set_timer, submit
from quantkit.engine.results import build_result

S = 1_000_000_000  # ns per second
MS = 1_000_000


@njit(cache=True)
def clock_on_start(ctx, p, s):
    """Arm the first timer."""
    if p.first_at > 0:
        set_timer(ctx, p.first_at)


@njit(cache=True)
def clock_on_timer(ctx, p, s):
    """Buy one at market (or place a far limit), then re-arm ``interval`` later (< 0: now)."""
    s.fired += 1
    ok = ctx.kind == EV_TIMER and ctx.slot == -1
    if p.far_limit:
        oid = submit(ctx, p.inst, BUY, LIMIT, 1.0, 1.0 if ok else -1.0, 0)
        if p.cancel_after:
            cancel(ctx, oid)
    else:
        submit(ctx, p.inst, BUY, 0, math.nan, p.size if ok else -1.0, 0)
    if p.interval > 0:
        set_timer(ctx, ctx.ts + p.interval)
    elif p.interval < 0:
        set_timer(ctx, ctx.ts)  # not ahead of the firing: waits for the next event
    if p.max_fires > 0 and s.fired >= p.max_fires:
        cancel_timer(ctx)


@njit(cache=True)
def clock_on_quote(ctx, p, s):
    """With ``quote_orders``: a far limit buy on every quote (to see the event order); with
    ``arm_on_quote``: set the timer that much later when none is set."""
    if p.quote_orders:
        submit(ctx, ctx.slot, BUY, LIMIT, 1.0, 2.0, 0)
    if p.arm_on_quote > 0 and ctx.timer_at == 0:
        set_timer(ctx, ctx.ts + p.arm_on_quote)


clock = qk.Strategy(
    "clock",
    clock_on_quote,
    params={
        "inst": "X",
        "first_at": 0,
        "interval": 0,
        "size": 1.0,
        "far_limit": False,
        "quote_orders": False,
        "max_fires": 0,
        "cancel_after": False,
        "arm_on_quote": 0,
    },
    state=[("fired", "i8")],
    on_start=clock_on_start,
    on_timer=clock_on_timer,
)


def placed(res: qk.engine.results.BacktestResult, strategy: str = "clock") -> list[int]:
    """When each order of ``strategy`` was placed (its "new" line), in id order."""
    new = res.orders.filter((pl.col("event") == "new") & (pl.col("strategy") == strategy))
    return new.sort("order_id")["ts"].to_list()


def test_timer_fires_at_its_own_times_and_before_a_quote_at_the_same_time(tmp_path: Path) -> None:
    path = write_ticks(tmp_path / "t.parquet", [
        tick(0, 99.0, 101.0),
        tick(1 * S, 99.0, 101.0),
        tick(1 * S + 50 * MS, 99.0, 101.0),
        tick(2 * S + 500 * MS, 99.0, 101.0),  # exactly when a timer is due
        tick(3 * S, 99.0, 101.0),
    ])  # fmt: skip
    cfg = clock(first_at=500 * MS, interval=200 * MS, far_limit=True, quote_orders=True)
    res = qk.backtest(path, [cfg], accounting="linear")
    assert res.orders.filter(pl.col("event") == "rejected").height == 0  # kind/slot were right
    timer_times = [500 * MS + k * 200 * MS for k in range(13)]  # 0.5 s ... 2.9 s; 3.1 s never
    quote_times = [0, S, S + 50 * MS, 2 * S + 500 * MS, 3 * S]
    # ids in placement order: timers due before a quote (or at its ts) come first
    assert placed(res) == sorted(timer_times + quote_times)
    at_25 = res.orders.filter((pl.col("ts") == 2 * S + 500 * MS) & (pl.col("event") == "new"))
    assert at_25.sort("order_id")["size"].to_list() == [1.0, 2.0]  # the timer's, then the quote's


@pytest.mark.parametrize("latency_ms", [0.0, 100.0])
def test_timer_market_orders_fill_at_the_first_quote_after_time_plus_latency(
    tmp_path: Path, latency_ms: float
) -> None:
    path = write_ticks(tmp_path / "t.parquet", [
        tick(0, 99.0, 100.0),
        tick(1 * S, 99.0, 101.0),  # the first quote after the timer (1 s > 0.95 s)
        tick(1 * S + 20 * MS, 99.0, 102.0),
        tick(1 * S + 80 * MS, 99.0, 103.0),  # first at or after 0.95 s + 100 ms
        tick(2 * S, 99.0, 104.0),
    ])  # fmt: skip
    res = qk.backtest(path, [clock(first_at=950 * MS, max_fires=1)], accounting="linear",
                      latency_ms=latency_ms)  # fmt: skip
    [fill] = res.fills.to_dicts()
    expected_ts, expected_price = (S, 101.0) if latency_ms == 0 else (S + 80 * MS, 103.0)
    assert (fill["ts"], fill["price"], fill["size"]) == (expected_ts, expected_price, 1.0)
    assert placed(res) == [950 * MS]


def test_a_timer_rearmed_at_its_own_time_fires_once_per_event(tmp_path: Path) -> None:
    times = [0, 10, 10, 25, 40]
    path = write_ticks(tmp_path / "t.parquet", [tick(t, 99.0, 101.0) for t in times])
    res = qk.backtest(path, [clock(first_at=5, interval=-1, far_limit=True)], accounting="linear")
    # due at 5: fires before the event at 10 (at 5), then once before each later event, at the
    # time it was left at (5, then the time of the firing before, and so on)
    assert placed(res) == [5, 5, 5, 5]


def test_a_pending_timer_never_fires_after_the_data_ends(tmp_path: Path) -> None:
    path = write_ticks(tmp_path / "t.parquet", [tick(0, 99.0, 101.0), tick(S, 99.0, 101.0)])
    res = qk.backtest(path, [clock(first_at=2 * S)], accounting="linear")
    assert res.orders.height == 0


def test_bursts_of_timers_flush_the_logs_and_lose_nothing(tmp_path: Path) -> None:
    # 60,000 firings, each placing and cancelling an order, inside one gap of the data: more
    # than the order log holds between two flushes, so the driver must stop, flush and resume
    # within one event
    path = write_ticks(tmp_path / "t.parquet", [tick(0, 99.0, 101.0), tick(S, 99.0, 101.0)])
    cfg = clock(first_at=1, interval=1_000, max_fires=60_000, far_limit=True, cancel_after=True)
    res = qk.backtest(path, [cfg], accounting="linear")
    ts = placed(res)
    assert len(ts) == 60_000
    assert ts == [1 + 1_000 * k for k in range(60_000)]
    assert res.orders.filter(pl.col("event") == "cancelled").height == 60_000


def test_a_late_first_quote_still_fills_a_timer_market_order(tmp_path: Path) -> None:
    # the order's deadline (5 s market timeout) passes before its instrument quotes again: a
    # touch at the order's first event fills it however late that event comes
    path = write_ticks(tmp_path / "t.parquet", [tick(0, 99.0, 100.0), tick(60 * S, 98.0, 99.0)])
    res = qk.backtest(path, [clock(first_at=S, max_fires=1)], accounting="linear")
    [fill] = res.fills.to_dicts()
    assert (fill["ts"], fill["price"]) == (60 * S, 99.0)


def test_several_instances_never_fire_twice_when_the_logs_fill_up(tmp_path: Path) -> None:
    # two clocks that fire at every event (re-armed at their own time), each placing and
    # cancelling an order: the order log fills up between the two instances' firings of one
    # row, the driver stops to flush it and resumes at the same row and instance
    n = 30_000
    path = write_ticks(tmp_path / "t.parquet", [tick(t, 99.0, 101.0) for t in range(n)])
    pair = [clock(label=name, first_at=1, interval=-1, far_limit=True, cancel_after=True)
            for name in ("a", "b")]  # fmt: skip
    together = qk.backtest(path, pair, accounting="linear")
    alone = qk.backtest(path, pair[:1], accounting="linear")
    for name in ("a", "b"):
        assert placed(together, name) == [1] * (n - 1)  # once at each event after ts 1
    assert placed(alone, "a") == placed(together, "a")


def test_a_clock_runs_the_same_next_to_strategies_reading_other_instruments(
    engine_synth: Path,
) -> None:
    # backtest() reads only the instruments the strategies name: the clock's events are its own
    xyz = clock(label="x", inst="XYZ", first_at=1, interval=-1, instruments=["XYZ"])
    alone = qk.backtest(engine_synth, [xyz], **SETTINGS)
    together = qk.backtest(
        engine_synth, [xyz, qk.strategies.momentum(instruments=["BTC-PERPETUAL"])], **SETTINGS
    )
    mine = together.fills.filter(pl.col("strategy") == "x")
    assert_frame_equal_rows(alone.fills, mine)
    assert alone.fills.height > 0.99 * qk.data.scan(engine_synth).row_counts["XYZ"]


# --------------------------------------------------------------------------- invariants


def timer_strategies() -> list[qk.StrategyConfig]:
    """Four clocks (one group, so the multi-instance driver; c4 arms its timer in on_quote) and
    momentum next to them (the synthetic data covers 20 s from 2024-01-01)."""
    t0 = 1_704_067_200 * S  # the synthetic data starts at 2024-01-01
    return [
        clock(label="c1", inst="BTC-PERPETUAL", first_at=t0 + 300 * MS, interval=700 * MS),
        clock(
            label="c2", inst="ETH-PERPETUAL", first_at=t0 + 100 * MS, interval=103 * MS, size=0.5
        ),
        clock(label="c3", inst="XYZ", first_at=t0 + 2 * S, interval=-1, max_fires=40),
        clock(label="c4", inst="XYZ", arm_on_quote=50 * MS, size=0.25, instruments=["XYZ"]),
        qk.strategies.momentum(span=20, threshold=2e-5),
    ]


SETTINGS = {"fee_bps_taker": 3.0, "latency_ms": 2.0, "equity_interval_ms": 500.0,
            "accounting": "linear"}  # fmt: skip


@pytest.fixture(scope="module")
def timers_whole(engine_synth: Path) -> qk.engine.results.BacktestResult:
    return qk.backtest(engine_synth, timer_strategies(), batch_size=0, **SETTINGS)


def test_the_timer_run_exercises_every_clock(
    timers_whole: qk.engine.results.BacktestResult,
) -> None:
    fills = timers_whole.fills.group_by("strategy").len()
    counts = dict(fills.iter_rows())
    assert counts["c1"] > 20 and counts["c2"] > 150 and counts["c3"] > 10 and counts["c4"] > 150
    assert timers_whole.orders.filter(pl.col("event") == "rejected").height == 0
    # c3 fires 40 times within a few events: its market orders share the size shown at each
    # event, and those that find none left are cancelled (a market order's rest is cancelled)
    c3 = timers_whole.orders.filter(pl.col("strategy") == "c3")
    ends = dict(c3.group_by("event").len().iter_rows())
    assert ends["new"] == 40 and ends["filled"] + ends["cancelled"] == 40


@pytest.mark.parametrize("batch_size", [1, 7, 4096])
def test_batch_size_does_not_change_a_run_with_timers(
    engine_synth: Path, timers_whole: qk.engine.results.BacktestResult, batch_size: int
) -> None:
    res = qk.backtest(engine_synth, timer_strategies(), batch_size=batch_size, **SETTINGS)
    assert_same_result(res, timers_whole)


def test_each_clock_runs_the_same_alone(
    engine_synth: Path, timers_whole: qk.engine.results.BacktestResult
) -> None:
    for cfg in timer_strategies()[:4]:
        alone = qk.backtest(engine_synth, [cfg], **SETTINGS)  # the single-instance driver
        together = timers_whole.fills.filter(pl.col("strategy") == cfg.name)
        assert_frame_equal_rows(alone.fills, together)


def assert_frame_equal_rows(a: pl.DataFrame, b: pl.DataFrame) -> None:
    keep = ["ts", "instrument", "side", "price", "size", "fee", "position"]
    assert a.select(keep).rows() == b.select(keep).rows()
    assert a.height > 0


def test_session_fires_the_same_timers_row_by_row(engine_synth: Path) -> None:
    path = engine_synth.with_name("timers_head.parquet")
    pl.read_parquet(engine_synth).head(4_000).write_parquet(path)
    batch = qk.backtest(path, timer_strategies(), **SETTINGS)
    assert batch.fills.height > 20
    scan = qk.data.scan(path)
    sess = qk.Session(timer_strategies(), scan.instruments, qk.EngineSettings(**SETTINGS))
    events = feed(sess, quote_rows(path), scan.float_columns)
    # what the calls returned, in the order the strategies placed them
    assert session_order_rows(events) == table_order_rows(
        batch.orders.sort("row", maintain_order=True)
    )
    sess.engine.finish()
    assert_same_result(build_result(sess.engine, 0.0), batch)


def test_session_on_time_fires_timers_without_quotes() -> None:
    sess = qk.Session([clock(first_at=2 * S, interval=S, far_limit=True)], instruments=["X"])
    assert sess.start(0) == []
    assert sess.next_timer() == 2 * S
    assert sess.on_time(S) == []  # not due yet
    out = sess.on_time(4 * S + 1)  # due at 2, 3 and 4 s
    assert [(e.ts, e.event, e.type, e.price) for e in out] == [
        (2 * S, "new", "limit", 1.0), (3 * S, "new", "limit", 1.0), (4 * S, "new", "limit", 1.0)
    ]  # fmt: skip
    assert sess.next_timer() == 5 * S
    # a quote runs the timers due before it too, then the quote itself
    out = sess.on_quote(5 * S, "X", bid=99.0, ask=101.0)
    assert [e.ts for e in out] == [5 * S]
    assert sess.next_timer() == 6 * S


def test_session_reports_only_timers_it_can_run() -> None:
    # a strategy that sets a timer but has no on_timer: nothing would ever run it
    no_hook = qk.Strategy("no_hook", clock_on_quote, params=dict(clock.params),
                          on_start=clock_on_start)  # fmt: skip
    sess = qk.Session([no_hook(first_at=S)], instruments=["X"])
    sess.start(0)
    assert sess.next_timer() is None
    assert sess.on_time(2 * S) == []
    # a timer re-armed at its own time waits for the next quote, so the wall clock cannot spin
    sess = qk.Session([clock(first_at=S, interval=-1, far_limit=True)], instruments=["X"])
    sess.start(0)
    assert [e.ts for e in sess.on_time(2 * S)] == [S]
    assert sess.next_timer() is None and sess.on_time(3 * S) == []
    assert [e.ts for e in sess.on_quote(4 * S, "X", bid=99.0, ask=101.0)] == [S, 4 * S][:1]
