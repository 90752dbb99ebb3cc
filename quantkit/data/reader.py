"""Streaming reads of validated tick files: the instrument pre-pass and the chunk ("piece") stream.

Only the needed columns of the row groups that the filters may hit are read. A row group of up
to ``MAX_READ_ROWS`` rows (or ``read_rows``, if larger) is decoded in one call with Arrow's
threads; a larger one is streamed in record batches of ``read_rows`` rows, so memory stays
bounded. Decoded buffers become numpy arrays without a copy.

Usage::

    from quantkit.data.reader import count_instruments, iter_pieces
    counts = count_instruments(layouts, Filters())
    for piece in iter_pieces(layouts, Filters(), {"BTC-PERPETUAL": 0}, ("bid", "ask"), 1 << 20): ...
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from quantkit.data.arrays import to_float64, to_numpy
from quantkit.data.layout import FileLayout, RowGroupInfo, open_parquet
from quantkit.data.pruning import Filters, select_row_groups
from quantkit.data.schema import INSTRUMENT, TS
from quantkit.data.times import ts_array_to_ns
from quantkit.data.validate import OrderCheck, check_no_nulls
from quantkit.errors import DataError

CHANGED = "the data changed while it was being read (row counts differ); run again"
#: row groups up to this many rows are decoded in one call (larger ones are streamed)
MAX_READ_ROWS = 1 << 20
#: bytes read at a time from a column chunk
STREAM_BUFFER = 1 << 20
#: threads decoding the instrument column of different row groups in the pre-pass
PRE_PASS_THREADS = 2


#: some row groups of one file, each with "needs a time mask": one unit of pre-pass work
_Job = tuple[FileLayout, list[tuple[RowGroupInfo, bool]]]


class Piece(NamedTuple):
    """A filtered chunk of one row group: ts (int64 ns), code (int32), float64 columns.

    ``nulls`` counts the Arrow nulls per float column before filtering (NaN in ``floats``).
    """

    ts: np.ndarray
    code: np.ndarray
    floats: dict[str, np.ndarray]
    nulls: dict[str, int]


def _corrupt(path: Path, index: int, exc: Exception) -> DataError:
    return DataError(
        f"{path}: cannot decode row group {index} ({exc}); the file is corrupt or "
        "truncated: write it again"
    )


def _read_row_group(
    pf: pq.ParquetFile, rg: RowGroupInfo, columns: list[str], read_rows: int, path: Path
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Yield (first row in file, record batch) for one row group: whole, or streamed if large."""
    first_row = rg.first_row
    try:
        if rg.num_rows <= max(read_rows, MAX_READ_ROWS):
            batches: Iterable[pa.RecordBatch] = pf.read_row_group(
                rg.index, columns=columns
            ).to_batches()
        else:
            batches = pf.iter_batches(batch_size=read_rows, row_groups=[rg.index], columns=columns)
        for rb in batches:
            yield first_row, rb
            first_row += rb.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise _corrupt(path, rg.index, exc) from None


def _record_batches(
    layout: FileLayout, columns: list[str], read_rows: int, filters: Filters
) -> Iterator[tuple[bool, int, pa.RecordBatch]]:
    """Yield (needs time mask, first row in file, record batch) for the wanted row groups."""
    selected = select_row_groups(layout, filters)
    if not selected:
        return
    pf = _open(layout.path)
    try:
        for rg, needs_mask in selected:
            for first_row, rb in _read_row_group(pf, rg, columns, read_rows, layout.path):
                yield needs_mask, first_row, rb
    finally:
        pf.close()


def _open(path: Path) -> pq.ParquetFile:
    """Open for streaming reads: column chunks are read page by page through a buffer (by default
    Arrow loads whole column chunks, so memory would grow with the row groups; and this is as
    fast), with ``instrument`` as a dictionary."""
    return open_parquet(
        path, read_dictionary=[INSTRUMENT], pre_buffer=False, buffer_size=STREAM_BUFFER
    )


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
    """Dictionary indices (int32, writeable) and values of an ``instrument`` chunk."""
    check_no_nulls(arr, INSTRUMENT, path, first_row)
    if not isinstance(arr, pa.DictionaryArray):
        arr = arr.dictionary_encode()
    indices = arr.indices
    if indices.type != pa.int32():
        indices = indices.cast(pa.int32())
    return to_numpy(indices, np.int32), arr.dictionary.to_pylist()


def _codes(idx: np.ndarray, names: list[str], table: Mapping[str, int]) -> tuple[np.ndarray, bool]:
    """Instrument codes of the rows (-1: not in ``table``), and whether any row may be -1."""
    lookup = np.array([table.get(n, -1) for n in names], dtype=np.int32)
    if np.array_equal(lookup, np.arange(len(names))):
        return idx, False  # the file's dictionary is the scan's table: reuse the indices
    return lookup.take(idx), bool(len(lookup) and lookup.min() < 0)


