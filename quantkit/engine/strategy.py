"""What a strategy is: jitted hooks, typed parameters and a state layout.

A strategy is written once and serves the backtest, parameter sweeps and live trading::

    @njit(cache=True)
    def on_quote(ctx, p, s):          # ctx: engine record, p: params record, s: state record
        ...
        buy_market(ctx, ctx.slot, p.size)

    MyStrategy = Strategy("my_strategy", on_quote,
                          params={"span": 100, "threshold": 0.0005, "size": 1.0},
                          state=[("ema", "f8", MAX_SLOTS)])
    cfg = MyStrategy(span=50, instruments=["BTC-PERPETUAL"])   # a configured instance

Optional hooks, with the same ``(ctx, p, s)`` signature: ``on_fill`` (each of the instance's
fills), ``on_start`` (once, before the first event) and ``on_timer`` (when the time set with
:func:`quantkit.engine.timers.set_timer` comes).

Parameter types follow their defaults: float, int, bool, or str (an instrument name: the engine
subscribes the instance to it and stores its slot number in the record). Values must have that
type (an int is a fine float); only text typed on the command line (:class:`ParamText`) is
parsed. ``bounds`` restricts values, e.g. ``bounds={"span": ">= 1", "size": "> 0"}``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quantkit.errors import ConfigError, did_you_mean

ParamValue = float | int | bool | str
_BOUND_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


class ParamText(str):
    """A parameter value as text typed on the command line (``--param span=50``): parsed to
    the parameter's type. A plain ``str`` is accepted only for instrument-name parameters."""


@dataclass(frozen=True)
class Strategy:
    """A strategy definition: hooks plus parameter defaults and state layout.

    Usage: ``Strategy("name", on_quote, params={"size": 1.0}, state=[("x", "f8")])``
    """

    name: str
    on_quote: Callable[..., Any]
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    state: Sequence[tuple[Any, ...]] = ()
    on_fill: Callable[..., Any] | None = None
    on_start: Callable[..., Any] | None = None
    #: called when the instance's timer fires (``quantkit.engine.timers.set_timer``)
    on_timer: Callable[..., Any] | None = None
    columns: tuple[str, ...] = ()  #: extra numeric data columns the kernel reads from ``ctx.x``
    #: canonical columns the kernel reads (None: all); the engine adds what the fill model and
    #: option accounting need, and the backtest reads nothing else from Parquet
    needs: tuple[str, ...] | None = None
    doc: str = ""
    #: limits of numeric parameters, ``{"span": ">= 1", "size": "> 0"}`` (>=, >, <=, <)
    bounds: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, value in self.params.items():
            if not isinstance(value, bool | int | float | str):
                raise ConfigError(
                    f"strategy {self.name!r}: default of parameter {key!r} must be a float, int, "
                    f"bool or instrument name, got {type(value).__name__}"
                )
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "bounds", dict(self.bounds))
        for key, bound in self.bounds.items():
            if key not in self.params:
                raise ConfigError(
                    f"strategy {self.name!r}: bound {bound!r} is for {key!r}, which is not "
                    f"one of its parameters{did_you_mean(key, self.params)}"
                )
            if isinstance(self.params[key], bool | str):
                raise ConfigError(
                    f"strategy {self.name!r}: bound {bound!r} is for {key!r}, which is not a "
                    f"numeric parameter"
                )
            _check_bound(self.name, key, bound, self.params[key], "default of ")

    def __call__(
        self,
        instruments: Sequence[str] | None = None,
        label: str | None = None,
        **params: Any,
    ) -> StrategyConfig:
        """A configured instance: ``momentum(span=50, instruments=["ETH-PERPETUAL"])``."""
        return StrategyConfig(
            self, self.validate_params(params), _tuple_or_none(instruments), label
        )

    @property
    def params_dtype(self) -> np.dtype:
        """numpy record layout of the parameters (str params hold a slot number)."""
        return np.dtype(
            [(k, _param_numpy_type(v)) for k, v in self.params.items()] or [("_", "i8")]
        )

    @property
    def state_dtype(self) -> np.dtype:
        """numpy record layout of the strategy's state."""
        return np.dtype(list(self.state) or [("_", "i8")])

    def validate_params(self, given: Mapping[str, Any]) -> dict[str, ParamValue]:
        """Merge ``given`` into the defaults, checking names and types (ConfigError otherwise)."""
        out = dict(self.params)
        for key, value in given.items():
            if key not in self.params:
                raise ConfigError(
                    f"strategy {self.name!r} has no parameter {key!r}"
                    f"{did_you_mean(key, self.params)}; its parameters: {', '.join(self.params)}"
                )
            out[key] = coerce_param(self.name, key, self.params[key], value)
            if key in self.bounds:
                _check_bound(self.name, key, self.bounds[key], out[key])
        return out


