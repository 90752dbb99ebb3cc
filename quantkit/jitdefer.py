"""Compile callers of a separate function before the function itself (cold start, two cores).

On a cold first backtest everything compiles in one process, one function after the other:
the engine's helpers (order matching, fills, logs: about half the time) and the strategy's
driver. The helpers do not depend on the strategy, so another process can compile them into
numba's on-disk cache while this one compiles the driver (:mod:`quantkit.engine.prefetch`).

numba types a call by compiling the callee first. :func:`expect` declares instead what a
:func:`quantkit.jitlink.separate` function returns for given argument types, so that callers
compile against it before it exists. Their calls go through a *trampoline* published under the
function's symbol: a few instructions that jump through a pointer which is filled in when the
function is loaded. Until then the pointer is empty and the trampoline asks Python to
:func:`resolve` it: wait for whoever compiles it (``wait``), load it from the cache (or compile
it here if it is not there) and publish it. That happens at the function's first call, so a
backtest waits only when its first order needs the helpers, and a caller can never run into an
empty pointer. A function published later goes under its symbol directly: only callers built
before that pay the jump. Cached callers are as with :mod:`quantkit.jitlink` (their hooks load
the function); a deferred function's hook waits for it first.

Only exact argument types are deferred (a caller passing other types compiles the function as
numba does), and not for callers numba links rather than loads (``cfunc``).

Usage::

    expect(match_slot, argtypes, types.none, wait=child.wait)   # before compiling callers
"""

from __future__ import annotations

import ctypes
import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from numba.core.compiler_lock import global_compiler_lock

from quantkit import jitlink

#: the numba status a trampoline returns when the function cannot be had (a Python error)
_RETCODE_EXC = -1
_RESOLVER_TYPE = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_int64)
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(eq=False)
class Deferred:
    """A function and argument types that callers compile against before it is compiled."""

    disp: Any
    argtypes: tuple[Any, ...]
    restype: Any
    name: str  #: its published symbol
    wait: Callable[[], None]  #: returns when whoever compiles it is done (or gave up)
    index: int
    #: the function's address, read by the trampoline (0 until resolved)
    cell: ctypes.c_uint64 = field(default_factory=lambda: ctypes.c_uint64(0))
    key: object = field(default_factory=object)  #: numba's implementation key for its calls
    trampoline: Any = None  #: the library that holds the trampoline (kept alive)
    failure: str | None = None  #: why it cannot be called (its trampoline returns an error)

    @property
    def signature(self) -> Any:
        from numba.core import typing

        return typing.signature(self.restype, *self.argtypes)


_entries: list[Deferred] = []
#: per thread: ``failure``, the exception a trampoline's resolution raised; ``interrupt``, a
#: KeyboardInterrupt that arrived while it waited
_local = threading.local()


def expect(disp: Any, argtypes: tuple[Any, ...], restype: Any, wait: Callable[[], None]) -> bool:
    """Let callers compile against ``disp(*argtypes) -> restype`` before ``disp`` is compiled
    for them; ``wait()`` returns once another process has compiled it into numba's cache (or
    failed: it is then compiled here). False (nothing deferred) when ``disp`` is not a
    :func:`quantkit.jitlink.separate` function, has that overload already, or its overloads
    are not published (see :mod:`quantkit.jitlink`)."""
    with global_compiler_lock:  # one entry and trampoline per overload, also across threads
        return _expect(disp, tuple(argtypes), restype, wait)


def _expect(disp: Any, argtypes: tuple[Any, ...], restype: Any, wait: Callable[[], None]) -> bool:
    deferred = getattr(disp, "_deferred", None)
    if deferred is None or argtypes in disp.overloads or argtypes in deferred:
        return False
    py = disp.py_func
    params = inspect.signature(py).parameters.values()
    if len(params) != len(argtypes) or any(p.kind not in _POSITIONAL for p in params):
        return False  # numba folds defaults and varargs into the types: keep it simple
    desc = SimpleNamespace(
        modname=py.__module__, qualname=py.__qualname__, argtypes=argtypes, restype=restype,
        abi_tags=("deferred",), noalias=False,
        args=tuple(inspect.signature(py).parameters),
    )  # fmt: skip
    name = jitlink.symbol(desc)
    if name is None or not jitlink.findable(disp, desc.modname, desc.qualname):
        return False
    if name in jitlink.published():
        return False
    entry = Deferred(disp, argtypes, restype, name, wait, len(_entries))
    entry.trampoline = _trampoline(entry)
    _entries.append(entry)
    jitlink.add_deferred_hook(name, disp, argtypes, restype)
    impl = jitlink.symbol_call(desc, name)
    disp.targetctx._defns[entry.key].append(impl, impl.signature)
    deferred[argtypes] = entry
    return True


def pending() -> list[Deferred]:
    """The deferred functions not loaded yet."""
    return [e for e in _entries if e.argtypes in e.disp._deferred]


