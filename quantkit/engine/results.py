"""Backtest results as polars DataFrames, and the statistics of the sampled equity curve.

Usage::

    res = qk.backtest("data/sample_ticks.parquet")
    res.summary            # one row per strategy instance
    res.fills.head()
    res.write("out/")      # fills.parquet, orders.parquet, equity.parquet, summary.json
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from quantkit.engine.accounting import slot_delta, slot_unrealized, to_usd
from quantkit.engine.group import StrategyGroup, in_event_order
from quantkit.engine.layout import (
    EQUITY_LOG_DTYPE,
    FILL_LOG_DTYPE,
    INVERSE,
    LINEAR,
    OE_NAMES,
    OE_NEW,
    ORDER_LOG_DTYPE,
    REASONS,
)
from quantkit.engine.run import Engine

YEAR_NS = 365 * 86_400 * 10**9
_TYPE_NAMES = {0: "market", 1: "limit", 2: "cancel"}


@dataclass
class BacktestResult:
    """What a backtest returns: ``summary``, ``fills``, ``orders``, ``equity`` (polars)."""

    summary: pl.DataFrame
    fills: pl.DataFrame
    orders: pl.DataFrame
    equity: pl.DataFrame
    strategies: list[dict[str, Any]]
    events: int
    elapsed_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def totals(self) -> dict[str, Any]:
        """Sums over strategies: orders, fills, realized/unrealized PnL and fees (USD)."""
        keys = ("orders", "fills", "realized_pnl", "unrealized_pnl", "fees")
        return {k: sum(s[k] for s in self.strategies) for k in keys}

    @property
    def events_per_s(self) -> float | None:
        """Events per second of replay (wall time minus loading/compiling the kernels)."""
        run = self.elapsed_s - float(self.extra.get("setup_s", 0.0))
        return self.events / run if run > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document printed by ``quantkit backtest --json``."""
        return {
            "strategies": self.strategies,
            "total": self.totals(),
            "events": self.events,
            "elapsed_s": self.elapsed_s,
            "events_per_s": self.events_per_s,
            **self.extra,
        }

    def write(self, out_dir: str | Path) -> Path:
        """Write fills/orders/equity Parquet files and summary.json into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.fills.write_parquet(out / "fills.parquet")
        self.orders.write_parquet(out / "orders.parquet")
        self.equity.write_parquet(out / "equity.parquet")
        (out / "summary.json").write_text(json.dumps(_jsonable(self.to_dict()), indent=2))
        return out


def build_result(engine: Engine, elapsed_s: float) -> BacktestResult:
    """Turn a finished engine's logs and records into a :class:`BacktestResult`."""
    labels = [c.name for c in engine.configs]
    inst = engine.instruments
    orders = _frame(engine.groups, "orders", ORDER_LOG_DTYPE)
    fills = _frame(engine.groups, "fills", FILL_LOG_DTYPE)
    equity = _frame(engine.groups, "equity", EQUITY_LOG_DTYPE)
    strategies = [
        _summarize(g, j, labels[g.instance_ids[j]], orders, fills, equity)
        for g, j in engine.instances
    ]
    return BacktestResult(
        summary=pl.DataFrame([_flat(s) for s in strategies]),
        fills=_named_fills(fills, labels, inst),
        orders=_named_orders(orders, labels, inst),
        equity=_named_equity(equity, labels),
        strategies=strategies,
        events=engine.rows,
        elapsed_s=elapsed_s,
    )


def _frame(groups: list[StrategyGroup], attr: str, dtype: np.dtype) -> np.ndarray:
    """One log of every group, in event order: by row (equity samples: by ts), then instance,
    each instance's lines in the order it logged them."""
    parts = [p for g in groups for p in getattr(g, attr)]
    return in_event_order(np.concatenate(parts) if parts else np.zeros(0, dtype))


def _summarize(
    g: StrategyGroup, j: int, label: str, orders: np.ndarray, fills: np.ndarray, equity: np.ndarray
) -> dict[str, Any]:
    ctx = _Fields(g.ctxs[j])
    slots = g.slots[j]
    me = g.instance_ids[j]
    eq = equity[equity["instance"] == me]
    n = range(len(slots))
    realized = sum(_to_usd(ctx, s, ctx.realized[s]) for s in n)
    unrealized = sum(_to_usd(ctx, s, _unrealized(ctx, s)) for s in n)
    fees = sum(_to_usd(ctx, s, ctx.fees[s]) for s in n)
    return {
        "name": label,
        "strategy": g.strategy.name,
        "instruments": list(slots),
        "params": g.params_of(j),
        "events": int(ctx.n_events),
        "orders": int(np.count_nonzero((orders["instance"] == me) & (orders["event"] == OE_NEW))),
        "fills": int(np.count_nonzero(fills["instance"] == me)),
        "realized_pnl": float(realized),
        "unrealized_pnl": float(unrealized),
        "fees": float(fees),
        "positions": {slots[s]: float(ctx.position[s]) for s in n},
        "max_drawdown": max_drawdown(eq["equity_usd"]),
        "sharpe": sharpe(eq["equity_usd"], g.settings.sample_ns),
        "pnl_by_currency": _by_currency(ctx, slots),
        "greeks": _greeks(ctx, len(slots)),
    }


