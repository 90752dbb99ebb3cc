"""inspect(): counts on a small hand-built file, whose expected values are written out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import quantkit as qk
from quantkit.data.summary import format_report
from quantkit.errors import DataError

NAN = float("nan")
DAY = 1704067200 * 10**9  # 2024-01-01T00:00:00Z

#        ts        inst  bid   ask    bid_size  note
ROWS = [
    (DAY + 10, "A", 1.0, 2.0, 1.0),  # normal
    (DAY + 20, "B", 3.0, 3.0, NAN),  # locked; NaN size
    (DAY + 30, "A", 5.0, 4.0, 1.0),  # crossed
    (DAY + 40, "A", NAN, 4.0, 1.0),  # NaN bid: neither crossed nor locked
    (DAY + 50, "B", 2.0, None, None),  # null ask, null size: neither
    (DAY + 60, "B", 7.0, 6.0, 1.0),  # crossed
    (DAY + 70, "A", 2.0, 2.0, 1.0),  # locked
]


def _table(rows: list[tuple]) -> pa.Table:
    ts, inst, bid, ask, bid_size = zip(*rows, strict=True)
    return pa.table(
        {
            "ts": pa.array(ts, pa.int64()),
            "instrument": pa.array(inst),
            "bid": pa.array(bid, pa.float64()),
            "ask": pa.array(ask, pa.float64()),
            "bid_size": pa.array(bid_size, pa.float64()),
            "ask_size": pa.array([1.0] * len(rows)),
            "venue": pa.array(["deribit"] * len(rows)),
        }
    )


@pytest.fixture
def ticks(tmp_path: Path) -> Path:
    path = tmp_path / "ticks.parquet"
    pq.write_table(_table(ROWS), path, row_group_size=3)
    return path


def test_counts(ticks: Path) -> None:
    report = qk.data.inspect(ticks)
    assert report["files"] == 1
    assert report["bytes"] == ticks.stat().st_size
    assert report["rows"] == 7
    assert report["first_ts"] == "2024-01-01T00:00:00.00000001Z"
    assert report["last_ts"] == "2024-01-01T00:00:00.00000007Z"
    assert report["instruments"] == {
        "A": {"rows": 4, "first_ts": "2024-01-01T00:00:00.00000001Z",
              "last_ts": "2024-01-01T00:00:00.00000007Z"},
        "B": {"rows": 3, "first_ts": "2024-01-01T00:00:00.00000002Z",
              "last_ts": "2024-01-01T00:00:00.00000006Z"},
    }  # fmt: skip
    assert report["crossed"] == 2
    assert report["locked"] == 2
    assert report["nan"] == {"bid": 1, "ask": 0, "bid_size": 1, "ask_size": 0}
    assert report["null"] == {"bid": 0, "ask": 1, "bid_size": 1, "ask_size": 0}
    assert report["columns"] == {
        "ts": "int64",
        "instrument": "string",
        "bid": "double",
        "ask": "double",
        "bid_size": "double",
        "ask_size": "double",
        "venue": "string",
    }
    json.dumps(report)  # JSON-serialisable as is


def test_several_files_sum_up_and_show_type_differences(tmp_path: Path) -> None:
    first = _table(ROWS[:4])
    second = _table(ROWS[4:])
    second = second.set_column(4, "bid_size", second["bid_size"].cast(pa.float32()))
    pq.write_table(first, tmp_path / "a.parquet")
    pq.write_table(second, tmp_path / "b.parquet")
    report = qk.data.inspect(tmp_path)
    assert report["files"] == 2
    assert report["bytes"] == sum(p.stat().st_size for p in tmp_path.iterdir())
    assert report["rows"] == 7 and report["crossed"] == 2 and report["locked"] == 2
    assert report["columns"]["bid_size"] == "double | float"
    assert report["null"]["bid_size"] == 1 and report["nan"]["bid_size"] == 1


def test_column_missing_in_one_file_counts_as_null(tmp_path: Path) -> None:
    pq.write_table(_table(ROWS[:4]), tmp_path / "a.parquet")
    pq.write_table(
        _table(ROWS[4:]).append_column("mark_iv", pa.array([50.0] * 3)), tmp_path / "b.parquet"
    )
    report = qk.data.inspect(tmp_path)
    assert report["null"]["mark_iv"] == 4 and report["nan"]["mark_iv"] == 0


def test_format_report(ticks: Path) -> None:
    text = format_report(qk.data.inspect(ticks))
    lines = text.splitlines()
    assert lines[0].startswith("1 file(s), ") and "7 rows" in lines[0]
    assert "crossed quotes (bid > ask): 2" in lines[1] and "locked (bid == ask): 2" in lines[1]
    row_a = next(line for line in lines if line.startswith("A "))
    assert row_a.split()[:2] == ["A", "4"]
    row_ask = next(line for line in lines if line.startswith("ask "))
    assert row_ask.split() == ["ask", "double", "0", "1"]


def test_inspect_validates(tmp_path: Path) -> None:
    rows = [ROWS[1], ROWS[0], *ROWS[2:]]
    pq.write_table(_table(rows), tmp_path / "t.parquet")
    with pytest.raises(DataError, match="backwards at row 1"):
        qk.data.inspect(tmp_path / "t.parquet")
