"""Engine invariants: results never depend on batching, on the driver, or on other strategies.

* batch size 1, 7, 4096 and 0 (one batch) give identical fills, orders, equity and summary;
* feeding the same events one at a time through ``qk.Session(sim=True)`` gives the same order
  events and fills as the batch driver; with ``sim=False`` and the batch run's fills fed back
  through ``on_fill`` the strategy places the same orders;
* a strategy sees only its instruments, and runs the same alone as next to others.

Usage: ``pytest tests/test_engine_invariants.py``
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_engine_fills import CMD_COLUMNS, FLATTEN, scripted

import quantkit as qk
from quantkit.engine import BUY, CANCEL, LIMIT, MARKET, POST_ONLY, REDUCE_ONLY, SELL
from quantkit.engine.results import BacktestResult, build_result
from quantkit.strategies.seed import SEED_BTC_OPTION, seed_configs

SETTINGS = {"fee_bps_maker": -1.0, "fee_bps_taker": 3.0, "latency_ms": 0.5,
            "equity_interval_ms": 50.0}  # fmt: skip


@pytest.fixture(scope="module")
def scripted_synth(engine_synth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic ticks plus random scripted orders (cmd_* columns) on about 5% of rows."""
    df = pl.read_parquet(engine_synth).with_columns(pl.col("instrument").cast(pl.String))
    rng = np.random.default_rng(5)
    n = df.height
    mid = ((df["bid"] + df["ask"]) / 2).to_numpy()
    kind = rng.choice([MARKET, LIMIT, LIMIT, LIMIT, CANCEL, FLATTEN], n).astype(float)
    kind[rng.random(n) > 0.05] = np.nan
    cmds = {
        "cmd_side": rng.choice([BUY, SELL], n).astype(float),
        "cmd_type": kind,
        "cmd_price": mid * (1 + rng.integers(-3, 4, n) * 1e-5),
        "cmd_size": rng.choice([0.2, 0.5, 1.0, 2.0], n),
        "cmd_flags": rng.choice([0, 0, POST_ONLY, REDUCE_ONLY], n).astype(float),
        "cmd_target": rng.integers(0, 1000, n).astype(float),
        "cmd_repeat": np.ones(n),
    }
    out = tmp_path_factory.mktemp("scripted_synth") / "ticks.parquet"
    df.with_columns(**{k: pl.Series(k, v) for k, v in cmds.items()}).write_parquet(out)
    return out


def _head(path: Path, rows: int, out: Path) -> Path:
    pl.read_parquet(path).head(rows).write_parquet(out)
    return out


@pytest.fixture(scope="module")
def small_scripted(scripted_synth: Path) -> Path:
    """The first 6000 rows of ``scripted_synth`` (the step API costs ~0.1 ms per event)."""
    return _head(scripted_synth, 6_000, scripted_synth.with_name("small.parquet"))


