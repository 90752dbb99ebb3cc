"""``inspect()``: a streaming summary of tick files (rows, instruments, columns, NaNs, crossed).

Usage::

    import quantkit as qk
    report = qk.data.inspect("ticks/")
    report["instruments"]["BTC-PERPETUAL"]["rows"], report["crossed"]
    print(format_report(report))
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numba import njit

from quantkit.data.scan import Scan, scan
from quantkit.data.times import ns_to_iso

_NO_TS_LOW = np.iinfo(np.int64).max
_NO_TS_HIGH = np.iinfo(np.int64).min


@njit(cache=True)
def _tally(
    code: np.ndarray,
    ts: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    counts: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
) -> tuple[int, int]:
    """Add rows, first/last ts per code; return (crossed, locked) counts of the chunk."""
    crossed = 0
    locked = 0
    for i in range(code.shape[0]):
        c = code[i]
        counts[c] += 1
        if ts[i] < first[c]:
            first[c] = ts[i]
        if ts[i] > last[c]:
            last[c] = ts[i]
        if bid[i] > ask[i]:
            crossed += 1
        elif bid[i] == ask[i]:
            locked += 1
    return crossed, locked


def _column_types(s: Scan) -> dict[str, str]:
    """Column -> Arrow type as stored; types that differ between files are joined with ' | '."""
    types: dict[str, list[str]] = {}
    for layout in s.layouts:
        for field in layout.schema:
            seen = types.setdefault(field.name, [])
            if str(field.type) not in seen:
                seen.append(str(field.type))
    return {name: " | ".join(t) for name, t in types.items()}


def inspect(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Summarize tick files in one bounded-memory pass; raise DataError like :func:`scan`.

    Keys: files, bytes, rows, first_ts, last_ts (ISO), columns {name: Arrow type},
    instruments {name: {rows, first_ts, last_ts}}, nan and null {float column: count}
    (NaN excludes nulls), crossed (bid > ask) and locked (bid == ask) quote counts.
    Usage: ``qk.data.inspect("ticks.parquet")["rows"]``
    """
    s = scan(path)
    k = len(s.instruments)
    counts = np.zeros(k, dtype=np.int64)
    first, last = np.full(k, _NO_TS_LOW), np.full(k, _NO_TS_HIGH)
    nan = dict.fromkeys(s.float_columns, 0)
    null = dict.fromkeys(s.float_columns, 0)
    crossed = locked = 0
    for p in s.pieces():
        c, lk = _tally(p.code, p.ts, p.floats["bid"], p.floats["ask"], counts, first, last)
        crossed, locked = crossed + c, locked + lk
        for col, values in p.floats.items():
            null[col] += p.nulls[col]
            nan[col] += int(np.count_nonzero(np.isnan(values))) - p.nulls[col]
    per = {
        name: {
            "rows": int(counts[i]),
            "first_ts": ns_to_iso(first[i]),
            "last_ts": ns_to_iso(last[i]),
        }
        for i, name in enumerate(s.instruments)
    }
    rows = int(counts.sum())
    return {
        "files": len(s.paths),
        "bytes": sum(layout.num_bytes for layout in s.layouts),
        "rows": rows,
        "first_ts": ns_to_iso(first.min()) if rows else None,
        "last_ts": ns_to_iso(last.max()) if rows else None,
        "columns": _column_types(s),
        "instruments": per,
        "nan": nan,
        "null": null,
        "crossed": crossed,
        "locked": locked,
    }


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _grid(rows: list[list[str]], right: set[int]) -> list[str]:
    """Left/right-aligned columns separated by two spaces."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs]
        lines.append("  ".join(cells).rstrip())
    return lines


def format_report(report: dict[str, Any]) -> str:
    """Render an :func:`inspect` report as compact human-readable tables.

    Usage: ``print(format_report(qk.data.inspect("ticks.parquet")))``
    """
    head = (
        f"{report['files']} file(s), {_human_bytes(report['bytes'])}, {report['rows']:,} rows, "
        f"{report['first_ts']} .. {report['last_ts']}"
    )
    quotes = (
        f"crossed quotes (bid > ask): {report['crossed']:,}   "
        f"locked (bid == ask): {report['locked']:,}"
    )
    inst = [["instrument", "rows", "first_ts", "last_ts"]]
    inst += [
        [n, f"{v['rows']:,}", v["first_ts"], v["last_ts"]] for n, v in report["instruments"].items()
    ]
    cols = [["column", "type", "nan", "null"]]
    for name, dtype in report["columns"].items():
        counts = (
            [f"{report['nan'][name]:,}", f"{report['null'][name]:,}"]
            if name in report["nan"]
            else ["", ""]
        )
        cols.append([name, dtype, *counts])
    return "\n".join([head, quotes, "", *_grid(inst, {1}), "", *_grid(cols, {2, 3})])
