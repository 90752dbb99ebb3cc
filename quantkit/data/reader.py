"""Streaming reads of validated tick files: the instrument pre-pass and the chunk ("piece") stream.

Only the needed columns of the row groups that the filters may hit are read, one Arrow record
batch of at most ``read_rows`` rows at a time, so memory stays bounded by the batch size.

Usage::

    from quantkit.data.reader import count_instruments, iter_pieces
    counts = count_instruments(layouts, Filters())
    for piece in iter_pieces(layouts, Filters(), {"BTC-PERPETUAL": 0}, ("bid", "ask"), 1 << 20): ...
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from quantkit.data.layout import FileLayout, RowGroupInfo, open_parquet
from quantkit.data.pruning import Filters, select_row_groups
from quantkit.data.schema import INSTRUMENT, TS
from quantkit.data.times import ts_array_to_ns
from quantkit.data.validate import OrderCheck, check_no_nulls
from quantkit.errors import DataError

CHANGED = "the data changed while it was being read (row counts differ); run again"


class Piece(NamedTuple):
    """A filtered chunk of one row group: ts (int64 ns), code (int32), float64 columns.

    ``nulls`` counts the Arrow nulls per float column before filtering (NaN in ``floats``).
    """

    ts: np.ndarray
    code: np.ndarray
    floats: dict[str, np.ndarray]
    nulls: dict[str, int]


def _record_batches(
    layout: FileLayout, columns: list[str], read_rows: int, filters: Filters
) -> Iterator[tuple[RowGroupInfo, bool, int, pa.RecordBatch]]:
    """Yield (row group, needs time mask, first row in file, record batch) for wanted row groups."""
    selected = select_row_groups(layout, filters)
    if not selected:
        return
    pf = open_parquet(layout.path, read_dictionary=[INSTRUMENT])
    try:
        for rg, needs_mask in selected:
            first_row = rg.first_row
            batches = pf.iter_batches(batch_size=read_rows, row_groups=[rg.index], columns=columns)
            for rb in _guarded(batches, layout.path, rg.index):
                yield rg, needs_mask, first_row, rb
                first_row += rb.num_rows
    finally:
        pf.close()


def _guarded(batches: Iterable[pa.RecordBatch], path: Path, index: int) -> Iterator[pa.RecordBatch]:
    try:
        yield from batches
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"{path}: cannot decode row group {index} ({exc}); the file is corrupt or "
            "truncated: write it again"
        ) from None


def _ts_ns(arr: pa.Array, path: Path, first_row: int) -> np.ndarray:
    check_no_nulls(arr, TS, path, first_row)
    try:
        return ts_array_to_ns(arr)
    except pa.ArrowInvalid as exc:
        raise DataError(
            f"{path}: column 'ts' (type {arr.type}) near row {first_row} does not fit in int64 "
            f"nanoseconds since the epoch ({exc}); store ts as int64 ns or a timestamp"
        ) from None


def _indices(arr: pa.Array, path: Path, first_row: int) -> tuple[np.ndarray, list[str]]:
    """Dictionary indices and values of an ``instrument`` chunk (read as dictionary)."""
    check_no_nulls(arr, INSTRUMENT, path, first_row)
    if not isinstance(arr, pa.DictionaryArray):
        arr = arr.dictionary_encode()
    idx = np.asarray(arr.indices.to_numpy(zero_copy_only=False))
    return idx, arr.dictionary.to_pylist()


def count_instruments(
    layouts: Iterable[FileLayout], filters: Filters, read_rows: int
) -> Counter[str]:
    """Rows per instrument after the filters, reading only ``instrument`` (and ``ts`` if needed).

    Usage: ``count_instruments(layouts, Filters(start=t0), 1 << 20)["BTC-PERPETUAL"]``
    """
    counts: Counter[str] = Counter()
    wanted = filters.instruments
    for layout in layouts:
        timed = any(m for _, m in select_row_groups(layout, filters))
        columns = [INSTRUMENT, TS] if timed else [INSTRUMENT]
        for _, needs_mask, first_row, rb in _record_batches(layout, columns, read_rows, filters):
            idx, names = _indices(rb.column(0), layout.path, first_row)
            if needs_mask:
                idx = idx[filters.time_mask(_ts_ns(rb.column(1), layout.path, first_row))]
            for name, n in zip(names, np.bincount(idx, minlength=len(names)), strict=True):
                if n and (wanted is None or name in wanted):
                    counts[name] += int(n)
    return counts


def instrument_names(layouts: Iterable[FileLayout], read_rows: int) -> set[str]:
    """Every instrument name in the files (no filters); used to explain an unknown instrument.

    Usage: ``"BTC-PERPETUAL" in instrument_names(layouts, 1 << 20)``
    """
    names: set[str] = set()
    for layout in layouts:
        for _, _, first_row, rb in _record_batches(layout, [INSTRUMENT], read_rows, Filters()):
            names.update(_indices(rb.column(0), layout.path, first_row)[1])
    return names


def _floats(
    rb: pa.RecordBatch, columns: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    floats, nulls = {}, {}
    names = set(rb.schema.names)
    for name in columns:
        if name not in names:
            floats[name] = np.full(rb.num_rows, np.nan)
            nulls[name] = rb.num_rows
            continue
        arr = rb.column(name)
        if arr.type != pa.float64():
            arr = arr.cast(pa.float64(), safe=False)
        nulls[name] = arr.null_count
        floats[name] = arr.to_numpy(zero_copy_only=False)
    return floats, nulls


def iter_pieces(
    layouts: Iterable[FileLayout],
    filters: Filters,
    table: Mapping[str, int],
    columns: tuple[str, ...],
    read_rows: int,
) -> Iterator[Piece]:
    """Stream filtered, validated pieces in file order; ``table`` maps instrument -> code.

    Checks nulls in ts/instrument and that ts never decreases (across batches and files).
    Usage: ``sum(len(p.ts) for p in iter_pieces(layouts, Filters(), table, ("bid",), 1 << 20))``
    """
    order = OrderCheck()
    for layout in layouts:
        wanted = [c for c in columns if c in layout.floats]
        batches = _record_batches(layout, [TS, INSTRUMENT, *wanted], read_rows, filters)
        for _, needs_mask, first_row, rb in batches:
            ts = _ts_ns(rb.column(0), layout.path, first_row)
            order(ts, layout.path, first_row)
            idx, names = _indices(rb.column(1), layout.path, first_row)
            code = np.array([table.get(n, -1) for n in names], dtype=np.int32)[idx]
            floats, nulls = _floats(rb, columns)
            keep = _keep(filters, needs_mask, ts, code)
            if keep is not None:
                ts, code = ts[keep], code[keep]
                floats = {k: v[keep] for k, v in floats.items()}
            yield Piece(ts, code, floats, nulls)


def _keep(
    filters: Filters, needs_mask: bool, ts: np.ndarray, code: np.ndarray
) -> np.ndarray | None:
    """Row mask for a chunk, or None when every row is kept."""
    if needs_mask:
        return filters.time_mask(ts) & (code >= 0)
    if filters.instruments is not None:
        return code >= 0
    if len(code) and code.min() < 0:
        raise DataError(CHANGED)
    return None
