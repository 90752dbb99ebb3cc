"""``scan()``: a lazy, filtered, out-of-core view of Parquet tick files, read as numpy batches.

Usage::

    import quantkit as qk
    scan = qk.data.scan("ticks/", instruments=["BTC-PERPETUAL"], start="2024-01-01")
    for b in scan.batches():
        kernel(b.ts, b.code, b.columns["bid"], b.columns["ask"])
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np
import polars as pl

from quantkit.data.batch import Batch, rebatch
from quantkit.data.layout import FileLayout, read_layout
from quantkit.data.paths import resolve_paths
from quantkit.data.prefetch import prefetch
from quantkit.data.pruning import Filters
from quantkit.data.reader import (
    MAX_READ_ROWS,
    Piece,
    count_instruments,
    instrument_names,
    iter_pieces,
)
from quantkit.data.schema import INSTRUMENT, OPTIONAL_FLOAT, REQUIRED_FLOAT, SIZE_COLUMNS, TS
from quantkit.data.times import to_ns
from quantkit.errors import ConfigError, InstrumentError, did_you_mean

DEFAULT_BATCH_SIZE = 1_000_000
MIN_READ_ROWS = 1 << 16


class Scan:
    """Tick files with their filters, instrument table and float columns; read with ``batches()``.

    Built by :func:`scan`; cheap to keep (only footers and per-instrument row counts in memory).
    Usage: ``for b in scan.batches(batch_size=0): ...``
    """

    def __init__(
        self,
        layouts: tuple[FileLayout, ...],
        filters: Filters,
        row_counts: dict[str, int],
        batch_size: int,
    ) -> None:
        self._layouts = layouts
        self._filters = filters
        self.paths = tuple(layout.path for layout in layouts)
        self.instruments = tuple(sorted(row_counts))
        self.row_counts = {name: row_counts[name] for name in self.instruments}
        self.float_columns = _float_columns(layouts)
        self.batch_size = batch_size
        self._table = {name: code for code, name in enumerate(self.instruments)}

    @property
    def start(self) -> int | None:
        """Inclusive start of the time filter in ns, or None."""
        return self._filters.start

    @property
    def end(self) -> int | None:
        """Exclusive end of the time filter in ns, or None."""
        return self._filters.end

    @property
    def num_rows(self) -> int:
        """Rows the batches will hold (after the filters)."""
        return sum(self.row_counts.values())

    @property
    def layouts(self) -> tuple[FileLayout, ...]:
        """Per-file footers (schema, size, row groups), in read order."""
        return self._layouts

    def __repr__(self) -> str:
        return (
            f"Scan({len(self.paths)} file(s), {self.num_rows:,} rows, "
            f"{len(self.instruments)} instrument(s), columns={list(self.float_columns)})"
        )

    def batches(
        self, batch_size: int | None = None, columns: Iterable[str] | None = None
    ) -> Iterator[Batch]:
        """Yield batches of ``batch_size`` rows (None: the scan's; 0: all rows in one batch).

        The next batch is read in a background thread while the caller works on this one.

        ``columns`` limits the float columns read (None: all of ``float_columns``); names the
        files do not have are ignored, so callers may ask for optional columns.
        Usage: ``total = sum(b.columns["bid_size"].sum() for b in scan.batches(100_000))``
        """
        size = self.batch_size if batch_size is None else _check_batch_size(batch_size)
        read_rows = MAX_READ_ROWS if size == 0 else min(max(size, MIN_READ_ROWS), MAX_READ_ROWS)
        cols = self._select(columns)
        pieces = iter_pieces(self._layouts, self._filters, self._table, cols, read_rows)
        return prefetch(rebatch(pieces, self.num_rows, size, cols))

    def pieces(
        self, read_rows: int = MAX_READ_ROWS, columns: tuple[str, ...] | None = None
    ) -> Iterator[Piece]:
        """Lower level than ``batches()``: filtered chunks as read (varying sizes, views).

        Read one piece ahead in a background thread.
        Usage: ``for p in scan.pieces(): p.ts, p.code, p.floats, p.nulls``
        """
        cols = self.float_columns if columns is None else columns
        return prefetch(iter_pieces(self._layouts, self._filters, self._table, cols, read_rows))

    def _select(self, columns: Iterable[str] | None) -> tuple[str, ...]:
        if columns is None:
            return self.float_columns
        wanted = set(columns)
        return tuple(c for c in self.float_columns if c in wanted)

    def to_polars(self) -> pl.DataFrame:
        """All rows as one DataFrame: ts (Int64), instrument (String), float columns (small data).

        Usage: ``scan.to_polars().group_by("instrument").len()``
        """
        data: dict[str, pl.Series] = {
            TS: pl.Series(TS, [], dtype=pl.Int64),
            INSTRUMENT: pl.Series(INSTRUMENT, [], dtype=pl.String),
        }
        data |= {c: pl.Series(c, [], dtype=pl.Float64) for c in self.float_columns}
        for b in self.batches(batch_size=0):
            names = pl.Series(INSTRUMENT, self.instruments, dtype=pl.String)
            data = {TS: pl.Series(TS, b.ts), INSTRUMENT: names.gather(b.code)}
            data |= {c: pl.Series(c, b.columns[c]) for c in self.float_columns}
        return pl.DataFrame(data)


def _float_columns(layouts: Iterable[FileLayout]) -> tuple[str, ...]:
    """Required floats, then optional known ones present in any file, then extras in file order."""
    present: dict[str, None] = {}
    for layout in layouts:
        present |= dict.fromkeys(layout.floats)
    optional = [c for c in OPTIONAL_FLOAT if c in present]
    extras = [c for c in present if c not in REQUIRED_FLOAT and c not in OPTIONAL_FLOAT]
    return (*REQUIRED_FLOAT, *optional, *extras)


def _check_batch_size(batch_size: object) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise ConfigError(f"batch_size={batch_size!r} must be an int (rows; 0 = one batch)")
    if batch_size < 0:
        raise ConfigError(f"batch_size={batch_size} must be >= 0 (rows; 0 = one batch)")
    return int(batch_size)


def _instrument_filter(instruments: str | Iterable[str] | None) -> frozenset[str] | None:
    if instruments is None:
        return None
    names = frozenset([instruments] if isinstance(instruments, str) else instruments)
    if not names:
        raise ConfigError("instruments=[] selects nothing; pass None to read every instrument")
    bad = [n for n in names if not isinstance(n, str) or not n]
    if bad:
        raise ConfigError(f"instruments must be non-empty strings, got {bad[0]!r}")
    return names


def _time_filter(start: object, end: object) -> tuple[int | None, int | None]:
    lo = None if start is None else to_ns(start, "start")
    hi = None if end is None else to_ns(end, "end")
    if lo is not None and hi is not None and lo >= hi:
        raise ConfigError(f"start ({start}) must be before end ({end}); the range is [start, end)")
    return lo, hi


def _check_known(
    wanted: frozenset[str] | None, counts: dict[str, int], layouts: tuple[FileLayout, ...]
) -> None:
    """Raise InstrumentError for filter names that appear nowhere in the files."""
    missing = sorted((wanted or frozenset()) - set(counts))
    if not missing:
        return
    known = instrument_names(layouts)
    unknown = [name for name in missing if name not in known]
    if unknown:
        name = unknown[0]
        shown = ", ".join(sorted(known)[:10]) + (", ..." if len(known) > 10 else "")
        raise InstrumentError(
            f"instrument '{name}' is not in the data{did_you_mean(name, known)}; "
            f"the files hold {len(known)} instrument(s): {shown}"
        )


def scan(
    path: str | os.PathLike[str],
    instruments: str | Iterable[str] | None = None,
    start: object = None,
    end: object = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    sizes_optional: bool = False,
) -> Scan:
    """Open Parquet tick files lazily: validate footers, push filters down, count instruments.

    ``path``: a file, a directory (recursive, hive partitions ok) or a glob. ``start``/``end``:
    int ns, datetime (naive = UTC) or ISO string; [start, end). Raises DataError for unusable
    files and InstrumentError for an instrument that is in none of the files.
    ``sizes_optional``: files without ``bid_size``/``ask_size`` are read with NaN sizes
    (backtests do this; the canonical schema requires them).
    Usage: ``qk.data.scan("ticks/*.parquet", instruments="BTC-PERPETUAL", end="2024-01-02")``
    """
    size = _check_batch_size(batch_size)
    lo, hi = _time_filter(start, end)
    filters = Filters(_instrument_filter(instruments), lo, hi)
    optional = SIZE_COLUMNS if sizes_optional else ()
    layouts = tuple(read_layout(p, optional) for p in resolve_paths(path))
    counts = dict(count_instruments(layouts, filters))
    _check_known(filters.instruments, counts, layouts)
    return Scan(layouts, filters, counts, size)
