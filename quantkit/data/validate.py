"""Checks on tick files: schema (columns, types) before reading; nulls and ts order while streaming.

Every failure is a :class:`~quantkit.errors.DataError` naming the file, the column and the row
(0-based, counted from the start of the file) and saying how to fix it.

Usage::

    from quantkit.data.validate import check_schema
    floats = check_schema(pq.read_schema(path), path)  # {'bid': DataType(double), ...}
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quantkit.data.schema import INSTRUMENT, KNOWN_FLOAT, REQUIRED, SIZE_COLUMNS, TS
from quantkit.data.times import is_ts_type, ns_to_iso
from quantkit.errors import DataError, did_you_mean

#: common names other tools use for our columns, to suggest a rename
ALIASES: dict[str, tuple[str, ...]] = {
    TS: ("timestamp", "time", "datetime", "date", "timestamp_ns", "time_ns", "local_timestamp"),
    INSTRUMENT: ("symbol", "instrument_name", "ticker", "market", "asset_id", "asset", "name"),
    "bid": ("best_bid", "bid_price", "bid_px", "best_bid_price", "bid_prc"),
    "ask": ("best_ask", "ask_price", "ask_px", "best_ask_price", "offer", "offer_price"),
    "bid_size": (
        "bid_amount",
        "bid_qty",
        "bid_volume",
        "best_bid_amount",
        "bid_sz",
        "best_bid_size",
    ),
    "ask_size": (
        "ask_amount",
        "ask_qty",
        "ask_volume",
        "best_ask_amount",
        "ask_sz",
        "best_ask_size",
    ),
}
SORT_HINT = 'polars: pl.read_parquet(f).sort("ts", maintain_order=True).write_parquet(f)'


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def column_hint(missing: str, present: Iterable[str], spelling: bool = True) -> str:
    """Suggest which present column was probably meant for ``missing`` (case, aliases, and
    with ``spelling`` close spellings).

    Usage: ``column_hint("ts", ["timestamp", "bid"])  # " (did you mean 'timestamp'?)"``
    """
    names = list(present)
    by_norm = {_norm(name): name for name in names}
    for candidate in (missing, *ALIASES.get(missing, ())):
        if _norm(candidate) in by_norm:
            return f" (did you mean '{by_norm[_norm(candidate)]}'?)"
    return did_you_mean(missing, names) if spelling else ""


def is_float_castable(dtype: pa.DataType) -> bool:
    """True when a column of this Arrow type can be carried as float64 (numbers or all-null).

    Usage: ``is_float_castable(pa.int64())  # True``
    """
    return bool(
        pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_decimal(dtype)
        or pa.types.is_null(dtype)
    )


def _is_string_like(dtype: pa.DataType) -> bool:
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    return bool(pa.types.is_string(dtype) or pa.types.is_large_string(dtype))


def check_schema(
    schema: pa.Schema, path: Path, optional: tuple[str, ...] = ()
) -> dict[str, pa.DataType]:
    """Validate a file's schema; return its float64-carried columns (known first, extras in order).

    Usage: ``check_schema(pq.read_schema(p), p)``; raises DataError for a missing required
    column (except those in ``optional``) or a column whose type cannot be converted.
    """
    names = schema.names
    missing = [col for col in REQUIRED if col not in names and col not in optional]
    if missing:
        # a size spelled like another column is no hint ('bid_size' is not 'last_size')
        listed = ", ".join(
            f"'{col}'{column_hint(col, names, spelling=col not in SIZE_COLUMNS)}" for col in missing
        )
        sizes = (
            "; backtests read files without bid_size/ask_size (fills are then not capped by the "
            "displayed size), as does qk.data.scan(path, sizes_optional=True)"
            if set(missing) <= set(SIZE_COLUMNS)
            else ""
        )
        raise DataError(
            f"{path}: missing required column(s) {listed}; the file has columns "
            f"{', '.join(names)}. Rename or add them, e.g. polars: df.rename({{'Bid': 'bid'}})"
            f"{sizes}"
        )
    _check_ts_type(schema.field(TS).type, path)
    _check_instrument_type(schema.field(INSTRUMENT).type, path)
    floats = {col: schema.field(col).type for col in KNOWN_FLOAT if col in names}
    for col, dtype in floats.items():
        if not is_float_castable(dtype):
            raise DataError(
                f"{path}: column '{col}' has type {dtype}, which cannot be cast to float64; "
                f"store numbers, e.g. polars: df.with_columns(pl.col('{col}').cast(pl.Float64))"
            )
    for field in schema:
        extra = field.name not in floats and field.name not in (TS, INSTRUMENT)
        if extra and is_float_castable(field.type):
            floats[field.name] = field.type
    return floats


def _check_ts_type(dtype: pa.DataType, path: Path) -> None:
    if not is_ts_type(dtype):
        raise DataError(
            f"{path}: column 'ts' has type {dtype}; expected int64 nanoseconds since the epoch "
            "(UTC) or an Arrow timestamp. Convert it, e.g. polars: "
            "df.with_columns(pl.col('ts').str.to_datetime(time_zone='UTC').dt.epoch('ns'))"
        )


def _check_instrument_type(dtype: pa.DataType, path: Path) -> None:
    if not _is_string_like(dtype):
        raise DataError(
            f"{path}: column 'instrument' has type {dtype}; expected string instrument names. "
            "Convert it, e.g. polars: df.with_columns(pl.col('instrument').cast(pl.String))"
        )


def check_no_nulls(arr: pa.Array, column: str, path: Path, first_row: int) -> None:
    """Raise DataError naming the first null row of ``arr`` (``first_row`` = its row in the file).

    Usage: ``check_no_nulls(batch.column("ts"), "ts", path, 0)``
    """
    if arr.null_count == 0:
        return
    row = first_row + pc.index(pc.is_null(arr), True).as_py()
    raise DataError(
        f"{path}: column '{column}' is null at row {row} (0-based); every tick needs a "
        f"value there. Drop those rows, e.g. polars: df.filter(pl.col('{column}').is_not_null())"
    )


def first_decrease(ts: np.ndarray) -> int:
    """Index ``i`` of the first ``ts[i + 1] < ts[i]``, or -1 when ``ts`` never decreases.

    Plain numpy (about 1 ms per million rows): a jitted loop would add its compile time to
    every cold first run.

    Usage: ``first_decrease(np.array([1, 3, 2]))  # 1``
    """
    if ts.shape[0] < 2:
        return -1
    down = ts[1:] < ts[:-1]
    i = int(down.argmax())
    return i if down[i] else -1


class OrderCheck:
    """Checks that ts never decreases, across batches and files, as chunks stream by.

    Usage: ``check = OrderCheck(); check(ts, path, first_row)`` for each chunk in stream order.
    """

    def __init__(self) -> None:
        self.last_ts: int | None = None
        self.last_path: Path | None = None
        self.last_row = -1

    def __call__(self, ts: np.ndarray, path: Path, first_row: int) -> None:
        if len(ts) == 0:
            return
        if self.last_ts is not None and ts[0] < self.last_ts:
            self._fail_boundary(int(ts[0]), path, first_row)
        i = first_decrease(ts)
        if i >= 0:
            _fail(path, first_row + i + 1, int(ts[i + 1]), int(ts[i]), f"row {first_row + i}")
        self.last_ts, self.last_path, self.last_row = int(ts[-1]), path, first_row + len(ts) - 1

    def _fail_boundary(self, ts: int, path: Path, row: int) -> None:
        assert self.last_ts is not None
        if self.last_path == path:
            _fail(path, row, ts, self.last_ts, f"row {self.last_row}")
        raise DataError(
            f"{path}: ts goes backwards across files: row {row} has ts {ts} ({ns_to_iso(ts)}) "
            f"but the previous file {self.last_path} ends at ts {self.last_ts} "
            f"({ns_to_iso(self.last_ts)}). Files are read in sorted path order and must not "
            "overlap in time: name them so that sorted order is time order (e.g. date=YYYY-MM-DD), "
            "or merge them: pl.concat([pl.read_parquet(f) for f in files])"
            '.sort("ts", maintain_order=True).write_parquet(out)'
        )


def _fail(path: Path, row: int, ts: int, prev_ts: int, prev_where: str) -> None:
    raise DataError(
        f"{path}: ts goes backwards at row {row} (0-based): ts {ts} ({ns_to_iso(ts)}) comes after "
        f"ts {prev_ts} ({ns_to_iso(prev_ts)}) at {prev_where}. Ticks must be sorted by ts; sort "
        f"the file, e.g. {SORT_HINT}"
    )
