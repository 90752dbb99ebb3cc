"""``momentum`` + the market-order fill model, checked against an independent pure-Python replay.

The reference below re-implements, from their docstrings, the momentum rules
(quantkit/strategies/momentum.py) and the market-order part of the fill model
(quantkit/engine/matching.py): fill at the touch of the first event of the instrument at or after
``ts + latency`` (however late that event comes), capped by the displayed size (the rest
cancelled), waiting on an empty side until ``market_timeout``; fees in bps of notional; linear
accounting. Fills and realized PnL must match ``qk.backtest(..., accounting="linear")`` exactly.

Usage: ``pytest tests/test_engine_momentum_reference.py``
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quantkit as qk
from quantkit.engine.results import BacktestResult

NAN = math.nan
MS = 1_000_000

Row = tuple[int, str, float, float, float, float]  # ts, instrument, bid, ask, bid_size, ask_size
Fill = tuple[int, str, int, float, float]  # ts, instrument, side, price, size


@dataclass
class _Order:
    side: int
    size: float
    active_ts: int
    expire_ts: int
    checked: bool = False  #: it has met an event at or after active_ts


@dataclass
class _Book:
    """What the reference keeps per instrument: EMA, account and the one working order."""

    seen: bool = False
    ema: float = 0.0
    position: float = 0.0
    entry: float = 0.0
    realized: float = 0.0
    fees: float = 0.0
    last_mid: float = NAN
    order: _Order | None = None


@dataclass
class Reference:
    """A pure-Python momentum + market-order venue; ``run(rows)`` returns the fills."""

    span: int
    threshold: float
    size: float
    latency_ns: int = 0
    timeout_ns: int = 5_000 * MS
    fee_bps: float = 0.0
    books: dict[str, _Book] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    fees: list[float] = field(default_factory=list)

    def run(self, rows: list[Row]) -> list[Fill]:
        """Replay rows in order (the file order is the time order)."""
        for ts, inst, bid, ask, bid_size, ask_size in rows:
            book = self.books.setdefault(inst, _Book())
            taken = {1: 0.0, -1: 0.0}  # displayed size used up within this event, per side
            quote = (bid, ask, bid_size, ask_size)
            if book.order is not None and ts >= book.order.active_ts:
                self._match(book, ts, inst, quote, taken)
            placed = self._signal(book, ts, bid, ask)
            if placed and self.latency_ns == 0:
                self._match(book, ts, inst, quote, taken)
        return self.fills

    def _signal(self, book: _Book, ts: int, bid: float, ask: float) -> bool:
        """The momentum rules for one event; True when an order was placed."""
        if math.isnan(bid) or math.isnan(ask):
            return False
        mid = (bid + ask) / 2.0
        book.last_mid = mid
        if not book.seen:
            book.seen, book.ema = True, mid
            return False
        ema, side, qty = book.ema, 0, 0.0
        if book.order is None:
            if book.position == 0.0 and mid > ema * (1.0 + self.threshold):
                side, qty = 1, self.size
            elif book.position > 0.0 and mid < ema * (1.0 - self.threshold):
                side, qty = -1, book.position
        book.ema = ema + (2.0 / (self.span + 1.0)) * (mid - ema)
        if side:
            active = ts + self.latency_ns
            book.order = _Order(side, qty, active, active + self.timeout_ns)
        return side != 0

    def _match(self, book: _Book, ts: int, inst: str, quote: tuple, taken: dict) -> None:
        order = book.order
        assert order is not None
        bid, ask, bid_size, ask_size = quote
        price, shown = (ask, ask_size) if order.side == 1 else (bid, bid_size)
        avail = math.inf if math.isnan(shown) else shown - taken[order.side]
        first, order.checked = not order.checked, True
        touch = not math.isnan(price)  # only a NaN price is an empty side
        if (not first and ts > order.expire_ts) or (not touch and ts >= order.expire_ts):
            book.order = None  # expired: it waited past its deadline
            return
        if not touch:
            return  # waits for a quote
        qty = min(order.size, avail)
        book.order = None  # done, or the rest of a market order is cancelled
        if qty <= 0.0:
            return  # capped at 0 by the size shown: cancelled without a fill
        taken[order.side] += qty
        self._book_fill(book, order.side, price, qty)
        self.fills.append((ts, inst, order.side, price, qty))

    def _book_fill(self, book: _Book, side: int, price: float, qty: float) -> None:
        fee = qty * price * self.fee_bps / 1e4
        self.fees.append(fee)
        book.fees += fee
        if side == 1:  # momentum only buys when flat: the entry is this price
            book.position += qty
            book.entry = price
        else:  # and only sells out of a long: closed size x (exit - entry)
            book.realized += qty * (price - book.entry)
            book.position -= qty

    def unrealized(self) -> float:
        """Sum of position x (last mid - entry) over instruments."""
        return sum(b.position * (b.last_mid - b.entry) for b in self.books.values() if b.position)


# --------------------------------------------------------------------------- helpers


def read_rows(path: Path) -> list[Row]:
    """The ticks as plain tuples, read with polars (not through quantkit's reader)."""
    df = pl.read_parquet(path).with_columns(pl.col("instrument").cast(pl.String))
    for col in ("bid_size", "ask_size"):  # a file without sizes: unknown, fills not capped
        if col not in df.columns:
            df = df.with_columns(pl.lit(NAN).alias(col))
    return list(df.select("ts", "instrument", "bid", "ask", "bid_size", "ask_size").iter_rows())


def engine_fills(res: Any) -> list[Fill]:
    """The backtest's fills in the reference's shape."""
    f = res.fills
    sides = [1 if s == "buy" else -1 for s in f["side"]]
    return list(zip(f["ts"], f["instrument"], sides, f["price"], f["size"], strict=True))


def realized_by_instrument(res: Any) -> dict[str, float]:
    """Each instrument's realized PnL after its last fill (from the fill log)."""
    last = res.fills.group_by("instrument", maintain_order=True).last()
    return dict(zip(last["instrument"], last["realized"], strict=True))


def check_against_reference(path: Path, ref: Reference, **run: Any) -> BacktestResult:
    """Run both on ``path`` and assert fills, realized PnL, fees and positions agree."""
    expected = ref.run(read_rows(path))
    momentum = qk.strategies.momentum(span=ref.span, threshold=ref.threshold, size=ref.size)
    res = qk.backtest(
        path,
        [momentum],
        accounting="linear",
        latency_ms=ref.latency_ns / MS,
        market_timeout_ms=ref.timeout_ns / MS,
        fee_bps_taker=ref.fee_bps,
        **run,
    )
    assert engine_fills(res) == expected
    assert res.fills["fee"].to_list() == ref.fees
    got = realized_by_instrument(res)
    assert set(got) == {f[1] for f in expected}
    assert got == {inst: ref.books[inst].realized for inst in got}
    summary = res.strategies[0]
    assert summary["positions"] == {k: b.position for k, b in sorted(ref.books.items())}
    assert summary["realized_pnl"] == pytest.approx(
        sum(b.realized for b in ref.books.values()), rel=1e-12, abs=1e-12
    )
    assert summary["fees"] == pytest.approx(sum(ref.fees), rel=1e-12, abs=1e-12)
    assert summary["unrealized_pnl"] == pytest.approx(ref.unrealized(), rel=1e-9, abs=1e-9)
    assert summary["fills"] == len(expected)
    return res


# --------------------------------------------------------------------------- synthetic data


@pytest.mark.parametrize("latency_ms", [0.0, 2.0])
def test_momentum_matches_reference_on_synthetic_ticks(
    engine_synth: Path, latency_ms: float
) -> None:
    ref = Reference(span=10, threshold=2e-5, size=1.0, latency_ns=int(latency_ms * MS),
                    fee_bps=4.0)  # fmt: skip
    res = check_against_reference(engine_synth, ref)
    # the comparison is only worth something if the run exercised the model
    assert res.fills.height > 500
    assert set(res.fills["instrument"]) == {"BTC-PERPETUAL", "ETH-PERPETUAL", "XYZ"}
    assert (res.fills["size"] < 1.0).sum() > 50  # partial fills capped by the displayed size
    assert res.orders.filter(pl.col("event") == "cancelled").height > 50


def test_data_without_size_columns_fills_uncapped(engine_synth: Path, tmp_path: Path) -> None:
    """The issue caps fills by the displayed size "when size columns are present": a file with
    only bid and ask backtests, and fills as if every size were unknown (NaN)."""
    no_sizes = tmp_path / "no_sizes.parquet"
    pl.read_parquet(engine_synth).drop("bid_size", "ask_size").write_parquet(no_sizes)
    with pytest.raises(qk.DataError, match=r"missing required column.*'bid_size'"):
        qk.data.scan(no_sizes)  # the canonical schema still requires them
    ref = Reference(span=10, threshold=2e-5, size=1.0, latency_ns=0, fee_bps=4.0)
    res = check_against_reference(no_sizes, ref)
    assert res.fills.height > 500 and (res.fills["size"] == 1.0).all()  # never capped
    nan_sizes = tmp_path / "nan_sizes.parquet"
    pl.read_parquet(engine_synth).with_columns(
        pl.lit(NAN).alias("bid_size"), pl.lit(NAN).alias("ask_size")
    ).write_parquet(nan_sizes)
    same = qk.backtest(nan_sizes, [qk.strategies.momentum(span=10, threshold=2e-5)],
                       accounting="linear", fee_bps_taker=4.0)  # fmt: skip
    assert same.fills.equals(res.fills) and same.summary.equals(res.summary)


def test_synthetic_ticks_have_empty_sides(engine_synth: Path) -> None:
    df = pl.read_parquet(engine_synth)
    assert df["bid"].is_nan().sum() > 0 and df["ask"].is_nan().sum() > 0


# --------------------------------------------------------------------------- random streams

_INSTRUMENTS = ("AAA", "BBB", "BTC-PERPETUAL")


@st.composite
def tick_streams(draw: st.DrawFn) -> list[Row]:
    """Small interleaved streams: random walks in ticks, empty sides, tiny sizes, time gaps."""
    n = draw(st.integers(1, 80))
    level = dict.fromkeys(_INSTRUMENTS, 100.0)
    ts, rows = 1_700_000_000 * 10**9, []
    for _ in range(n):
        inst = draw(st.sampled_from(_INSTRUMENTS))
        ts += draw(st.sampled_from([0, 1 * MS, 3 * MS, 20 * MS]))
        level[inst] += draw(st.integers(-2, 2)) * 0.25
        bid = NAN if draw(st.integers(0, 7)) == 0 else level[inst]
        ask = NAN if draw(st.integers(0, 7)) == 0 else level[inst] + 0.25 * draw(st.integers(1, 2))
        sizes = st.sampled_from([NAN, 0.0, 0.3, 1.0, 5.0])
        rows.append((ts, inst, bid, ask, draw(sizes), draw(sizes)))
    return rows


def write_rows(path: Path, rows: list[Row]) -> Path:
    """Write reference rows as a canonical tick file."""
    names = ("ts", "instrument", "bid", "ask", "bid_size", "ask_size")
    schema = {"ts": pl.Int64, "instrument": pl.String} | {c: pl.Float64 for c in names[2:]}
    pl.DataFrame(rows, schema=schema, orient="row").write_parquet(path)
    return path


@pytest.fixture(scope="module")
def stream_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file path the property test overwrites for each example."""
    return tmp_path_factory.mktemp("momentum_ref") / "ticks.parquet"


@given(
    rows=tick_streams(),
    span=st.integers(1, 6),
    threshold=st.sampled_from([0.0, 1e-4, 2e-3]),
    size=st.sampled_from([0.5, 1.0, 2.0]),
    latency_ms=st.sampled_from([0, 2, 5]),
    fee_bps=st.sampled_from([0.0, 3.5]),
)
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_momentum_matches_reference_on_random_streams(
    stream_file: Path, rows: list[Row], span: int, threshold: float, size: float,
    latency_ms: int, fee_bps: float,
) -> None:  # fmt: skip
    ref = Reference(span, threshold, size, latency_ns=latency_ms * MS, timeout_ns=10 * MS,
                    fee_bps=fee_bps)  # fmt: skip
    check_against_reference(write_rows(stream_file, rows), ref, batch_size=7)


def test_reference_sees_a_waiting_order_expire(tmp_path: Path) -> None:
    """Hand-made cases the random streams may miss: the ask empties right after the signal
    (the order waits, then expires), and an ask shown with size 0 (the order is cancelled)."""
    t0 = 1_700_000_000 * 10**9
    rows: list[Row] = [
        (t0, "AAA", 100.0, 100.5, 1.0, 1.0),
        (t0 + 1 * MS, "AAA", 101.0, 101.5, 1.0, 1.0),  # buy signal, active 2 ms later
        (t0 + 5 * MS, "AAA", 101.0, NAN, 1.0, NAN),  # no ask: waits
        (t0 + 30 * MS, "AAA", 101.0, 101.5, 1.0, 1.0),  # past the 10 ms timeout: expired
    ]
    ref = Reference(span=3, threshold=0.0, size=1.0, latency_ns=2 * MS, timeout_ns=10 * MS)
    res = check_against_reference(write_rows(tmp_path / "t.parquet", rows), ref)
    assert res.orders["event"].to_list()[:2] == ["new", "expired"]
    rows[1] = (t0 + 1 * MS, "AAA", 101.0, 101.5, 1.0, 0.0)  # the signal's ask shows 0
    ref = Reference(span=3, threshold=0.0, size=1.0, timeout_ns=10 * MS)
    res = check_against_reference(write_rows(tmp_path / "t0.parquet", rows), ref)
    assert res.orders["event"].to_list()[:2] == ["new", "cancelled"]
    assert res.fills.height == 1  # the next signal (t0 + 30 ms) fills
