"""Compile the engine's helpers in a second process while this one compiles the driver.

A cold first backtest (empty numba cache) compiles the order-matching helpers
(``quantkit.engine.matching``: about half of its compile time) and the strategy's driver, one
after the other, in one process. The helpers do not depend on the strategy. :func:`prefetch`
starts a Python process that compiles them into numba's on-disk cache, and declares their
signatures to :mod:`quantkit.jitdefer` so that the driver compiles against them meanwhile, on
the other core. The first order of the run waits for that process (if it is still going) and
loads the helpers from the cache; when it failed, they compile here as before.

The process imports only numba and the engine's jitted modules: the packages' ``__init__``
files (polars, pyarrow, the CLI) are skipped, which saves about 0.6 s of its start.

Nothing happens when the helpers are cached or loaded already, numba's cache is off for them,
:mod:`quantkit.jitlink` is off (``QUANTKIT_NUMBA_LINK=0``), ``QUANTKIT_NUMBA_PREFETCH=0``, this
process may use only one CPU, or it is a worker of a ``multiprocessing`` pool (measured: with
one CPU the cold call took 6.2-6.7 s against 4.6-5.6 s without; two pool workers each with
their own second process were slower too).

Usage (the Engine does it before compiling drivers)::

    prefetch()
"""

from __future__ import annotations

import atexit
import math
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: seconds the first order waits for the process before compiling the helpers itself
WAIT_S = 120.0

#: the process's code: stub every package of quantkit (no __init__ runs), then compile
_CHILD = """\
import sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # not the working directory's files
import os, types
package = sys.argv[1]
for root, _dirs, files in os.walk(package):
    if "__init__.py" in files:
        name = os.path.relpath(root, os.path.dirname(package)).replace(os.sep, ".")
        stub = types.ModuleType(name)
        stub.__path__ = [root]
        sys.modules[name] = stub
from quantkit.engine.prefetch import compile_helpers
sys.exit(compile_helpers())
"""


class _Child:
    """The compiling process (at most one per process)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.returncode: int | None = None
        #: waits for the process and reaps it as soon as it exits (no zombie); waiting for the
        #: process is joining this thread (Popen.wait from a second thread polls every 50 ms)
        self.reaper = threading.Thread(target=proc.wait, name="quantkit-prefetch", daemon=True)
        self.reaper.start()

    def wait(self) -> None:
        """Return when the process has exited (stopping it after :data:`WAIT_S`)."""
        if self.returncode is None:
            self.reaper.join(WAIT_S)
            if self.reaper.is_alive():
                self.stop()
            self.returncode = self.proc.returncode

    def stop(self) -> None:
        """Stop the process if it still runs: it finishes the function it is compiling (numba
        writes a cache entry as two files, index first: killed between them, the index would
        point at another version's code), killed only if that takes more than 10 s."""
        if self.reaper.is_alive():
            self.proc.terminate()
            self.reaper.join(10.0)
            if self.reaper.is_alive():
                self.proc.kill()
                self.reaper.join()
        self.returncode = self.proc.returncode


_child: _Child | None = None
_lock = threading.Lock()


def helper_signatures() -> list[tuple[Any, tuple[Any, ...]]]:
    """The helpers the drivers call, with the argument types they call them with."""
    from numba import typeof, types

    from quantkit.engine import matching
    from quantkit.engine.layout import CTX_DTYPE, FILL_LOG_DTYPE, ORDER_LOG_DTYPE

    ctx = typeof(np.zeros(1, CTX_DTYPE)).dtype
    olog = typeof(np.zeros(1, ORDER_LOG_DTYPE))
    flog = typeof(np.zeros(1, FILL_LOG_DTYPE))
    counters = typeof(np.zeros(1, np.int64))
    i, f = types.int64, types.float64
    return [
        (matching.match_slot, (ctx, i, i, f, f, olog, flog, counters)),
        (matching.accept_orders, (ctx, i, i, i, olog, counters)),
        (matching.record_fill, (ctx, i, i, i, i, f, f, f, i, flog, counters)),
        (matching.close_open, (ctx, i, i, i, i, olog, counters)),
    ]


def compile_helpers() -> int:
    """Compile every helper into numba's cache (what the process runs); its exit status."""
    from quantkit.jitlink import install as install_link
    from quantkit.jitmemo import install as install_memo

    stop = []
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the process that started it
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))  # stop between functions
    install_memo()
    install_link()
    for disp, argtypes in helper_signatures():
        if stop:
            return 0
        disp.compile(argtypes)
    return 0


