"""Black-76 implied volatility (r = 0): safeguarded Newton on total vol, bisection as fallback.

The solver works on the time value (price - intrinsic), which is the same for a call and a put, and
on the total standard deviation s = vol * sqrt(t). Newton starts at the inflection point
s = sqrt(2 |ln(F/K)|) (or the at-the-money estimate), keeps a bracket [lo, hi] and bisects whenever
a Newton step leaves it, so it always converges; it stops when the step is below 1e-13 relative
(well inside 1e-8 in vol). Prices outside the no-arbitrage bounds give NaN: below intrinsic, or
at/above the forward for a call / the strike for a put. A price equal to intrinsic gives 0.

Usage::

    from quantkit.options.implied_vol import implied_vol, iv_solve
    vol = implied_vol(95.2, 2000.0, 2200.0, 0.1, "call")   # Python API, validates
    vol = iv_solve(95.2, 2000.0, 2200.0, 0.1, True)          # jitted core, NaN on bad input
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from quantkit.options.black76 import broadcast_flat, intrinsic, norm_pdf, time_value
from quantkit.options.greeks import FloatArray, check_finite, parse_kind

_MAX_ITER = 200
_REL_TOL = 1e-13
_MAX_STDEV = 50.0  # beyond this the time value equals min(F, K) in float64


@njit(cache=True)
def _start(forward: float, strike: float, target: float) -> float:
    x = abs(math.log(forward / strike))
    if x > 0.0:
        return math.sqrt(2.0 * x)
    return target * math.sqrt(2.0 * math.pi) / forward  # at the money: tv ~ F s / sqrt(2 pi)


@njit(cache=True)
def _solve_stdev(forward: float, strike: float, target: float) -> float:
    lo, hi = 0.0, 1.0
    while time_value(forward, strike, hi) < target:
        lo, hi = hi, 2.0 * hi
        if hi > _MAX_STDEV:
            return math.nan
    s = min(max(_start(forward, strike, target), lo), hi)
    if not (lo < s < hi):
        s = 0.5 * (lo + hi)
    for _ in range(_MAX_ITER):
        diff = time_value(forward, strike, s) - target
        if diff == 0.0:
            return s
        if diff < 0.0:
            lo = s
        else:
            hi = s
        d1 = (math.log(forward / strike) + 0.5 * s * s) / s
        slope = forward * norm_pdf(d1)
        step = diff / slope if slope > 0.0 else math.inf
        nxt = s - step
        if not (lo < nxt < hi):
            nxt = 0.5 * (lo + hi)
        if abs(nxt - s) <= _REL_TOL * s or hi - lo <= _REL_TOL * hi:
            return nxt
        s = nxt
    return s


@njit(cache=True)
def iv_solve(price: float, forward: float, strike: float, t: float, is_call: bool) -> float:
    """Implied vol (fraction) of a USD ``price``; NaN when undefined or out of bounds.

    Usage::

        vol = iv_solve(95.2, 2000.0, 2200.0, 0.1, True)
    """
    if not (forward > 0.0 and strike > 0.0 and t > 0.0 and math.isfinite(forward + strike + t)):
        return math.nan
    if not math.isfinite(price):
        return math.nan
    floor = intrinsic(forward, strike, is_call)
    cap = forward if is_call else strike
    if price < floor or price >= cap:
        return math.nan
    target = price - floor
    if target <= 0.0:
        return 0.0
    return _solve_stdev(forward, strike, target) / math.sqrt(t)


@njit(cache=True)
def _iv_loop(
    price: FloatArray,
    forward: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    is_call: npt.NDArray[np.bool_],
    out: FloatArray,
) -> None:
    for i in range(price.size):
        out[i] = iv_solve(price[i], forward[i], strike[i], t[i], is_call[i])


def implied_vol(price: float, forward: float, strike: float, t: float, kind: str) -> float:
    """Implied vol (fraction) of one option's USD price; NaN outside no-arbitrage bounds.

    ``forward``, ``strike`` must be > 0 and ``t`` >= 0 (else ConfigError); ``t == 0`` gives NaN.

    Usage::

        vol = qk.options.implied_vol(95.2, 2000.0, 2200.0, 0.1, "call")
    """
    is_call = parse_kind(kind)
    f = check_finite("forward", forward, positive=True)
    k = check_finite("strike", strike, positive=True)
    years = check_finite("t", t, positive=False)
    return float(iv_solve(float(price), f, k, years, is_call))


def implied_vol_vec(
    price: npt.ArrayLike,
    forward: npt.ArrayLike,
    strike: npt.ArrayLike,
    t: npt.ArrayLike,
    is_call: npt.ArrayLike,
) -> FloatArray:
    """Implied vols of many options (inputs broadcast); NaN where undefined, never raises.

    Usage::

        vols = qk.options.implied_vol_vec(usd_prices, fwd, strikes, t, is_call)
    """
    shape, flat = broadcast_flat(price, forward, strike, t, is_call)
    out = np.empty(flat[0].size, dtype=np.float64)
    _iv_loop(flat[0], flat[1], flat[2], flat[3], flat[4], out)
    return out.reshape(shape)
