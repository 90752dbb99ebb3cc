"""Time to expiry, and a minimal private reader of Deribit option names.

Deribit options expire at 08:00 UTC of the date in their name (``ETH-30JUL21-2800-C`` expires
2021-07-30T08:00Z); ``d`` in a strike is a decimal point (``XRP_USDC-30MAY25-0d625-C``).
Names are read by the typed parser in :mod:`quantkit.instruments`; ``_option_terms`` pulls out
what the option math needs.

Usage::

    from quantkit.options.expiry import year_fraction
    t = year_fraction(ts_ns, expiry_ns)  # years of 365 days, floored at 0
"""

from __future__ import annotations

from typing import overload

import numpy as np
import numpy.typing as npt

from quantkit.errors import InstrumentError
from quantkit.instruments.names import Option, parse

NS_PER_YEAR = 365 * 86_400 * 1_000_000_000


@overload
def year_fraction(ts_ns: int, expiry_ns: int) -> float: ...
@overload
def year_fraction(ts_ns: npt.ArrayLike, expiry_ns: npt.ArrayLike) -> npt.NDArray[np.float64]: ...
def year_fraction(
    ts_ns: npt.ArrayLike, expiry_ns: npt.ArrayLike
) -> float | npt.NDArray[np.float64]:
    """(expiry - ts) in years of 365 days, floored at 0; scalars give a float, arrays an array.

    Usage::

        t = qk.options.year_fraction(df["ts"].to_numpy(), expiry_ns)
    """
    left = np.asarray(expiry_ns, dtype=np.int64) - np.asarray(ts_ns, dtype=np.int64)
    years = np.maximum(left / NS_PER_YEAR, 0.0)
    return float(years) if years.ndim == 0 else years


def _parse_option(name: str) -> tuple[int, float, bool] | None:
    """``(expiry_ns, strike, is_call)`` for a Deribit option name, None for anything else."""
    try:
        inst = parse(name)
    except InstrumentError:
        return None
    if not isinstance(inst, Option):
        return None
    return inst.expiry_ns, inst.strike, inst.is_call


def _option_terms(name: str) -> tuple[int, float, bool]:
    """``(expiry_ns, strike, is_call)`` of a Deribit option name, or InstrumentError.

    Usage::

        expiry_ns, strike, is_call = _option_terms("ETH-30JUL21-2800-C")
    """
    terms = _parse_option(name)
    if terms is None:
        raise InstrumentError(
            f"{name!r} is not a Deribit option name; expected CUR-DMMMYY-STRIKE-C|P, "
            "e.g. 'ETH-30JUL21-2800-C' (a 'd' in the strike is a decimal point: '0d625')"
        )
    return terms


def _quoted_in_coin(name: str) -> bool:
    """True for inverse options (``BTC-...``: prices in coin), False for linear (``XRP_USDC-...``).

    Usage::

        _quoted_in_coin("BTC-24SEP21-8000-P")  # True
    """
    try:
        return parse(name).inverse
    except InstrumentError:
        return "_" not in name.split("-", 1)[0]
