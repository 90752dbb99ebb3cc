"""Jitted functions that their callers call at run time instead of linking in a copy (cold compile).

numba links the machine code of every jitted function a function calls into that function's own
library: LLVM optimises and generates the callee again, once per library that reaches it. The
engine's order-matching helpers sit under several such functions, so on a cold first backtest
LLVM spent about 40 % of its time on copies (the driver's library holds every helper: 2,800 lines
of IR where its own code is 1,200).

:func:`separate` compiles a function like ``@njit`` without its Python and C entry points (it is
only called from jitted code) and makes callers call its one compiled copy instead. Each
compiled signature is *published* under a symbol of its own (:func:`symbol`: the same in every
process for the same function, signature and compile flags), and callers declare that symbol and
leave it to LLVM's JIT linker, as numba does for its C helpers. LLVM no longer inlines these
functions into their callers, nor sees their code while optimising a caller: use it for
out-of-line paths (the engine's orders, fills and logs). A function a hot loop calls, even
rarely, can slow the loop down (``quantkit.engine.jit.linked``).

An overload is published only when it can be found again by name in a new process: its module
is imported and is not the running script (``__main__``), ``module.qualname`` is this dispatcher
(not a closure, a factory's product or a redefined function), its types print unambiguously and
no other overload holds the symbol. Otherwise its callers link it in, as numba does. So do
callers that numba builds without loading them (``cfunc``, ahead-of-time compilation): they link
their direct callee in. (An AOT-compiled module whose callee calls another separate function
does not import: numba's deprecated ``pycc`` is not supported.)

A caller may also be compiled before its callee, against a declared signature
(:mod:`quantkit.jitdefer`): it then calls a symbol of its own (the callee's flags, part of the
callee's symbol, are not known yet), which its hooks publish in later processes.

numba's on-disk cache keeps a caller's machine code with the symbols unresolved. Before numba
loads it, the caller's ``reload_init`` hooks load (or compile) each function it declares and
publish it; the hooks are attached to every library whose code declares a published symbol, also
when it got there through a plain ``@njit`` function linked in. When a hook cannot publish the
symbol the caller was compiled against (the callee's return type or flags changed, its module no
longer has it), the cached caller counts as a cache miss and is compiled again: a stale cache
never reaches LLVM's linker, which would abort the process.

:func:`install` (done by ``import quantkit``) puts three wrappers into numba: one attaches the
hooks when a library is finalised, one makes a stale cached caller a miss, and one keeps the
hooks of a ``cfunc`` in what numba caches (numba copies them only for code it loads). Only for
numba versions this was checked with (as :mod:`quantkit.jitmemo`), so that caches written with
:func:`separate` load whatever ``QUANTKIT_NUMBA_LINK`` says. With ``QUANTKIT_NUMBA_LINK=0``, or
another numba, :func:`separate` is plain ``@njit`` and callers link copies.

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
_OPTIONS = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}
_PREFIX = "quantkit."
#: symbol -> (dispatcher, argument types) of the overload published under it (this process)
_published: dict[str, tuple[Any, tuple[Any, ...]]] = {}
#: symbol -> the reload_init hook that publishes it in a new process
_hooks: dict[str, Callable[[], None]] = {}
_ORIGINAL = "_quantkit_unlinked"
#: modules that are whatever script runs (another one in the next process)
_SCRIPTS = ("__main__", "__mp_main__")


class StaleLink(Exception):
    """A cached caller was compiled against a symbol this process cannot publish."""


def enabled() -> bool:
    """Whether :func:`separate` functions are called at run time (else linked into callers)."""
    return os.environ.get("QUANTKIT_NUMBA_LINK", "1") != "0" and checked_numba()


def separate(fn: Callable[..., Any] | None = None, *, cache: bool = True) -> Any:
    """Decorator: compile ``fn`` for calls from jitted code only, called at run time by its
    callers rather than linked into them (see the module docstring). ``cache`` as in ``@njit``."""

    def wrap(py_func: Callable[..., Any]) -> Any:
        install()  # also when off: the caches of separate functions must load
        if not enabled():
            return njit(cache=cache, **_OPTIONS)(py_func)  # type: ignore[call-overload]
        options = {"nopython": True, **_OPTIONS}
        disp = SeparateDispatcher(py_func=py_func, locals={}, targetoptions=options)
        if cache:
            disp.enable_caching()
        return disp

    return wrap if fn is None else wrap(fn)


class SeparateDispatcher(CPUDispatcher):
    """A CPU dispatcher whose compiled overloads callers call by symbol (no linking)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: argument types -> quantkit.jitdefer.Deferred: callers compile against a declared
        #: signature before the overload is compiled
        self._deferred: dict[tuple[Any, ...], Any] = {}

    def add_overload(self, cres: Any) -> None:
        super().add_overload(cres)
        name = None if cres.objectmode else _publishable(self, cres)
        if name is not None:  # else callers link it in, as numba does
            _publish(self, cres, name)
            _replace_call(self, cres, name)

    def get_call_template(self, args: Any, kws: Any) -> Any:
        """numba's, but a deferred signature (:mod:`quantkit.jitdefer`) types the call
        without compiling, unless the caller links its callees in (``cfunc``)."""
        entry = self._deferred.get(tuple(args)) if self._deferred and not kws else None
        if entry is None or tuple(args) in self.overloads or _linking_caller():
            return super().get_call_template(args, kws)
        from numba.core import typing

        name = self.py_func.__name__
        signatures = [*self.nopython_signatures, entry.signature]
        template = typing.make_concrete_template(f"CallTemplate({name})", name, signatures)
        pysig = self._compiler.fold_argument_types(args, kws)[0]  # type: ignore[attr-defined]
        return template, pysig, tuple(args), {}

    def get_overload(self, sig: Any) -> Any:
        """numba's, or the implementation key of a deferred signature not compiled yet."""
        args = tuple(getattr(sig, "args", sig))
        entry = self._deferred.get(args)
        if entry is not None and args not in self.overloads:
            return entry.key
        return super().get_overload(sig)


