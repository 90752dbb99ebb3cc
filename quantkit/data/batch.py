"""Batches: the fixed-size columnar chunks a scan hands to the jitted engine.

Usage::

    for b in qk.data.scan("ticks.parquet").batches():
        b.ts, b.code, b.columns["bid"], len(b)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from quantkit.data.reader import CHANGED, Piece
from quantkit.errors import DataError


@dataclass(frozen=True, eq=False)
class Batch:
    """Rows of a scan: ``ts`` int64 ns, ``code`` int32 (index into ``scan.instruments``) and
    ``columns`` {name: float64 array}; every array is C-contiguous and writeable, and no two
    batches share memory (an array may be a view of a decoded buffer that only it uses).

    Usage: ``mid = (b.columns["bid"] + b.columns["ask"]) / 2``
    """

    ts: np.ndarray
    code: np.ndarray
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls, rows: int, columns: Iterable[str]) -> Batch:
        """An uninitialised batch of ``rows`` rows to fill in place.

        Usage: ``Batch.empty(10, ["bid", "ask"])``
        """
        floats = {name: np.empty(rows, dtype=np.float64) for name in columns}
        return cls(np.empty(rows, dtype=np.int64), np.empty(rows, dtype=np.int32), floats)

    @classmethod
    def view(cls, piece: Piece, start: int, rows: int, columns: Iterable[str]) -> Batch:
        """Rows ``start:start + rows`` of a piece, without a copy.

        Usage: ``Batch.view(piece, 0, len(piece.ts), ["bid"])``
        """
        end = start + rows
        floats = {name: piece.floats[name][start:end] for name in columns}
        return cls(piece.ts[start:end], piece.code[start:end], floats)


def rebatch(
    pieces: Iterable[Piece], total: int, batch_size: int, columns: tuple[str, ...]
) -> Iterator[Batch]:
    """Cut a stream of pieces holding ``total`` rows into batches of exactly ``batch_size`` rows
    (the last one shorter); ``batch_size`` 0 gives a single batch. No batch when ``total`` is 0.

    A batch that lies inside one piece is a view of it; only batches that straddle pieces are
    copied. Usage: ``list(rebatch(iter_pieces(...), total=10, batch_size=4, columns=("bid",)))``
    """
    size = total if batch_size == 0 else batch_size
    remaining, out, pos = total, None, 0
    for piece in pieces:
        n, i = len(piece.ts), 0
        while i < n:
            if out is None:
                if remaining <= 0:
                    raise DataError(CHANGED)
                want = min(size, remaining)
                if n - i >= want:  # the whole batch is inside this piece
                    remaining -= want
                    yield Batch.view(piece, i, want, columns)
                    i += want
                    continue
                out, pos = Batch.empty(want, columns), 0
            k = min(n - i, len(out) - pos)
            _copy(out, pos, piece, i, k)
            pos, i = pos + k, i + k
            if pos == len(out):
                remaining -= pos
                yield out
                out = None
    if out is not None or remaining:
        raise DataError(CHANGED)


def _copy(out: Batch, pos: int, piece: Piece, start: int, rows: int) -> None:
    out.ts[pos : pos + rows] = piece.ts[start : start + rows]
    out.code[pos : pos + rows] = piece.code[start : start + rows]
    for name, dest in out.columns.items():
        dest[pos : pos + rows] = piece.floats[name][start : start + rows]
