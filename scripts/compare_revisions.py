"""Run one random backtest scenario on the working tree and on a git revision; report differences.

For changes that must not change results (compile-time rewrites of the engine, refactors): every
fill, order, equity and summary row is compared by ``repr``, so a difference in the last bit of a
float shows. The scenario is made to exercise the whole engine on small data: three instrument
kinds (linear, inverse, an option), NaN, 0, negative and crossed quotes, NaN, 0 and infinite
sizes, market/limit/cancel and invalid orders, post-only and reduce-only flags, several
orders per hook, orders sent from ``on_fill`` and ``on_timer``, latency and market timeouts,
maker rebates, two instances, and the same rows fed row by row through ``qk.Session``. Each
tree runs in its own process with its own numba caches.

Usage:  python scripts/compare_revisions.py [REV=HEAD] [--seeds 3] [--rows 2000]
Exit status 1 when any table differs.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENTS = ["X", "BTC-PERPETUAL", "BTC-27DEC24-100000-C"]  # linear, inverse, option
LEVELS = [100.0, 60000.0, 0.05]
#: the scripted commands each row may carry (NaN: none)
CMD = ("cmd_side", "cmd_type", "cmd_price", "cmd_size", "cmd_flags", "cmd_target", "cmd_repeat",
       "cmd_timer")  # fmt: skip


def scenario_rows(seed: int, sizes: str, n: int) -> list[dict[str, Any]]:
    """``n`` random rows; ``sizes`` is "int" (whole sizes) or "dec" (decimal fractions)."""
    import numpy as np

    from quantkit.engine import BUY, CANCEL, LIMIT, MARKET, SELL

    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    t, mid = 1, list(LEVELS)

    def size() -> float:
        u = rng.random()
        for bound, odd in ((0.15, math.nan), (0.18, 0.0), (0.20, math.inf)):
            if u < bound:
                return odd
        if sizes == "int":
            return float(rng.integers(1, 6))
        return float(rng.choice([0.1, 0.2, 0.3, 0.7, 1.1, 0.35, 0.6, 1.0, 2.2]))

    for i in range(n):
        t += int(rng.choice([0, 1, 1, 2, 5, 1000]))
        k = int(rng.integers(len(INSTRUMENTS)))
        mid[k] *= float(np.exp(rng.normal(0, 0.002)))
        bid, ask = mid[k] * 0.999, mid[k] * 1.001
        u = rng.random()
        if k == 1 and u < 0.07:
            u = 0.5  # an inverse instrument never quotes <= 0 (that is an error, tested)
        if u < 0.03:
            bid = math.nan
        elif u < 0.05:
            ask = math.nan
        elif u < 0.06:
            ask = bid * 0.9995  # crossed (an infinite price is a data error, tested)
        elif u < 0.07:
            bid = 0.0
        forward = 60000.0 * (1 + rng.normal(0, 0.01))
        row: dict[str, Any] = {
            "ts": t, "instrument": INSTRUMENTS[k], "bid": bid, "ask": ask,
            "bid_size": size(), "ask_size": size(),
            "underlying_price": math.nan if rng.random() < 0.3 else forward,
        }  # fmt: skip
        if rng.random() < 0.5:
            near = mid[k] * (1 + rng.normal(0, 0.002))
            row |= {
                "cmd_type": float(rng.choice([MARKET, LIMIT, LIMIT, CANCEL, 7])),
                "cmd_side": float(rng.choice([BUY, SELL] * 6 + [0])),
                "cmd_price": float(rng.choice([near] * 12 + [math.nan, math.inf, -1.0, 0.0])),
                "cmd_size": size() if rng.random() < 0.15 else float(rng.choice([1, 2, 0.3, 0.35])),
                "cmd_flags": float(rng.integers(0, 4)),
                "cmd_target": float(rng.integers(0, max(1, i))),
                "cmd_repeat": float(rng.integers(1, 5)),
            }
        if rng.random() < 0.03:
            row["cmd_timer"] = float(rng.choice([1, 3, 50, 2000]))
            row.setdefault("cmd_side", float(rng.choice([BUY, SELL])))
            row.setdefault("cmd_size", 1.0)
        rows.append(row)
    return rows


def fuzz_strategy() -> Any:
    """The scripted strategy: each row's cmd_* columns say what to send (not cached: the same
    source must compile against each tree's engine)."""
    from numba import njit

    import quantkit as qk
    from quantkit.engine import CANCEL, MARKET, REDUCE_ONLY, cancel, set_timer, submit

    @njit
    def on_quote(ctx, p, s):
        if ctx.x[7] > 0:  # arm the timer: it sends a market order of this side and size
            set_timer(ctx, ctx.ts + int(ctx.x[7]))
            s.tside = int(ctx.x[0]) if not math.isnan(ctx.x[0]) else 1
            s.tsize = ctx.x[3]
            s.tslot = ctx.slot
        kind = ctx.x[1]
        if math.isnan(kind):
            return
        if kind == CANCEL:
            cancel(ctx, int(ctx.x[5]))
            return
        flags = 0 if math.isnan(ctx.x[4]) else int(ctx.x[4])
        size = ctx.x[3]
        for _ in range(1 if math.isnan(ctx.x[6]) else int(ctx.x[6])):
            submit(ctx, ctx.slot, int(ctx.x[0]), int(kind), ctx.x[2], size, flags)
            size = size * p.step

    @njit
    def on_fill(ctx, p, s):
        s.fills += 1
        if p.echo and s.fills % 3 == 0:  # close half of every third fill
            submit(ctx, ctx.fill_slot, -ctx.fill_side, MARKET, math.nan, ctx.fill_size * 0.5,
                   REDUCE_ONLY)  # fmt: skip

    @njit
    def on_timer(ctx, p, s):
        if (s.tside == 1) | (s.tside == -1):
            submit(ctx, s.tslot, s.tside, MARKET, math.nan, s.tsize, 0)

    state = [("fills", "i8"), ("tside", "i8"), ("tsize", "f8"), ("tslot", "i8")]
    return qk.Strategy("fuzz", on_quote, params={"echo": True, "step": 1.0}, state=state,
                       on_fill=on_fill, on_timer=on_timer, columns=CMD)  # fmt: skip