def _linking_caller() -> bool:
    """Whether the function being compiled links its callees in (``cfunc``, AOT)."""
    from numba.core.targetconfig import ConfigStack

    flags = ConfigStack().top_or_none()
    return flags is None or bool(flags.no_compile)


def symbol(fndesc: Any) -> str | None:
    """The name an overload is published under: the same in every process for the same function
    (module and name), argument and return types and compile flags (numba's mangled names
    number record types in the order a process creates them). Not where the module's file is:
    two installs of the same code share the caches of generated drivers. None when a type has
    no stable text (an address)."""
    types = [str(t) for t in fndesc.argtypes]
    text = repr((fndesc.modname, fndesc.qualname, types, str(fndesc.restype),
                 list(fndesc.abi_tags)))  # fmt: skip
    if " at 0x" in text:
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return f"{_PREFIX}{fndesc.modname}.{fndesc.qualname}.{digest}"


def symbol_of(disp: Any, argtypes: tuple[Any, ...]) -> str | None:
    """:func:`symbol` of the dispatcher's overload for ``argtypes`` (compiled)."""
    return symbol(disp.overloads[tuple(argtypes)].fndesc)


def _lookup(module: str, qualname: str) -> Any:
    obj: Any = sys.modules.get(module) or importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def findable(disp: Any, module: str, qualname: str) -> bool:
    """Whether a new process finds ``disp`` again as ``module.qualname`` (not a closure, a
    script's function or a redefined one)."""
    if "<" in qualname or module in _SCRIPTS or module not in sys.modules:
        return False
    try:
        return _lookup(module, qualname) is disp
    except AttributeError:
        return False


def published() -> dict[str, tuple[Any, tuple[Any, ...]]]:
    """symbol -> (dispatcher, argument types) of every overload published in this process."""
    return dict(_published)


def _publishable(disp: Any, cres: Any) -> str | None:
    """The overload's symbol if it can be published (see the module docstring), else None."""
    fndesc = cres.fndesc
    name = symbol(fndesc)
    if name is None or not findable(disp, fndesc.modname, fndesc.qualname):
        return None
    holder = _published.get(name)
    if holder is not None and (holder[0] is not disp or holder[1] != tuple(fndesc.argtypes)):
        return None  # another function or overload whose types print the same
    return name


def _publish(disp: Any, cres: Any, name: str) -> None:
    """Make the overload's machine code resolvable under ``name`` by LLVM's linker."""
    from llvmlite import binding as ll

    fndesc = cres.fndesc
    argtypes = tuple(fndesc.argtypes)
    address = cres.library.get_pointer_to_function(fndesc.llvm_func_name)
    ll.add_symbol(name, address)
    _published[name] = (disp, argtypes)
    add_hook(name, disp, argtypes)
    deferred = getattr(disp, "_deferred", {})
    entry = deferred.get(argtypes)
    if entry is not None:  # callers built before it call through its trampoline's cell
        if entry.restype == fndesc.restype:
            entry.cell.value = address  # (before it leaves _deferred: see jitdefer.resolve)
        else:  # they would read a return value of another type: their call fails instead
            entry.failure = f"it returns {fndesc.restype}, not {entry.restype} as declared"
        deferred.pop(argtypes, None)


