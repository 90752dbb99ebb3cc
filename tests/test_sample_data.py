"""The committed files in data/: schema, order, instruments, realism, and that they rebuild."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

import quantkit as qk
from quantkit.data.schema import KNOWN_FLOAT, REQUIRED_FLOAT
from quantkit.instruments import Option, bundled_specs, parse, spec

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
SAMPLE = DATA / "sample_ticks.parquet"
CAPTURE = DATA / "deribit_capture_2021.parquet"
CAPTURE_SOURCE = Path(__file__).parent / "data" / "deribit_capture_2021.ws.txt"

#: as documented in data/README.md
SAMPLE_INSTRUMENTS = {
    "BTC-PERPETUAL",
    "ETH-PERPETUAL",
    "BTC-27DEC24-95000-P",
    "BTC-27DEC24-100000-C",
    "BTC-31JAN25-100000-C",
    "BTC-31JAN25-100000-P",
    "ETH-27DEC24-3300-P",
    "ETH-27DEC24-3600-C",
    "ETH-31JAN25-3500-C",
    "ETH-31JAN25-3500-P",
}
GREEKS = ("delta", "gamma", "vega", "theta")


def load_script(name: str) -> ModuleType:
    """Import scripts/<name>.py as a module (scripts/ is not a package)."""
    path = REPO / "scripts" / f"{name}.py"
    module_spec = importlib.util.spec_from_file_location(f"_scripts_{name}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module
    module_spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample() -> pl.DataFrame:
    return qk.data.scan(SAMPLE).to_polars()


def _is_option(frame: pl.DataFrame) -> pl.Series:
    return frame["instrument"].str.contains(r"-[CP]$")


# --- sample_ticks.parquet -----------------------------------------------------------------------


def test_sample_follows_the_canonical_schema() -> None:
    schema = pq.read_schema(SAMPLE)
    assert schema.field("ts").type == pa.int64()
    assert schema.field("instrument").type == pa.string()
    assert set(schema.names) == {"ts", "instrument", *KNOWN_FLOAT}
    for name in KNOWN_FLOAT:
        assert schema.field(name).type == pa.float64(), name


def test_sample_ts_strictly_increasing_in_small_row_groups(sample: pl.DataFrame) -> None:
    ts = sample["ts"].to_numpy()
    assert np.all(np.diff(ts) > 0)
    meta = pq.ParquetFile(SAMPLE).metadata
    groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert len(groups) >= 2 and max(groups) <= 64_000
    hours = (ts[-1] - ts[0]) / 3.6e12
    assert 2.9 < hours <= 3.0


def test_sample_instruments_and_size(sample: pl.DataFrame) -> None:
    assert set(sample["instrument"].unique()) == SAMPLE_INSTRUMENTS
    assert set(bundled_specs()) >= SAMPLE_INSTRUMENTS
    assert 50_000 <= sample.height <= 200_000
    assert sum(f.stat().st_size for f in DATA.iterdir()) <= 5_000_000


def test_options_update_less_often_than_perps(sample: pl.DataFrame) -> None:
    counts = dict(sample.group_by("instrument").len().iter_rows())
    slowest_perp = min(counts["BTC-PERPETUAL"], counts["ETH-PERPETUAL"])
    assert max(n for name, n in counts.items() if "PERPETUAL" not in name) < slowest_perp / 5


def test_option_rows_carry_forward_iv_and_greeks(sample: pl.DataFrame) -> None:
    option = _is_option(sample)
    options, perps = sample.filter(option), sample.filter(~option)
    for column in ("underlying_price", "mark_iv", *GREEKS):
        assert options[column].is_finite().all(), column
        assert perps[column].is_nan().all(), column
    assert options["mark_iv"].is_between(30.0, 120.0).all()
    calls = options.filter(pl.col("instrument").str.ends_with("-C"))
    puts = options.filter(pl.col("instrument").str.ends_with("-P"))
    assert calls["delta"].is_between(0.0, 1.0).all() and puts["delta"].is_between(-1.0, 0.0).all()
    assert (options["gamma"] > 0).all() and (options["vega"] > 0).all()
    assert (options["theta"] < 0).all()


def test_forward_is_close_to_the_perp_mid(sample: pl.DataFrame) -> None:
    perps = sample.filter(~_is_option(sample)).select(
        "ts",
        pl.col("instrument").str.slice(0, 3).alias("coin"),
        ((pl.col("bid") + pl.col("ask")) / 2).alias("mid"),
    )
    options = sample.filter(_is_option(sample)).select(
        "ts", pl.col("instrument").str.slice(0, 3).alias("coin"), "underlying_price"
    )
    joined = options.join_asof(perps, on="ts", by="coin", check_sortedness=False).drop_nulls()
    ratio = (joined["underlying_price"] / joined["mid"]).to_numpy()
    assert np.all(np.abs(ratio - 1.0) < 0.015)  # the forward carries a small basis


def test_prices_on_ticks_and_sizes_in_lots(sample: pl.DataFrame) -> None:
    for (name,), rows in sample.group_by("instrument"):
        terms = spec(str(name))
        lot = terms.min_trade_amount if terms.kind == "option" else terms.contract_size
        for column, step in (("bid", terms.tick_size), ("ask", terms.tick_size)):
            values = rows[column].drop_nans().to_numpy() / step
            assert np.allclose(values, np.round(values), atol=1e-6), (name, column)
        for column in ("bid_size", "ask_size", "last_size"):
            values = rows[column].drop_nans().to_numpy() / lot
            assert np.allclose(values, np.round(values), atol=1e-6), (name, column)
            assert (values >= 1 - 1e-9).all()


def test_put_call_parity_holds_in_coin(sample: pl.DataFrame) -> None:
    """C - P = (F - K) / F in coin for one strike and expiry: quotes are priced consistently."""
    for call_name in ("BTC-31JAN25-100000-C", "ETH-31JAN25-3500-C"):
        opt = parse(call_name)
        assert isinstance(opt, Option)
        mid = ((pl.col("bid") + pl.col("ask")) / 2).alias("mid")
        calls = sample.filter(pl.col("instrument") == call_name).select("ts", mid)
        puts = sample.filter(pl.col("instrument") == call_name[:-1] + "P").select(
            "ts", mid.alias("put_mid"), "underlying_price"
        )
        joined = puts.join_asof(calls, on="ts", tolerance=5_000_000_000).drop_nulls().drop_nans()
        forward = joined["underlying_price"].to_numpy()
        error = joined["mid"] - joined["put_mid"] - (forward - opt.strike) / forward
        assert joined.height > 100
        assert float(error.abs().median()) < 0.002  # spreads are ~0.003-0.005 coin


def test_sample_has_a_few_blemishes(sample: pl.DataFrame) -> None:
    """As documented: 3 locked and 2 crossed perp quotes, 12 option quotes missing a side."""
    spread = sample["ask"] - sample["bid"]
    assert int((spread == 0).sum()) == 3
    assert int((spread < 0).sum()) == 2
    empty = sample.filter(pl.col("bid").is_nan() | pl.col("ask").is_nan())
    assert empty.height == 12 and _is_option(empty).all()
    assert int(sample["bid"].is_nan().sum()) == int(sample["ask"].is_nan().sum()) == 6
    assert empty.filter(pl.col("bid").is_nan())["bid_size"].is_nan().all()


def test_instrument_table_copy_matches_the_package() -> None:
    copied = json.loads((DATA / "instruments.json").read_text())
    assert {e["instrument_name"] for e in copied} == set(bundled_specs())


def test_sample_script_rebuilds_the_committed_file(sample: pl.DataFrame) -> None:
    built_with = json.loads(pq.read_schema(SAMPLE).metadata[b"quantkit.sample"])
    if built_with["numpy"].split(".")[:2] != np.__version__.split(".")[:2]:
        pytest.skip(f"sample built with numpy {built_with['numpy']}, random streams may differ")
    rebuilt = pl.from_arrow(load_script("make_sample_data").build(built_with["seed"]))
    assert isinstance(rebuilt, pl.DataFrame)
    assert_frame_equal(rebuilt, sample.select(rebuilt.columns))


# --- deribit_capture_2021.parquet ---------------------------------------------------------------


def test_capture_conversion_reproduces_the_committed_file() -> None:
    table, _stats = load_script("convert_deribit_capture").convert(CAPTURE_SOURCE.read_text())
    assert_frame_equal(pl.from_arrow(table), pl.read_parquet(CAPTURE))  # type: ignore[arg-type]


def test_capture_schema_order_and_option_fields() -> None:
    frame = qk.data.scan(CAPTURE).to_polars()
    schema = pq.read_schema(CAPTURE)
    assert schema.field("ts").type == pa.int64() and schema.field("instrument").type == pa.string()
    assert all(schema.field(c).type == pa.float64() for c in schema.names[2:])
    assert {"ts", "instrument", *KNOWN_FLOAT} <= set(schema.names)
    assert (frame["ts"].diff().drop_nulls() >= 0).all()
    for column in ("underlying_price", "mark_iv", *GREEKS, "mark_price", "index_price"):
        assert frame[column].is_finite().all(), column
    for column in REQUIRED_FLOAT:
        assert not frame[column].is_null().any()


def _raw_messages() -> list[dict]:
    out = []
    for line in CAPTURE_SOURCE.read_text().splitlines():
        head, _, body = line.partition(": ")
        if body and "<-" not in head:
            message = json.loads(body)
            if message.get("method") == "subscription":
                out.append(message["params"])
    return out


def test_capture_rows_are_the_tickers_plus_top_of_book_changes() -> None:
    frame = pl.read_parquet(CAPTURE)
    messages = _raw_messages()
    tickers = [p["data"] for p in messages if p["channel"].startswith("ticker.")]
    subscribed = {p["channel"].split(".")[1] for p in messages}
    assert set(frame["instrument"].unique()) == subscribed and len(subscribed) == 10
    assert not any(p["channel"].startswith("trades.") for p in messages)  # no trade in this session
    keys = {(t["instrument_name"], t["timestamp"] * 1_000_000, t["mark_price"]) for t in tickers}
    is_ticker = [
        (name, ts, mark) in keys
        for name, ts, mark in frame.select("instrument", "ts", "mark_price").iter_rows()
    ]
    assert sum(is_ticker) == len(tickers) == 89
    book_times = {
        (p["data"]["instrument_name"], p["data"]["timestamp"] * 1_000_000)
        for p in messages
        if p["channel"].startswith("book.")
    }
    book_rows = frame.filter(~pl.Series(is_ticker))
    assert frame.height == len(tickers) + book_rows.height
    for name, ts in book_rows.select("instrument", "ts").iter_rows():
        assert (name, ts) in book_times  # a book row comes from a book message
    assert book_rows["bid_iv"].is_nan().all() and book_rows["last"].is_nan().all()


def test_capture_empty_sides_are_nan() -> None:
    frame = pl.read_parquet(CAPTURE)
    empty = frame.filter(pl.col("instrument") == "ETH-27AUG21-4000-P")  # both sides 0 throughout
    assert empty["bid"].is_nan().all() and empty["ask_size"].is_nan().all()
    one_sided = frame.filter(pl.col("instrument") == "ETH-23JUL21-2300-C")  # bid 0, ask 0.001
    assert one_sided["bid"].is_nan().all() and (one_sided["ask"] == 0.001).all()
    assert one_sided["ask_size"].is_finite().all()
