"""A memo of numba's function-type resolution within one compilation (cuts cold compile time).

While numba compiles one function it resolves the same call again and again: type inference
re-runs every call constraint on each pass over the function until the types settle, and lowering
resolves each operator and ``getitem`` once more. Each resolution tries every typing template of
the function in turn (``operator.add`` has dozens: NumPy ufunc rules, ``@overload``s for lists,
sets, strings, datetimes...), so it costs about a millisecond. Compiling the backtest engine cold
resolves ~1,350 calls, ~1,200 of them repeats, which is a tenth of the first call.

:func:`install` wraps ``numba.core.types.functions.BaseFunction.get_call_type`` (the resolution
of global functions and operators) with a memo keyed by the function type, the typing context and
the argument types, kept per compilation: numba gives each compilation its own copy of the
compile flags (the top of ``ConfigStack``), and the memo belongs to that object. A resolution is
a pure function of those inputs within one compilation; across compilations the flags may differ
(``fastmath``, ``error_model``) and ``@overload`` templates compile per flags, so nothing is
shared across compilations. Calls with keyword arguments and failing resolutions are not
memoised.

It is installed by ``import quantkit`` for the whole process (it also speeds up the compilation
of user kernels) when numba has the function it wraps; ``QUANTKIT_NUMBA_MEMO=0`` turns it off.

Usage: ``install()`` (done by ``import quantkit``); ``installed()`` says whether it is active,
``stats()`` how many resolutions it served and how many it passed on to numba.
"""

from __future__ import annotations

import os
from typing import Any

#: memos of the compilations in flight, by ``id`` of their flags: ``(flags, {key: signature})``
#: (the flags are kept so that the id cannot be reused while the entry exists)
_memos: dict[int, tuple[Any, dict[Any, Any]]] = {}
#: compilations nest (a callee compiles while its caller is typed); older entries are dropped
_MAX_ENTRIES = 64
_ORIGINAL = "_quantkit_unmemoised"
_counts = {"served": 0, "resolved": 0}


def install() -> bool:
    """Install the memo (once); False when it is turned off or numba lacks what it wraps."""
    if os.environ.get("QUANTKIT_NUMBA_MEMO", "1") == "0":
        return False
    try:
        from numba.core.targetconfig import ConfigStack
        from numba.core.types.functions import BaseFunction
    except ImportError:
        return False
    resolve = getattr(BaseFunction, "get_call_type", None)
    if resolve is None or not hasattr(ConfigStack, "top_or_none"):
        return False
    if hasattr(resolve, _ORIGINAL):
        return True

    def get_call_type(self: Any, context: Any, args: Any, kws: Any) -> Any:
        flags = ConfigStack.top_or_none()
        if kws or flags is None:
            return resolve(self, context, args, kws)
        entry = _memos.get(id(flags))
        if entry is None or entry[0] is not flags:
            if len(_memos) >= _MAX_ENTRIES:
                _memos.clear()
            entry = _memos[id(flags)] = (flags, {})
        memo = entry[1]
        key = (self, context, args)
        try:
            sig = memo[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable argument type
            return resolve(self, context, args, kws)
        else:
            _counts["served"] += 1
            return sig
        _counts["resolved"] += 1
        sig = memo[key] = resolve(self, context, args, kws)
        return sig

    get_call_type.__doc__ = resolve.__doc__
    setattr(get_call_type, _ORIGINAL, resolve)
    BaseFunction.get_call_type = get_call_type  # type: ignore[method-assign]
    return True


def installed() -> bool:
    """Whether numba's function-type resolution is memoised in this process."""
    try:
        from numba.core.types.functions import BaseFunction
    except ImportError:
        return False
    return hasattr(BaseFunction.get_call_type, _ORIGINAL)


def stats() -> dict[str, int]:
    """``served``: resolutions answered from the memo; ``resolved``: those numba made."""
    return dict(_counts)
