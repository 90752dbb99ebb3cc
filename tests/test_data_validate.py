"""Every DataError names the file, column and row, and says the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import quantkit as qk
from quantkit.data import reader
from quantkit.data.validate import column_hint, first_decrease
from quantkit.errors import DataError

GOOD = {
    "ts": [1, 2, 3],
    "instrument": ["A", "B", "A"],
    "bid": [1.0, 2.0, 3.0],
    "ask": [1.5, 2.5, 3.5],
    "bid_size": [1.0, 1.0, 1.0],
    "ask_size": [1.0, 1.0, 1.0],
}


def _write(path: Path, row_group_size: int | None = None, **changes: object) -> Path:
    cols = {k: v for k, v in (GOOD | changes).items() if v is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path, row_group_size=row_group_size)
    return path


def _read(path: Path | str) -> None:
    for _ in qk.data.scan(path, batch_size=2).batches():
        pass


def _error(path: Path | str) -> str:
    with pytest.raises(DataError) as info:
        _read(path)
    return str(info.value)


def test_good_file_reads(tmp_path: Path) -> None:
    _read(_write(tmp_path / "t.parquet"))


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_text("ts,instrument\n1,A\n")
    msg = _error(path)
    assert str(path) in msg and "not a Parquet file" in msg and "write_parquet" in msg


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.touch()
    assert "empty (0 byte) file" in _error(path)


def test_zero_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(GOOD).slice(0, 0), path)
    assert f"{path}: file has 0 rows" in _error(path)


def test_missing_columns_listed_with_hints(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.parquet", ts=None, bid=None, instrument=None,
        timestamp=[1, 2, 3], Bid=[1.0, 2.0, 3.0], symbol=["A", "A", "A"],
    )  # fmt: skip
    msg = _error(path)
    assert str(path) in msg
    assert "'ts' (did you mean 'timestamp'?)" in msg
    assert "'instrument' (did you mean 'symbol'?)" in msg
    assert "'bid' (did you mean 'Bid'?)" in msg
    assert "the file has columns ask, bid_size, ask_size, timestamp, Bid, symbol" in msg


def test_column_hint() -> None:
    assert column_hint("bid_size", ["BidSize"]) == " (did you mean 'BidSize'?)"
    assert column_hint("ask", ["best_ask"]) == " (did you mean 'best_ask'?)"
    assert column_hint("ask_size", ["ask_sizes"]) == " (did you mean 'ask_sizes'?)"
    assert column_hint("ts", ["foo"]) == ""


@pytest.mark.parametrize(
    ("column", "values", "expect"),
    [
        ("bid", ["1", "2", "3"], "column 'bid' has type string, which cannot be cast to float64"),
        ("mark_iv", ["a", "b", "c"], "column 'mark_iv' has type string"),
        ("ts", ["1", "2", "3"], "column 'ts' has type string; expected int64 nanoseconds"),
        ("ts", [1.0, 2.0, 3.0], "column 'ts' has type double"),
        ("instrument", [1, 2, 3], "column 'instrument' has type int64; expected string"),
    ],
)
def test_wrong_types(tmp_path: Path, column: str, values: list, expect: str) -> None:
    path = _write(tmp_path / "t.parquet", **{column: values})
    msg = _error(path)
    assert str(path) in msg and expect in msg and "pl.col(" in msg


@pytest.mark.parametrize("column", ["ts", "instrument"])
def test_null_key_names_the_row(tmp_path: Path, column: str) -> None:
    values = list(GOOD[column])
    values[2] = None
    path = _write(tmp_path / "t.parquet", row_group_size=2, **{column: values})
    msg = _error(path)
    assert f"{path}: column '{column}' is null at row 2 (0-based)" in msg
    assert "is_not_null" in msg


def test_ts_backwards_within_a_chunk(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.parquet", ts=[5, 7, 6])
    msg = _error(path)
    assert f"{path}: ts goes backwards at row 2" in msg
    assert "ts 6 (1970-01-01T00:00:00.000000006Z) comes after ts 7" in msg and "at row 1" in msg
    assert 'sort("ts", maintain_order=True)' in msg


def test_ts_backwards_across_row_groups(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.parquet", row_group_size=2, ts=[5, 7, 6])
    assert "backwards at row 2 (0-based): ts 6" in _error(path)


def test_ts_backwards_across_read_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_READ_ROWS", 1 << 16)  # larger row groups are streamed
    n = 70_000  # more than one read chunk (65,536 rows) in a single row group
    ts = np.arange(n)
    ts[65_536] = 10  # the first row of the second chunk
    cols = {
        "ts": ts,
        "instrument": ["A"] * n,
        **{c: np.ones(n) for c in ("bid", "ask", "bid_size", "ask_size")},
    }
    pq.write_table(pa.table(cols), tmp_path / "t.parquet")
    with pytest.raises(DataError, match=r"backwards at row 65536 .*after ts 65535 .*at row 65535"):
        for _ in qk.data.scan(tmp_path / "t.parquet", batch_size=1000).batches():
            pass


def test_ts_backwards_across_files(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.parquet", ts=[10, 20, 30])
    second = _write(tmp_path / "b.parquet", ts=[25, 40, 50])
    msg = _error(tmp_path)
    assert f"{second}: ts goes backwards across files: row 0 has ts 25" in msg
    assert f"previous file {first} ends at ts 30" in msg
    assert "sorted order is time order" in msg


def test_ts_ties_are_fine_and_keep_file_order(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.parquet", ts=[1, 1, 1], bid=[3.0, 1.0, 2.0])
    assert qk.data.scan(path).to_polars()["bid"].to_list() == [3.0, 1.0, 2.0]


def test_ts_overflow_names_the_file(tmp_path: Path) -> None:
    ts = pa.array([2**62, 2**62 + 1, 2**62 + 2], pa.timestamp("ms"))
    path = _write(tmp_path / "t.parquet", ts=ts)
    assert "does not fit in int64 nanoseconds" in _error(path)


def test_corrupt_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.parquet")
    data = bytearray(path.read_bytes())
    data[4:40] = b"\x00" * 36  # page headers of the first column chunks
    path.write_bytes(bytes(data))
    assert f"{path}: cannot decode row group 0" in _error(path)


def test_file_removed_after_scan(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.parquet")
    s = qk.data.scan(path)
    path.unlink()
    with pytest.raises(DataError, match="no such file"):
        next(s.batches())


def test_file_rewritten_after_scan(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.parquet")
    s = qk.data.scan(path)
    _write(path, **{k: v * 2 for k, v in GOOD.items()} | {"ts": [1, 2, 3, 4, 5, 6]})
    with pytest.raises(DataError, match="data changed while it was being read"):
        list(s.batches())


@given(st.lists(st.integers(-5, 5), max_size=40))
def test_first_decrease_matches_a_plain_search(values: list[int]) -> None:
    ts = np.array(values, dtype=np.int64)
    want = next((i for i in range(len(values) - 1) if values[i + 1] < values[i]), -1)
    assert first_decrease(ts) == want
