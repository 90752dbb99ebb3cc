"""``qk.backtest``: replay a tick dataset through one or more strategies.

Usage::

    import quantkit as qk
    res = qk.backtest("data/sample_ticks.parquet", strategies=[qk.strategies.momentum(span=50)])
    res.summary
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quantkit import data as qdata
from quantkit.engine.results import BacktestResult, build_result
from quantkit.engine.run import Engine
from quantkit.engine.settings import EngineSettings
from quantkit.engine.strategy import Strategy, StrategyConfig
from quantkit.errors import ConfigError, did_you_mean


def backtest(
    data: str | Path | Any,
    strategies: Sequence[StrategyConfig | Strategy] | StrategyConfig | Strategy | None = None,
    *,
    instruments: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    batch_size: int = 1_000_000,
    settings: EngineSettings | None = None,
    **setting_kwargs: Any,
) -> BacktestResult:
    """Backtest ``strategies`` (default: momentum) on ``data`` (path or ``qk.data.scan`` result).

    ``instruments`` restricts the data read (pushed down to Parquet); settings such as
    ``fee_bps_taker=5, latency_ms=1`` may be given as keywords or as an ``EngineSettings``.
    ``batch_size=0`` replays everything in one batch (results never depend on the batch size).
    """
    configs = _configs(strategies)
    if settings is None:
        settings = EngineSettings(**setting_kwargs)
    elif setting_kwargs:
        raise ConfigError("give either settings=EngineSettings(...) or keyword settings, not both")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0:
        raise ConfigError(
            f"batch_size must be an integer >= 0 (0 = whole file), got {batch_size!r}"
        )
    scan = _scan(data, configs, instruments, start, end, batch_size)
    t0 = time.perf_counter()
    engine = Engine(configs, scan.instruments, settings, scan.float_columns)
    setup_s = time.perf_counter() - t0  # loading (or compiling) the jitted drivers
    started = False
    for batch in scan.batches(batch_size=batch_size, columns=engine.columns_needed()):
        if not started:
            engine.start(int(batch.ts[0]))
            started = True
        engine.feed(batch.ts, batch.code, batch.columns)
    engine.finish()
    result = build_result(engine, time.perf_counter() - t0)
    result.extra["setup_s"] = setup_s
    return result


def _configs(strategies: Any) -> list[StrategyConfig]:
    from quantkit.strategies import momentum

    if strategies is None:
        return [momentum()]
    if isinstance(strategies, Strategy | StrategyConfig):
        strategies = [strategies]
    out = []
    for s in strategies:
        if isinstance(s, Strategy):
            s = s()
        if not isinstance(s, StrategyConfig):
            raise ConfigError(
                f"strategies must be Strategy objects or configured instances such as "
                f"qk.strategies.momentum(span=50), got {type(s).__name__}"
            )
        out.append(s)
    return out


def _scan(
    data: Any,
    configs: list[StrategyConfig],
    instruments: Sequence[str] | None,
    start: Any,
    end: Any,
    batch_size: int,
) -> Any:
    if not isinstance(data, str | Path):
        return data
    wanted = _wanted_instruments(configs, instruments)
    scan = qdata.scan(  # without size columns the sizes are unknown: fills are not capped
        data,
        instruments=wanted,
        start=start,
        end=end,
        batch_size=batch_size or 1_000_000,
        sizes_optional=True,
    )
    missing = [i for i in (wanted or ()) if i not in scan.instruments]
    if missing:
        every = qdata.scan(data, sizes_optional=True).instruments
        raise ConfigError(
            f"instrument {missing[0]!r} is not in {data}{did_you_mean(missing[0], every)}; "
            f"it has: {', '.join(every[:12])}{' ...' if len(every) > 12 else ''}"
        )
    return scan


def _wanted_instruments(
    configs: list[StrategyConfig], instruments: Sequence[str] | None
) -> list[str] | None:
    """The instruments to read: None (all) unless every strategy names its own."""
    if instruments is not None:
        return list(dict.fromkeys(instruments))
    if any(c.instruments is None for c in configs):
        return None
    names: list[str] = []
    for c in configs:
        names.extend(c.slots(()))
    return list(dict.fromkeys(names))
