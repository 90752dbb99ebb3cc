"""Typed Deribit instruments and their contract specifications.

Usage::

    import quantkit as qk
    opt = qk.instruments.parse("ETH-30JUL21-2800-C")   # Option(strike=2800.0, ...)
    qk.instruments.spec("BTC-PERPETUAL").tick_size      # 0.5
    specs = qk.instruments.load_specs("get_instruments.json")
"""

from __future__ import annotations

from quantkit.instruments.names import (
    Dated,
    Future,
    Instrument,
    Kind,
    Option,
    OptionType,
    Perpetual,
    parse,
)
from quantkit.instruments.specs import ContractSpec, load_specs, parse_specs, spec_from_entry
from quantkit.instruments.table import bundled_specs, default_spec, spec

__all__ = [
    "ContractSpec",
    "Dated",
    "Future",
    "Instrument",
    "Kind",
    "Option",
    "OptionType",
    "Perpetual",
    "bundled_specs",
    "default_spec",
    "load_specs",
    "parse",
    "parse_specs",
    "spec",
    "spec_from_entry",
]
