"""Strategy parameters from Python: typed values, command-line text parsed, bounds checked."""

from __future__ import annotations

import numpy as np
import pytest

import quantkit as qk
from quantkit.engine import ParamText
from quantkit.engine.hooks import noop as _noop_quote


def test_values_keep_their_type_and_numpy_scalars_are_accepted() -> None:
    cfg = qk.strategies.momentum(span=np.int64(20), threshold=np.float32(0.25), size=3)
    assert cfg.params == {"span": 20, "threshold": 0.25, "size": 3.0}
    assert type(cfg.params["span"]) is int and type(cfg.params["size"]) is float


@pytest.mark.parametrize(
    ("params", "needles"),
    [
        ({"span": "2"}, ["'span'", "integer", "the string '2'"]),
        ({"threshold": "0.1"}, ["'threshold'", "number", "the string '0.1'"]),
        ({"span": 2.0}, ["'span'", "integer", "2.0"]),
        ({"span": True}, ["'span'", "integer"]),
        ({"size": float("nan")}, ["'size'", "finite"]),
        ({"span": 0}, ["'span'", "must be >= 1", "got 0"]),
        ({"size": 0.0}, ["'size'", "must be > 0"]),
        ({"size": -1}, ["'size'", "must be > 0"]),
        ({"threshold": -1e-9}, ["'threshold'", "must be >= 0"]),
    ],
)
def test_wrong_types_and_values_out_of_bounds_are_config_errors(
    params: dict, needles: list[str]
) -> None:
    with pytest.raises(qk.ConfigError) as err:
        qk.strategies.momentum(**params)
    for needle in needles:
        assert needle in str(err.value)
    assert "'momentum'" in str(err.value)


def test_command_line_text_is_parsed_to_the_parameter_type() -> None:
    cfg = qk.strategies.momentum(span=ParamText("7"), threshold=ParamText("1e-4"))
    assert cfg.params["span"] == 7 and cfg.params["threshold"] == 1e-4
    with pytest.raises(qk.ConfigError, match=r"'span'.*must be >= 1"):
        qk.strategies.momentum(span=ParamText("0"))
    with pytest.raises(qk.ConfigError, match=r"'span'.*integer"):
        qk.strategies.momentum(span=ParamText("2.5"))


def test_a_bound_is_checked_where_the_strategy_is_defined() -> None:
    with pytest.raises(qk.ConfigError, match=r"bound '> zero' of 'k'.*look like"):
        qk.Strategy("s", _noop_quote, params={"k": 1.0}, bounds={"k": "> zero"})
    with pytest.raises(qk.ConfigError, match=r"default of parameter 'k' of 's' must be > 0"):
        qk.Strategy("s", _noop_quote, params={"k": 0.0}, bounds={"k": "> 0"})
    with pytest.raises(qk.ConfigError, match=r"'kk', which is not one of.*did you mean 'k'"):
        qk.Strategy("s", _noop_quote, params={"k": 1.0}, bounds={"kk": ">= 0"})
    with pytest.raises(qk.ConfigError, match=r"'on', which is not a numeric parameter$"):
        qk.Strategy("s", _noop_quote, params={"on": True}, bounds={"on": "> 0"})
    with pytest.raises(qk.ConfigError, match="a finite number"):
        qk.Strategy("s", _noop_quote, params={"k": 1.0}, bounds={"k": ">= nan"})
    ok = qk.Strategy("s", _noop_quote, params={"k": 1.0, "n": 3}, bounds={"k": "<= 2", "n": "< 4"})
    assert ok(k=2, n=3).params == {"k": 2.0, "n": 3}
    with pytest.raises(qk.ConfigError, match="'n' of 's' must be < 4, got 4"):
        ok(n=4)


def test_numpy_booleans_and_huge_ints_are_handled() -> None:
    flagged = qk.Strategy("f", _noop_quote, params={"on": False, "x": 1.0})
    assert flagged(on=np.True_).params["on"] is True  # a sweep over np.array([True, False])
    with pytest.raises(qk.ConfigError, match="'x' of 'f' must be a number"):
        flagged(x=np.True_)
    with pytest.raises(qk.ConfigError, match="'x' of 'f' must be a finite number"):
        flagged(x=10**400)  # beyond a float: not an OverflowError