def max_drawdown(equity: np.ndarray) -> float:
    """Largest fall from a running peak of the sampled equity (the curve starts at 0), in USD."""
    if len(equity) == 0:
        return 0.0
    curve = np.concatenate([[0.0], np.asarray(equity, dtype=np.float64)])
    return float(np.max(np.maximum.accumulate(curve) - curve))


def sharpe(equity: np.ndarray, sample_ns: int) -> float:
    """Annualized Sharpe of the per-sample equity changes (365-day year); 0 when flat."""
    curve = np.concatenate([[0.0], np.asarray(equity, dtype=np.float64)])
    steps = np.diff(curve)
    if len(steps) < 2:
        return 0.0
    sd = float(np.std(steps, ddof=1))
    if sd == 0.0 or not math.isfinite(sd):
        return 0.0
    return float(np.mean(steps) / sd * math.sqrt(YEAR_NS / sample_ns))


class _Fields:
    """A ctx record whose fields read as Python numbers (``ctx.position[s]``), so that the
    kernels' accounting functions run uncompiled (``.py_func``): same IEEE arithmetic, same
    ZeroDivisionError, and nothing to compile for a report."""

    def __init__(self, record: np.void) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        value = self._record[name].tolist()
        setattr(self, name, value)
        return value


_to_usd = to_usd.py_func
_unrealized = slot_unrealized.py_func
_delta = slot_delta.py_func


def _by_currency(ctx: _Fields, slots: tuple[str, ...]) -> dict[str, dict[str, float]]:
    from quantkit.engine.facts import facts_for

    out: dict[str, dict[str, float]] = {}
    for s, name in enumerate(slots):
        kind = int(ctx.inst_kind[s])
        cur = "USD" if kind == LINEAR else facts_for(name).underlying
        acc = out.setdefault(cur, {"realized": 0.0, "unrealized": 0.0, "fees": 0.0})
        acc["realized"] += float(ctx.realized[s])
        acc["unrealized"] += float(_unrealized(ctx, s))
        acc["fees"] += float(ctx.fees[s])
    return out


def _greeks(ctx: _Fields, n: int) -> dict[str, float]:
    out = {"delta": 0.0, "gamma": 0.0, "vega": 0.0, "theta": 0.0}
    for s in range(n):
        pos = float(ctx.position[s])
        if pos == 0.0:
            continue
        d = float(_delta(ctx, s))
        out["delta"] += 0.0 if math.isnan(d) else d
        if int(ctx.is_call[s]) >= 0:
            for g in ("gamma", "vega", "theta"):
                v = float(getattr(ctx, f"q_{g}")[s])
                out[g] += 0.0 if math.isnan(v) else pos * v
    return out


def _side(a: np.ndarray) -> pl.Series:
    return pl.Series(np.where(a > 0, "buy", np.where(a < 0, "sell", "")))


def _named_fills(f: np.ndarray, labels: list[str], inst: tuple[str, ...]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": f["ts"],
            "strategy": [labels[i] for i in f["instance"]],
            "instrument": [inst[c] for c in f["code"]],
            "side": _side(f["side"]),
            "price": f["price"],
            "size": f["size"],
            "fee": f["fee"],
            "maker": f["maker"].astype(bool),
            "order_id": f["order_id"],
            "fill_id": f["fill_id"],
            "position": f["position"],
            "realized": f["realized"],
            "row": f["row"],
        },
        schema_overrides={"ts": pl.Int64, "strategy": pl.String, "instrument": pl.String},
    )


def _named_orders(o: np.ndarray, labels: list[str], inst: tuple[str, ...]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": o["ts"],
            "strategy": [labels[i] for i in o["instance"]],
            "instrument": [inst[c] if c >= 0 else None for c in o["code"]],
            "order_id": o["order_id"],
            "event": [OE_NAMES[e] for e in o["event"]],
            "side": _side(o["side"]),
            "type": [_TYPE_NAMES.get(int(t), "?") for t in o["type"]],
            "price": o["price"],
            "size": o["size"],
            "post_only": (o["flags"] & 1).astype(bool),
            "reduce_only": (o["flags"] & 2).astype(bool),
            "reason": [REASONS.get(int(r), str(r)) for r in o["reason"]],
            "row": o["row"],
        },
        schema_overrides={
            "ts": pl.Int64,
            "strategy": pl.String,
            "instrument": pl.String,
            "event": pl.String,
            "type": pl.String,
            "reason": pl.String,
        },
    )


def _named_equity(e: np.ndarray, labels: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ts": e["ts"],
            "strategy": [labels[i] for i in e["instance"]],
            "realized": e["realized_usd"],
            "unrealized": e["unrealized_usd"],
            "fees": e["fees_usd"],
            "equity": e["equity_usd"],
            "delta": e["delta"],
        },
        schema_overrides={"ts": pl.Int64, "strategy": pl.String},
    )


def _flat(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": s["name"],
        "instruments": ",".join(s["instruments"]),
        "events": s["events"],
        "orders": s["orders"],
        "fills": s["fills"],
        "realized_pnl": s["realized_pnl"],
        "unrealized_pnl": s["unrealized_pnl"],
        "fees": s["fees"],
        "max_drawdown": s["max_drawdown"],
        "sharpe": s["sharpe"],
        "delta": s["greeks"]["delta"],
    }


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    return obj


_ = INVERSE
