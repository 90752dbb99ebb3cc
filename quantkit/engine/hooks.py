"""Default hooks for strategies that do not define ``on_fill`` or ``on_start``.

Usage: ``Strategy(..., on_fill=None)`` binds :func:`noop`.
"""

from numba import njit


@njit(cache=True)
def noop(ctx, p, s):
    """Do nothing (the default ``on_fill`` / ``on_start``)."""
    return None
