"""Compile options of the engine's own kernels.

Internal kernels are called only from other jitted code: they skip numba's Python and C
wrappers, which cost compile time (on a cold first run every function is compiled) and are never
used, and their callers call them at run time instead of linking in a copy of their machine code
(:mod:`quantkit.jitlink`). Constant arguments would make numba compile one copy per constant, so
callers pass plain int64 values (``np.int64(OE_DONE)``), not module constants.

Usage::

    @internal
    def close_open(ctx, i, row, event, reason, olog, counters): ...
"""

from typing import Any

from numba import njit

from quantkit.jitlink import separate

#: decorator: ``@njit(cache=True)`` without the Python and C entry points, called at run time
internal: Any = separate(cache=True)
#: the same, but linked into its callers as numba does: for a function the per-event loop calls
#: (``sample_equity``). With it called at run time the loop ran 46-49 M events/s instead of
#: 55-70 M on the bench (interleaved processes), though it is called only once per sample
linked: Any = njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)  # type: ignore[call-overload]