def add_hook(name: str, disp: Any, argtypes: tuple[Any, ...]) -> None:
    """Record the ``reload_init`` hook that publishes ``disp``'s overload for ``argtypes`` as
    ``name`` in a new process (attached to the libraries that declare ``name``)."""
    py = disp.py_func
    _hooks[name] = functools.partial(load, py.__module__, py.__qualname__, argtypes, name)
    # (the hook's arguments are its format: load() takes any, and a cache entry whose hook has
    # another format, from another quantkit version, is a cache miss)


def _replace_call(disp: Any, cres: Any, name: str) -> None:
    """Make callers call ``cres`` through its published symbol instead of linking it in."""
    from numba.core.imputils import user_function

    impl = symbol_call(cres.fndesc, name, user_function(cres.fndesc, [cres.library]))
    ctx = disp.targetctx
    ctx.remove_user_function(cres.entry_point)
    ctx._defns[cres.entry_point].append(impl, impl.signature)


def symbol_call(fndesc: Any, name: str, linked: Any = None) -> Any:
    """numba's lowering of a call to a compiled function (``numba.core.imputils.user_function``),
    with the callee declared under its published symbol and no library linked in. ``fndesc``
    needs ``restype``, ``argtypes`` and ``args`` (names). A caller that numba builds without
    loading it (``cfunc``, ahead-of-time compilation) never gets the hooks that would publish
    the symbol in the process that runs it: it links the callee in (``linked``, numba's
    lowering of the call; deferred functions are never called from such a caller)."""
    from numba.core import cgutils
    from numba.core.imputils import fix_returning_optional, impl_ret_new_ref

    def imp(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        if _linking_caller():
            if linked is None:
                raise StaleLink(f"{name} is not compiled: it cannot be linked in")
            context.add_linking_libs(linked.libs)
            return linked(context, builder, sig, args)
        conv = context.call_conv
        fnty = conv.get_function_type(fndesc.restype, fndesc.argtypes)
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)
        target_attributes = getattr(context, "apply_target_attributes", None)  # numba >= 0.61
        if target_attributes is not None:
            target_attributes(fn, fndesc.argtypes, fndesc.restype)  # s390x: sign extension
        conv.decorate_function(fn, fndesc.args, fndesc.argtypes, noalias=fndesc.noalias)
        status, retval = conv.call_function(builder, fn, fndesc.restype, fndesc.argtypes, args)
        with cgutils.if_unlikely(builder, status.is_error):
            conv.return_status_propagate(builder, status)
        retval = fix_returning_optional(context, builder, sig, status, retval)
        return impl_ret_new_ref(context, builder, fndesc.restype, retval)

    imp.signature = fndesc.argtypes  # type: ignore[attr-defined]
    imp.libs = ()  # type: ignore[attr-defined]
    return imp


def load(*key: Any) -> None:
    """``load(module, qualname, argtypes, expected)``: load (from numba's cache) or compile
    ``module.qualname`` for ``argtypes`` and publish it as ``expected``. The ``reload_init`` hook
    of a cached caller, run before numba loads the caller's machine code. Raises
    :class:`StaleLink` when that is not possible, or the hook has another format.

    ``load(module, qualname, argtypes, name, restype)``: the hook of a caller compiled against
    a deferred signature (:mod:`quantkit.jitdefer`): load the function the same way, check
    that it returns ``restype`` (as text) and publish it as ``name`` too. (Versions of
    ``load`` before this form existed reject it: a cache miss, not an error.)"""
    if len(key) == 5:
        _load_deferred(*key)
        return
    if len(key) != 4:
        raise StaleLink(f"a cached caller's hook of another format: {key!r}")
    module, qualname, argtypes, expected = key
    disp, cres = _compiled(module, qualname, argtypes)
    holder = _published.get(expected)
    if symbol(cres.fndesc) != expected or holder not in (None, (disp, argtypes)):
        raise StaleLink(f"{module}.{qualname}{argtypes} no longer compiles to {expected}")
    if holder is None:  # a plain dispatcher (QUANTKIT_NUMBA_LINK=0) publishes here
        _publish(disp, cres, expected)