def resolve(entry: Deferred) -> int:
    """Wait for ``entry``'s function, load (or compile) and publish it; its address."""
    if entry.argtypes in entry.disp._deferred:
        entry.wait()
        entry.disp.compile(entry.argtypes)  # publishing fills the cell (jitlink._publish)
    if not entry.cell.value:
        raise jitlink.StaleLink(f"{entry.name} cannot be called: {entry.failure or 'unknown'}")
    return entry.cell.value


def take_failure() -> Exception | None:
    """The exception that made a trampoline fail in this thread since the last call, if any:
    the trampoline returned numba's error status, so its jitted caller raised ``SystemError``;
    this is the cause (a function that no longer compiles, a wrong declared return type...)."""
    failure: Exception | None = getattr(_local, "failure", None)
    _local.failure = None
    return failure


@contextmanager
def interrupts_after() -> Iterator[None]:
    """Run a block of work that calls jitted code (an engine step for every strategy), then
    raise a ``KeyboardInterrupt`` that arrived while a trampoline waited in it
    (:func:`reraise_interrupt`). If the block raises, its exception wins and the interrupt is
    dropped, as is one left from before the block: it cannot surface later, in other work.
    A block inside another one leaves all of that to the outer block.

    Usage: ``with interrupts_after(): for g in groups: g.feed(...)``
    """
    depth = getattr(_local, "depth", 0)
    if depth == 0:
        _local.interrupt = None
    _local.depth = depth + 1
    try:
        yield
    except BaseException:
        if depth == 0:
            _local.interrupt = None
        raise
    finally:
        _local.depth = depth
    if depth == 0:
        reraise_interrupt()


def reraise_interrupt() -> None:
    """Raise the ``KeyboardInterrupt`` (or ``SystemExit``) that arrived in this thread while
    a trampoline waited for the other process, if one did. The function was then compiled here
    and the jitted caller ran to its end: call this once the work that caller was part of is
    complete (every strategy got the event), so that the interrupt leaves consistent state."""
    interrupt: BaseException | None = getattr(_local, "interrupt", None)
    _local.interrupt = None
    if interrupt is not None:
        raise interrupt


@_RESOLVER_TYPE
def _resolver(index: int) -> int:
    """What a trampoline calls when its cell is empty: the address (0 when it failed; the
    trampoline then returns numba's error status and the caller raises, see
    :func:`take_failure`)."""
    entry = _entries[index]
    try:
        return resolve(entry)
    except Exception as exc:  # nothing may escape into the jitted caller
        entry.failure = entry.failure or f"{type(exc).__name__}: {exc}"
        _local.failure = exc
        return 0
    except BaseException as exc:  # Ctrl-C while waiting: the caller's event must still finish
        _local.interrupt = exc  # (a live strategy's order would otherwise be left half sent)
        try:
            entry.disp.compile(entry.argtypes)  # here, not waiting for the other process
        except BaseException:  # interrupted again: give up (the caller raises SystemError)
            return 0
        return entry.cell.value


def _trampoline(entry: Deferred) -> Any:
    """Build and publish, under the entry's symbol, a function of the callee's calling
    convention that jumps through the entry's cell (resolving it on the first call)."""
    from llvmlite import binding as ll
    from llvmlite import ir

    ctx = entry.disp.targetctx
    fnty = ctx.call_conv.get_function_type(entry.restype, entry.argtypes)
    i64 = ir.IntType(64)
    library = ctx.codegen().create_library(f"trampoline.{entry.name}")
    module = library.create_ir_module(f"trampoline.{entry.name}")
    fn = ir.Function(module, fnty, name=f"{entry.name}.trampoline")
    attributes = getattr(ctx, "apply_target_attributes", None)  # numba >= 0.61
    if attributes is not None:
        attributes(fn, entry.argtypes, entry.restype)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    cell = b.inttoptr(ir.Constant(i64, ctypes.addressof(entry.cell)), i64.as_pointer())
    address = b.load(cell)
    ready, missing, failed = (fn.append_basic_block(n) for n in ("ready", "missing", "failed"))
    b.cbranch(b.icmp_unsigned("!=", address, i64(0)), ready, missing)
    b.position_at_end(missing)
    resolver_ty = ir.FunctionType(i64, [i64])
    resolver = b.inttoptr(
        i64(ctypes.cast(_resolver, ctypes.c_void_p).value), resolver_ty.as_pointer()
    )
    loaded = b.call(resolver, [i64(entry.index)])
    b.cbranch(b.icmp_unsigned("!=", loaded, i64(0)), ready, failed)
    b.position_at_end(failed)
    b.ret(ir.Constant(fnty.return_type, _RETCODE_EXC))
    b.position_at_end(ready)
    target = b.phi(i64)
    target.add_incoming(address, fn.entry_basic_block)
    target.add_incoming(loaded, missing)
    callee = b.inttoptr(target, fnty.as_pointer())
    b.ret(b.call(callee, list(fn.args)))
    library.add_ir_module(module)
    library.finalize()
    ll.add_symbol(entry.name, library.get_pointer_to_function(fn.name))
    return library
