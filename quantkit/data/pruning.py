"""Filters (instruments, [start, end)) and the row groups their statistics let us skip.

Usage::

    from quantkit.data.pruning import Filters, select_row_groups
    f = Filters(instruments=frozenset({"BTC-PERPETUAL"}), start=None, end=None)
    for rg, needs_time_mask in select_row_groups(layout, f): ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quantkit.data.layout import FileLayout, RowGroupInfo


@dataclass(frozen=True)
class Filters:
    """Row filters of a scan: wanted instruments (None = all) and the half-open [start, end) in ns.

    Usage: ``Filters(None, start=0, end=10**18).time_mask(ts)``
    """

    instruments: frozenset[str] | None = None
    start: int | None = None
    end: int | None = None

    def keeps(self, rg: RowGroupInfo) -> bool:
        """False when the row group's statistics prove that no row passes the filters."""
        if self.start is not None and rg.ts_max is not None and rg.ts_max < self.start:
            return False
        if self.end is not None and rg.ts_min is not None and rg.ts_min >= self.end:
            return False
        return self._may_hold_instrument(rg)

    def _may_hold_instrument(self, rg: RowGroupInfo) -> bool:
        low, high = rg.instrument_min, rg.instrument_max
        if self.instruments is None or low is None or high is None:
            return True
        return any(low <= name <= high for name in self.instruments)

    def needs_time_mask(self, rg: RowGroupInfo) -> bool:
        """True unless the statistics prove every row of ``rg`` lies inside [start, end)."""
        before = self.start is not None and (rg.ts_min is None or rg.ts_min < self.start)
        after = self.end is not None and (rg.ts_max is None or rg.ts_max >= self.end)
        return before or after

    def time_mask(self, ts: np.ndarray) -> np.ndarray:
        """Boolean mask of the ``ts`` values inside [start, end)."""
        keep = np.ones(len(ts), dtype=np.bool_)
        if self.start is not None:
            keep &= ts >= self.start
        if self.end is not None:
            keep &= ts < self.end
        return keep


def select_row_groups(layout: FileLayout, filters: Filters) -> list[tuple[RowGroupInfo, bool]]:
    """Row groups of ``layout`` that may hold wanted rows, each with "needs a time mask".

    Usage: ``[rg.index for rg, _ in select_row_groups(layout, Filters(start=t0))]``
    """
    return [(rg, filters.needs_time_mask(rg)) for rg in layout.row_groups if filters.keeps(rg)]
