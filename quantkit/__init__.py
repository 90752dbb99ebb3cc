"""quantkit: a vectorized, backtest-first research toolkit.

Usage::

    import quantkit as qk
    res = qk.backtest("data/sample_ticks.parquet", strategies=[qk.strategies.momentum(span=50)])
    print(res.summary)
"""

from __future__ import annotations

__version__ = "0.1.0"

from quantkit import data, errors  # noqa: E402
from quantkit.errors import (  # noqa: E402
    ConfigError,
    DataError,
    ExchangeError,
    InstrumentError,
    KernelError,
    OrderRejected,
    QuantkitError,
)

__all__ = [
    "ConfigError",
    "DataError",
    "ExchangeError",
    "InstrumentError",
    "KernelError",
    "OrderRejected",
    "QuantkitError",
    "__version__",
    "data",
    "errors",
]
