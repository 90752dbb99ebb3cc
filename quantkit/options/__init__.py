"""Option math: Black-76 price and greeks with Deribit's conventions, implied vol, expiries.

Usage::

    import quantkit as qk
    g = qk.options.black76(2000.0, 2200.0, 7 / 365, 1.2, "call")      # Greeks, USD
    vol = qk.options.implied_vol(g.price, 2000.0, 2200.0, 7 / 365, "call")
    ga = qk.options.black76_vec(fwd, strikes, t, vols, is_call)         # GreeksArrays

Jitted cores for kernels: ``quantkit.options.black76.{b76_price, b76_delta, b76_greeks}``,
``quantkit.options.implied_vol.iv_solve``, ``quantkit.options.portfolio.portfolio_delta``.
"""

from __future__ import annotations

from quantkit.options.black76 import b76_delta, b76_greeks, b76_price, black76, black76_vec
from quantkit.options.expiry import year_fraction
from quantkit.options.greeks import GREEKS_DTYPE, Greeks, GreeksArrays
from quantkit.options.implied_vol import implied_vol, implied_vol_vec, iv_solve
from quantkit.options.portfolio import portfolio_delta

__all__ = [
    "GREEKS_DTYPE",
    "Greeks",
    "GreeksArrays",
    "b76_delta",
    "b76_greeks",
    "b76_price",
    "black76",
    "black76_vec",
    "implied_vol",
    "implied_vol_vec",
    "iv_solve",
    "portfolio_delta",
    "year_fraction",
]
