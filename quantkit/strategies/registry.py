"""Find a strategy by built-in name or by ``module:attr`` (a file path module works too).

Usage::

    resolve("momentum")
    resolve("research.my_strategy:MyStrategy")
    resolve("research/my_strategy.py:MyStrategy")
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from quantkit.engine.strategy import Strategy
from quantkit.errors import ConfigError, did_you_mean
from quantkit.strategies.gamma_scalp import gamma_scalp
from quantkit.strategies.momentum import momentum

BUILTIN: dict[str, Strategy] = {"momentum": momentum, "gamma_scalp": gamma_scalp}


def _builtins() -> dict[str, Strategy]:
    return BUILTIN


def resolve(spec: str) -> Strategy:
    """The :class:`Strategy` named ``spec`` (built-in name or ``module:attr``)."""
    builtins = _builtins()
    if ":" not in spec:
        if spec in builtins:
            return builtins[spec]
        raise ConfigError(
            f"unknown strategy {spec!r}{did_you_mean(spec, builtins)}; built-in strategies: "
            f"{', '.join(builtins)}, or give your own as module:attr"
        )
    mod_name, _, attr = spec.rpartition(":")
    module = _import(mod_name, spec)
    obj = getattr(module, attr, None)
    if obj is None:
        names = [n for n, v in vars(module).items() if isinstance(v, Strategy)]
        raise ConfigError(f"{mod_name!r} has no attribute {attr!r}{did_you_mean(attr, names)}")
    if not isinstance(obj, Strategy):
        raise ConfigError(f"{spec!r} is a {type(obj).__name__}, not a quantkit Strategy")
    return obj


def _import(mod_name: str, spec: str):  # type: ignore[no-untyped-def]
    if mod_name.endswith(".py") or "/" in mod_name:
        path = Path(mod_name)
        if not path.exists():
            raise ConfigError(f"strategy file {mod_name!r} does not exist (from {spec!r})")
        # import under one stable dotted name: numba's on-disk cache is per file, and the same
        # file imported under two names would load code compiled for the other name
        root, dotted = _dotted_name(path.resolve())
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        return importlib.import_module(dotted)
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"cannot import strategy module {mod_name!r} ({exc}); run from the directory that "
            f"holds it or give a path such as research/my_strategy.py:MyStrategy"
        ) from None


def _dotted_name(path: Path) -> tuple[Path, str]:
    """(sys.path root, dotted module name) for a .py file: relative to cwd when inside it."""
    cwd = Path.cwd().resolve()
    if path.is_relative_to(cwd):
        parts = path.relative_to(cwd).with_suffix("").parts
        if all(p.isidentifier() for p in parts):
            return cwd, ".".join(parts)
    return path.parent, path.stem
