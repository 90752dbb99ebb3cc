"""The event columns handed to a driver: the quote, and (only if the data has any) the rest.

Usage::

    cols = EventColumns.of(batch.columns, len(batch))
    cols.quote[0]   # bid; cols.more is used only when cols.has_more
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from quantkit.engine.layout import MORE_COLUMNS, QUOTE_COLUMNS


@dataclass(frozen=True)
class EventColumns:
    """float64 C-contiguous arrays; absent columns are one shared NaN array."""

    quote: tuple[np.ndarray, ...]  #: bid, ask, bid_size, ask_size
    more: tuple[np.ndarray, ...]  #: last, last_size, underlying_price, mark_iv, greeks
    has_more: bool

    @classmethod
    def of(cls, columns: Mapping[str, np.ndarray], n: int) -> EventColumns:
        """Pick the canonical columns of a batch of ``n`` rows out of ``columns``."""
        nan = np.full(n, np.nan)

        def pick(name: str) -> np.ndarray:
            col = columns.get(name)
            return nan if col is None else np.ascontiguousarray(col, dtype=np.float64)

        return cls(
            quote=tuple(pick(c) for c in QUOTE_COLUMNS),
            more=tuple(pick(c) for c in MORE_COLUMNS),
            has_more=any(c in columns for c in MORE_COLUMNS),
        )
