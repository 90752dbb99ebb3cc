"""Black-76 price and greeks with Deribit's conventions: jitted scalar cores + vectorized wrapper.

Conventions (Deribit, checked against the recorded 2021 ticker messages in
``tests/data/deribit_tickers_2021.jsonl``, see ``tests/test_options_deribit.py``):

- forward = the ticker's ``underlying_price`` (USD), rate r = 0, no discounting;
- ``t`` in years of 365 days, from the message ``timestamp`` to 08:00 UTC of the expiry date;
- ``vol`` a fraction (Deribit's ``mark_iv`` / 100);
- price, vega and theta in USD; the coin price Deribit publishes (``mark_price``) is the USD price
  divided by the forward; delta per 1 unit of underlying (Deribit's "BTC delta"); gamma per USD;
- vega per 1 volatility point: dPrice/dVol / 100;
- theta per calendar day: max(dPrice/dt / 365, -(price - intrinsic)). Deribit publishes the
  smaller loss of the one-day theta and the remaining-life theta (losing the whole time value):
  the second applies to ETH-23JUL21-2300-C with 9 hours left (published -0.00146 = -price, while
  dPrice/dt / 365 = -0.032).

What matches, on all 89 recorded ticker messages (10 instruments, BTC and ETH, 9 hours to 336 days,
puts and calls, deep ITM to far OTM), allowing 1 unit in the last published decimal plus the
effect of the rounding of the inputs (``mark_iv`` to 0.01 point, ``underlying_price`` to 0.01 USD):

- delta and gamma (5 decimals): all match within that tolerance;
- vega and theta (5 decimals): all match once the valuation time may differ from the message
  ``timestamp`` by up to 30 s (20 s is the least that passes; without it 4 vega and 4 theta values
  of 178 miss, e.g. the at-the-money BTC-24SEP21-34000-P vega by 10 units). The needed shift varies
  in sign from message to message: Deribit computes greeks on a clock of its own;
- mark_price (8 decimals for BTC, 6 for ETH): all match once the forward may differ from the
  published ``underlying_price`` by up to 1.5 bp (1.1 bp is the least that passes, i.e. ~3.5 USD on
  BTC, 0.2 USD on ETH; without it 19 of 89 miss, worst the deep in-the-money ETH-27AUG21-4000-P):
  the mark is computed from a forward a moment fresher or staler than the one published;
- rho is not computed; Deribit's published rho is within 0.2% of the Black-Scholes rho
  K t N(d2) / 100 (calls; -K t N(-d2) / 100 puts), not Black-76's -t * price.

Degenerate inputs: ``t == 0`` or ``vol == 0`` give the intrinsic value, delta 1 or 0 (0.5 exactly
at the money, the limit), gamma = vega = theta = 0.

Usage::

    from quantkit.options.black76 import b76_greeks, black76
    price, delta, gamma, vega, theta = b76_greeks(2000.0, 2200.0, 0.1, 0.8, True)  # in numba too
    g = black76(2000.0, 2200.0, 0.1, 0.8, "call")
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from quantkit.options.greeks import FloatArray, Greeks, GreeksArrays, check_finite, parse_kind

DAYS_PER_YEAR = 365.0
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_NAN = math.nan


@njit(cache=True)
def norm_cdf(x: float) -> float:
    """Standard normal CDF, accurate in both tails (via erfc).

    Usage::

        norm_cdf(0.0)  # 0.5
    """
    return 0.5 * math.erfc(-x / _SQRT2)


@njit(cache=True)
def norm_pdf(x: float) -> float:
    """Standard normal density.

    Usage::

        norm_pdf(0.0)  # 0.3989...
    """
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@njit(cache=True)
def time_value(forward: float, strike: float, stdev: float) -> float:
    """Black-76 time value (price minus intrinsic, same for call and put) at total vol ``stdev``.

    ``stdev`` is vol * sqrt(t) > 0. Computed from the out-of-the-money side, so it keeps its
    relative precision deep in or out of the money.

    Usage::

        tv = time_value(2000.0, 2200.0, 0.8 * 0.1**0.5)
    """
    d1 = (math.log(forward / strike) + 0.5 * stdev * stdev) / stdev
    d2 = d1 - stdev
    if forward >= strike:  # the put is out of the money
        tv = strike * norm_cdf(-d2) - forward * norm_cdf(-d1)
    else:
        tv = forward * norm_cdf(d1) - strike * norm_cdf(d2)
    return max(tv, 0.0)


@njit(cache=True)
def intrinsic(forward: float, strike: float, is_call: bool) -> float:
    """Intrinsic value max(F - K, 0) for a call, max(K - F, 0) for a put.

    Usage::

        intrinsic(2000.0, 1800.0, True)  # 200.0
    """
    return max(forward - strike, 0.0) if is_call else max(strike - forward, 0.0)


@njit(cache=True)
def _degenerate_delta(forward: float, strike: float, is_call: bool) -> float:
    if forward == strike:
        return 0.5 if is_call else -0.5
    if is_call:
        return 1.0 if forward > strike else 0.0
    return -1.0 if forward < strike else 0.0


@njit(cache=True)
def b76_price(forward: float, strike: float, t: float, vol: float, is_call: bool) -> float:
    """Black-76 price in USD (r = 0); inputs are not validated (see :func:`black76`).

    Usage::

        b76_price(2000.0, 2200.0, 0.1, 0.8, True)
    """
    stdev = vol * math.sqrt(t)
    value = intrinsic(forward, strike, is_call)
    if stdev > 0.0:
        value += time_value(forward, strike, stdev)
    return value


@njit(cache=True)
def b76_delta(forward: float, strike: float, t: float, vol: float, is_call: bool) -> float:
    """Black-76 delta per 1 unit of underlying (put delta in [-1, 0]).

    Usage::

        b76_delta(2000.0, 2200.0, 0.1, 0.8, False)
    """
    stdev = vol * math.sqrt(t)
    if not stdev > 0.0:
        return _degenerate_delta(forward, strike, is_call)
    d1 = (math.log(forward / strike) + 0.5 * stdev * stdev) / stdev
    return norm_cdf(d1) if is_call else -norm_cdf(-d1)


@njit(cache=True)
def b76_greeks(
    forward: float, strike: float, t: float, vol: float, is_call: bool
) -> tuple[float, float, float, float, float]:
    """Return ``(price, delta, gamma, vega, theta)`` with Deribit's units (see module docstring).

    Usage::

        price, delta, gamma, vega, theta = b76_greeks(2000.0, 2200.0, 0.1, 0.8, True)
    """
    stdev = vol * math.sqrt(t)
    value = intrinsic(forward, strike, is_call)
    if not stdev > 0.0:
        return value, _degenerate_delta(forward, strike, is_call), 0.0, 0.0, 0.0
    d1 = (math.log(forward / strike) + 0.5 * stdev * stdev) / stdev
    tv = time_value(forward, strike, stdev)
    delta = norm_cdf(d1) if is_call else -norm_cdf(-d1)
    density = norm_pdf(d1)
    gamma = density / (forward * stdev)
    vega = forward * density * math.sqrt(t) / 100.0
    one_day = -forward * density * vol / (2.0 * math.sqrt(t)) / DAYS_PER_YEAR
    theta = max(one_day, -tv)
    return value + tv, delta, gamma, vega, theta


@njit(cache=True)
def _valid(forward: float, strike: float, t: float, vol: float) -> bool:
    ok = forward > 0.0 and strike > 0.0 and t >= 0.0 and vol >= 0.0
    return ok and math.isfinite(forward + strike + t + vol)


@njit(cache=True)
def _greeks_loop(
    forward: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    vol: FloatArray,
    is_call: npt.NDArray[np.bool_],
    out: FloatArray,
) -> None:
    for i in range(forward.size):
        if _valid(forward[i], strike[i], t[i], vol[i]):
            g = b76_greeks(forward[i], strike[i], t[i], vol[i], is_call[i])
            for j in range(5):
                out[j, i] = g[j]
        else:
            for j in range(5):
                out[j, i] = _NAN


def black76(forward: float, strike: float, t: float, vol: float, kind: str) -> Greeks:
    """Price and greeks of one option; ConfigError on invalid input, naming it.

    ``vol`` is a fraction (0.8 = 80%), ``t`` in years, ``kind`` "call" or "put".

    Usage::

        g = qk.options.black76(2000.0, 2200.0, 7 / 365, 1.2, "call"); g.price / 2000.0  # coin
    """
    is_call = parse_kind(kind)
    f = check_finite("forward", forward, positive=True)
    k = check_finite("strike", strike, positive=True)
    years = check_finite("t", t, positive=False)
    sigma = check_finite("vol", vol, positive=False)
    return Greeks(*b76_greeks(f, k, years, sigma, is_call))


def broadcast_flat(*values: Any) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Broadcast the inputs (float64; the last one bool), return the shape and flat C copies.

    Usage: ``shape, (f, k, t, v, c) = broadcast_flat(fwd, strikes, t, vols, is_call)``
    """
    *floats, flag = values
    arrays = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in floats), np.asarray(flag, dtype=np.bool_)
    )
    return arrays[0].shape, [np.array(a, order="C").ravel() for a in arrays]  # writeable for numba


def black76_vec(
    forward: npt.ArrayLike,
    strike: npt.ArrayLike,
    t: npt.ArrayLike,
    vol: npt.ArrayLike,
    is_call: npt.ArrayLike,
) -> GreeksArrays:
    """Greeks of many options (inputs broadcast); NaN or invalid inputs give NaN, never raise.

    Usage::

        ga = qk.options.black76_vec(fwd, strikes, t, vols, is_call=True); ga.vega
    """
    shape, flat = broadcast_flat(forward, strike, t, vol, is_call)
    out = np.empty((5, flat[0].size), dtype=np.float64)
    _greeks_loop(flat[0], flat[1], flat[2], flat[3], flat[4], out)
    return GreeksArrays(*(row.reshape(shape) for row in out))
