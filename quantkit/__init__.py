"""quantkit: a vectorized, backtest-first research toolkit.

Usage::

    import quantkit as qk
    res = qk.backtest("data/sample_ticks.parquet", strategies=[qk.strategies.momentum(span=50)])
    print(res.summary)
"""

from __future__ import annotations

__version__ = "0.1.0"

from pathlib import Path as _Path

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
from quantkit.jitcache import clear_stale_caches as _clear_stale_caches
from quantkit.jitlink import install as _install_jit_link
from quantkit.jitmemo import install as _install_jit_memo

# numba loads a kernel from its cache at the kernel's first call, so this runs in time
_clear_stale_caches(_Path(__file__).parent)
_install_jit_memo()  # nothing has compiled yet: see quantkit.jitmemo
_install_jit_link()  # caches written with quantkit.jitlink.separate load in any mode

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
