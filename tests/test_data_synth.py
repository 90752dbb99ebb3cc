"""synth(): reproducible, ordered, realistic-looking ticks that scan() reads back."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from numba import njit

import quantkit as qk
from quantkit.data import Batch
from quantkit.data.synth_process import MEAN_GAP_NS, MidProcess
from quantkit.data.synthetic import BLOCK_ROWS, level_and_tick
from quantkit.errors import ConfigError

ROWS = 2 * BLOCK_ROWS + 123  # spans blocks, not a multiple of anything


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return qk.data.synth(
        tmp_path_factory.mktemp("synth") / "s.parquet", ROWS, row_group_size=50_000
    )


@pytest.fixture(scope="module")
def frame(default: Path) -> pl.DataFrame:
    return qk.data.scan(default).to_polars()


def test_same_seed_gives_identical_bytes(default: Path, tmp_path: Path) -> None:
    again = qk.data.synth(tmp_path / "again.parquet", ROWS, row_group_size=50_000)
    assert _digest(again) == _digest(default)
    other = qk.data.synth(tmp_path / "other.parquet", ROWS, seed=1, row_group_size=50_000)
    assert _digest(other) != _digest(default)


def test_data_do_not_depend_on_row_groups_and_prefix(frame: pl.DataFrame, tmp_path: Path) -> None:
    path = qk.data.synth(tmp_path / "small.parquet", 1_000, row_group_size=300)
    assert pq.ParquetFile(path).metadata.num_row_groups == 4
    assert qk.data.scan(path).to_polars().equals(frame.head(1_000))


def test_row_groups_and_schema(default: Path) -> None:
    meta = pq.ParquetFile(default).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [50_000, 50_000, ROWS - 100_000]
    s = qk.data.scan(default)
    assert s.float_columns == ("bid", "ask", "bid_size", "ask_size", "last", "last_size")
    assert s.instruments == ("BTC_USDC-PERPETUAL", "ETH_USDC-PERPETUAL")  # linear by default


def test_ordered_interleaved_and_starts_at_start(frame: pl.DataFrame) -> None:
    ts = frame["ts"].to_numpy()
    assert ts[0] == 1704067200 * 10**9  # default start 2024-01-01T00:00:00Z
    assert (np.diff(ts) >= 0).all()
    gaps_ms = np.diff(ts).mean() / 1e6
    assert 0.8 < gaps_ms < 1.2  # ~1 ms exponential inter-arrival
    switches = (frame["instrument"] != frame["instrument"].shift(1)).sum()
    assert switches > ROWS / 4  # instruments interleave, not in blocks


@pytest.mark.parametrize("name", ["BTC_USDC-PERPETUAL", "ETH_USDC-PERPETUAL"])
def test_prices_are_realistic(frame: pl.DataFrame, name: str) -> None:
    level, tick = level_and_tick(name)
    df = frame.filter(pl.col("instrument") == name).drop_nans(["bid", "ask"])
    bid, ask = df["bid"].to_numpy(), df["ask"].to_numpy()
    assert np.all((bid > 0.8 * level) & (ask < 1.2 * level))
    spread_ticks = (ask - bid) / tick
    assert np.allclose(spread_ticks, np.round(spread_ticks))
    spread_ticks = np.round(spread_ticks)
    assert spread_ticks.min() == 1 and spread_ticks.max() == 4 and spread_ticks.mean() < 2
    assert np.allclose(bid / tick, np.round(bid / tick))
    assert bid.std() > 0  # the mid moves


def test_sizes_nans_and_trades(frame: pl.DataFrame) -> None:
    for col in ("bid_size", "ask_size"):
        sizes = frame[col].drop_nans().to_numpy()
        assert (sizes > 0).all()
    empty = (frame["bid"].is_nan() | frame["ask"].is_nan()).mean()
    assert 0.0003 < empty < 0.003  # ~0.1% of rows have an empty side
    assert (frame["bid"].is_nan() == frame["bid_size"].is_nan()).all()
    traded = frame.filter(pl.col("last").is_not_nan())
    assert 0.07 < traded.height / frame.height < 0.12
    on_touch = (traded["last"] == traded["bid"]) | (traded["last"] == traded["ask"])
    assert on_touch.all()
    assert (traded["last_size"] > 0).all()


def test_custom_instruments_and_start(tmp_path: Path) -> None:
    path = qk.data.synth(
        tmp_path / "sub" / "x.parquet", 5_000, instruments=["SOL-PERPETUAL", "BTC-27DEC24"],
        start="2024-06-01T12:00:00Z", seed=3,
    )  # fmt: skip
    df = qk.data.scan(path).to_polars()
    assert df["ts"][0] == 1717243200 * 10**9  # 2024-06-01T12:00:00Z
    assert set(df["instrument"]) == {"SOL-PERPETUAL", "BTC-27DEC24"}
    sol = df.filter(pl.col("instrument") == "SOL-PERPETUAL")["bid"].drop_nans()
    assert 80 < sol.mean() < 120


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rows": 0}, "rows=0 must be an integer >= 1"),
        ({"rows": -5}, "rows=-5"),
        ({"rows": 2.5}, "rows=2.5"),
        ({"start": "not a time"}, "start='not a time' is not an ISO 8601 time"),
        ({"instruments": ["A", "A"]}, "duplicates"),
        ({"instruments": [""]}, "non-empty"),
        ({"seed": -1}, "seed=-1"),
        ({"row_group_size": 0}, "row_group_size=0"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    args = {"rows": 10} | kwargs
    with pytest.raises(ConfigError, match=match):
        qk.data.synth(tmp_path / "x.parquet", **args)
    assert list(tmp_path.iterdir()) == []


def test_out_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        qk.data.synth(tmp_path, 10)


def test_unwritable_out(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write it"):
        qk.data.synth(blocker / "sub" / "x.parquet", 10)


def test_prefix_across_blocks_and_row_groups(frame: pl.DataFrame, tmp_path: Path) -> None:
    rows = BLOCK_ROWS + 4_464  # the price state is carried into the second block
    path = qk.data.synth(tmp_path / "p.parquet", rows, row_group_size=7_000)
    assert qk.data.scan(path).to_polars().equals(frame.head(rows))


def test_single_instrument_file_has_instrument_statistics(tmp_path: Path) -> None:
    one = qk.data.synth(tmp_path / "one.parquet", 1_000, instruments="BTC-PERPETUAL")
    two = qk.data.synth(tmp_path / "two.parquet", 1_000)
    stats = [pq.ParquetFile(p).metadata.row_group(0).column(1).statistics for p in (one, two)]
    assert stats[0] is not None and stats[0].min == stats[0].max == "BTC-PERPETUAL"
    assert stats[1] is None  # interleaved instruments: min/max would prune nothing
    assert qk.data.scan(one).row_counts == {"BTC-PERPETUAL": 1_000}


# ----------------------------------------------------------------- realism of the price process

LONG_ROWS = 1_000_000  # ~17 minutes of ticks


@njit(cache=True)
def _momentum_fills(code, bid, ask, span, threshold):  # type: ignore[no-untyped-def]
    """Trades (buys and sells) of the momentum rule: long-only EMA breakout on each mid."""
    ema, long = np.zeros(code.max() + 1), np.zeros(code.max() + 1, np.bool_)
    seen = np.zeros(code.max() + 1, np.bool_)
    fills, alpha = 0, 2.0 / (span + 1.0)
    for r in range(len(code)):
        if np.isnan(bid[r]) or np.isnan(ask[r]):
            continue
        c, mid = code[r], (bid[r] + ask[r]) / 2
        if not seen[c]:
            seen[c], ema[c] = True, mid
            continue
        if not long[c] and mid > ema[c] * (1 + threshold):
            long[c], fills = True, fills + 1
        elif long[c] and mid < ema[c] * (1 - threshold):
            long[c], fills = False, fills + 1
        ema[c] += alpha * (mid - ema[c])
    return fills


@pytest.fixture(scope="module")
def long_batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Batch, tuple[str, ...]]:
    path = qk.data.synth(tmp_path_factory.mktemp("long") / "l.parquet", LONG_ROWS, seed=3)
    s = qk.data.scan(path)
    return next(s.batches(batch_size=0)), s.instruments


def test_momentum_defaults_trade_now_and_then(long_batch: tuple[Batch, tuple[str, ...]]) -> None:
    b, _ = long_batch
    fills = _momentum_fills(b.code, b.columns["bid"], b.columns["ask"], 100.0, 0.0005)
    assert LONG_ROWS / 50_000 < fills < LONG_ROWS / 5_000  # one trade per 5k-50k ticks


def _one_second_returns(b: Batch, code: int) -> np.ndarray:
    rows = (b.code == code) & ~np.isnan(b.columns["bid"]) & ~np.isnan(b.columns["ask"])
    ts, mid = b.ts[rows], (b.columns["bid"][rows] + b.columns["ask"][rows]) / 2
    grid = np.arange(ts[0], ts[-1], 10**9)
    return np.diff(np.log(mid[np.searchsorted(ts, grid, side="right") - 1]))


def _mean_autocorrelation(x: np.ndarray, lags: int = 10) -> float:
    return float(np.mean([np.corrcoef(x[:-k], x[k:])[0, 1] for k in range(1, lags + 1)]))


@pytest.mark.parametrize("code", [0, 1])
def test_returns_have_fat_tails_and_big_moves_cluster(
    long_batch: tuple[Batch, tuple[str, ...]], code: int
) -> None:
    r = _one_second_returns(long_batch[0], code)
    size = np.abs(r - r.mean())
    assert (size**4).mean() / r.var() ** 2 > 6  # kurtosis; 3 for normal returns
    shuffled = np.random.default_rng(0).permutation(size)
    assert _mean_autocorrelation(size) > 0.04 > _mean_autocorrelation(shuffled) + 0.02


def test_long_run_volatility_is_crypto_like() -> None:
    """The permanent part of the mid (no overshoot), sampled every block of ~65 s, for 2 hours."""
    process = MidProcess(np.log([60_000.0, 3_000.0]))
    steps = []
    for block in range(120):
        rng = np.random.default_rng([5, block])
        before = process.log_mid.copy()
        process.advance(rng, rng.integers(0, 2, BLOCK_ROWS).astype(np.int32))
        steps.append(process.log_mid - before)
    seconds = BLOCK_ROWS * MEAN_GAP_NS / 1e9
    annual = np.std(steps) * np.sqrt(365.25 * 86_400 / seconds)
    assert 0.5 < annual < 0.95  # the target is 0.7 (50-80% is typical of BTC and ETH)


def test_default_instruments_are_accounted_linearly(tmp_path: Path) -> None:
    """The engine's benchmark and acceptance rules are linear (PnL = size x price change):
    synth's default names are Deribit's linear USDC perpetuals, so the default accounting
    books them exactly as ``accounting="linear"`` does."""
    path = qk.data.synth(tmp_path / "s.parquet", 20_000, seed=5)
    momentum = qk.strategies.momentum(span=5, threshold=1e-6)
    auto = qk.backtest(path, [momentum]).strategies[0]
    linear = qk.backtest(path, [momentum], accounting="linear").strategies[0]
    assert auto["fills"] > 10
    keys = ("fills", "realized_pnl", "unrealized_pnl", "fees", "positions")
    assert {k: auto[k] for k in keys} == {k: linear[k] for k in keys}
    assert set(auto["pnl_by_currency"]) == {"USD"}
