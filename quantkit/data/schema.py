"""The canonical tick schema: the contract between data, backtest and live.

One row per quote update of one instrument. ``ts`` is int64 nanoseconds since the Unix epoch (UTC),
``instrument`` a string; every other column is float64 and NaN means "absent".

Usage::

    from quantkit.data.schema import REQUIRED_FLOAT, OPTIONAL_FLOAT
"""

from __future__ import annotations

TS = "ts"
INSTRUMENT = "instrument"

#: float64 columns every tick file must have (NaN when that side of the book is empty)
REQUIRED_FLOAT: tuple[str, ...] = ("bid", "ask", "bid_size", "ask_size")

#: float64 columns with a fixed meaning that a file may have (NaN when absent for a row)
OPTIONAL_FLOAT: tuple[str, ...] = (
    "last",
    "last_size",
    "underlying_price",
    "mark_iv",  # percent, as Deribit publishes it
    "delta",
    "gamma",
    "vega",
    "theta",
)

REQUIRED: tuple[str, ...] = (TS, INSTRUMENT, *REQUIRED_FLOAT)
#: the displayed sizes: a backtest reads files without them (sizes unknown: fills not capped)
SIZE_COLUMNS: tuple[str, ...] = ("bid_size", "ask_size")
KNOWN_FLOAT: tuple[str, ...] = REQUIRED_FLOAT + OPTIONAL_FLOAT
