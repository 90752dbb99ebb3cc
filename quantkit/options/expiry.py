"""Time to expiry, and a minimal private reader of Deribit option names.

Deribit options expire at 08:00 UTC of the date in their name (``ETH-30JUL21-2800-C`` expires
2021-07-30T08:00Z); ``d`` in a strike is a decimal point (``XRP_USDC-30MAY25-0d625-C``). The full
typed parser lives in :mod:`quantkit.instruments`; ``_option_terms`` only pulls out what the
option math needs.

Usage::

    from quantkit.options.expiry import year_fraction
    t = year_fraction(ts_ns, expiry_ns)  # years of 365 days, floored at 0
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import overload

import numpy as np
import numpy.typing as npt

from quantkit.errors import InstrumentError

NS_PER_YEAR = 365 * 86_400 * 1_000_000_000
EXPIRY_HOUR_UTC = 8
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_OPTION = re.compile(
    r"(?P<base>[A-Z][A-Z0-9]*(?:_[A-Z]+)?)-(?P<day>[0-9]{1,2})(?P<month>[A-Z]{3})(?P<year>[0-9]{2})"
    r"-(?P<strike>[0-9]+(?:d[0-9]+)?)-(?P<kind>[CP])"
)


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
    match = _OPTION.fullmatch(name)
    if match is None or match["month"] not in _MONTHS:
        return None
    month = _MONTHS.index(match["month"]) + 1
    try:
        expiry = datetime(
            2000 + int(match["year"]), month, int(match["day"]), EXPIRY_HOUR_UTC, tzinfo=UTC
        )
    except ValueError:
        return None
    strike = float(match["strike"].replace("d", "."))
    if strike <= 0.0:
        return None
    expiry_ns = int(expiry.timestamp()) * 1_000_000_000
    return expiry_ns, strike, match["kind"] == "C"


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
    return "_" not in name.split("-", 1)[0]
