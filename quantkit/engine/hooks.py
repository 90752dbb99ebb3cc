"""Default hooks, and the inlined copy of a hook that the driver's per-event loop calls.

Usage: ``Strategy(..., on_fill=None)`` binds :func:`noop`; the generated driver calls
``inlined(on_quote)`` in its fast loop.
"""

from typing import Any

from numba import njit

#: target options that inlining into the driver keeps as they are
_PLAIN_OPTIONS = frozenset({"nopython", "nogil", "boundscheck"})


@njit(cache=True)
def noop(ctx, p, s):
    """Do nothing (the default ``on_fill`` / ``on_start``)."""
    return None


def inlined(hook: Any) -> Any:
    """The same hook compiled to be inlined by numba into its caller, or ``hook`` itself.

    Inlined, the hook costs no call per event and the loop keeps its registers; the code is
    the same Python function compiled with the same options, so it computes the same results.
    Hooks compiled with options of their own (fastmath, error_model, boundscheck...), and
    closures, stay a call.
    """
    py = getattr(hook, "py_func", None)
    options = getattr(hook, "targetoptions", None)
    if py is None or options is None or getattr(py, "__closure__", None):
        return hook
    if set(options) - _PLAIN_OPTIONS or options.get("boundscheck"):
        return hook
    return njit(inline="always")(py)
