"""A memo of numba's function-type resolution within one compilation (cuts cold compile time).

While numba compiles one function it resolves the same call again and again: type inference
re-runs every call constraint on each pass over the function until the types settle, and lowering
resolves each operator and ``getitem`` once more. Each resolution tries every typing template of
the function in turn (``operator.add`` has dozens: NumPy ufunc rules, ``@overload``s for lists,
sets, strings, datetimes...), about a millisecond each. The cold first backtest of the bench asks
for about 1,350 resolutions (1,550 on the bundled sample); with the memo numba makes 270-300 of
them.

:func:`install` wraps ``numba.core.types.functions.BaseFunction.get_call_type`` (the resolution
of global functions and operators) with a memo kept per compilation in flight: numba gives each
compilation its own copy of the compile flags (the top of ``ConfigStack``, one level per nested
compilation), and each memo belongs to one of them. The key is the function type, the typing
context, the target and the argument types. Two pieces of numba state need care:

* numba records the implementation it chose for a signature on the function type
  (``_impl_keys``), shared by every compilation, and lowering reads it there. A callee compiled
  with other flags (``error_model``, ``fastmath``) while its caller is typed overwrites the
  record of an ``@overload`` with its own build; numba's repeated resolutions would write the
  caller's back. So a memo hit writes back the record the caller's resolution made.
* ``@overload``s that numba inlines keep the typed code to inline on the template, also shared.
  A resolution that such a template made (``bool(None)``, say) is not memoised.

Calls with keyword arguments, unhashable argument types and failing resolutions are not
memoised. The compiled code is the same as without the memo (checked on the engine's LLVM IR and
its result tables, and with numba's own test modules for typing, overloads, literals, inlining
and target extensions).

It is installed by ``import quantkit`` for the whole process (it also speeds up the compilation
of user kernels) when numba is a version it was checked with (0.60 to 0.69) and has what it
wraps; ``QUANTKIT_NUMBA_MEMO=0`` turns it off.

Usage: ``install()`` (done by ``import quantkit``); ``installed()`` says whether it is active,
``stats()`` how many resolutions it served and how many it passed on to numba.
"""

from __future__ import annotations

import os
import threading
from typing import Any

#: the numba versions (major, minor) whose internals this was checked against: [low, high)
_NUMBA_VERSIONS = ((0, 60), (0, 70))
_ORIGINAL = "_quantkit_unmemoised"
_counts = {"served": 0, "resolved": 0}
#: per thread: {depth of the compilation in ConfigStack: (its flags, {key: (sig, impl key)})}
_local = threading.local()
#: the templates of a function type that are @overloads numba inlines
_inline_templates: dict[Any, list[Any]] = {}


def install() -> bool:
    """Install the memo (once); False when it is turned off or numba is not a version (or
    lacks the functions) it was checked with."""
    if os.environ.get("QUANTKIT_NUMBA_MEMO", "1") == "0":
        return False
    try:
        from numba.core.target_extension import get_local_target
        from numba.core.targetconfig import ConfigStack
        from numba.core.types.functions import BaseFunction
    except ImportError:
        return False
    if not checked_numba():
        return False
    resolve = getattr(BaseFunction, "get_call_type", None)
    if resolve is None or not hasattr(ConfigStack, "top_or_none"):
        return False
    if hasattr(resolve, _ORIGINAL):
        return True

    def get_call_type(self: Any, context: Any, args: Any, kws: Any) -> Any:
        impl_keys = getattr(self, "_impl_keys", None)
        stack = ConfigStack()
        depth = len(stack)
        if kws or not depth or not isinstance(impl_keys, dict):
            return resolve(self, context, args, kws)
        memo = _memo_of(depth, stack.top())
        key = (self, context, get_local_target(context), args)
        try:
            hit = memo.get(key)
        except TypeError:  # an unhashable argument type
            return resolve(self, context, args, kws)
        if hit is not None:
            sig, impl_key = hit
            impl_keys[sig.args] = impl_key  # what a nested compilation may have overwritten
            _counts["served"] += 1
            return sig
        _counts["resolved"] += 1
        sig = resolve(self, context, args, kws)
        if sig.args in impl_keys and not _inlined(self, sig.args):
            memo[key] = (sig, impl_keys[sig.args])
        return sig

    get_call_type.__doc__ = resolve.__doc__
    setattr(get_call_type, _ORIGINAL, resolve)
    BaseFunction.get_call_type = get_call_type  # type: ignore[method-assign]
    return True


def _memo_of(depth: int, flags: Any) -> dict[Any, Any]:
    """The memo of the compilation at ``depth`` (its flags object), dropping the memos of
    compilations that have finished (deeper ones, or an earlier one at this depth)."""
    memos: dict[int, tuple[Any, dict[Any, Any]]] | None = getattr(_local, "memos", None)
    if memos is None:
        memos = _local.memos = {}
    for d in [d for d in memos if d > depth]:
        del memos[d]
    entry = memos.get(depth)
    if entry is None or entry[0] is not flags:  # another compilation at this depth
        entry = memos[depth] = (flags, {})
    return entry[1]


def _inlined(fn: Any, args: Any) -> bool:
    """Whether an ``@overload`` that numba inlines typed ``fn`` for ``args`` (it keeps the
    typed code on the template, shared by compilations)."""
    templates = _inline_templates.get(fn)
    if templates is None:
        templates = _inline_templates[fn] = [
            t
            for t in getattr(fn, "templates", ())
            if getattr(getattr(t, "_inline", None), "is_never_inline", True) is False
        ]
    return any(args in getattr(t, "_inline_overloads", {}) for t in templates)


def checked_numba() -> bool:
    """Whether the installed numba is a version the memo was checked with."""
    import numba

    version = tuple(int(p) for p in numba.__version__.split(".")[:2] if p.isdigit())
    return _NUMBA_VERSIONS[0] <= version < _NUMBA_VERSIONS[1]


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