def _compiled(module: str, qualname: str, argtypes: Any) -> tuple[Any, Any]:
    """``module.qualname`` and its overload for ``argtypes``, loaded from numba's cache (after
    the process compiling it there, if it is deferred) or compiled; :class:`StaleLink` if the
    function is gone, renamed or no longer compiles (its cached callers are stale)."""
    try:
        disp = _lookup(module, qualname)
        entry = getattr(disp, "_deferred", {}).get(argtypes)
        if entry is not None:  # another process is compiling it into the cache
            entry.wait()
        disp.compile(argtypes)
        return disp, disp.overloads[argtypes]
    except StaleLink:
        raise
    except Exception as exc:
        raise StaleLink(f"{module}.{qualname}{argtypes}: {exc}") from exc


def add_deferred_hook(name: str, disp: Any, argtypes: tuple[Any, ...], restype: Any) -> None:
    """Record the hook that publishes ``disp``'s overload for ``argtypes`` as ``name``, the
    symbol of a deferred signature (:mod:`quantkit.jitdefer`): callers compiled against it
    did not know the flags the function compiles with, which its own symbol holds."""
    py = disp.py_func
    key = (py.__module__, py.__qualname__, argtypes, name, str(restype))
    _hooks[name] = functools.partial(load, *key)


def _load_deferred(module: str, qualname: str, argtypes: Any, name: str, restype: str) -> None:
    """:func:`load` of a deferred signature's symbol ``name``."""
    disp, cres = _compiled(module, qualname, argtypes)
    if str(cres.fndesc.restype) != restype:
        raise StaleLink(f"{module}.{qualname}{argtypes} now returns {cres.fndesc.restype}")
    holder = _published.get(name)
    if holder is None:
        from llvmlite import binding as ll

        ll.add_symbol(name, cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name))
        _published[name] = (disp, argtypes)
        _hooks[name] = functools.partial(load, module, qualname, argtypes, name, restype)
    elif holder != (disp, argtypes):
        raise StaleLink(f"{name} is published for another function")


def _attach_hooks(library: Any) -> None:
    """Give ``library`` the hooks of every published symbol its code declares (before numba
    copies its ``reload_init`` into the compile result that goes to the cache)."""
    for fn in library._final_module.functions:
        if fn.is_declaration and fn.name.startswith(_PREFIX):
            hook = _hooks.get(fn.name)
            if hook is None:  # LLVM would abort on it
                raise StaleLink(f"{library.name} declares {fn.name}, which is not published")
            library._reload_init.add(hook)


def install() -> bool:
    """Put the hooks into numba (once); False on a numba this was not checked with."""
    if not checked_numba():
        return False
    from numba.core import caching, codegen, compiler

    def reduce_with_hooks(reduce: Any) -> Callable[..., Any]:
        def wrapper(self: Any) -> Any:
            # numba copies the library's hooks into the result only when it loads the code it
            # built; a cfunc's build does not: take the hooks _attach_hooks gave the library
            hooks = getattr(self.library, "_reload_init", ())
            if self.reload_init is not None:
                self.reload_init.extend(h for h in hooks if h not in self.reload_init)
            return reduce(self)

        return wrapper

    def finalize_attaching_hooks(finalize: Any) -> Callable[..., Any]:
        def wrapper(self: Any) -> None:
            _attach_hooks(self)
            finalize(self)

        return wrapper

    def load_unless_stale(load_overload: Any) -> Callable[..., Any]:
        def wrapper(self: Any, sig: Any, target_context: Any) -> Any:
            try:
                return load_overload(self, sig, target_context)
            except StaleLink:
                return None  # a cache miss: numba compiles the caller again

        return wrapper

    _wrap_once(compiler.CompileResult, "_reduce", reduce_with_hooks)
    _wrap_once(codegen.CPUCodeLibrary, "_finalize_final_module", finalize_attaching_hooks)
    _wrap_once(caching.Cache, "load_overload", load_unless_stale)
    return True


def _wrap_once(owner: Any, name: str, make: Callable[[Any], Callable[..., Any]]) -> None:
    """Replace method ``owner.name`` by ``make(original)``, unless it is wrapped already."""
    original = getattr(owner, name)
    if hasattr(original, _ORIGINAL):
        return
    wrapper = functools.wraps(original)(make(original))
    setattr(wrapper, _ORIGINAL, original)
    setattr(owner, name, wrapper)


def installed() -> bool:
    """Whether numba has the hooks (:func:`install`) in this process."""
    from numba.core import caching

    return hasattr(caching.Cache.load_overload, _ORIGINAL)
