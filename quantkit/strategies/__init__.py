"""Built-in strategies (kernels only) and lookup by name or ``module:attr``.

Usage::

    qk.strategies.momentum(span=50)
    qk.strategies.resolve("my_module:MyStrategy")
"""

from __future__ import annotations

from quantkit.strategies.momentum import momentum
from quantkit.strategies.registry import BUILTIN, resolve

__all__ = ["BUILTIN", "momentum", "resolve"]