def _tally(job: _Job, filters: Filters) -> Counter[str]:
    """Rows per instrument name of some row groups of one file, after the time filter."""
    layout, groups = job
    counts: Counter[str] = Counter()
    todo = []
    for rg, needs_mask in groups:
        single = rg.single_instrument
        if single is not None and not needs_mask:
            counts[single] += rg.num_rows  # the statistics say it all: nothing to read
        else:
            todo.append((rg, needs_mask))
    if not todo:
        return counts
    pf = _open(layout.path)
    try:
        for rg, needs_mask in todo:
            columns = [INSTRUMENT, TS] if needs_mask else [INSTRUMENT]
            for first_row, rb in _read_row_group(pf, rg, columns, MAX_READ_ROWS, layout.path):
                idx, names = _indices(rb.column(0), layout.path, first_row)
                if needs_mask:
                    idx = idx[filters.time_mask(_ts_ns(rb.column(1), layout.path, first_row))]
                for name, n in zip(names, np.bincount(idx, minlength=len(names)), strict=True):
                    counts[name] += int(n)
    finally:
        pf.close()
    return counts


def _split(groups: list[tuple[RowGroupInfo, bool]], parts: int) -> list[list]:
    """``groups`` cut into at most ``parts`` contiguous runs of (almost) equal length."""
    step = -(-len(groups) // parts) if groups else 1
    return [groups[i : i + step] for i in range(0, len(groups), step)]


def count_instruments(layouts: Iterable[FileLayout], filters: Filters) -> Counter[str]:
    """Rows per instrument after the filters, reading only ``instrument`` (and ``ts`` if needed).

    Row groups whose statistics name a single instrument (and no null) are not read at all; the
    others are decoded on ``PRE_PASS_THREADS`` threads.
    Usage: ``count_instruments(layouts, Filters(start=t0))["BTC-PERPETUAL"]``
    """
    jobs: list[_Job] = [
        (layout, part)
        for layout in layouts
        for part in _split(select_row_groups(layout, filters), PRE_PASS_THREADS)
    ]
    counts: Counter[str] = Counter()
    if len(jobs) == 1:
        counts = _tally(jobs[0], filters)
    elif jobs:
        with ThreadPoolExecutor(PRE_PASS_THREADS, thread_name_prefix="quantkit-scan") as pool:
            for part in pool.map(lambda job: _tally(job, filters), jobs):
                counts.update(part)
    wanted = filters.instruments
    return Counter({k: n for k, n in counts.items() if n and (wanted is None or k in wanted)})


def instrument_names(layouts: Iterable[FileLayout]) -> set[str]:
    """Every instrument name in the files (no filters); used to explain an unknown instrument.

    Usage: ``"BTC-PERPETUAL" in instrument_names(layouts)``
    """
    names: set[str] = set()
    for layout in layouts:
        for _, first_row, rb in _record_batches(layout, [INSTRUMENT], MAX_READ_ROWS, Filters()):
            names.update(_indices(rb.column(0), layout.path, first_row)[1])
    return names


def _floats(
    rb: pa.RecordBatch, columns: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    floats, nulls = {}, {}
    names = set(rb.schema.names)
    for name in columns:
        if name in names:
            floats[name], nulls[name] = to_float64(rb.column(name))
        else:
            floats[name], nulls[name] = np.full(rb.num_rows, np.nan), rb.num_rows
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
    Piece arrays are writeable and used by nobody else (often Arrow's decoded buffers).
    Usage: ``sum(len(p.ts) for p in iter_pieces(layouts, Filters(), table, ("bid",), 1 << 20))``
    """
    order = OrderCheck()
    for layout in layouts:
        wanted = [c for c in columns if c in layout.floats]
        batches = _record_batches(layout, [TS, INSTRUMENT, *wanted], read_rows, filters)
        for needs_mask, first_row, rb in batches:
            ts = _ts_ns(rb.column(0), layout.path, first_row)
            order(ts, layout.path, first_row)
            idx, names = _indices(rb.column(1), layout.path, first_row)
            code, unknown = _codes(idx, names, table)
            floats, nulls = _floats(rb, columns)
            keep = _keep(filters, needs_mask, code, unknown, ts)
            if keep is not None:
                ts, code = ts[keep], code[keep]
                floats = {k: v[keep] for k, v in floats.items()}
            yield Piece(ts, code, floats, nulls)


def _keep(
    filters: Filters, needs_mask: bool, code: np.ndarray, unknown: bool, ts: np.ndarray
) -> np.ndarray | None:
    """Row mask for a chunk, or None when every row is kept."""
    keep = filters.time_mask(ts) if needs_mask else None
    if unknown:
        known = code >= 0
        if keep is None and filters.instruments is None and not known.all():
            raise DataError(CHANGED)
        keep = known if keep is None else keep & known
    return None if keep is None or keep.all() else keep
