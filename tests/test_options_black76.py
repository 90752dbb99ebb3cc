"""Black-76 price and greeks: properties (parity, finite differences), edge cases, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numba import njit

import quantkit.options as qo
from quantkit.errors import ConfigError
from quantkit.options.black76 import b76_delta, b76_greeks, b76_price, norm_pdf

log_forward = st.floats(math.log(1.0), math.log(2e5))
moneyness = st.floats(-1.5, 1.5)  # ln(K / F)
years = st.floats(1.0 / (365 * 24), 3.0)
vols = st.floats(0.05, 3.0)
kinds = st.sampled_from(["call", "put"])
FAST = settings(max_examples=150, deadline=None)


def forward_strike(lf: float, m: float) -> tuple[float, float]:
    """Forward and strike from a log forward and a log moneyness (shared with the IV tests)."""
    forward = math.exp(lf)
    return forward, forward * math.exp(m)


def _d1(forward: float, strike: float, t: float, vol: float) -> float:
    s = vol * math.sqrt(t)
    return (math.log(forward / strike) + 0.5 * s * s) / s


@FAST
@given(log_forward, moneyness, years, vols)
def test_put_call_parity(lf: float, m: float, t: float, vol: float) -> None:
    f, k = forward_strike(lf, m)
    call, put = qo.black76(f, k, t, vol, "call"), qo.black76(f, k, t, vol, "put")
    assert call.price - put.price == pytest.approx(f - k, abs=1e-12 * max(f, k))
    assert call.delta - put.delta == pytest.approx(1.0, abs=1e-12)
    assert (call.gamma, call.vega) == (put.gamma, put.vega)


@FAST
@given(log_forward, moneyness, years, vols, kinds)
def test_delta_is_dprice_dforward(lf: float, m: float, t: float, vol: float, kind: str) -> None:
    f, k = forward_strike(lf, m)
    h = 1e-4 * f * vol * math.sqrt(t)
    fd = (qo.black76(f + h, k, t, vol, kind).price - qo.black76(f - h, k, t, vol, kind).price) / (
        2 * h
    )
    assert qo.black76(f, k, t, vol, kind).delta == pytest.approx(fd, abs=1e-6)


@FAST
@given(log_forward, moneyness, years, vols, kinds)
def test_gamma_is_second_derivative_of_price(
    lf: float, m: float, t: float, vol: float, kind: str
) -> None:
    f, k = forward_strike(lf, m)
    assume(norm_pdf(_d1(f, k, t, vol)) > 1e-3)
    h = 1e-3 * f * vol * math.sqrt(t)
    prices = [qo.black76(f + i * h, k, t, vol, kind).price for i in (-1, 0, 1)]
    fd = (prices[0] - 2 * prices[1] + prices[2]) / h**2
    assert qo.black76(f, k, t, vol, kind).gamma == pytest.approx(fd, rel=1e-3)


@FAST
@given(log_forward, moneyness, years, vols, kinds)
def test_vega_is_dprice_dvol_per_point(
    lf: float, m: float, t: float, vol: float, kind: str
) -> None:
    f, k = forward_strike(lf, m)
    h = 1e-6
    fd = (qo.black76(f, k, t, vol + h, kind).price - qo.black76(f, k, t, vol - h, kind).price) / (
        2 * h
    )
    assert qo.black76(f, k, t, vol, kind).vega == pytest.approx(fd / 100, rel=1e-5, abs=1e-9 * f)


@FAST
@given(log_forward, moneyness, years, vols, kinds)
def test_theta_is_daily_decay_capped_by_time_value(
    lf: float, m: float, t: float, vol: float, kind: str
) -> None:
    f, k = forward_strike(lf, m)
    h = 1e-6 * t
    longer = qo.black76(f, k, t + h, vol, kind).price
    shorter = qo.black76(f, k, t - h, vol, kind).price
    one_day = -(longer - shorter) / (2 * h) / 365
    g = qo.black76(f, k, t, vol, kind)
    time_value = g.price - max(f - k if kind == "call" else k - f, 0.0)
    expected = max(one_day, -time_value)
    assert g.theta <= 0.0
    assert g.theta == pytest.approx(expected, rel=1e-4, abs=1e-9 * f)


@FAST
@given(log_forward, moneyness, years, st.floats(0.05, 2.9), kinds)
def test_price_increases_with_vol(lf: float, m: float, t: float, vol: float, kind: str) -> None:
    f, k = forward_strike(lf, m)
    low, high = qo.black76(f, k, t, vol, kind), qo.black76(f, k, t, vol + 0.1, kind)
    assert high.price >= low.price
    if low.vega > 1e-9 * f:
        assert high.price > low.price


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize(("t", "vol"), [(0.0, 0.8), (0.5, 0.0), (0.0, 0.0)])
def test_expired_or_zero_vol_is_intrinsic(kind: str, t: float, vol: float) -> None:
    sign = 1.0 if kind == "call" else -1.0
    itm = qo.black76(100.0, 90.0 if kind == "call" else 110.0, t, vol, kind)
    otm = qo.black76(100.0, 110.0 if kind == "call" else 90.0, t, vol, kind)
    atm = qo.black76(100.0, 100.0, t, vol, kind)
    assert (itm.price, itm.delta, itm.gamma, itm.vega, itm.theta) == (10.0, sign, 0.0, 0.0, 0.0)
    assert (otm.price, otm.delta, otm.gamma) == (0.0, 0.0, 0.0)
    assert (atm.price, atm.delta) == (0.0, 0.5 * sign)


@pytest.mark.parametrize(
    ("args", "word"),
    [
        ((0.0, 100.0, 1.0, 0.5, "call"), "forward"),
        ((-5.0, 100.0, 1.0, 0.5, "call"), "forward"),
        ((100.0, math.nan, 1.0, 0.5, "call"), "strike"),
        ((100.0, 100.0, -0.1, 0.5, "call"), "t must be >= 0"),
        ((100.0, 100.0, 1.0, math.inf, "put"), "vol must be finite"),
        ((100.0, 100.0, 1.0, -0.2, "put"), "vol"),
        ((100.0, 100.0, 1.0, "high", "put"), "vol must be a number"),
        ((100.0, 100.0, 1.0, 0.5, "cal"), "did you mean 'call'"),
        ((100.0, 100.0, 1.0, 0.5, "C"), "'C'"),
    ],
)
def test_invalid_input_names_the_argument(args: tuple, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        qo.black76(*args)


def test_kind_is_case_insensitive() -> None:
    assert qo.black76(100.0, 90.0, 1.0, 0.5, "PUT") == qo.black76(100.0, 90.0, 1.0, 0.5, "put")


@FAST
@given(log_forward, moneyness, years, vols, st.booleans())
def test_jitted_cores_equal_python_api(
    lf: float, m: float, t: float, vol: float, is_call: bool
) -> None:
    f, k = forward_strike(lf, m)
    g = qo.black76(f, k, t, vol, "call" if is_call else "put")
    assert b76_greeks(f, k, t, vol, is_call) == (g.price, g.delta, g.gamma, g.vega, g.theta)
    assert b76_price(f, k, t, vol, is_call) == g.price
    assert b76_delta(f, k, t, vol, is_call) == g.delta
    assert _from_kernel(f, k, t, vol, is_call) == (g.price, g.delta, g.vega)
    vec = qo.black76_vec(np.array([f]), k, t, vol, is_call)
    assert (vec.price[0], vec.delta[0], vec.gamma[0], vec.vega[0], vec.theta[0]) == (
        g.price,
        g.delta,
        g.gamma,
        g.vega,
        g.theta,
    )


@njit(cache=True)
def _from_kernel(f: float, k: float, t: float, vol: float, is_call: bool):  # type: ignore[no-untyped-def]
    g = b76_greeks(f, k, t, vol, is_call)
    return b76_price(f, k, t, vol, is_call), b76_delta(f, k, t, vol, is_call), g[3]


def test_vec_broadcasts_and_turns_bad_inputs_into_nan() -> None:
    strikes = np.array([[80.0], [100.0], [120.0]])
    ga = qo.black76_vec(100.0, strikes, np.array([0.1, 0.5]), 0.6, np.array([True, False]))
    assert ga.price.shape == ga.theta.shape == (3, 2)
    assert ga.price[1, 0] == qo.black76(100.0, 100.0, 0.1, 0.6, "call").price
    assert ga.delta[2, 1] == qo.black76(100.0, 120.0, 0.5, 0.6, "put").delta
    bad = qo.black76_vec(
        [math.nan, 100.0, 100.0, -1.0, 100.0, 100.0],
        [100.0, math.nan, 100.0, 100.0, 100.0, 100.0],
        [0.5, 0.5, math.nan, 0.5, -1.0, 0.5],
        [0.5, 0.5, 0.5, 0.5, 0.5, math.inf],
        True,
    )
    for name in ("price", "delta", "gamma", "vega", "theta"):
        assert np.isnan(getattr(bad, name)).all(), name


def test_greeks_records_for_kernels() -> None:
    ga = qo.black76_vec([100.0, 100.0], [90.0, 110.0], 0.25, 0.7, [True, False])
    recs = ga.to_records()
    assert recs.dtype == qo.GREEKS_DTYPE
    assert qo.GREEKS_DTYPE.names == ("price", "delta", "gamma", "vega", "theta")
    np.testing.assert_array_equal(recs["vega"], ga.vega)


def test_portfolio_delta_sums_position_times_delta() -> None:
    positions = np.array([2.0, -1.0, 0.0, 3.0])
    deltas = np.array([0.5, -0.25, math.nan, 0.1])
    assert qo.portfolio_delta(positions, deltas) == pytest.approx(2 * 0.5 + 0.25 + 0.3)
    assert math.isnan(qo.portfolio_delta(np.array([1.0]), np.array([math.nan])))