@dataclass(frozen=True)
class StrategyConfig:
    """One instance of a strategy with its parameters and instruments (None = all in the data)."""

    strategy: Strategy
    params: Mapping[str, ParamValue]
    instruments: tuple[str, ...] | None = None
    label: str | None = None

    @property
    def name(self) -> str:
        """The label shown in results (the strategy's name unless given)."""
        return self.label or self.strategy.name

    def instrument_params(self) -> dict[str, str]:
        """Parameters whose value is an instrument name."""
        return {k: v for k, v in self.params.items() if isinstance(v, str)}

    def slots(self, available: Sequence[str]) -> tuple[str, ...]:
        """Instruments this instance subscribes to, in slot order."""
        base = list(self.instruments) if self.instruments is not None else list(available)
        for inst in self.instrument_params().values():
            if inst not in base:
                base.append(inst)
        return tuple(base)

    def params_record(self, slots: Sequence[str]) -> np.ndarray:
        """A one-element params array for the kernel (instrument params become slot numbers)."""
        rec = np.zeros(1, dtype=self.strategy.params_dtype)
        for key, value in self.params.items():
            rec[key] = slots.index(value) if isinstance(value, str) else value
        return rec


def coerce_param(strategy: str, key: str, default: ParamValue, value: Any) -> ParamValue:
    """Check ``value`` against the type of ``default`` (parsing :class:`ParamText` from the
    command line) and return it in that type, or raise ConfigError."""
    want = "an integer" if isinstance(default, int) else "a number"
    where = f"parameter {key!r} of {strategy!r}"
    text = isinstance(value, ParamText)
    if isinstance(default, bool):
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if text and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if isinstance(default, str):
        if isinstance(value, str) and value:
            return str(value)
        raise ConfigError(f"{where} must be an instrument name, got {value!r}")
    if isinstance(value, bool | np.bool_):
        raise ConfigError(f"{where} must be {want}, got {value!r}")
    if text:
        try:
            value = int(value) if isinstance(default, int) else float(value)
        except ValueError:
            raise ConfigError(f"{where} must be {want}, got {value!r}") from None
    elif isinstance(value, str):
        raise ConfigError(f"{where} must be {want}, got the string {value!r}")
    if isinstance(default, int):
        if not isinstance(value, int | np.integer):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return int(value)
    try:
        number = float(value) if isinstance(value, int | float | np.integer | np.floating) else None
    except OverflowError:  # an int beyond float's range
        number = None
    if number is None or not math.isfinite(number):
        raise ConfigError(f"{where} must be a finite number, got {value!r}")
    return number


def _check_bound(strategy: str, key: str, bound: str, value: Any, what: str = "") -> None:
    """Raise ConfigError unless ``value`` satisfies ``bound`` (e.g. ``"> 0"``); ``what``
    prefixes the parameter in the message (``"default of "``)."""
    op, _, number = bound.strip().partition(" ")
    compare = _BOUND_OPS.get(op)
    try:
        limit = float(number)
    except ValueError:
        limit = math.nan
    if compare is None or not math.isfinite(limit):
        raise ConfigError(
            f"strategy {strategy!r}: bound {bound!r} of {key!r} must look like '>= 1' "
            f"(one of {', '.join(_BOUND_OPS)}, a space, a finite number)"
        )
    if not compare(value, limit):
        where = f"{what}parameter {key!r} of {strategy!r}"
        raise ConfigError(f"{where} must be {bound.strip()}, got {value!r}")


def _param_numpy_type(value: ParamValue) -> str:
    if isinstance(value, bool):
        return "i8"
    if isinstance(value, int):
        return "i8"
    if isinstance(value, str):
        return "i8"
    return "f8"


def _tuple_or_none(instruments: Sequence[str] | None) -> tuple[str, ...] | None:
    if instruments is None:
        return None
    if isinstance(instruments, str):
        return (instruments,)
    out = tuple(instruments)
    if not out:
        raise ConfigError("instruments must not be empty (use None for all instruments)")
    return out