def run_scenario(seed: int, sizes: str, n: int, out: Path) -> None:
    """Run the scenario with the ``quantkit`` on ``sys.path``; pickle every table as reprs."""
    import polars as pl

    import quantkit as qk

    rows = scenario_rows(seed, sizes, n)
    floats = ["bid", "ask", "bid_size", "ask_size", "underlying_price", *CMD]
    data = {
        "ts": pl.Series([r["ts"] for r in rows], dtype=pl.Int64),
        "instrument": pl.Series([r["instrument"] for r in rows], dtype=pl.String),
    } | {c: pl.Series([float(r.get(c, math.nan)) for r in rows], dtype=pl.Float64) for c in floats}
    path = out.with_suffix(".parquet")
    pl.DataFrame(data).write_parquet(path)
    fuzz = fuzz_strategy()
    tables: dict[str, list] = {}
    for accounting in ("auto", "linear"):
        for latency, timeout in ((0.0, 0.005), (0.002, 0.0), (0.0, 0.0)):
            res = qk.backtest(
                path, [fuzz(), fuzz(echo=False, step=1.5)], accounting=accounting,
                latency_ms=latency, market_timeout_ms=timeout, equity_interval_ms=0.001,
                fee_bps_maker=-1.0, fee_bps_taker=3.0,
            )  # fmt: skip
            for name in ("fills", "orders", "equity", "summary"):
                frame = getattr(res, name)
                key = f"{name} ({accounting}, latency {latency} ms, timeout {timeout} ms)"
                tables[key] = [tuple(map(repr, row)) for row in frame.iter_rows()]
    live = qk.Session([fuzz()], INSTRUMENTS, sim=True, columns=CMD)
    live.start(0)
    events = []
    for r in rows:
        more = {c: float(r.get(c, math.nan)) for c in CMD}
        more["underlying_price"] = r["underlying_price"]
        quote = (r["ts"], r["instrument"], r["bid"], r["ask"], r["bid_size"], r["ask_size"])
        new = live.on_quote(*quote, **more)
        events.append(repr(new))
    tables["session events"] = [*events, repr(live.fills())]
    out.write_bytes(pickle.dumps(tables))


def _run_tree(tree: Path, seed: int, sizes: str, rows: int, work: Path) -> dict[str, list]:
    out = work / f"{tree.name}-{seed}-{sizes}.pkl"
    cache = work / f"cache-{tree.name}"
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": str(cache),
           "QUANTKIT_CACHE_DIR": str(cache)}  # fmt: skip
    cmd = [sys.executable, __file__, "--run", str(seed), sizes, str(rows), str(out)]
    proc = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"the scenario failed on {tree}:\n{proc.stderr[-3000:]}")
    return pickle.loads(out.read_bytes())


def _differences(old: dict[str, list], new: dict[str, list]) -> list[str]:
    found = []
    for key in old.keys() | new.keys():
        a, b = old.get(key, []), new.get(key, [])
        if a == b:
            continue
        pairs = enumerate(zip(a, b, strict=False))
        i = next((i for i, (x, y) in pairs if x != y), min(len(a), len(b)))
        found.append(f"{key}: {len(a)} vs {len(b)} rows; first difference at row {i}:\n"
                     f"    rev:  {a[i] if i < len(a) else '-'}\n"
                     f"    tree: {b[i] if i < len(b) else '-'}")  # fmt: skip
    return sorted(found)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--run":
        seed, sizes, rows, out = sys.argv[2:6]
        run_scenario(int(seed), sizes, int(rows), Path(out))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("rev", nargs="?", default="HEAD", help="git revision to compare with")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rows", type=int, default=2000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rev_tree = work / "rev"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q",
                        str(rev_tree), a.rev], check=True)  # fmt: skip
        try:
            bad = 0
            for seed in range(1, a.seeds + 1):
                for sizes in ("int", "dec"):
                    old = _run_tree(rev_tree, seed, sizes, a.rows, work)
                    new = _run_tree(ROOT, seed, sizes, a.rows, work)
                    diffs = _differences(old, new)
                    fills = sum(len(v) for k, v in new.items() if k.startswith("fills"))
                    print(f"seed {seed}, {sizes} sizes: {len(new)} tables, {fills} fills, "
                          f"{len(diffs)} differ")  # fmt: skip
                    for d in diffs:
                        print("  " + d)
                    bad += len(diffs)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(rev_tree)], check=False)  # fmt: skip
    if bad:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
