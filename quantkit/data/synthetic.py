"""Reproducible synthetic ticks: interleaved per-instrument price processes, to Parquet.

Mids follow :mod:`quantkit.data.synth_process` (stochastic volatility with clustering, and
jumps); quotes sit on the instrument's tick grid with a 1-4 tick spread, lognormal sizes, a few
empty sides and trade prints on ~10% of rows.

The data depend only on ``seed``, ``instruments`` and ``start`` (not on ``row_group_size``), and
``synth(rows=n)`` is a prefix of ``synth(rows=m)`` for n < m. Rows are generated in fixed blocks
with numpy; a background thread writes row groups while the next blocks are generated.

Usage::

    import quantkit as qk
    qk.data.synth("synth.parquet", rows=10_000_000, instruments=["BTC-PERPETUAL"], seed=7)
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numba import njit

from quantkit.data.synth_process import MEAN_GAP_NS, MidProcess, normal_table
from quantkit.data.times import to_ns
from quantkit.errors import ConfigError

#: Deribit's USDC-settled (linear) perpetuals: a backtest's default accounting books them as
#: PnL = size x price change, as the engine's benchmark and acceptance rules read; name
#: BTC-PERPETUAL (inverse) with ``instruments=`` / ``--instrument`` for coin PnL
DEFAULT_INSTRUMENTS = ("BTC_USDC-PERPETUAL", "ETH_USDC-PERPETUAL")
DEFAULT_START = "2024-01-01T00:00:00Z"
DEFAULT_ROW_GROUP_SIZE = 1_000_000
BLOCK_ROWS = 1 << 16  # rows drawn per random block; fixed so data do not depend on row groups
#: rows with an empty (NaN) bid, and with an empty ask: 33 / 65536 each, ~0.1% in all
EMPTY_SIDE_CUT = 33
#: rows that also carry a trade print (last, last_size; NaN otherwise): 26 / 256, ~10%
TRADE_CUT = 26
#: spread in ticks, sampled uniformly from this table: 1 (60%), 2 (25%), 3 (10%), 4 (5%)
SPREAD_TICKS = np.repeat([1.0, 2.0, 3.0, 4.0], [154, 64, 25, 13])
#: (name prefix, price level, tick size); anything else trades around 100 with a 0.01 tick
LEVELS: tuple[tuple[str, float, float], ...] = (("BTC", 60_000.0, 0.5), ("ETH", 3_000.0, 0.05))
OTHER_LEVEL = (100.0, 0.01)
_FLOATS = ("bid", "ask", "bid_size", "ask_size", "last", "last_size")
#: fast to write and to read: ts delta-encoded, LZ4 where it pays, instrument dictionary-encoded,
#: statistics only on ts (scan() prunes by time; see ``_write_options`` for instrument)
WRITE_OPTIONS: dict[str, Any] = {
    "compression": dict.fromkeys(("instrument", "bid", "ask", "last", "last_size"), "lz4")
    | dict.fromkeys(("ts", "bid_size", "ask_size"), "none"),
    "column_encoding": {"ts": "DELTA_BINARY_PACKED"},
    "use_dictionary": ["instrument"],
    "write_statistics": ["ts"],
}
SCHEMA = pa.schema(
    [
        ("ts", pa.int64()),
        ("instrument", pa.dictionary(pa.int32(), pa.string())),
        *[(c, pa.float64()) for c in _FLOATS],
    ]
)


def level_and_tick(instrument: str) -> tuple[float, float]:
    """Starting price and tick size for an instrument name (BTC ~60000, ETH ~3000, else ~100).

    Usage: ``level_and_tick("ETH-PERPETUAL")  # (3000.0, 0.05)``
    """
    upper = instrument.upper()
    for prefix, level, tick in LEVELS:
        if upper.startswith(prefix):
            return level, tick
    return OTHER_LEVEL


@cache
def _lognormal_table() -> np.ndarray:
    """Quantiles of a standard lognormal: indexing it with uniform uint16 samples it, fast."""
    return np.exp(normal_table())


@njit(cache=True)
def _quote_rows(
    code: np.ndarray,
    mid: np.ndarray,
    per_unit: np.ndarray,
    bits: np.ndarray,
    last_draws: np.ndarray,
    sizes: np.ndarray,
    spreads: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fill ``out`` rows bid, ask, bid_size, ask_size, last, last_size from each row's mid.

    ``bits`` (int64, one per row): spread index (8 bits), bid and ask size indices (16 each),
    empty-side draw (16), trade draw (8). Prices are ticks / ``per_unit`` of the instrument.
    """
    for i in range(code.shape[0]):
        r = bits[i]
        spread = spreads[r & 0xFF]
        pu = per_unit[code[i]]
        ticks = math.floor(mid[i] * pu - spread / 2)
        bid, ask = ticks / pu, (ticks + spread) / pu
        bid_size, ask_size = sizes[(r >> 8) & 0xFFFF], sizes[(r >> 24) & 0xFFFF]
        empty = (r >> 40) & 0xFFFF
        if empty < EMPTY_SIDE_CUT:
            bid = bid_size = np.nan
        elif empty < 2 * EMPTY_SIDE_CUT:
            ask = ask_size = np.nan
        trade = (r >> 56) & 0xFF
        last = np.nan if trade >= TRADE_CUT else (bid if trade < TRADE_CUT // 2 else ask)
        out[0, i], out[1, i], out[2, i], out[3, i] = bid, ask, bid_size, ask_size
        out[4, i] = last
        out[5, i] = np.nan if math.isnan(last) else 0.3 * sizes[last_draws[i]]


class _Generator:
    """Generates blocks of ticks; holds the running ts and the instruments' price process."""

    def __init__(self, instruments: Sequence[str], start_ns: int, seed: int) -> None:
        params = [level_and_tick(name) for name in instruments]
        self.process = MidProcess(np.log([p[0] for p in params]))
        #: ticks per price unit (1 / tick size, a whole number): a price is ticks / this, the
        #: double nearest to the decimal price
        self.per_unit = np.array([round(1 / p[1]) for p in params], dtype=np.float64)
        self.last_ts = start_ns
        self.seed = seed
        self.block = 0

    def next_block(self) -> dict[str, np.ndarray]:
        """The next BLOCK_ROWS ticks as numpy columns (ts, code, bid, ask, sizes, last...)."""
        rng = np.random.default_rng([self.seed, self.block])
        n = BLOCK_ROWS
        gaps = rng.standard_exponential(n)
        gaps *= MEAN_GAP_NS
        ts = np.cumsum(gaps.astype(np.int64))
        if self.block == 0:
            ts -= ts[0]  # the first tick is at start
        ts += self.last_ts
        self.last_ts, self.block = int(ts[-1]), self.block + 1
        count = len(self.per_unit)
        small = np.uint8 if count <= 256 else np.int32
        code = rng.integers(0, count, n, dtype=small).astype(np.int32)
        mid = self.process.advance(rng, code)
        bits = rng.bit_generator.random_raw(n).view(np.int64)
        last_draws = rng.integers(0, 1 << 16, n, dtype=np.uint16)
        quotes = np.empty((len(_FLOATS), n))
        _quote_rows(code, mid, self.per_unit, bits, last_draws, _lognormal_table(), SPREAD_TICKS,
                    quotes)  # fmt: skip
        return {"ts": ts, "code": code, **dict(zip(_FLOATS, quotes, strict=True))}


def _row_groups(gen: _Generator, names: pa.Array, rows: int, group: int) -> Iterator[pa.Table]:
    """Cut the block stream into tables of ``group`` rows, ``rows`` in total (zero-copy)."""
    pending: list[pa.RecordBatch] = []
    have = 0
    while rows > 0:
        take = min(group, rows)
        while have < take:
            pending.append(_record_batch(gen.next_block(), names))
            have += BLOCK_ROWS
        table = pa.Table.from_batches(pending, schema=SCHEMA)
        yield table.slice(0, take)
        pending = table.slice(take).to_batches()
        have, rows = have - take, rows - take


def _record_batch(block: dict[str, np.ndarray], names: pa.Array) -> pa.RecordBatch:
    instrument = pa.DictionaryArray.from_arrays(pa.array(block["code"]), names)
    columns = [pa.array(block["ts"]), instrument]
    columns += [pa.array(block[name]) for name in _FLOATS]
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


def _write_options(instruments: int) -> dict[str, Any]:
    """Instrument statistics (costly to write) only help when a row group holds one instrument
    (pruning, and scan() counts its rows from them); synth interleaves instruments."""
    if instruments > 1:
        return WRITE_OPTIONS
    return WRITE_OPTIONS | {"write_statistics": ["ts", "instrument"]}


def _write(path: Path, tables: Iterator[pa.Table], options: dict[str, Any]) -> None:
    """Write tables as row groups; a background thread writes while the next one is built."""
    todo: queue.Queue[pa.Table | None] = queue.Queue(maxsize=1)
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            with pq.ParquetWriter(path, SCHEMA, **options) as w:
                while (table := todo.get()) is not None:
                    w.write_table(table, row_group_size=table.num_rows)
        except BaseException as exc:  # handed to the main thread below
            failure.append(exc)
            while todo.get() is not None:  # drain so the producer never blocks
                pass

    thread = threading.Thread(target=writer, name="quantkit-synth-writer", daemon=True)
    thread.start()
    try:
        for table in tables:
            todo.put(table)
            if failure:
                break
    finally:
        todo.put(None)
        thread.join()
    if failure:
        raise failure[0]


def _positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def _instrument_names(instruments: Sequence[str] | str | None) -> tuple[str, ...]:
    if instruments is None:
        return DEFAULT_INSTRUMENTS
    names = (instruments,) if isinstance(instruments, str) else tuple(instruments)
    if not names or any(not isinstance(n, str) or not n.strip() for n in names):
        raise ConfigError(f"instruments={list(names)!r} must be non-empty names")
    if len(set(names)) != len(names):
        raise ConfigError(f"instruments={list(names)!r} has duplicates; name each one once")
    return names


def synth(
    out: str | os.PathLike[str],
    rows: int,
    instruments: Sequence[str] | str | None = None,
    start: object = None,
    seed: int = 0,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
) -> Path:
    """Write ``rows`` synthetic ticks to the Parquet file ``out`` and return its path.

    Same arguments -> byte-identical file. ``instruments`` default BTC_USDC-PERPETUAL and
    ETH_USDC-PERPETUAL (linear; the data depend on the names only through their BTC/ETH prefix);
    ``start`` (ISO, datetime or ns) default 2024-01-01T00:00:00Z. The file is written to a hidden
    temporary name next to ``out`` and renamed when complete.
    Usage: ``qk.data.synth("ticks.parquet", rows=1_000_000, seed=3)``
    """
    rows = _positive_int(rows, "rows")
    group = _positive_int(row_group_size, "row_group_size")
    seed = _positive_int(seed, "seed", minimum=0)
    names = _instrument_names(instruments)
    start_ns = to_ns(DEFAULT_START if start is None else start, "start")
    path = Path(out).expanduser()
    if path.is_dir():
        raise ConfigError(
            f"--out {path} is a directory; give a file name like {path}/ticks.parquet"
        )
    tmp = path.with_name(f".{path.name}.tmp")
    gen = _Generator(names, start_ns, seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tables = _row_groups(gen, pa.array(names, pa.string()), rows, group)
        _write(tmp, tables, _write_options(len(names)))
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"--out {path}: cannot write it ({exc}); pick a writable path") from None
    finally:
        if tmp.exists():  # left over after an error or interrupt
            tmp.unlink()
    return path
