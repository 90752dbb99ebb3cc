"""Tick data: scan Parquet files out of core as numpy batches, inspect them, synthesize them.

Usage::

    import quantkit as qk
    scan = qk.data.scan("ticks/", instruments=["BTC-PERPETUAL"], start="2024-01-01")
    for b in scan.batches():
        b.ts, b.code, b.columns["bid"]
    qk.data.inspect("ticks/")["rows"]
    qk.data.synth("synth.parquet", rows=1_000_000, seed=1)
"""

from __future__ import annotations

from quantkit.data.batch import Batch
from quantkit.data.scan import Scan, scan
from quantkit.data.summary import inspect
from quantkit.data.synthetic import synth

__all__ = ["Batch", "Scan", "inspect", "scan", "synth"]
