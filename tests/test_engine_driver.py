"""The generated driver: hook inlining, the loop variants, and what a hook call may emit.

The fast loop calls an inlined copy of ``on_quote``; hooks compiled with options of their own
are called instead, and must run the same. Engines read the optional event columns only when
the run needs them; the output buffer takes 16 orders per hook call and logs the rest.

Usage: ``pytest tests/test_engine_driver.py``
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from numba import njit
from polars.testing import assert_frame_equal
from test_engine_fills import CMD_COLUMNS, market, run_ticks, scripted, tick, write_ticks

import quantkit as qk
from quantkit.engine import BUY, SELL, buy_market, sell_market, set_timer
from quantkit.engine.group import _describe, _uint32
from quantkit.engine.hooks import inlined, noop
from quantkit.engine.layout import MAX_OUT
from quantkit.engine.run import Engine
from quantkit.engine.settings import EngineSettings
from quantkit.strategies.momentum import momentum_on_quote

# --------------------------------------------------------------------------- hook inlining


@njit(cache=True)
def flip_on_quote(ctx, p, s):
    """Every ``every``-th quote of a slot: buy when flat, else sell the position."""
    i = ctx.slot
    s.seen[i] += 1
    if s.seen[i] % p.every == 0:
        if ctx.position[i] == 0.0:
            buy_market(ctx, i, p.size)
        else:
            sell_market(ctx, i, ctx.position[i])


#: the same rules compiled with options of its own: the driver calls it, not a copy (not
#: cached: numba's cache would not tell its machine code from flip_on_quote's)
flip_numpy_on_quote = njit(error_model="numpy")(flip_on_quote.py_func)


def _flip(hook: object) -> qk.Strategy:
    return qk.Strategy(
        "flip", hook, params={"every": 7, "size": 1.5}, state=[("seen", "i8", (64,))]
    )


def test_plain_hooks_are_inlined_and_others_called_as_they_are() -> None:
    copy = inlined(momentum_on_quote)
    assert copy is not momentum_on_quote
    assert copy.py_func is momentum_on_quote.py_func
    assert copy.targetoptions["inline"] == "always"
    assert inlined(flip_numpy_on_quote) is flip_numpy_on_quote
    assert inlined(flip_on_quote.py_func) is flip_on_quote.py_func  # not jitted: left alone


def test_a_called_hook_runs_the_same_as_an_inlined_one(engine_synth: Path) -> None:
    runs = [
        qk.backtest(engine_synth, [_flip(hook)()], latency_ms=0.2, fee_bps_taker=2.0)
        for hook in (flip_on_quote, flip_numpy_on_quote)
    ]
    assert runs[0].fills.height > 100
    for name in ("fills", "orders", "equity", "summary"):
        assert_frame_equal(getattr(runs[0], name), getattr(runs[1], name), check_exact=True)


# --------------------------------------------------------------------------- loop inputs


def test_optional_columns_are_read_only_when_the_run_needs_them(engine_synth: Path) -> None:
    scan = qk.data.scan(engine_synth)
    floats = ("bid", "ask", "bid_size", "ask_size", "last", "last_size", *CMD_COLUMNS)
    settings = EngineSettings()
    # momentum needs bid and ask only; the scripted strategy declares no needs: all columns
    assert not Engine([qk.strategies.momentum()], scan.instruments, settings, floats).more
    assert Engine([scripted()], scan.instruments, settings, floats).more
    assert not Engine([scripted()], scan.instruments, settings, CMD_COLUMNS).more
    # the step API may get any field with any quote
    session = qk.Session([qk.strategies.momentum()], instruments=scan.instruments)
    assert session.engine.more


def test_instrument_codes_become_unsigned_without_a_copy() -> None:
    code = np.array([0, 2, 1], dtype=np.int32)
    view = _uint32(code)
    assert view.dtype == np.uint32 and np.shares_memory(view, code)
    assert view.tolist() == [0, 2, 1]
    wide = _uint32(np.array([3, 0], dtype=np.int64))
    assert wide.dtype == np.uint32 and wide.tolist() == [3, 0]
    strided = _uint32(np.arange(6, dtype=np.int32)[::2])
    assert strided.flags.c_contiguous and strided.tolist() == [0, 2, 4]


# --------------------------------------------------------------------------- output buffer


def test_orders_beyond_the_buffer_are_logged_as_rejected_after_the_others(
    tmp_path: Path,
) -> None:
    extra = 4
    res = run_ticks(tmp_path / "t.parquet", [
        tick(1, 99.0, 101.0, 100, 100, cmd=market(BUY, 1, repeat=MAX_OUT + extra)),
        tick(2, 99.0, 101.0, 100, 100, cmd=market(SELL, 1)),  # ids continue after the 16
    ])  # fmt: skip
    # accepted first (then filled at the touch), the rest rejected without an id
    first = res.orders.filter(pl.col("ts") == 1).head(MAX_OUT + extra)
    assert first["event"].to_list() == ["new"] * MAX_OUT + ["rejected"] * extra
    assert first["order_id"].to_list() == list(range(MAX_OUT)) + [-1] * extra
    assert set(first.tail(extra)["reason"]) == {f"more than {MAX_OUT} orders in one hook call"}
    assert res.fills.filter(pl.col("ts") == 1).height == MAX_OUT
    [sell] = res.fills.filter(pl.col("ts") == 2).to_dicts()
    assert sell["order_id"] == MAX_OUT and sell["side"] == "sell"
    assert res.strategies[0]["positions"]["X"] == MAX_OUT - 1


# --------------------------------------------------------------------------- kernel errors


@njit(cache=True)
def unhappy_on_quote(ctx, p, s):
    """Raise on the quote after the first ``after`` ones."""
    s.seen += 1
    if s.seen > p.after:
        raise ValueError("unhappy with this quote")


@njit(cache=True)
def misspelled_on_quote(ctx, p, s):
    """Reads a ctx field that does not exist: numba cannot compile it."""
    s.seen = ctx.positon[ctx.slot]


@njit(cache=True)
def mistyped_on_quote(ctx, p, s):
    """Stores a string into a float field: numba cannot compile it."""
    s.seen = "many"


@njit(cache=True)
def alarm_on_start(ctx, p, s):
    """Arm the timer at ``first_at``."""
    set_timer(ctx, p.first_at)


@njit(cache=True)
def alarm_on_timer(ctx, p, s):
    raise ValueError("the alarm went off")


@njit(cache=True)
def buy_once_on_quote(ctx, p, s):
    """Buy 1 at the first quote of the instrument ``p.which`` (its slot)."""
    if (ctx.slot == p.which) & (s.seen == 0.0):
        s.seen = 1.0
        buy_market(ctx, ctx.slot, 1.0)


@njit(cache=True)
def unhappy_on_fill(ctx, p, s):
    raise ValueError("unhappy with this fill")


def _erring(name: str, hook: object, **hooks: object) -> qk.Strategy:
    params = {"after": 2, "first_at": 0, "which": 0}
    return qk.Strategy(name, hook, params=params, state=[("seen", "f8")], **hooks)


def _ticks(path: Path, rows: list[tuple[int, str]], bid: float = 1.0) -> Path:
    """A tick file of (ts, instrument) rows quoting ``bid`` / 1.5, size 1 on both sides."""
    return write_ticks(path, [tick(t, bid, 1.5, 1.0, 1.0, instrument=i) for t, i in rows])


def test_the_error_names_the_instance_that_raised_not_another_at_the_same_ts(
    tmp_path: Path,
) -> None:
    path = _ticks(tmp_path / "t.parquet", [(1_000, "A"), (2_000, "A"), (2_000, "B")])
    raiser = _erring("unhappy", unhappy_on_quote)
    runs = [raiser(instruments=["A"]), raiser(instruments=["B"], after=0)]
    with pytest.raises(qk.KernelError) as err:
        qk.backtest(path, runs, accounting="linear")
    assert str(err.value) == (
        "strategy 'unhappy#2' at ts 1970-01-01T00:00:00.000002Z on B: "
        "ValueError: unhappy with this quote"
    )


def test_an_exception_in_a_timer_names_the_timer(tmp_path: Path) -> None:
    path = _ticks(tmp_path / "t.parquet", [(1_000, "A"), (1_000, "B"), (3_000, "A")])
    alarm = _erring("alarm", noop, on_start=alarm_on_start, on_timer=alarm_on_timer)
    runs = [alarm(instruments=["B"], first_at=10**9), alarm(instruments=["A"], first_at=1_500)]
    with pytest.raises(qk.KernelError) as err:
        qk.backtest(path, runs, accounting="linear")
    assert str(err.value) == (
        "strategy 'alarm#2' at ts 1970-01-01T00:00:00.0000015Z, in its timer: "
        "ValueError: the alarm went off"
    )


def test_an_exception_in_on_fill_of_a_venue_fill_names_its_instrument() -> None:
    buyer = _erring("buyer", buy_once_on_quote, on_fill=unhappy_on_fill)
    live = qk.Session([buyer(), buyer(instruments=["B"])], ["A", "B"], sim=False)
    live.start(0)
    (new,) = live.on_quote(10, "A", 1.0, 1.5)  # instance 0 buys A
    (other,) = live.on_quote(20, "B", 2.0, 2.5)  # instance 1 buys B: the latest event is B's
    assert (new.instance, other.instance) == (0, 1)
    with pytest.raises(qk.KernelError) as err:
        live.on_fill(new.instance, new.order_id, price=1.5, size=1.0, ts=15)
    assert str(err.value) == (
        "strategy 'buyer' at ts 1970-01-01T00:00:00.000000015Z, in a fill of A: "
        "ValueError: unhappy with this fill"
    )


def test_describe_shortens_only_numba_record_types() -> None:
    from numba.core.errors import TypingError

    typing = TypingError("bad Record(a[type=int64;offset=0];8;False) and Record(b(c)) end")
    assert _describe(typing) == "bad Record(...) and Record(...) end"
    assert _describe(TypingError("cut Record(a, (b) tail")) == "cut Record(a, (b) tail"
    assert _describe(TypingError("")) == "TypingError"
    assert _describe(ValueError("my Record(42) (")) == "ValueError: my Record(42) ("


def test_an_exception_raised_in_a_hook_names_the_strategy_and_the_event(tmp_path: Path) -> None:
    path = _ticks(tmp_path / "t.parquet", [(1_000, "A"), (2_000, "B"), (3_000, "A")])
    with pytest.raises(qk.KernelError) as err:
        qk.backtest(path, [_erring("unhappy", unhappy_on_quote)()], accounting="linear")
    assert str(err.value) == (
        "strategy 'unhappy' at ts 1970-01-01T00:00:00.000003Z on A: "
        "ValueError: unhappy with this quote"
    )


@njit(cache=True)
def spread_ratio_on_quote(ctx, p, s):
    """Divides by the spread: a locked quote (bid == ask) divides by zero."""
    s.seen = 1.0 / (ctx.ask - ctx.bid)


def test_a_division_by_zero_in_a_hook_names_the_event(tmp_path: Path) -> None:
    path = _ticks(tmp_path / "t.parquet", [(1_000, "A")], bid=1.5)  # locked: bid == ask
    with pytest.raises(qk.KernelError) as err:
        qk.backtest(path, [_erring("ratio", spread_ratio_on_quote)()], accounting="linear")
    assert str(err.value) == (
        "strategy 'ratio' at ts 1970-01-01T00:00:00.000001Z on A: "
        "ZeroDivisionError: division by zero"
    )


@pytest.mark.parametrize("col", ["bid", "ask"])
def test_a_price_of_0_on_an_inverse_contract_is_a_data_error(tmp_path: Path, col: str) -> None:
    """Inverse PnL divides by the price; the run stops at the bad row, naming it."""
    quote = {"bid": 99.0, "ask": 101.0, "bid_size": 5, "ask_size": 5}
    rows = [tick(1, **quote, instrument="BTC-PERPETUAL", cmd=market(BUY, 10)),
            tick(2, **(quote | {col: 0.0}), instrument="BTC-PERPETUAL")]  # fmt: skip
    with pytest.raises(qk.DataError, match=rf"event 1 of the run \(counted from 0; ts \S+02Z, "
                       rf"BTC-PERPETUAL\): {col} is 0.0; the price of an inverse contract must "
                       rf"be > 0"):  # fmt: skip
        run_ticks(tmp_path / "t.parquet", rows, accounting="auto")
    linear = run_ticks(tmp_path / "t.parquet", rows, accounting="linear")  # 0 is a price there
    assert linear.fills.height == 1


@pytest.mark.parametrize(("col", "value"), [("bid", np.inf), ("ask", np.inf), ("ask", -np.inf)])
def test_an_infinite_price_is_a_data_error(tmp_path: Path, col: str, value: float) -> None:
    """It would fill at an infinite price; an empty side is NaN, which still runs."""
    quote = {"bid": 99.0, "ask": 101.0, "bid_size": 5, "ask_size": 5}
    rows = [tick(1, **quote, cmd=market(BUY, 1)), tick(2, **(quote | {col: value}))]
    with pytest.raises(qk.DataError, match=rf"event 1 of the run \(counted from 0; ts \S+02Z, X\): "
                       rf"{col} is {value}; it must be finite"):  # fmt: skip
        run_ticks(tmp_path / "t.parquet", rows, accounting="linear")
    rows[1] = tick(2, **(quote | {col: np.nan}))
    assert run_ticks(tmp_path / "t.parquet", rows, accounting="linear").fills.height == 1


@pytest.mark.parametrize(
    ("col", "value", "rule"),
    [
        ("underlying_price", np.inf, "it must be finite"),  # the coin -> USD rate of options
        ("delta", -np.inf, "it must be finite"),
        ("ask_size", -1.0, r"a displayed size must be >= 0 \(NaN: unknown\)"),
        ("bid_size", -np.inf, "a displayed size must be >= 0"),
    ],
)
def test_other_values_the_engine_cannot_book_are_data_errors(
    tmp_path: Path, col: str, value: float, rule: str
) -> None:
    quote = {"bid": 99.0, "ask": 101.0, "bid_size": 5.0, "ask_size": 5.0, "underlying_price": 1.0,
             "delta": 0.5}  # fmt: skip
    rows = [tick(1, **quote, cmd=market(BUY, 1)), tick(2, **(quote | {col: value}))]
    with pytest.raises(qk.DataError, match=rf"event 1 of the run .*: {col} is {value}; {rule}"):
        run_ticks(tmp_path / "t.parquet", rows, accounting="linear")


@pytest.mark.parametrize(
    ("hook", "needle"), [(misspelled_on_quote, "positon"), (mistyped_on_quote, "float64")]
)
def test_a_strategy_numba_cannot_compile_is_a_short_clear_error(
    engine_synth: Path, hook: object, needle: str
) -> None:
    with pytest.raises(qk.KernelError) as err:
        qk.backtest(engine_synth, [_erring("broken", hook)()], accounting="linear")
    text = str(err.value)
    assert text.startswith("strategy 'broken' does not compile with numba: ")
    assert needle in text
    assert len(text) < 1500 and "q_underlying" not in text  # no ctx record type spelled out
