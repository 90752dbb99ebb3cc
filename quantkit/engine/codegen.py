"""Generate, cache and load the jitted driver module of one strategy.

The driver source (``driver_template.BODY``) is written once per strategy (and engine version) to
``$QUANTKIT_CACHE_DIR`` (default ``~/.cache/quantkit/drivers``) so that numba's ``cache=True`` can
keep the compiled machine code between processes: a warm start loads it instead of compiling.
Hooks defined where they cannot be imported by name (``__main__``, a notebook cell) are bound into
an in-memory module instead; that works the same but compiles in every new process.

Usage::

    drv = driver_for(strategy)      # module with replay_one / replay / start / external_fill
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import numpy as np

from quantkit.engine import driver_template
from quantkit.engine.hooks import noop

#: the package's files whose code every driver compiles in (paths under ``quantkit/``)
_ENGINE_FILES = (
    "driver_template", "events", "matching", "accounting", "layout", "orders", "hooks", "jit",
    "timers",
)  # fmt: skip
_PACKAGE_FILES = (
    *(f"engine/{f}.py" for f in _ENGINE_FILES), "options/black76.py", "jitlink.py", "jitdefer.py",
)  # fmt: skip
#: global values numba freezes into the machine code (an edit to them must compile anew)
_CONSTANT_TYPES = (bool, int, float, complex, str, bytes, tuple, np.generic)
_loaded: dict[str, types.ModuleType] = {}


def cache_dir() -> Path:
    """Where generated drivers (and numba's cache of them) live."""
    env = os.environ.get("QUANTKIT_CACHE_DIR")
    base = Path(env) if env else Path.home() / ".cache" / "quantkit" / "drivers"
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = base / ".probe"
        probe.write_text("")
        probe.unlink()
        return base
    except OSError:
        fallback = Path(tempfile.gettempdir()) / "quantkit-drivers"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def _importable(fn: Any) -> tuple[str, str] | None:
    """(module, name) if ``fn`` can be imported back by name from a real file."""
    mod_name = getattr(fn, "__module__", None)
    name = getattr(fn, "__name__", None)
    if not mod_name or not name or mod_name == "__main__" or "<" in name:
        return None
    mod = sys.modules.get(mod_name)
    if mod is None or getattr(mod, name, None) is not fn or not getattr(mod, "__file__", None):
        return None
    return mod_name, name


def _jitted_deps(fns: list[Any]) -> tuple[list[Any], list[str]]:
    """``fns`` and every jitted function they call, transitively (found by name in their code),
    and the global constants that code reads, as ``name=repr`` lines (sorted).

    numba's cache checks only the file of the function it compiled: a helper edited in another
    module, or a constant imported from one, would leave the driver's cached machine code stale.
    Hashing all of them into the driver's name makes such an edit compile a new driver.
    """
    out: list[Any] = []
    constants: set[str] = set()
    seen: set[int] = set()
    modules: set[int] = set()
    stack = list(fns)
    while stack:
        fn = stack.pop()
        py = getattr(fn, "py_func", fn)
        if not isinstance(py, types.FunctionType) or id(py) in seen:
            continue
        seen.add(id(py))
        out.append(fn)
        names: set[str] = set()
        codes = [py.__code__]
        while codes:  # the function's code and the code objects nested in it
            code = codes.pop()
            names.update(code.co_names)
            codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        found = [(n, py.__globals__.get(n)) for n in sorted(names)]
        found += [("<closure>", c.cell_contents) for c in py.__closure__ or () if _filled(c)]
        for name, obj in found:
            if isinstance(obj, types.ModuleType) and id(obj) not in modules:
                modules.add(id(obj))  # helpers.signal(...): look the names up in the module
                found.extend((f"{obj.__name__}.{n}", _attr(obj, n)) for n in sorted(names))
            elif isinstance(obj, _CONSTANT_TYPES):
                constants.add(f"{name}={obj!r}")
            elif hasattr(obj, "py_func"):
                stack.append(obj)
    return out, sorted(constants)


def _attr(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:  # a module with a __getattr__ of its own
        return None


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _source_digest(fns: list[Any], names: bytes) -> str:
    """Hash of everything compiled into a driver: the package's engine files, every file (or
    source) of the jitted code the hooks reach, and the constants it reads. Each file is read
    once; the hash depends on their contents, not on their order or where they are."""
    package = Path(__file__).resolve().parents[1]
    files = {package / f for f in _PACKAGE_FILES}
    sources: set[bytes] = set()  # code without a file of its own (a notebook cell...)
    deps, constants = _jitted_deps(fns)
    for fn in deps:
        mod = sys.modules.get(getattr(fn, "__module__", ""), None)
        path = getattr(mod, "__file__", None)
        if path and Path(path).exists():
            files.add(Path(path).resolve())
            continue
        py = getattr(fn, "py_func", fn)
        try:
            sources.add(inspect.getsource(py).encode())
        except (OSError, TypeError):
            sources.add(repr(fn).encode())
    blobs = sorted(hashlib.sha256(b).digest() for b in {f.read_bytes() for f in files} | sources)
    h = hashlib.sha256(driver_template.BODY.encode() + names)
    for blob in blobs:
        h.update(blob)
    h.update("\n".join(constants).encode())
    return h.hexdigest()[:20]


def driver_for(
    on_quote: Any, on_fill: Any = None, on_start: Any = None, on_timer: Any = None
) -> types.ModuleType:
    """The driver module whose loop calls these hooks (generated and imported on first use)."""
    hooks = {
        "_on_quote": on_quote,
        "_on_fill": on_fill or noop,
        "_on_start": on_start or noop,
        "_on_timer": on_timer or noop,
    }
    refs = {alias: _importable(fn) for alias, fn in hooks.items()}
    cacheable = all(ref is not None for ref in refs.values())
    names = repr(sorted(refs.items())).encode()
    digest = _source_digest(list(hooks.values()), names) + (
        "" if cacheable else f"_{id(on_quote):x}"
    )
    name = f"qk_driver_{digest}"
    if name in _loaded:
        return _loaded[name]
    if cacheable:
        header = "".join(
            driver_template.HEADER_IMPORT.format(module=ref[0], name=ref[1], alias=alias)
            for alias, ref in refs.items()
            if ref is not None
        )
        module = _import_file(name, f"CACHE = True\n{header}{driver_template.BODY}")
    else:
        module = types.ModuleType(name)
        module.__dict__.update(hooks)
        module.__dict__["CACHE"] = False
        exec(compile(driver_template.BODY, f"<{name}>", "exec"), module.__dict__)
    _loaded[name] = module
    return module


def _import_file(name: str, source: str) -> types.ModuleType:
    path = cache_dir() / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
