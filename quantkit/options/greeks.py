"""The Greeks types: one option's greeks, arrays of them, a record dtype for kernels, the kind.

Units (Deribit's, see :mod:`quantkit.options.black76`): ``price``, ``vega`` and ``theta`` in USD
(the forward's currency); ``delta`` per 1 unit of underlying; ``gamma`` per USD of forward;
``vega`` per 1 volatility point (1%); ``theta`` per calendar day (negative).

Usage::

    from quantkit.options.greeks import GREEKS_DTYPE, Greeks, GreeksArrays, parse_kind
    rec = np.zeros(1, dtype=GREEKS_DTYPE)[0]   # a record a jitted kernel can fill
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quantkit.errors import ConfigError, did_you_mean

FloatArray = npt.NDArray[np.float64]

#: the five fields, in the order of the tuple returned by the jitted ``b76_greeks``
GREEK_FIELDS: tuple[str, ...] = ("price", "delta", "gamma", "vega", "theta")

#: numpy structured dtype so kernels can keep one option's greeks in a record
GREEKS_DTYPE = np.dtype([(name, np.float64) for name in GREEK_FIELDS])

KINDS: tuple[str, ...] = ("call", "put")


@dataclass(frozen=True, slots=True)
class Greeks:
    """Price and greeks of one option (USD; vega per vol point; theta per day).

    Usage::

        g = qk.options.black76(2000.0, 2200.0, 0.1, 0.8, "call"); g.delta
    """

    price: float
    delta: float
    gamma: float
    vega: float
    theta: float


@dataclass(frozen=True, slots=True)
class GreeksArrays:
    """Price and greeks of many options: float64 arrays of one shape, NaN where undefined.

    Usage::

        ga = qk.options.black76_vec(f, k, t, vol, is_call); ga.delta.sum()
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray

    def to_records(self) -> npt.NDArray[np.void]:
        """Pack into a (flattened) array of :data:`GREEKS_DTYPE` records.

        Usage::

            recs = ga.to_records(); recs["delta"]
        """
        out = np.empty(self.price.size, dtype=GREEKS_DTYPE)
        for name in GREEK_FIELDS:
            out[name] = getattr(self, name).ravel()
        return out


def parse_kind(kind: str) -> bool:
    """Return True for ``"call"``, False for ``"put"``; anything else is a ConfigError.

    Usage::

        is_call = parse_kind("put")  # False
    """
    if isinstance(kind, str) and kind.lower() in KINDS:
        return kind.lower() == "call"
    hint = did_you_mean(str(kind).lower(), KINDS)
    raise ConfigError(f"option kind {kind!r} is not 'call' or 'put'{hint}")


def check_finite(name: str, value: float, *, positive: bool) -> float:
    """Return ``value`` as float, or raise ConfigError naming the argument and the fix.

    ``positive=True`` requires ``value > 0``, otherwise ``value >= 0``.

    Usage::

        t = check_finite("t", t, positive=False)
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ConfigError(f"{name} must be finite, got {x!r}")
    if positive and x <= 0.0:
        raise ConfigError(f"{name} must be > 0, got {x!r}")
    if not positive and x < 0.0:
        raise ConfigError(f"{name} must be >= 0, got {x!r}")
    return x
