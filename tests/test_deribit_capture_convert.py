"""scripts/convert_deribit_capture.py on a small hand-made session with every branch in it.

tests/data/deribit_capture_edge_cases.ws.txt (times in ms after T = 1700000000000):
BTC ticker @1000 (volume 100), BTC snapshot @900 (same top), BTC delta @1100 (bid size 950),
BTC delta @1200 with a wrong prev_change_id (gap), BTC trade @1250 (42501 x 10), BTC delta @1300
(still in the gap), BTC snapshot @1400 (bid 42499 x 10, no asks), BTC ticker @1500 (volume 110),
ETH ticker @1000 (bid 0, ask null, volume 50), ETH ticker @1600 (volume 52.5, last 2000.5).
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from test_sample_data import load_script

from quantkit.errors import DataError

SESSION = Path(__file__).parent / "data" / "deribit_capture_edge_cases.ws.txt"
T = 1_700_000_000_000
NAN = math.nan

convert_script = load_script("convert_deribit_capture")


def _rows() -> list[tuple]:
    table, _stats = convert_script.convert(SESSION.read_text())
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    columns = ["ts", "instrument", "bid", "ask", "bid_size", "ask_size", "last", "last_size"]
    return list(frame.select(*columns, "mark_price").iter_rows())


def _same(got: tuple, want: tuple) -> bool:
    return all(
        g == w or (isinstance(w, float) and math.isnan(w) and math.isnan(g))
        for g, w in zip(got, want, strict=True)
    )


def test_rows_by_hand() -> None:
    ms = 1_000_000
    want = [
        (T * ms + 1000 * ms, "BTC-PERPETUAL", 42500.0, 42501.0, 1000.0, 800.0, NAN, NAN, 42500.7),
        (T * ms + 1000 * ms, "ETH-PERPETUAL", NAN, NAN, NAN, NAN, NAN, NAN, 2000.1),
        # book delta changed the bid size; mark_price carried from the ticker
        (T * ms + 1100 * ms, "BTC-PERPETUAL", 42500.0, 42501.0, 950.0, 800.0, NAN, NAN, 42500.7),
        # trade while the book is unknown (gap): the last emitted top of book
        (
            T * ms + 1250 * ms,
            "BTC-PERPETUAL",
            42500.0,
            42501.0,
            950.0,
            800.0,
            42501.0,
            10.0,
            42500.7,
        ),
        # new snapshot after the gap, ask side empty
        (T * ms + 1400 * ms, "BTC-PERPETUAL", 42499.0, NAN, 10.0, NAN, NAN, NAN, 42500.7),
        # volume grew but BTC-PERPETUAL has trades messages: no last on the ticker row
        (T * ms + 1500 * ms, "BTC-PERPETUAL", 42499.0, NAN, 10.0, NAN, NAN, NAN, 42500.2),
        # ETH has no trades channel: volume 50 -> 52.5 is a trade of 2.5 at last_price
        (T * ms + 1600 * ms, "ETH-PERPETUAL", 2000.0, 2000.5, 7.0, 3.0, 2000.5, 2.5, 2000.3),
    ]
    got = _rows()
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert _same(g, w), (g, w)


def test_stats_count_messages_rows_and_gaps() -> None:
    _table, stats = convert_script.convert(SESSION.read_text())
    assert stats["ticker messages"] == stats["ticker rows"] == 4
    assert (stats["book messages"], stats["book rows"], stats["book gaps"]) == (5, 2, 1)
    assert (stats["trades messages"], stats["trades rows"]) == (1, 1)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1700000000.1: not json", "line 2: expected '<unix_ts>: <json object>'"),
        ("no separator here", "line 2: expected"),
        ('1700000000.1: {"method": "subscription", "params": {}}', "needs params.channel/data"),
        (
            '1700000000.1: {"method":"subscription","params":{"channel":"ticker.X.raw","data":{}}}',
            "line 2: malformed ticker message",
        ),
        (
            '1700000000.1: {"method":"subscription","params":{"channel":"trades.X","data":[1]}}',
            "trades data must be a list of trades",
        ),
    ],
)
def test_malformed_lines_name_the_line(line: str, message: str) -> None:
    text = "wss://www.deribit.com/ws/api/v2 <-> 1700000000.0\n" + line + "\n"
    with pytest.raises(DataError) as info:
        convert_script.convert(text, "session.txt")
    assert "session.txt" in str(info.value) and message in str(info.value)


def test_main_writes_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "capture.parquet"
    convert_script.main([str(SESSION), "--out", str(out)])
    assert pl.read_parquet(out).height == 7
    assert "7 rows" in capsys.readouterr().out
