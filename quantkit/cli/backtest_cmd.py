"""``quantkit backtest``: run strategies over a tick file and print (or write) the results.

Usage::

    quantkit backtest                                   # seed strategies on the bundled sample
    quantkit backtest --data ticks.parquet --strategy momentum --param span=50 --json
    quantkit backtest --strategy momentum --param span=20 --strategy my_mod:MyStrat --out out/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from quantkit.config import RunConfig, StrategyEntry, load_run_config
from quantkit.engine.results import BacktestResult, _jsonable
from quantkit.engine.settings import EngineSettings
from quantkit.engine.strategy import ParamText, StrategyConfig
from quantkit.errors import ConfigError, DataError


def bundled_sample() -> Path:
    """Path of ``data/sample_ticks.parquet`` next to the package (editable install / checkout)."""
    here = Path(__file__).resolve().parents[2] / "data" / "sample_ticks.parquet"
    if not here.exists():
        raise DataError(f"the bundled sample {here} is missing; pass --data PATH")
    return here


@click.command()
@click.option(
    "--data",
    "data_path",
    type=str,
    default=None,
    help="Parquet file, directory or glob (default: bundled sample).",
)
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    help="Built-in name or module:attr; repeat for several.",
)
@click.option("--param", "params", multiple=True, help="KEY=VALUE for the preceding --strategy.")
@click.option(
    "--instrument", "instruments", multiple=True, help="Restrict to these instruments (repeatable)."
)
@click.option(
    "--config", "config_path", type=str, default=None, help="run.toml with strategies and settings."
)
@click.option(
    "--fee-bps-maker",
    type=float,
    default=None,
    help="Maker fee, bps of notional (negative = rebate).",
)
@click.option("--fee-bps-taker", type=float, default=None, help="Taker fee, bps of notional.")
@click.option("--latency-ms", type=float, default=None, help="Order latency in ms (default 0).")
@click.option(
    "--accounting",
    type=click.Choice(["auto", "linear"]),
    default=None,
    help="auto: Deribit perps/futures inverse, options coin-quoted; linear: all linear.",
)
@click.option("--batch-size", type=int, default=None, help="Rows per batch (0 = whole file).")
@click.option(
    "--out",
    "out_dir",
    type=str,
    default=None,
    help="Write fills/orders/equity parquet + summary.json here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.pass_context
def backtest(
    ctx: click.Context,
    data_path: str | None,
    strategies: tuple[str, ...],
    params: tuple[str, ...],
    instruments: tuple[str, ...],
    config_path: str | None,
    fee_bps_maker: float | None,
    fee_bps_taker: float | None,
    latency_ms: float | None,
    accounting: str | None,
    batch_size: int | None,
    out_dir: str | None,
    as_json: bool,
) -> None:
    """Backtest strategies on tick data (default: the bundled sample)."""
    from quantkit.engine.backtest import backtest as run_backtest

    argv = (ctx.obj or {}).get("argv") or sys.argv[1:]
    cfg = load_run_config(config_path) if config_path else RunConfig()
    entries = _entries_from_argv(argv) if strategies or params else list(cfg.strategies)
    data = data_path or cfg.data
    configs = _build_configs(entries, data is None and not instruments and not cfg.instruments)
    settings = EngineSettings(
        **_settings(
            cfg,
            fee_bps_maker=fee_bps_maker,
            fee_bps_taker=fee_bps_taker,
            latency_ms=latency_ms,
            accounting=accounting,
        )
    )
    size = (
        batch_size
        if batch_size is not None
        else (cfg.batch_size if cfg.batch_size is not None else 1_000_000)
    )
    if size < 0:
        raise ConfigError(f"--batch-size must be >= 0 (0 = whole file), got {size}")
    result = run_backtest(
        data or bundled_sample(),
        configs,
        instruments=list(instruments) or cfg.instruments,
        batch_size=size,
        settings=settings,
    )
    target = out_dir or cfg.out
    if target:
        result.write(target)
    if as_json:
        click.echo(json.dumps(_jsonable(result.to_dict())))
    else:
        click.echo(render(result))
        if target:
            click.echo(
                f"wrote fills.parquet, orders.parquet, equity.parquet, summary.json to {target}"
            )


def _settings(cfg: RunConfig, **cli: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in (
        "fee_bps_maker",
        "fee_bps_taker",
        "latency_ms",
        "market_timeout_ms",
        "equity_interval_ms",
        "accounting",
    ):
        value = cli.get(key)
        if value is None:
            value = getattr(cfg, key)
        if value is not None:
            out[key] = value
    return out


def _entries_from_argv(argv: list[str]) -> list[StrategyEntry]:
    """Pair every --param with the --strategy before it (order matters on the command line)."""
    entries: list[tuple[str, dict[str, Any]]] = []
    pending: dict[str, Any] = {}
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        name, sep, rest = tok.partition("=")
        value = rest if sep and tok.startswith("--") else None
        if name in ("--strategy", "--param"):
            if value is None:
                value = tokens[i + 1] if i + 1 < len(tokens) else ""
                i += 1
            if name == "--strategy":
                entries.append((value, {}))
            else:
                key, sep, val = value.partition("=")
                if not sep or not key:
                    raise ConfigError(
                        f"--param {value!r} must look like KEY=VALUE, e.g. --param span=50"
                    )
                (entries[-1][1] if entries else pending)[key] = ParamText(val)
        i += 1
    if pending and entries:
        raise ConfigError("--param must follow the --strategy it applies to")
    if not entries:
        entries = [("momentum", pending)]
    return [StrategyEntry(name, p) for name, p in entries]


def _build_configs(entries: list[StrategyEntry], bundled_default: bool) -> list[StrategyConfig]:
    from quantkit.strategies import resolve

    if not entries:
        if bundled_default:
            from quantkit.strategies.seed import seed_configs

            return seed_configs()
        entries = [StrategyEntry("momentum")]
    return [_build_config(resolve, e) for e in entries]


def _build_config(resolve: Any, entry: StrategyEntry) -> StrategyConfig:
    """The configured strategy of one entry; errors name the run.toml entry it came from."""
    try:
        return resolve(entry.name)(instruments=entry.instruments, label=entry.label, **entry.params)
    except ConfigError as err:
        if entry.where:
            raise ConfigError(f"{entry.where}: {err}") from None
        raise


def render(res: BacktestResult) -> str:
    """A compact human-readable table: one block per strategy, totals and throughput."""
    lines = []
    head = (
        f"{'strategy':<18} {'events':>10} {'orders':>7} {'fills':>6} {'realized':>12} "
        f"{'unrealized':>12} {'fees':>10} {'max_dd':>10} {'sharpe':>7}"
    )
    lines.append(head)
    lines.append("-" * len(head))
    for s in res.strategies:
        lines.append(
            f"{s['name'][:18]:<18} {s['events']:>10,} {s['orders']:>7,} {s['fills']:>6,} "
            f"{s['realized_pnl']:>12,.2f} {s['unrealized_pnl']:>12,.2f} {s['fees']:>10,.2f} "
            f"{s['max_drawdown']:>10,.2f} {s['sharpe']:>7.2f}"
        )
        pos = ", ".join(f"{k} {v:+g}" for k, v in s["positions"].items() if v)
        greeks = s["greeks"]
        lines.append(f"  positions: {pos or 'flat'}")
        if any(greeks[g] for g in ("gamma", "vega", "theta")):
            lines.append("  greeks: " + ", ".join(f"{g} {greeks[g]:+.4g}" for g in greeks))
        params = ", ".join(f"{k}={v}" for k, v in s["params"].items())
        lines.append(
            f"  params: {params or '-'}; instruments: {', '.join(s['instruments'][:6])}"
            f"{' ...' if len(s['instruments']) > 6 else ''}"
        )
    t = res.totals()
    lines.append("-" * len(head))
    lines.append(
        f"{'total':<18} {res.events:>10,} {t['orders']:>7,} {t['fills']:>6,} "
        f"{t['realized_pnl']:>12,.2f} {t['unrealized_pnl']:>12,.2f} {t['fees']:>10,.2f}"
    )
    rate = res.events_per_s or float("nan")
    lines.append(
        f"{res.events:,} events in {res.elapsed_s:.3f} s ({res.extra.get('setup_s', 0):.2f} s "
        f"loading kernels; replay {rate / 1e6:,.1f}M events/s); PnL in USD"
    )
    return "\n".join(lines)
