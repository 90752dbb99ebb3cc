"""Portfolio greeks for jitted kernels: position-weighted sums over arrays.

Usage::

    from quantkit.options.portfolio import portfolio_delta
    coin_delta = portfolio_delta(positions, deltas)   # callable from other @njit code
"""

from __future__ import annotations

from numba import njit

from quantkit.options.greeks import FloatArray


@njit(cache=True)
def portfolio_delta(position: FloatArray, delta: FloatArray) -> float:
    """Sum of ``position[i] * delta[i]`` (units of underlying); a NaN delta of a held position
    gives NaN (an unknown greek must not look like zero); flat positions are skipped.

    Usage::

        total = portfolio_delta(np.array([2.0, -1.0]), np.array([0.5, 0.25]))  # 0.75
    """
    total = 0.0
    for i in range(position.size):
        if position[i] != 0.0:
            total += position[i] * delta[i]
    return total
