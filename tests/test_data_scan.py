"""scan(): instrument table, float columns, batching and filters, against an in-memory reference."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import quantkit as qk
from quantkit.data import Batch, reader
from quantkit.errors import ConfigError, InstrumentError

FLOATS = ("bid", "ask", "bid_size", "ask_size")


def _ticks(rng: np.random.Generator, n: int, names: list[str], t0: int) -> dict[str, object]:
    """Random sorted ticks; gaps of 0 make ts ties; some NaN and null sides."""
    bid = rng.normal(100.0, 1.0, n)
    bid[rng.random(n) < 0.1] = np.nan
    ask = pa.array(bid + rng.random(n), mask=rng.random(n) < 0.05)  # nulls, not only NaN
    return {
        "ts": t0 + np.cumsum(rng.integers(0, 3, n)),
        "instrument": rng.choice(names, n),
        "bid": bid,
        "ask": ask,
        "bid_size": rng.random(n),
        "ask_size": rng.random(n),
    }


def _reference(tables: list[pa.Table]) -> pl.DataFrame:
    """What a scan without filters must return, built from the tables that were written."""
    frames = []
    for table in tables:
        df = pl.from_arrow(table)
        assert isinstance(df, pl.DataFrame)
        frames.append(df.with_columns(pl.col("instrument").cast(pl.String)))
    df = pl.concat(frames, how="diagonal_relaxed")
    floats = [c for c in df.columns if c not in ("ts", "instrument", "note")]
    return df.with_columns(pl.col(floats).cast(pl.Float64).fill_null(np.nan))


def _filtered(ref: pl.DataFrame, names: list[str] | None, start: int | None, end: int | None):
    if names is not None:
        ref = ref.filter(pl.col("instrument").is_in(names))
    if start is not None:
        ref = ref.filter(pl.col("ts") >= start)
    if end is not None:
        ref = ref.filter(pl.col("ts") < end)
    return ref


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    """Hive directory, 3 files, small row groups; file 2 holds only 'C'; file 3 has extras."""
    root = tmp_path_factory.mktemp("hive")
    rng = np.random.default_rng(42)
    t1 = pa.table(_ticks(rng, 120, ["A", "B", "C"], t0=1_000))
    t2 = pa.table(_ticks(rng, 60, ["C"], t0=int(t1["ts"][-1].as_py())))
    cols = _ticks(rng, 90, ["B", "A", "D"], t0=int(t2["ts"][-1].as_py()) + 5)
    cols["funding"] = rng.integers(-5, 5, 90)  # extra int column: carried as float64
    cols["mark_iv"] = rng.random(90) * 80  # optional known column only in this file
    cols["note"] = ["x"] * 90  # extra string column: not carried
    t3 = pa.table(cols)
    parts = ["date=2024-01-01/part-0.parquet", "date=2024-01-01/part-1.parquet"]
    parts.append("date=2024-01-02/part-0.parquet")
    for name, table in zip(parts, (t1, t2, t3), strict=True):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / name, row_group_size=16)
    return root, _reference([t1, t2, t3]).drop("note")


def test_scan_attributes(dataset: tuple[Path, pl.DataFrame]) -> None:
    root, ref = dataset
    s = qk.data.scan(root)
    assert [p.relative_to(root).as_posix() for p in s.paths] == [
        "date=2024-01-01/part-0.parquet",
        "date=2024-01-01/part-1.parquet",
        "date=2024-01-02/part-0.parquet",
    ]
    assert s.instruments == ("A", "B", "C", "D")
    assert s.float_columns == (*FLOATS, "mark_iv", "funding")
    counts = dict(ref.group_by("instrument").len().iter_rows())
    assert s.row_counts == counts
    assert s.num_rows == ref.height


def test_to_polars_matches_reference(dataset: tuple[Path, pl.DataFrame]) -> None:
    root, ref = dataset
    out = qk.data.scan(root).to_polars()
    assert out.schema["ts"] == pl.Int64 and out.schema["instrument"] == pl.String
    assert_frame_equal(out, ref.select(out.columns), check_exact=True)


def _concat(batches: list[Batch], instruments: tuple[str, ...]) -> pl.DataFrame:
    names = np.array(instruments, dtype=object)
    data: dict[str, object] = {
        "ts": np.concatenate([b.ts for b in batches]),
        "instrument": names[np.concatenate([b.code for b in batches])].tolist(),
    }
    for col in batches[0].columns:
        data[col] = np.concatenate([b.columns[col] for b in batches])
    return pl.DataFrame(data)


@settings(max_examples=40, deadline=None)
@given(batch_size=st.one_of(st.just(0), st.integers(1, 300)))
def test_batches_concatenate_to_to_polars(
    dataset: tuple[Path, pl.DataFrame], batch_size: int
) -> None:
    s = qk.data.scan(dataset[0])
    batches = list(s.batches(batch_size))
    sizes = [len(b) for b in batches]
    expect = s.num_rows if batch_size == 0 else batch_size
    assert all(n == expect for n in sizes[:-1]) and 0 < sizes[-1] <= expect
    for b in batches:
        assert b.ts.dtype == np.int64 and b.code.dtype == np.int32
        assert tuple(b.columns) == s.float_columns
        arrays = [b.ts, b.code, *b.columns.values()]
        assert all(a.flags.c_contiguous and a.flags.writeable and len(a) == len(b) for a in arrays)
        assert all(a.dtype == np.float64 for a in b.columns.values())
    for one, two in pairwise(batches):  # views of one piece never overlap
        assert not np.shares_memory(one.ts, two.ts) and not np.shares_memory(one.code, two.code)
        assert not np.shares_memory(one.columns["bid"], two.columns["bid"])
    assert_frame_equal(_concat(batches, s.instruments), s.to_polars(), check_exact=True)


def test_scan_batch_size_is_the_default(dataset: tuple[Path, pl.DataFrame]) -> None:
    s = qk.data.scan(dataset[0], batch_size=50)
    assert [len(b) for b in s.batches()][:2] == [50, 50]


@settings(max_examples=60, deadline=None)
@given(
    names=st.one_of(st.none(), st.sets(st.sampled_from("ABCD"), min_size=1).map(sorted)),
    start=st.one_of(st.none(), st.integers(900, 1_500)),
    length=st.one_of(st.none(), st.integers(1, 600)),
    batch_size=st.integers(0, 100),
)
def test_filters_match_reference(
    dataset: tuple[Path, pl.DataFrame],
    names: list[str] | None,
    start: int | None,
    length: int | None,
    batch_size: int,
) -> None:
    root, ref = dataset
    end = None if length is None else (start or 1_000) + length
    s = qk.data.scan(root, instruments=names, start=start, end=end, batch_size=batch_size)
    want = _filtered(ref, names, start, end)
    assert s.instruments == tuple(sorted(want["instrument"].unique()))
    assert s.row_counts == dict(want.group_by("instrument").len().iter_rows())
    got = s.to_polars()
    assert_frame_equal(got, want.select(got.columns), check_exact=True)
    batches = list(s.batches())
    if batches:
        assert_frame_equal(_concat(batches, s.instruments), got, check_exact=True)
    else:
        assert want.height == 0


def test_single_instrument_string_and_glob(dataset: tuple[Path, pl.DataFrame]) -> None:
    root, ref = dataset
    s = qk.data.scan(str(root / "date=*" / "*.parquet"), instruments="C")
    assert s.instruments == ("C",)
    assert s.num_rows == ref.filter(pl.col("instrument") == "C").height


def test_unknown_instrument_suggests_a_name(dataset: tuple[Path, pl.DataFrame]) -> None:
    with pytest.raises(InstrumentError, match=r"'CC' is not in the data.*did you mean 'C'"):
        qk.data.scan(dataset[0], instruments=["A", "CC"])


def test_known_instrument_outside_time_range_is_empty(dataset: tuple[Path, pl.DataFrame]) -> None:
    s = qk.data.scan(dataset[0], instruments="D", end=1_001)
    assert s.instruments == () and s.num_rows == 0
    assert list(s.batches()) == []
    assert s.to_polars().height == 0
    assert s.to_polars().columns == ["ts", "instrument", *s.float_columns]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": 10, "end": 10}, "before end"),
        ({"start": "yesterday"}, "start="),
        ({"instruments": []}, "selects nothing"),
        ({"batch_size": -1}, "batch_size"),
        ({"batch_size": 1.5}, "batch_size"),
    ],
)
def test_bad_arguments(dataset: tuple[Path, pl.DataFrame], kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        qk.data.scan(dataset[0], **kwargs)


def test_time_bounds_accept_iso_and_datetime(tmp_path: Path) -> None:
    day = 1704067200 * 10**9  # 2024-01-01T00:00:00Z
    ts = [day - 1, day, day + 3600 * 10**9, day + 86400 * 10**9]
    table = pa.table({"ts": ts, "instrument": ["X"] * 4, **{c: [1.0] * 4 for c in FLOATS}})
    pq.write_table(table, tmp_path / "t.parquet")
    s = qk.data.scan(tmp_path / "t.parquet", start="2024-01-01", end="2024-01-01T01:00:00Z")
    assert s.to_polars()["ts"].to_list() == [day]
    naive = datetime(2024, 1, 1, 1)  # noqa: DTZ001 (naive means UTC)
    s = qk.data.scan(tmp_path / "t.parquet", start=naive)
    assert s.to_polars()["ts"].to_list() == ts[2:]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York"])
def test_timestamp_ts_columns_become_ns(tmp_path: Path, unit: str, tz: str | None) -> None:
    seconds = [1_700_000_000, 1_700_000_001, 1_700_000_005]
    per_unit = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    ts = pa.array([v * per_unit for v in seconds], pa.timestamp(unit, tz=tz))
    table = pa.table({"ts": ts, "instrument": ["X"] * 3, **{c: [1.0] * 3 for c in FLOATS}})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=1)
    s = qk.data.scan(tmp_path / "t.parquet", start=1_700_000_001 * 10**9)
    assert s.to_polars()["ts"].to_list() == [v * 10**9 for v in seconds[1:]]


def test_types_are_cast(tmp_path: Path) -> None:
    table = pa.table(
        {
            "ts": pa.array([1, 2], pa.int32()),
            "instrument": pa.array(["X", "Y"], pa.large_string()),
            "bid": pa.array([1, 2], pa.int64()),
            "ask": pa.array([1.5, 2.5], pa.float32()),
            "bid_size": pa.array([None, None], pa.null()),
            "ask_size": pa.array(["1.25", "3"]).cast(pa.decimal128(5, 2)),
            "flag": pa.array([True, False]),  # bool extra: not numeric, not carried
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    df = qk.data.scan(tmp_path / "t.parquet").to_polars()
    assert df.columns == ["ts", "instrument", *FLOATS]
    assert df["bid"].to_list() == [1.0, 2.0]
    assert df["ask"].to_list() == [1.5, 2.5]
    assert df["bid_size"].is_nan().all()
    assert df["ask_size"].to_list() == [1.25, 3.0]
    assert df["instrument"].to_list() == ["X", "Y"]


def test_dictionary_instrument_with_different_dictionaries_per_file(tmp_path: Path) -> None:
    for i, names in enumerate((["Z", "Y"], ["Y", "X"])):
        inst = pa.array(names).dictionary_encode()
        table = pa.table({"ts": [i * 10, i * 10 + 1], "instrument": inst})
        table = table.append_column("bid", pa.array([1.0, 2.0]))
        for c in FLOATS[1:]:
            table = table.append_column(c, pa.array([0.0, 0.0]))
        pq.write_table(table, tmp_path / f"{i}.parquet")
    s = qk.data.scan(tmp_path)
    assert s.instruments == ("X", "Y", "Z")
    (b,) = s.batches(0)
    assert [s.instruments[c] for c in b.code] == ["Z", "Y", "Y", "X"]


def test_large_row_groups_are_streamed_in_chunks(
    dataset: tuple[Path, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "MAX_READ_ROWS", 4)  # every row group (8-16 rows) is "large"
    s = qk.data.scan(dataset[0])
    sizes = [len(p.ts) for p in s.pieces(read_rows=5)]
    assert max(sizes) <= 5 and sum(sizes) == s.num_rows
    assert_frame_equal(s.to_polars(), dataset[1].select(s.to_polars().columns), check_exact=True)
