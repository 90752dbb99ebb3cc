"""Compile options of the engine's own kernels.

Internal kernels are called only from other jitted code: they skip numba's Python and C
wrappers, which cost compile time (on a cold first run every function is compiled) and are never
used. Constant arguments would make numba compile one copy per constant, so callers pass plain
int64 values (``np.int64(OE_DONE)``), not module constants.

Usage::

    @internal
    def close_open(ctx, i, row, event, reason, olog, counters): ...
"""

from typing import Any

from numba import njit

#: decorator: ``@njit(cache=True)`` without the Python and C entry points
internal: Any = njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)  # type: ignore[call-overload]