def prefetch(callers: Sequence[Any] = ()) -> bool:
    """Start compiling the helpers in another process if they need compiling (once per
    process); True if it started. Not when every one of ``callers`` (the drivers' entry
    points about to run) has machine code in numba's cache: their hooks would need the
    helpers at once, and compiling here is then faster than waiting for a new process."""
    global _child
    from numba import types

    from quantkit import jitdefer

    with _lock:  # backtests started in several threads at once start one process
        if _child is not None or not _worth_it():
            return False
        if callers and all(has_cache_entries(c) for c in callers):
            return False
        todo = [(d, a) for d, a in helper_signatures() if _needs_compiling(d, a)]
        if not todo:
            return False
        try:
            proc = _start()
        except OSError:  # no process to be had: everything compiles here, as without
            return False
        _child = child = _Child(proc)
        atexit.register(child.stop)
        for disp, argtypes in todo:
            jitdefer.expect(disp, argtypes, types.none, child.wait)
        return True


def _worth_it() -> bool:
    """Whether a second process can help: it is on, there is a second CPU for it, and this
    is not a worker of a process pool (each worker would start one, and the pool's other
    workers want the CPUs)."""
    import multiprocessing

    from quantkit import jitlink

    if os.environ.get("QUANTKIT_NUMBA_PREFETCH", "1") == "0" or not jitlink.enabled():
        return False
    if not sys.executable or multiprocessing.parent_process() is not None:
        return False
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity is not None else os.cpu_count() or 1
    return min(cpus, _cgroup_cpus()) >= 2


#: where cgroups are mounted, and the file of the process's own cgroups
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def _cgroup_cpus() -> float:
    """CPUs the cgroup quotas of this process allow (inf without a quota: CPU affinity does
    not show one): the smallest over its cgroup and their parents, v2 (``cpu.max``: "quota
    period" or "max period") and v1 (``cpu.cfs_quota_us``, -1 for none, and ``..._period_us``)."""
    found = [math.inf]
    for directory in _cgroup_dirs():
        parts = _read(directory / "cpu.max").split()
        if len(parts) < 2:
            parts = [_read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")]
        try:
            quota, period = float(parts[0]), float(parts[1])
        except ValueError:  # "max", or no such file: no quota here
            continue
        if quota > 0 and period > 0:
            found.append(quota / period)
    return min(found)


def _cgroup_dirs() -> list[Path]:
    """The directories of this process's cgroups (v2, and v1's cpu controller) and of their
    parents up to the mount point, as ``/proc/self/cgroup`` names them."""
    dirs = [CGROUP_ROOT, CGROUP_ROOT / "cpu"]  # also when /proc/self/cgroup cannot be read
    for line in _read(PROC_CGROUP).splitlines():
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        if controllers == "":  # v2
            mounts = [CGROUP_ROOT, CGROUP_ROOT / "unified"]
        elif "cpu" in controllers.split(","):
            mounts = [CGROUP_ROOT / controllers, CGROUP_ROOT / "cpu"]
        else:
            continue
        rel = Path(path.lstrip("/"))
        for mount in mounts:
            dirs.extend(mount / p for p in (rel, *rel.parents))
    return dirs


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def has_cache_entries(disp: Any) -> bool:
    """Whether numba's cache holds machine code of ``disp`` (for any signature)."""
    return bool(_cache_index(disp))


def _cache_index(disp: Any) -> dict[Any, Any] | None:
    """numba's on-disk cache index of ``disp`` (key -> data file; empty when nothing is
    cached), or None when it has no cache another process can fill, or numba's internals
    changed."""
    from numba.core.caching import FunctionCache

    cache = getattr(disp, "_cache", None)
    if not isinstance(cache, FunctionCache):
        return None
    try:
        return dict(cache._cache_file._load_index())
    except Exception:
        return None


def child_status() -> int | None:
    """The exit status of this process's compiling process (None: none, or still running)."""
    return None if _child is None else _child.proc.poll()


def _start() -> subprocess.Popen[bytes]:
    # the path as imported, symlinks and all: numba names cache directories after it
    package = Path(os.path.abspath(__file__)).parents[1]
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(package)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _needs_compiling(disp: Any, argtypes: tuple[Any, ...]) -> bool:
    """Whether ``disp`` is neither compiled for ``argtypes`` here nor in numba's cache (and
    has a cache another process can fill)."""
    if argtypes in disp.overloads:
        return False
    index = _cache_index(disp)
    if index is None:
        return False
    try:
        return disp._cache._index_key(argtypes, disp.targetctx.codegen()) not in index
    except Exception:  # numba's internals changed: do not prefetch
        return False
