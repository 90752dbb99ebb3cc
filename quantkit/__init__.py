"""quantkit: a vectorized, backtest-first research toolkit.

Usage::

    import quantkit as qk
    res = qk.backtest("data/sample_ticks.parquet", strategies=[qk.strategies.momentum(span=50)])
    print(res.summary)
"""

from __future__ import annotations

__version__ = "0.1.0"

from quantkit import data, errors, instruments, options, strategies
from quantkit.engine import EngineSettings, Order, OrderType, Side, Strategy
from quantkit.engine.backtest import backtest
from quantkit.engine.session import Session
from quantkit.errors import (
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
    "EngineSettings",
    "ExchangeError",
    "InstrumentError",
    "KernelError",
    "Order",
    "OrderRejected",
    "OrderType",
    "QuantkitError",
    "Session",
    "Side",
    "Strategy",
    "__version__",
    "backtest",
    "data",
    "errors",
    "instruments",
    "options",
    "strategies",
]