@pytest.fixture(scope="module")
def small_plain(engine_synth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 8000 rows of the plain synthetic ticks."""
    return _head(engine_synth, 8_000, tmp_path_factory.mktemp("small_plain") / "ticks.parquet")


def two_strategies() -> list[qk.StrategyConfig]:
    """Two momentum instances (one group) and the scripted strategy (another group)."""
    return [
        qk.strategies.momentum(span=10, threshold=2e-5, size=1.0),
        qk.strategies.momentum(label="mom_slow", span=40, threshold=1e-5, size=0.5,
                               instruments=["ETH-PERPETUAL", "XYZ"]),
        scripted(),
    ]  # fmt: skip


def assert_same_result(a: BacktestResult, b: BacktestResult) -> None:
    """Every table and summary number equal (elapsed time aside)."""
    for name in ("fills", "orders", "equity", "summary"):
        assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    assert a.strategies == b.strategies
    assert a.events == b.events


# --------------------------------------------------------------------------- batch size


@pytest.fixture(scope="module")
def synth_whole(scripted_synth: Path) -> BacktestResult:
    """The two-strategy run on the scripted synthetic ticks in one batch."""
    return qk.backtest(scripted_synth, two_strategies(), batch_size=0, **SETTINGS)


def test_two_strategy_run_exercises_the_engine(synth_whole: BacktestResult) -> None:
    by = {s["name"]: s for s in synth_whole.strategies}
    assert by["momentum"]["fills"] > 300 and by["mom_slow"]["fills"] > 100
    log = synth_whole.orders.filter(pl.col("strategy") == "scripted")
    assert set(log["event"]) == {"new", "filled", "cancelled", "rejected"}
    reasons = " | ".join(log["reason"].unique().to_list())
    for why in ("post-only", "reduce-only", "by the strategy", "no open order", "market order"):
        assert why in reasons
    assert synth_whole.fills.filter(pl.col("maker")).height > 20
    assert synth_whole.equity.height > 3 * 300


@pytest.mark.parametrize("batch_size", [1, 7, 4096])
def test_batch_size_does_not_change_a_two_strategy_run(
    scripted_synth: Path, synth_whole: BacktestResult, batch_size: int
) -> None:
    res = qk.backtest(scripted_synth, two_strategies(), batch_size=batch_size, **SETTINGS)
    assert_same_result(res, synth_whole)


@pytest.mark.parametrize("batch_size", [7, 4096])
def test_batch_size_does_not_change_the_seed_run_on_the_sample(
    bundled_sample: Path, batch_size: int
) -> None:
    whole = qk.backtest(bundled_sample, seed_configs(), batch_size=0, **SETTINGS)
    assert all(s["fills"] >= 5 for s in whole.strategies)
    res = qk.backtest(bundled_sample, seed_configs(), batch_size=batch_size, **SETTINGS)
    assert_same_result(res, whole)


def test_batch_size_one_on_twenty_minutes_of_the_sample(bundled_sample: Path) -> None:
    window = {"start": "2024-12-20T12:00:00Z", "end": "2024-12-20T12:20:00Z"}
    busy = qk.strategies.gamma_scalp(
        instruments=[SEED_BTC_OPTION], option_size=10.0, delta_band=0.02, label="gamma_scalp_busy"
    )
    configs = [*seed_configs(), busy]
    whole = qk.backtest(bundled_sample, configs, batch_size=0, **window, **SETTINGS)
    assert whole.events > 5_000 and whole.fills.height > 10
    res = qk.backtest(bundled_sample, configs, batch_size=1, **window, **SETTINGS)
    assert_same_result(res, whole)


# --------------------------------------------------------------------------- row by row


def quote_rows(path: Path) -> list[dict[str, Any]]:
    """The file's ticks as dicts (instrument as str), in file order."""
    df = pl.read_parquet(path).with_columns(pl.col("instrument").cast(pl.String))
    return df.to_dicts()


def _nan_none(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


def session_order_rows(events: list[Any]) -> list[tuple]:
    """OrderEvents in the shape of the backtest's orders table."""

    def side(e: Any) -> str:
        return "buy" if e.side > 0 else "sell" if e.side < 0 else ""

    fields = [(e.ts, e.strategy, e.instrument, e.order_id, e.event, side(e), e.type, e.price,
               e.size, e.post_only, e.reduce_only, e.reason) for e in events]  # fmt: skip
    return [tuple(_nan_none(v) for v in f) for f in fields]


def table_order_rows(orders: pl.DataFrame) -> list[tuple]:
    """The backtest's orders table as tuples (NaN as None), row column dropped."""
    return [tuple(_nan_none(v) for v in r) for r in orders.drop("row").iter_rows()]


def feed(sess: qk.Session, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[Any]:
    """Feed every row through ``sess.on_quote``; returns the order events it reported."""
    out = sess.start(rows[0]["ts"])
    for r in rows:
        out += sess.on_quote(r["ts"], r["instrument"], **{c: r[c] for c in columns})
    return out


def test_session_sim_matches_the_batch_driver(small_scripted: Path) -> None:
    batch = qk.backtest(small_scripted, two_strategies(), **SETTINGS)
    assert batch.fills.height > 100
    scan = qk.data.scan(small_scripted)
    sess = qk.Session(
        two_strategies(),
        instruments=scan.instruments,
        settings=qk.EngineSettings(**SETTINGS),
        columns=CMD_COLUMNS,
    )
    events = feed(sess, quote_rows(small_scripted), scan.float_columns)
    # what the calls returned, in the order the strategies placed them
    batch_orders = batch.orders.sort("row", maintain_order=True)
    assert session_order_rows(events) == table_order_rows(batch_orders)
    fills = [(f.ts, f.strategy, f.instrument, f.order_id, f.price, f.size, f.fee, f.position)
             for f in sess.fills()]  # fmt: skip
    cols = ["ts", "strategy", "instrument", "order_id", "price", "size", "fee", "position"]
    assert fills == list(batch.fills.select(cols).iter_rows())
    # and the complete logs, equity included, once the run is finished
    sess.engine.finish()
    assert_same_result(build_result(sess.engine, 0.0), batch)


@pytest.mark.parametrize("latency_ms", [0.0, 2.0])
def test_live_session_places_the_same_orders_when_fed_the_batch_fills(
    small_plain: Path, latency_ms: float
) -> None:
    configs = [qk.strategies.momentum(span=10, threshold=2e-5, size=0.001)]
    settings = qk.EngineSettings(latency_ms=latency_ms, fee_bps_taker=2.0)
    batch = qk.backtest(small_plain, configs, settings=settings)
    # tiny orders never meet a smaller displayed size: no market rest for the venue to cancel
    assert batch.orders["event"].unique().sort().to_list() == ["filled", "new"]
    assert batch.fills.height > 100
    before, after = _fills_by_moment(batch)
    scan = qk.data.scan(small_plain)
    live = qk.Session(configs, instruments=scan.instruments, settings=settings, sim=False)
    placed = live.start(0)
    for i, r in enumerate(quote_rows(small_plain)):
        for f in before.get(i, []):
            placed += live.on_fill(0, f["order_id"], f["price"], f["size"], f["ts"], fee=f["fee"])
        placed += live.on_quote(r["ts"], r["instrument"], **{c: r[c] for c in scan.float_columns})
        for f in after.get(i, []):
            placed += live.on_fill(0, f["order_id"], f["price"], f["size"], f["ts"], fee=f["fee"])
    got = build_result(live.engine, 0.0)
    if latency_ms == 0.0:  # every fill belongs to the event that placed its order
        assert not before
        assert_frame_equal(got.orders, batch.orders, check_exact=True)
        assert_frame_equal(got.fills, batch.fills, check_exact=True)
    else:  # a venue fill arrives before the quote that filled it in the backtest
        assert before
        assert_frame_equal(got.orders.drop("row"), batch.orders.drop("row"), check_exact=True)
        assert_frame_equal(got.fills.drop("row"), batch.fills.drop("row"), check_exact=True)
    assert [e.event for e in placed].count("new") == batch.strategies[0]["orders"]


def _fills_by_moment(res: BacktestResult) -> tuple[dict[int, list], dict[int, list]]:
    """Batch fills keyed by row: matched before on_quote (older orders) or after it (new ones)."""
    new = res.orders.filter(pl.col("event") == "new")
    placed_at = dict(zip(new["order_id"], new["row"], strict=True))
    before: dict[int, list] = {}
    after: dict[int, list] = {}
    for f in res.fills.to_dicts():
        side = after if placed_at[f["order_id"]] == f["row"] else before
        side.setdefault(f["row"], []).append(f)
    return before, after


# --------------------------------------------------------------------------- isolation


def isolated_configs() -> list[qk.StrategyConfig]:
    """Three instances on different instrument sets and parameters."""
    return [
        qk.strategies.momentum(label="a", span=10, threshold=2e-5, instruments=["BTC-PERPETUAL"]),
        qk.strategies.momentum(label="b", span=30, threshold=1e-5, size=0.5,
                               instruments=["ETH-PERPETUAL", "XYZ"]),
        scripted(label="s", instruments=["XYZ"]),
    ]  # fmt: skip


def test_strategies_see_only_their_instruments(scripted_synth: Path) -> None:
    res = qk.backtest(scripted_synth, isolated_configs(), **SETTINGS)
    counts = qk.data.scan(scripted_synth).row_counts
    for s in res.strategies:
        assert s["events"] == sum(counts[i] for i in s["instruments"])
        mine = pl.col("strategy") == s["name"]
        assert set(res.fills.filter(mine)["instrument"]) <= set(s["instruments"])
        assert set(res.orders.filter(mine)["instrument"].drop_nulls()) <= set(s["instruments"])
        assert s["fills"] > 0
    assert res.events == sum(counts.values())


def test_each_instance_runs_the_same_alone_as_together(scripted_synth: Path) -> None:
    everything = qk.data.scan(scripted_synth).instruments  # read the same rows in every run
    together = qk.backtest(scripted_synth, isolated_configs(), **SETTINGS)
    for cfg, summary in zip(isolated_configs(), together.strategies, strict=True):
        alone = qk.backtest(scripted_synth, [cfg], instruments=everything, **SETTINGS)
        mine = pl.col("strategy") == cfg.name
        assert alone.strategies == [summary]
        for name in ("fills", "orders", "equity"):
            a = getattr(alone, name)
            b = getattr(together, name).filter(mine)
            if name == "fills":  # fill ids count fills of the whole strategy group
                a, b = a.drop("fill_id"), b.drop("fill_id")
            assert_frame_equal(a, b, check_exact=True)


def test_results_keep_the_order_the_strategies_were_given_in(scripted_synth: Path) -> None:
    # momentum, scripted, momentum: two drivers, the instances of momentum share one
    configs = [isolated_configs()[0], isolated_configs()[2], isolated_configs()[1]]
    res = qk.backtest(scripted_synth, configs, **SETTINGS)
    assert [s["name"] for s in res.strategies] == ["a", "s", "b"]
    assert res.summary["name"].to_list() == ["a", "s", "b"]
    for name in ("fills", "orders"):  # one table in event order, whichever driver logged it
        table = getattr(res, name)
        assert table["row"].is_sorted()
        assert table.select("strategy").n_unique() == 3
    assert res.equity["ts"].is_sorted()
    # the step API numbers instances the same way
    scan = qk.data.scan(scripted_synth)
    sess = qk.Session(configs, scan.instruments, qk.EngineSettings(**SETTINGS), columns=CMD_COLUMNS)
    events = feed(sess, quote_rows(scripted_synth)[:3_000], scan.float_columns)
    assert {(e.instance, e.strategy) for e in events} == {(0, "a"), (1, "s"), (2, "b")}
    assert [e.instance for e in events if e.event == "new"] != sorted(
        e.instance for e in events if e.event == "new"
    )  # the instances' orders interleave in time, not grouped by driver
