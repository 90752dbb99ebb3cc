"""Option names -> (expiry, strike, kind), and year fractions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import quantkit.options as qo
from quantkit.errors import InstrumentError
from quantkit.options.expiry import NS_PER_YEAR, _option_terms, _parse_option, _quoted_in_coin

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def _ns(d: datetime) -> int:
    return int(d.timestamp()) * 1_000_000_000


def test_deribit_example_expires_at_0800_utc() -> None:
    expiry_ns, strike, is_call = _option_terms("ETH-30JUL21-2800-C")
    assert expiry_ns == _ns(datetime(2021, 7, 30, 8, tzinfo=UTC))
    assert (strike, is_call) == (2800.0, True)
    assert _option_terms("BTC-5AUG21-300000-P")[1:] == (300000.0, False)
    assert _option_terms("XRP_USDC-30MAY25-0d625-C")[1] == 0.625


@given(
    st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    st.integers(1, 10**7),
    st.integers(0, 999),
    st.booleans(),
    st.sampled_from(["BTC", "ETH", "SOL_USDC"]),
)
def test_round_trip_of_generated_names(
    day: date, whole: int, frac: int, is_call: bool, base: str
) -> None:
    strike_text = f"{whole}d{frac}" if frac else str(whole)
    name = f"{base}-{day.day}{MONTHS[day.month - 1]}{day.year % 100:02d}-{strike_text}-" + (
        "C" if is_call else "P"
    )
    expiry = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    assert _option_terms(name) == (_ns(expiry), float(f"{whole}.{frac}"), is_call)


@pytest.mark.parametrize(
    "name",
    [
        "BTC-PERPETUAL",
        "BTC-24SEP21",
        "BTC-31FEB21-30000-C",  # no such day
        "BTC-24SEPT21-30000-C",
        "BTC-24SEP21-30000-X",
        "BTC-24SEP21-0-C",
        "btc-24sep21-30000-c",
        "BTC-24SEP21-30000-C-extra",
        "",
    ],
)
def test_non_options_are_rejected(name: str) -> None:
    assert _parse_option(name) is None
    with pytest.raises(InstrumentError, match="CUR-DMMMYY-STRIKE-C"):
        _option_terms(name)


def test_coin_or_usdc_quoted() -> None:
    assert _quoted_in_coin("BTC-24SEP21-8000-P")
    assert not _quoted_in_coin("XRP_USDC-30MAY25-0d625-C")


def test_year_fraction_scalars_and_arrays() -> None:
    assert qo.year_fraction(0, NS_PER_YEAR) == 1.0
    assert qo.year_fraction(NS_PER_YEAR, 0) == 0.0  # expired: floored
    days = np.array([0, 73, 365, 400])
    got = qo.year_fraction(days * 86_400 * 10**9, 365 * 86_400 * 10**9)
    np.testing.assert_allclose(got, [1.0, 292 / 365, 0.0, 0.0], rtol=0, atol=1e-15)
    assert isinstance(qo.year_fraction(0, 1), float)
