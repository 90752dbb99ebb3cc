"""Jitted functions that their callers call at run time instead of linking in a copy (cold compile).

numba links the machine code of every jitted function a function calls into that function's own
library: LLVM optimises and generates the callee again, once per library that reaches it. The
engine's order-matching helpers sit under several such functions, so on a cold first backtest
LLVM spent about 40 % of its time on copies (the driver's library holds every helper: 2,800 lines
of IR where its own code is 1,200).

:func:`separate` compiles a function like ``@njit`` without its Python and C entry points (it is
only called from jitted code) and makes callers call its one compiled copy instead: each
compiled signature is published under a symbol name of its own, derived from the function's
module, name and argument types only (``quantkit.`` + numba's mangled name without its per-process
counter), and callers declare that symbol and leave it to LLVM's JIT linker, as numba does for
its C helpers. LLVM no longer inlines these functions into their callers; they are the engine's
out-of-line paths (orders, fills, logs, equity samples), so warm speed does not change.

numba's on-disk cache keeps a caller's machine code with the symbol unresolved. A caller loaded
from the cache first loads (or compiles) each function it calls, which publishes the symbol:
numba runs the ``reload_init`` hooks of a cached function before loading its machine code, and
every call site adds one for its callee.

Only numba versions this was checked with use it (as :mod:`quantkit.jitmemo`); on others, and
with ``QUANTKIT_NUMBA_LINK=0``, :func:`separate` is plain ``@njit`` and callers link copies.

Usage::

    @separate                       # or @separate(cache=False)
    def close_open(ctx, i, row, event, reason, olog, counters): ...
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from numba import njit
from numba.core.registry import CPUDispatcher

from quantkit.jitmemo import checked_numba

#: compile options of a function only jitted code calls (no Python or C entry points)
_OPTIONS = {"nopython": True, "no_cpython_wrapper": True, "no_cfunc_wrapper": True}


def enabled() -> bool:
    """Whether :func:`separate` functions are called at run time (else linked into callers)."""
    return os.environ.get("QUANTKIT_NUMBA_LINK", "1") != "0" and checked_numba()


def separate(fn: Callable[..., Any] | None = None, *, cache: bool = True) -> Any:
    """Decorator: compile ``fn`` for calls from jitted code only, called at run time by its
    callers rather than linked into them (see the module docstring). ``cache`` as in ``@njit``."""

    def wrap(py_func: Callable[..., Any]) -> Any:
        if not enabled():
            return njit(cache=cache, **_OPTIONS)(py_func)  # type: ignore[call-overload]
        disp = SeparateDispatcher(py_func=py_func, locals={}, targetoptions=dict(_OPTIONS))
        if cache:
            disp.enable_caching()
        return disp

    return wrap if fn is None else wrap(fn)


class SeparateDispatcher(CPUDispatcher):
    """A CPU dispatcher whose compiled overloads callers call by symbol (no linking)."""

    def add_overload(self, cres: Any) -> None:
        super().add_overload(cres)
        if not cres.objectmode:
            name = _publish(cres)
            if name is not None:  # else callers link it in, as numba does
                _replace_call(self, cres, name)


#: symbol -> argument types of the overload published under it (in this process)
_published: dict[str, tuple[Any, ...]] = {}


def symbol(fndesc: Any) -> str | None:
    """The name a compiled overload is published under: the same in every process for the same
    function, argument types and compile flags (numba's mangled names are not: they number
    record types in the order a process creates them). None when the types have no stable text
    (a function's address)."""
    text = repr((fndesc.modname, fndesc.qualname, [str(t) for t in fndesc.argtypes],
                 list(fndesc.abi_tags)))  # fmt: skip
    if " at 0x" in text:
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return f"quantkit.{fndesc.modname}.{fndesc.qualname}.{digest}"


def _publish(cres: Any) -> str | None:
    """Make the overload's machine code resolvable under :func:`symbol` by LLVM's linker;
    returns the symbol, or None when it has none or another overload holds it (then callers
    must link the overload in)."""
    from llvmlite import binding as ll

    name = symbol(cres.fndesc)
    argtypes = tuple(cres.fndesc.argtypes)
    if name is None or _published.setdefault(name, argtypes) != argtypes:
        return None
    ll.add_symbol(name, cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name))
    return name


def _replace_call(disp: Any, cres: Any, name: str) -> None:
    """Make callers call ``cres`` through its published symbol instead of linking it in."""
    fndesc = cres.fndesc
    reload = functools.partial(load, fndesc.modname, fndesc.qualname, tuple(fndesc.argtypes))
    impl = _call_by_symbol(fndesc, name, reload)
    ctx = disp.targetctx
    ctx.remove_user_function(cres.entry_point)
    ctx._defns[cres.entry_point].append(impl, impl.signature)


def _call_by_symbol(fndesc: Any, name: str, reload: Callable[[], None]) -> Any:
    """numba's lowering of a call to a compiled function (``numba.core.imputils.user_function``),
    with the callee declared under its published symbol and no library linked in."""
    from numba.core import cgutils
    from numba.core.imputils import fix_returning_optional, impl_ret_new_ref

    def imp(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        conv = context.call_conv
        fnty = conv.get_function_type(fndesc.restype, fndesc.argtypes)
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)
        conv.decorate_function(fn, fndesc.args, fndesc.argtypes, noalias=fndesc.noalias)
        context.active_code_library._reload_init.add(reload)  # loads the callee first
        status, retval = conv.call_function(builder, fn, fndesc.restype, fndesc.argtypes, args)
        with cgutils.if_unlikely(builder, status.is_error):
            conv.return_status_propagate(builder, status)
        retval = fix_returning_optional(context, builder, sig, status, retval)
        return impl_ret_new_ref(context, builder, fndesc.restype, retval)

    imp.signature = fndesc.argtypes  # type: ignore[attr-defined]
    imp.libs = ()  # type: ignore[attr-defined]
    return imp


def load(module: str, qualname: str, argtypes: tuple[Any, ...]) -> None:
    """Load (from numba's cache) or compile ``module.qualname`` for ``argtypes`` and publish
    it: run before a caller's cached machine code is loaded (a ``reload_init`` hook)."""
    mod = sys.modules.get(module) or importlib.import_module(module)
    disp: Any = mod
    for part in qualname.split("."):
        disp = getattr(disp, part)
    disp.compile(argtypes)
    if _publish(disp.overloads[argtypes]) is None:  # the caller was compiled with its symbol
        raise RuntimeError(f"cannot publish {module}.{qualname} for {argtypes}")
