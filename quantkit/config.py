"""Typed, frozen run configuration (``run.toml``); unknown keys are errors with "did you mean".

Example ``run.toml``::

    data = "data/sample_ticks.parquet"
    fee_bps_taker = 5.0
    latency_ms = 1.0

    [[strategy]]
    name = "momentum"              # built-in name or module:attr
    label = "mom_eth"              # optional
    instruments = ["ETH-PERPETUAL"]
    params = { span = 50, threshold = 0.001 }

Usage::

    cfg = load_run_config("run.toml")
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from quantkit.errors import ConfigError, did_you_mean


@dataclass(frozen=True)
class StrategyEntry:
    """One ``[[strategy]]`` table."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    instruments: tuple[str, ...] | None = None
    label: str | None = None
    where: str = ""  #: where it was written ("run.toml: strategy #1"), named in errors


@dataclass(frozen=True)
class RunConfig:
    """Everything ``quantkit backtest`` can be told; ``None`` means "use the default"."""

    data: str | None = None
    strategies: tuple[StrategyEntry, ...] = ()
    instruments: tuple[str, ...] | None = None
    fee_bps_maker: float | None = None
    fee_bps_taker: float | None = None
    latency_ms: float | None = None
    market_timeout_ms: float | None = None
    equity_interval_ms: float | None = None
    accounting: str | None = None
    batch_size: int | None = None
    out: str | None = None


_TOP_KEYS = [f.name for f in fields(RunConfig) if f.name != "strategies"] + ["strategy"]
_STRATEGY_KEYS = [f.name for f in fields(StrategyEntry) if f.name != "where"]
_NUMBERS = (
    "fee_bps_maker",
    "fee_bps_taker",
    "latency_ms",
    "market_timeout_ms",
    "equity_interval_ms",
)


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate a run.toml (ConfigError naming the file and key on any problem)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        raw = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    return parse_run_config(raw, str(p))


def parse_run_config(raw: dict[str, Any], where: str = "config") -> RunConfig:
    """Validate a parsed TOML document into a :class:`RunConfig`."""
    _check_keys(raw, _TOP_KEYS, where)
    kw: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "strategy":
            if not isinstance(value, list):
                raise ConfigError(f"{where}: 'strategy' must be an array of tables ([[strategy]])")
            kw["strategies"] = tuple(
                _strategy(v, f"{where}: strategy #{i + 1}") for i, v in enumerate(value)
            )
        elif key in _NUMBERS:
            kw[key] = _number(value, f"{where}: {key}")
        elif key == "batch_size":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{where}: batch_size must be an integer >= 0, got {value!r}")
            kw[key] = value
        elif key == "instruments":
            kw[key] = _names(value, f"{where}: instruments")
        else:
            if not isinstance(value, str):
                raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
            kw[key] = value
    return RunConfig(**kw)


def _strategy(raw: Any, where: str) -> StrategyEntry:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    _check_keys(raw, _STRATEGY_KEYS, where)
    if not isinstance(raw.get("name"), str):
        raise ConfigError(f'{where} needs name = "momentum" (or module:attr)')
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"{where}: params must be a table, e.g. params = {{ span = 50 }}")
    inst = raw.get("instruments")
    label = raw.get("label")
    if label is not None and not isinstance(label, str):
        raise ConfigError(f"{where}: label must be a string")
    return StrategyEntry(
        raw["name"], dict(params), None if inst is None else _names(inst, where), label, where
    )


def _check_keys(raw: dict[str, Any], allowed: list[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {key!r}{did_you_mean(key, allowed)}; "
                f"allowed: {', '.join(allowed)}"
            )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    return float(value)


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or not value:
        raise ConfigError(f"{where} must be a non-empty list of instrument names")
    return tuple(value)
