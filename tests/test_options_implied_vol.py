"""Implied vol: round trip through Black-76, no-arbitrage bounds, monotonicity, jitted core."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_options_black76 import forward_strike, kinds, log_forward, years

import quantkit.options as qo
from quantkit.errors import ConfigError
from quantkit.options.implied_vol import iv_solve

moneyness = st.floats(-2.0, 2.0)  # ln(K / F)
vols = st.floats(0.01, 4.0)
FAST = settings(max_examples=200, deadline=None)


@FAST
@given(log_forward, moneyness, years, vols, kinds)
def test_round_trip_to_1e_8(lf: float, m: float, t: float, vol: float, kind: str) -> None:
    f, k = forward_strike(lf, m)
    g = qo.black76(f, k, t, vol, kind)
    # where vega is tiny, a price rounding of 1e-15 relative moves the vol by more than 1e-8
    assume(g.vega * 100 * 1e-8 > 1e-12 * max(f, k))
    assert qo.implied_vol(g.price, f, k, t, kind) == pytest.approx(vol, abs=1e-8)


@FAST
@given(log_forward, moneyness, years, kinds, st.floats(0.0, 1.0))
def test_nan_below_intrinsic_and_at_or_above_cap(
    lf: float, m: float, t: float, kind: str, frac: float
) -> None:
    f, k = forward_strike(lf, m)
    floor = max(f - k, 0.0) if kind == "call" else max(k - f, 0.0)
    cap = f if kind == "call" else k
    assume(floor > 1e-9 * cap)
    assert math.isnan(qo.implied_vol(floor * (1 - 1e-9) * frac, f, k, t, kind))
    assert math.isnan(qo.implied_vol(cap * (1 + frac), f, k, t, kind))


@pytest.mark.parametrize("price", [-1.0, math.nan, math.inf, 100.0, 150.0])
def test_nan_for_prices_outside_bounds(price: float) -> None:
    assert math.isnan(qo.implied_vol(price, 100.0, 120.0, 0.5, "call"))


def test_intrinsic_price_gives_zero_vol_and_expired_gives_nan() -> None:
    assert qo.implied_vol(10.0, 100.0, 90.0, 0.5, "call") == 0.0
    assert qo.implied_vol(0.0, 100.0, 90.0, 0.5, "put") == 0.0
    assert math.isnan(qo.implied_vol(10.5, 100.0, 90.0, 0.0, "call"))


@FAST
@given(log_forward, moneyness, years, kinds, st.floats(0.02, 0.98), st.floats(0.01, 0.99))
def test_vol_increases_with_price(
    lf: float, m: float, t: float, kind: str, a: float, b: float
) -> None:
    f, k = forward_strike(lf, m)
    floor = max(f - k, 0.0) if kind == "call" else max(k - f, 0.0)
    room = min(f, k)  # the time value lives in (0, min(F, K))
    lo, hi = sorted((a, b))
    assume(hi - lo > 1e-3)
    v_lo = qo.implied_vol(floor + lo * room, f, k, t, kind)
    v_hi = qo.implied_vol(floor + hi * room, f, k, t, kind)
    assert 0.0 < v_lo < v_hi


@FAST
@given(log_forward, moneyness, years, vols, st.booleans())
def test_jitted_core_and_vec_equal_python_api(
    lf: float, m: float, t: float, vol: float, is_call: bool
) -> None:
    f, k = forward_strike(lf, m)
    kind = "call" if is_call else "put"
    price = qo.black76(f, k, t, vol, kind).price
    expected = qo.implied_vol(price, f, k, t, kind)
    assert iv_solve(price, f, k, t, is_call) == expected or math.isnan(expected)
    got = qo.implied_vol_vec(np.array([price]), f, k, t, is_call)[0]
    assert got == expected or (math.isnan(got) and math.isnan(expected))


def test_vec_broadcasts_and_gives_nan_on_bad_rows() -> None:
    prices = np.array([5.0, math.nan, 5.0, 5.0, 5.0])
    forward = np.array([100.0, 100.0, -1.0, 100.0, 100.0])
    t = np.array([0.5, 0.5, 0.5, math.nan, 0.5])
    out = qo.implied_vol_vec(prices, forward, 100.0, t, True)
    assert out.shape == (5,)
    assert np.isnan(out[1:4]).all()
    assert out[0] == out[4] == qo.implied_vol(5.0, 100.0, 100.0, 0.5, "call")


@pytest.mark.parametrize(
    ("args", "word"),
    [
        ((5.0, 0.0, 100.0, 0.5, "call"), "forward must be > 0"),
        ((5.0, 100.0, math.nan, 0.5, "call"), "strike must be finite"),
        ((5.0, 100.0, 100.0, -1.0, "call"), "t must be >= 0"),
        ((5.0, 100.0, 100.0, 0.5, "pt"), "did you mean 'put'"),
    ],
)
def test_invalid_input_names_the_argument(args: tuple, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        qo.implied_vol(*args)
