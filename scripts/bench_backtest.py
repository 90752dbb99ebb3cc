"""Benchmark the backtest engine against a hand-written numba loop doing the same momentum work.

Prints, for N rows (default 10M) of `quantkit data synth` ticks:
  1. the plain numba loop (the limit): events/s, best of 3
  2. the engine in memory, warm, fed the columns a backtest reads: events/s (best of 3, ratio)
  3. the engine end-to-end from Parquet via the CLI (`quantkit backtest --json`): rows/s, peak RSS
  4. first call with an empty numba cache (wall; CPU of the process and of the one that compiles
     the engine's helpers meanwhile, quantkit.engine.prefetch; the compile time of each function
     in the last run), and with a warm cache (fresh processes, --cold-runs times: min / median /
     max); for scale, the plain loop's own first call with an empty cache, and CPython's speed
     on a plain loop (compiling is Python work)
  5. optionally (--big-rows 100000000) peak RSS of the CLI on a 100M-row file

Usage:  python scripts/bench_backtest.py [--rows 10000000] [--big-rows 0] [--dir /tmp/qkbench]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit

import quantkit as qk
from quantkit.engine.results import build_result
from quantkit.engine.run import Engine
from quantkit.engine.settings import EngineSettings

QK = [sys.executable, "-c", "from quantkit.cli.main import main; main()"]
#: in-memory timings are the best of this many runs: on a shared 2-core VM the first pass over
#: freshly decoded data is often several times slower than the next ones
REPEAT = 3


@njit(cache=True)
def plain_momentum(code, bid, ask, bsz, asz, n_inst, span, threshold, size):
    """The momentum rules and the market-order fill model, inline in one loop (the limit)."""
    ema = np.zeros(n_inst)
    seen = np.zeros(n_inst, np.bool_)
    pos = np.zeros(n_inst)
    avg = np.zeros(n_inst)
    realized = 0.0
    fills = 0
    alpha = 2.0 / (span + 1.0)
    for r in range(code.shape[0]):
        b = bid[r]
        a = ask[r]
        if math.isnan(b) or math.isnan(a):
            continue
        i = code[r]
        mid = (b + a) / 2.0
        if not seen[i]:
            seen[i] = True
            ema[i] = mid
            continue
        e = ema[i]
        if pos[i] == 0.0:
            if mid > e * (1.0 + threshold) and asz[r] > 0.0:
                q = min(size, asz[r])
                pos[i] = q
                avg[i] = a
                fills += 1
        elif pos[i] > 0.0:
            if mid < e * (1.0 - threshold) and bsz[r] > 0.0:
                q = min(pos[i], bsz[r])
                realized += q * (b - avg[i])
                pos[i] -= q
                fills += 1
        ema[i] = e + alpha * (mid - e)
    return fills, realized


def _load(path: Path):
    scan = qk.data.scan(path)
    batch = next(iter(scan.batches(batch_size=0)))
    return scan, batch


def bench_plain(scan, b) -> tuple[float, int, float]:
    args = (
        b.code,
        b.columns["bid"],
        b.columns["ask"],
        b.columns["bid_size"],
        b.columns["ask_size"],
        len(scan.instruments),
        100.0,
        0.0005,
        1.0,
    )
    plain_momentum(*[a[:100] if isinstance(a, np.ndarray) else a for a in args])
    best = math.inf
    for _ in range(REPEAT):
        t = time.perf_counter()
        fills, realized = plain_momentum(*args)
        best = min(best, time.perf_counter() - t)
    return best, fills, realized


def bench_engine(scan, b) -> tuple[float, object]:
    def run(n: int):
        eng = Engine(
            [qk.strategies.momentum()],
            scan.instruments,
            EngineSettings(accounting="linear"),
            scan.float_columns,
        )
        # the columns a backtest reads from Parquet for this run (the strategy's needs)
        cols = {k: v[:n] for k, v in b.columns.items() if k in eng.columns_needed()}
        eng.start(int(b.ts[0]))
        t = time.perf_counter()
        eng.feed(b.ts[:n], b.code[:n], cols)
        eng.finish()
        return time.perf_counter() - t, eng

    run(1000)
    dt, eng = min((run(len(b.ts)) for _ in range(REPEAT)), key=lambda x: x[0])
    return dt, build_result(eng, dt)


def run_cli(path: Path, env: dict[str, str]) -> tuple[float, dict, int]:
    """Wall time, JSON result and peak RSS (KiB) of this one CLI process (os.wait4's rusage)."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [*QK, "backtest", "--data", str(path), "--accounting", "linear", "--json"],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"quantkit backtest failed with exit code {proc.returncode}")
    return wall, json.loads(out), usage.ru_maxrss


#: the first call, in a fresh process: wall and CPU seconds, each compiled function's own
#: compile time (numba's compile events, callees' time subtracted) and LLVM's CPU time (numba's
#: llvm_lock events), as one JSON line
FIRST_CALL = """
import json, sys, time
from numba.core import event
class Own(event.Listener):
    def __init__(self): self.stack, self.own = [], {}
    def on_start(self, ev):
        name = ev.data["dispatcher"].py_func.__name__
        self.stack.append([name, time.process_time(), 0.0])
    def on_end(self, ev):
        name, t0, inner = self.stack.pop(); dt = time.process_time() - t0
        if self.stack: self.stack[-1][2] += dt
        self.own[name] = self.own.get(name, 0.0) + dt - inner
class Llvm(event.Listener):
    def __init__(self): self.cpu = 0.0
    def on_start(self, ev): self.t0 = time.process_time()
    def on_end(self, ev): self.cpu += time.process_time() - self.t0
own, llvm = Own(), Llvm()
event.register("numba:compile", own)
event.register("numba:llvm_lock", llvm)
import resource
import quantkit as qk, quantkit.jitlink as link, quantkit.jitmemo as memo
from quantkit.engine import prefetch
t, c = time.perf_counter(), time.process_time()
qk.backtest(sys.argv[1], accounting="linear")
wall, cpu = time.perf_counter() - t, time.process_time() - c
if prefetch._child is not None:
    prefetch._child.wait()  # (it has exited: the first order waited for it)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
stats = memo.stats() if memo.installed() else None
print(json.dumps({"wall": wall, "cpu": cpu, "own": own.own, "memo": stats, "llvm": llvm.cpu,
                  "linked": link.enabled(), "child": prefetch.child_status(),
                  "child_cpu": ru.ru_utime + ru.ru_stime}))
"""
#: the plain loop's first call in a fresh process (numba's set-up and one compile): the scale
#: of compile times on this machine and Python build (bench_backtest imports quantkit, so the
#: memo of quantkit.jitmemo is on for it too)
FIRST_PLAIN = """
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from bench_backtest import plain_momentum
z = np.zeros(4)
t, c = time.perf_counter(), time.process_time()
plain_momentum(np.zeros(4, np.uint32), z, z, z, z, 1, 100.0, 0.0005, 1.0)
print(json.dumps({"wall": time.perf_counter() - t, "cpu": time.process_time() - c}))
"""


def first_call(env: dict[str, str], small: Path) -> dict:
    """Wall and CPU seconds of a first ``qk.backtest`` call in a fresh process, and the compile
    time of each function numba compiled in it (empty when everything came from the cache)."""
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CALL, str(small)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_plain(env: dict[str, str]) -> dict:
    """Wall and CPU seconds of the plain loop's first call in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", FIRST_PLAIN, str(Path(__file__).parent)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def synth(path: Path, rows: int) -> None:
    if not path.exists():
        subprocess.run(
            [*QK, "data", "synth", "--out", str(path), "--rows", str(rows), "--seed", "7"],
            check=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument(
        "--big-rows", type=int, default=0, help="also measure peak RSS on this many rows"
    )
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "qkbench")
    ap.add_argument("--cold-runs", type=int, default=3, help="first calls with an empty cache")
    a = ap.parse_args()
    a.dir.mkdir(parents=True, exist_ok=True)
    data = a.dir / f"synth_{a.rows}.parquet"
    small = a.dir / "synth_10000.parquet"
    synth(data, a.rows)
    synth(small, 10_000)
    env = dict(os.environ)
    # the CLI runs first, while this process is small: a child's peak RSS counts what it
    # inherited from the parent before exec
    # best of two: the first run also warms the page cache and, on a fresh machine, compiles
    cli = min((run_cli(data, env) for _ in range(2)), key=lambda run: run[1]["elapsed_s"])
    big = None
    if a.big_rows:
        big_path = a.dir / f"synth_{a.big_rows}.parquet"
        synth(big_path, a.big_rows)
        big = run_cli(big_path, env)

    scan, b = _load(data)
    n = len(b.ts)
    dt_plain, fills_plain, pnl_plain = bench_plain(scan, b)
    dt_eng, res = bench_engine(scan, b)
    eng_fills = sum(s["fills"] for s in res.strategies)
    eng_pnl = sum(s["realized_pnl"] for s in res.strategies)
    target = n / (3 * dt_plain) / 1e6  # the target: a third of the plain loop
    print(f"rows: {n:,}  instruments: {len(scan.instruments)}")
    print(
        f"plain numba loop    : {n / dt_plain / 1e6:8.1f} M events/s  ({dt_plain:.3f} s)"
        f"  fills {fills_plain:,}  realized {pnl_plain:,.4f}"
    )
    print(
        f"engine, in memory   : {n / dt_eng / 1e6:8.1f} M events/s  ({dt_eng:.3f} s)"
        f"  fills {eng_fills:,}  realized {eng_pnl:,.4f}  ratio {dt_plain / dt_eng:.2f}"
        f" (target >= 0.33: {target:.1f} M/s)"
    )
    del b
    _print_cli(f"CLI, {n:,} rows", n, cli)
    if big is not None:
        _print_cli(f"CLI, {a.big_rows:,} rows", a.big_rows, big)

    cold, warm, plain = [], [], []
    for _ in range(a.cold_runs):  # each in a fresh process and an empty cache, then cached
        with tempfile.TemporaryDirectory() as d:
            env_cold = {**env, "NUMBA_CACHE_DIR": d, "QUANTKIT_CACHE_DIR": d}
            cold.append(first_call(env_cold, small))
            warm.append(first_call(env_cold, small))
            plain.append(first_plain(env_cold))
    print(
        f"first call          : {_spread([r['wall'] for r in cold])} s with an empty numba"
        f" cache (CPU {_spread([r['cpu'] for r in cold])} s here"
        f" + {_spread([r['child_cpu'] for r in cold])} s in the helpers' process),"
        f" {_spread([r['wall'] for r in warm])} s cached"
        "  (min / median / max; targets: <= 3 s, <= 1 s)"
    )
    own = sorted(cold[-1]["own"].items(), key=lambda kv: -kv[1])  # the last cold run
    print(
        "  compile by function: "
        + ", ".join(f"{name} {t:.2f}" for name, t in own)
        + " s CPU (own time; the first one compiled also pays numba's set-up, ~0.35 s)"
    )
    memo = cold[-1]["memo"]
    print(
        "  quantkit.jitmemo: off (QUANTKIT_NUMBA_MEMO=0, or a numba it was not checked with)"
        if memo is None
        else f"  quantkit.jitmemo: numba made {memo['resolved']:,} function-type resolutions,"
        f" the memo served {memo['served']:,} repeats"
    )
    print(
        f"  LLVM: {_spread([r['llvm'] for r in cold])} s CPU of it; quantkit.jitlink: "
        + (
            "on (the engine's helpers are called at run time, not linked into each caller)"
            if cold[-1]["linked"]
            else "off (QUANTKIT_NUMBA_LINK=0, or a numba it was not checked with)"
        )
    )
    child = cold[-1]["child"]
    print(
        "  quantkit.engine.prefetch: "
        + (
            "off (QUANTKIT_NUMBA_PREFETCH=0, jitlink off, or helpers cached)"
            if child is None
            else f"the helpers compiled in a second process (exit status {child}) while this"
            " one compiled the driver"
        )
    )
    plain_s = _spread([r["wall"] for r in plain])
    print(f"  for scale: the plain loop's first call, empty cache: {plain_s} s (set-up, 1 compile)")
    print(
        f"CPython speed       : {python_loop_s():.2f} s for a 10M-iteration loop "
        "(compiling is Python work: the cold first call scales with this)"
    )


def _spread(xs: list[float]) -> str:
    """min / median / max of a few timings."""
    xs = sorted(xs)
    return f"{xs[0]:.2f} / {xs[len(xs) // 2]:.2f} / {xs[-1]:.2f}"


def python_loop_s() -> float:
    """Seconds CPython takes for ``for i in range(10_000_000): s += i`` (best of 3)."""
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        s = 0
        for i in range(10_000_000):
            s += i
        best = min(best, time.perf_counter() - t)
    return best


def _print_cli(label: str, rows: int, run: tuple[float, dict, int]) -> None:
    wall, doc, rss = run
    print(
        f"{label}: {rows / wall / 1e6:.1f} M rows/s wall incl. Python start-up ({wall:.2f} s); "
        f"backtest {rows / doc['elapsed_s'] / 1e6:.1f} M rows/s ({doc['elapsed_s']:.2f} s, "
        f"{doc['setup_s']:.2f} s loading kernels); peak RSS {rss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
