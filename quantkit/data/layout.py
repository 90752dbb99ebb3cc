"""What a Parquet tick file holds, from its footer only: schema, row groups and their statistics.

Usage::

    from quantkit.data.layout import read_layout
    layout = read_layout(Path("ticks.parquet"))
    layout.row_groups[0].ts_min  # ns, or None when the file has no usable statistics
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from quantkit.data.schema import INSTRUMENT, TS
from quantkit.data.times import NS_PER_UNIT
from quantkit.data.validate import check_schema
from quantkit.errors import DataError

_PARQUET_UNITS = {"milliseconds": "ms", "microseconds": "us", "nanoseconds": "ns"}


@dataclass(frozen=True)
class RowGroupInfo:
    """One row group: its index, rows, first row in the file and min/max statistics (or None).

    Usage: ``[rg for rg in layout.row_groups if rg.ts_max is None or rg.ts_max >= start]``
    """

    index: int
    num_rows: int
    first_row: int
    ts_min: int | None
    ts_max: int | None
    instrument_min: str | None
    instrument_max: str | None
    instrument_nulls: int | None = None

    @property
    def single_instrument(self) -> str | None:
        """The one instrument of every row when the statistics prove it (no nulls), else None."""
        if self.instrument_nulls != 0 or self.instrument_min != self.instrument_max:
            return None
        return self.instrument_min


@dataclass(frozen=True)
class FileLayout:
    """A validated tick file: path, size, Arrow schema, carried float columns and row groups.

    Usage: ``layout = read_layout(path); layout.floats  # {'bid': DataType(double), ...}``
    """

    path: Path
    num_bytes: int
    schema: pa.Schema
    floats: dict[str, pa.DataType]
    row_groups: tuple[RowGroupInfo, ...]

    @property
    def num_rows(self) -> int:
        """Rows in the file."""
        return sum(rg.num_rows for rg in self.row_groups)


def open_parquet(path: Path, **kwargs: Any) -> pq.ParquetFile:
    """Open a Parquet file or raise DataError saying it is not one.

    Usage: ``pf = open_parquet(path, read_dictionary=["instrument"])``
    """
    try:
        return pq.ParquetFile(path, **kwargs)
    except (pa.ArrowException, OSError) as exc:
        if not path.is_file():
            raise DataError(f"{path}: no such file (was it moved or deleted?)") from None
        size = path.stat().st_size
        what = "an empty (0 byte) file" if size == 0 else f"not a Parquet file ({exc})"
        raise DataError(
            f"{path}: {what}; tick data must be Parquet (write it with polars "
            "df.write_parquet(path) or pyarrow.parquet.write_table)"
        ) from None


def read_layout(path: Path, optional: tuple[str, ...] = ()) -> FileLayout:
    """Read and validate one file's footer; raise DataError if it is not usable tick data.

    ``optional``: required columns the file may lack (read as NaN).
    Usage: ``read_layout(Path("ticks.parquet")).num_rows``
    """
    pf = open_parquet(path)
    try:
        meta = pf.metadata
        if meta.num_rows == 0:
            raise DataError(
                f"{path}: file has 0 rows; remove it or write ticks into it "
                "(an empty file usually means an interrupted download or conversion)"
            )
        floats = check_schema(pf.schema_arrow, path, optional)
        groups = tuple(_row_groups(meta, pf.schema))
        return FileLayout(path, path.stat().st_size, pf.schema_arrow, floats, groups)
    finally:
        pf.close()


def _row_groups(meta: pq.FileMetaData, schema: pq.ParquetSchema) -> list[RowGroupInfo]:
    names = [schema.column(i).path for i in range(len(schema))]
    ts_col = names.index(TS) if TS in names else None
    inst_col = names.index(INSTRUMENT) if INSTRUMENT in names else None
    factor = _ts_stats_factor(schema, meta, ts_col)
    groups, first_row = [], 0
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        ts_min, ts_max = _stats(rg, ts_col if factor else None)
        inst_min, inst_max = _stats(rg, inst_col)
        inst_nulls = _null_count(rg, inst_col)
        groups.append(
            RowGroupInfo(
                index=i,
                num_rows=rg.num_rows,
                first_row=first_row,
                ts_min=None if ts_min is None or not factor else int(ts_min) * factor,
                ts_max=None if ts_max is None or not factor else int(ts_max) * factor,
                instrument_min=_as_str(inst_min),
                instrument_max=_as_str(inst_max),
                instrument_nulls=inst_nulls,
            )
        )
        first_row += rg.num_rows
    return groups


def _stats(rg: pq.RowGroupMetaData, col: int | None) -> tuple[Any, Any]:
    if col is None:
        return None, None
    stats = rg.column(col).statistics
    if stats is None or not stats.has_min_max:
        return None, None
    return stats.min_raw, stats.max_raw


def _null_count(rg: pq.RowGroupMetaData, col: int | None) -> int | None:
    if col is None:
        return None
    stats = rg.column(col).statistics
    if stats is None or not stats.has_null_count:
        return None
    return int(stats.null_count)


def _as_str(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else None


def _ts_stats_factor(
    schema: pq.ParquetSchema, meta: pq.FileMetaData, col: int | None
) -> int | None:
    """ns per unit of the raw ts statistics, or None when they cannot be trusted (e.g. INT96)."""
    if col is None or meta.num_row_groups == 0:
        return None
    if meta.row_group(0).column(col).physical_type not in ("INT64", "INT32"):
        return None
    logical = json.loads(schema.column(col).logical_type.to_json())
    if logical.get("Type") == "Timestamp":
        unit = _PARQUET_UNITS.get(logical.get("timeUnit", ""))
        return NS_PER_UNIT[unit] if unit else None
    if logical.get("Type") == "None" or (logical.get("Type") == "Int" and logical.get("isSigned")):
        return 1
    return None  # unsigned or unknown: raw statistics may not compare as int64
