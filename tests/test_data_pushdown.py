"""Filter and column pushdown: row groups and columns that are not needed are never read.

Proof by sabotage: the bytes of those column chunks are overwritten with garbage, so reading
them would fail; a scan that skips them still works, one that needs them raises DataError.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quantkit as qk
from quantkit.errors import DataError

ROWS_PER_GROUP = 50
# row group i: instrument GROUPS[i], ts in [i * 1000, i * 1000 + 49]
GROUPS = ("A", "A", "B", "C")


def _write(path: Path) -> None:
    n = ROWS_PER_GROUP * len(GROUPS)
    group = np.arange(n) // ROWS_PER_GROUP
    table = pa.table(
        {
            "ts": group * 1000 + np.arange(n) % ROWS_PER_GROUP,
            "instrument": [GROUPS[g] for g in group],
            "bid": np.arange(n, dtype=np.float64),
            "ask": np.arange(n, dtype=np.float64) + 1,
            "bid_size": np.ones(n),
            "ask_size": np.ones(n),
            "note": [f"row {i}" for i in range(n)],  # string: never carried
        }
    )
    pq.write_table(table, path, row_group_size=ROWS_PER_GROUP, compression="snappy")


def _sabotage(path: Path, row_groups: list[int], columns: list[str]) -> None:
    """Overwrite the data of these column chunks with garbage (the footer stays intact)."""
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    data = bytearray(path.read_bytes())
    for rg in row_groups:
        for name in columns:
            chunk = meta.row_group(rg).column(names.index(name))
            start = chunk.dictionary_page_offset or chunk.data_page_offset
            data[start : start + chunk.total_compressed_size] = (
                b"\xff" * chunk.total_compressed_size
            )
    path.write_bytes(bytes(data))


@pytest.fixture
def ticks(tmp_path: Path) -> Path:
    path = tmp_path / "ticks.parquet"
    _write(path)
    return path


ALL = ["ts", "instrument", "bid", "ask", "bid_size", "ask_size", "note"]


def test_sabotage_is_detected(ticks: Path) -> None:
    _sabotage(ticks, [2], ALL)
    with pytest.raises(DataError, match="row group 2"):
        list(qk.data.scan(ticks).batches())


def test_time_filter_skips_row_groups(ticks: Path) -> None:
    _sabotage(ticks, [0, 3], ALL)
    s = qk.data.scan(ticks, start=1_010, end=2_020)
    ts = np.concatenate([b.ts for b in s.batches()])
    assert ts.tolist() == [*range(1_010, 1_050), *range(2_000, 2_020)]


def test_instrument_filter_skips_row_groups(ticks: Path) -> None:
    _sabotage(ticks, [2, 3], ALL)
    s = qk.data.scan(ticks, instruments=["A"])
    assert s.row_counts == {"A": 2 * ROWS_PER_GROUP}
    assert sum(len(b) for b in s.batches()) == 2 * ROWS_PER_GROUP


def test_unused_columns_are_never_read(ticks: Path) -> None:
    _sabotage(ticks, [0, 1, 2, 3], ["note"])
    s = qk.data.scan(ticks)
    assert sum(len(b) for b in s.batches()) == ROWS_PER_GROUP * len(GROUPS)
    assert qk.data.inspect(ticks)["rows"] == ROWS_PER_GROUP * len(GROUPS)


def test_pre_pass_reads_only_the_instrument_column(ticks: Path) -> None:
    _sabotage(ticks, [0, 1, 2, 3], ["ts", "bid", "ask", "bid_size", "ask_size"])
    s = qk.data.scan(ticks)  # footer + instrument column only: succeeds
    assert s.row_counts == {"A": 100, "B": 50, "C": 50}
    with pytest.raises(DataError, match="cannot decode row group 0"):
        next(s.batches())


@pytest.mark.parametrize(
    ("start", "end"),
    [(1_000, 1_049), (1_049, 2_000), (1_049, 1_050), (None, 1_000), (2_049, None), (1_050, 2_000)],
)
def test_bounds_at_row_group_edges_are_half_open(
    ticks: Path, start: int | None, end: int | None
) -> None:
    all_ts = np.concatenate([b.ts for b in qk.data.scan(ticks).batches()])
    want = all_ts[(all_ts >= (start or 0)) & (all_ts < (end or 10**9))]
    s = qk.data.scan(ticks, start=start, end=end)
    got = np.concatenate([np.empty(0, np.int64), *(b.ts for b in s.batches())])
    assert got.tolist() == want.tolist()
    assert s.num_rows == len(want)


def test_pre_pass_counts_single_instrument_row_groups_from_statistics(ticks: Path) -> None:
    _sabotage(ticks, [0, 1, 2, 3], ALL)  # every row group holds one instrument: nothing is read
    assert qk.data.scan(ticks).row_counts == {"A": 100, "B": 50, "C": 50}
    with pytest.raises(DataError, match="cannot decode row group 2"):
        qk.data.scan(ticks, start=2_010)  # row group 2 needs a time mask: it must be read


def test_pre_pass_reads_only_instrument_when_row_groups_mix_instruments(tmp_path: Path) -> None:
    n = 120
    table = pa.table(
        {
            "ts": np.arange(n),
            "instrument": ["A", "B", "C"] * (n // 3),
            **{c: np.ones(n) for c in ("bid", "ask", "bid_size", "ask_size")},
        }
    )
    path = tmp_path / "mixed.parquet"
    pq.write_table(table, path, row_group_size=40)
    _sabotage(path, [0, 1, 2], ["ts", "bid", "ask", "bid_size", "ask_size"])
    assert qk.data.scan(path).row_counts == {"A": 40, "B": 40, "C": 40}
    with pytest.raises(DataError, match="cannot decode row group 0"):
        next(qk.data.scan(path).batches())
