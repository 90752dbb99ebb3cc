"""Reproducible synthetic ticks: interleaved per-instrument geometric random walks, to Parquet.

The data depend only on ``seed``, ``instruments`` and ``start`` (not on ``row_group_size``), and
``synth(rows=n)`` is a prefix of ``synth(rows=m)`` for n < m. Rows are generated in blocks with
numpy; a background thread writes row groups while the next block is generated.

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
from statistics import NormalDist
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numba import njit

from quantkit.data.times import to_ns
from quantkit.errors import ConfigError

DEFAULT_INSTRUMENTS = ("BTC-PERPETUAL", "ETH-PERPETUAL")
DEFAULT_START = "2024-01-01T00:00:00Z"
DEFAULT_ROW_GROUP_SIZE = 1_000_000
BLOCK_ROWS = 1 << 16  # rows drawn per random block; fixed so data do not depend on row groups
MEAN_GAP_NS = 1_000_000.0  # mean exponential inter-arrival between ticks (all instruments)
ANNUAL_VOL = 0.6
NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9
EMPTY_SIDE_PROB = 0.001  # rows with one empty (NaN) side of the book
TRADE_PROB = 0.1  # rows that also carry a trade print (last, last_size); NaN otherwise
#: spread in ticks, sampled uniformly from this table: 1 (60%), 2 (25%), 3 (10%), 4 (5%)
SPREAD_TICKS = np.repeat([1.0, 2.0, 3.0, 4.0], [154, 64, 25, 13])
#: (name prefix, price level, tick size); anything else trades around 100 with a 0.01 tick
LEVELS: tuple[tuple[str, float, float], ...] = (("BTC", 60_000.0, 0.5), ("ETH", 3_000.0, 0.05))
OTHER_LEVEL = (100.0, 0.01)
#: dictionary-encode only instrument, statistics only where scan() prunes: fast writes
WRITE_OPTIONS: dict[str, Any] = {
    "compression": "snappy",
    "use_dictionary": ["instrument"],
    "write_statistics": ["ts", "instrument"],
}
SCHEMA = pa.schema(
    [
        ("ts", pa.int64()),
        ("instrument", pa.dictionary(pa.int32(), pa.string())),
        *[(c, pa.float64()) for c in ("bid", "ask", "bid_size", "ask_size", "last", "last_size")],
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


@njit(cache=True)
def _walk(code: np.ndarray, shocks: np.ndarray, log_mid: np.ndarray, out: np.ndarray) -> None:
    """Advance each row's instrument log-mid by its shock; write exp(log-mid) into ``out``."""
    for i in range(code.shape[0]):
        c = code[i]
        log_mid[c] += shocks[i]
        out[i] = np.exp(log_mid[c])


@cache
def _lognormal_table(size: int = 1 << 16) -> np.ndarray:
    """Quantiles of a standard lognormal: indexing it with uniform integers samples it, fast."""
    normal = NormalDist()
    return np.exp([normal.inv_cdf((i + 0.5) / size) for i in range(size)])


class _Generator:
    """Generates blocks of ticks; holds the running ts and per-instrument log-mid."""

    def __init__(self, instruments: Sequence[str], start_ns: int, seed: int) -> None:
        params = [level_and_tick(name) for name in instruments]
        self.log_mid = np.log(np.array([p[0] for p in params]))
        self.tick = np.array([p[1] for p in params])
        self.sigma = ANNUAL_VOL * math.sqrt(len(instruments) * MEAN_GAP_NS / NS_PER_YEAR)
        self.last_ts = start_ns
        self.seed = seed
        self.block = 0

    def next_block(self) -> dict[str, np.ndarray]:
        """The next BLOCK_ROWS ticks as numpy columns (ts, code, bid, ask, sizes, last...)."""
        rng = np.random.default_rng([self.seed, self.block])
        n = BLOCK_ROWS
        gaps = (rng.standard_exponential(n) * MEAN_GAP_NS).astype(np.int64)
        if self.block == 0:
            gaps[0] = 0  # the first tick is at start
        ts = self.last_ts + np.cumsum(gaps)
        self.last_ts, self.block = int(ts[-1]), self.block + 1
        code = rng.integers(0, len(self.tick), n, dtype=np.int32)
        mid = np.empty(n)
        _walk(code, rng.standard_normal(n) * self.sigma, self.log_mid, mid)
        return {"ts": ts, "code": code, **self._quotes(rng, code, mid)}

    def _quotes(self, rng: np.random.Generator, code: np.ndarray, mid: np.ndarray) -> dict:
        n, tick = len(code), self.tick[code]
        spread = SPREAD_TICKS[rng.integers(0, len(SPREAD_TICKS), n, dtype=np.uint8)]
        bid_ticks = np.floor(mid / tick - spread / 2)
        bid = np.round(bid_ticks * tick, 8)
        ask = np.round((bid_ticks + spread) * tick, 8)
        sizes = _lognormal_table()
        bid_size, ask_size = sizes[rng.integers(0, len(sizes), (2, n), dtype=np.uint16)]
        for price, size in ((bid, bid_size), (ask, ask_size)):
            empty = _some_rows(rng, n, EMPTY_SIDE_PROB / 2)
            price[empty], size[empty] = np.nan, np.nan
        last, last_size = np.full(n, np.nan), np.full(n, np.nan)
        trades = _some_rows(rng, n, TRADE_PROB)
        hit_bid = rng.integers(0, 2, len(trades), dtype=np.uint8).astype(np.bool_)
        last[trades] = np.where(hit_bid, bid[trades], ask[trades])
        traded = sizes[rng.integers(0, len(sizes), len(trades), dtype=np.uint16)] * 0.3
        last_size[trades] = np.where(np.isnan(last[trades]), np.nan, traded)
        return {"bid": bid, "ask": ask, "bid_size": bid_size, "ask_size": ask_size,
                "last": last, "last_size": last_size}  # fmt: skip


def _some_rows(rng: np.random.Generator, n: int, prob: float) -> np.ndarray:
    """Sorted distinct row indices, each row picked with probability ~``prob``."""
    return np.unique(rng.integers(0, n, rng.binomial(n, prob)))


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
    columns += [pa.array(block[f.name]) for f in SCHEMA if f.name not in ("ts", "instrument")]
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


def _write(path: Path, tables: Iterator[pa.Table]) -> None:
    """Write tables as row groups; a background thread writes while the next one is built."""
    todo: queue.Queue[pa.Table | None] = queue.Queue(maxsize=1)
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            with pq.ParquetWriter(path, SCHEMA, **WRITE_OPTIONS) as w:
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

    Same arguments -> byte-identical file. ``instruments`` default BTC-PERPETUAL, ETH-PERPETUAL;
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
        _write(tmp, _row_groups(gen, pa.array(names, pa.string()), rows, group))
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"--out {path}: cannot write it ({exc}); pick a writable path") from None
    finally:
        if tmp.exists():  # left over after an error or interrupt
            tmp.unlink()
    return path
