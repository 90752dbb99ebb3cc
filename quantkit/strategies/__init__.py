"""Built-in strategies (kernels only) and lookup by name or ``module:attr``.

Usage::

    qk.strategies.momentum(span=50)
    qk.strategies.resolve("my_module:MyStrategy")
"""

from __future__ import annotations

from quantkit.strategies.gamma_scalp import gamma_scalp
from quantkit.strategies.momentum import momentum
from quantkit.strategies.registry import BUILTIN, resolve

__all__ = ["BUILTIN", "gamma_scalp", "momentum", "resolve"]
