"""Callers compiled before their callee (quantkit.jitdefer) and the engine's helpers compiled in
another process on a cold start (quantkit.engine.prefetch): the callee loads at its first call,
results and errors are as without, and cached callers load in a new process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from numba import njit, types

from quantkit import jitdefer, jitlink, jitmemo

pytestmark = pytest.mark.skipif(
    not jitmemo.checked_numba(), reason="numba outside the versions jitlink was checked with"
)
F8, I8 = types.float64, types.int64


@jitlink.separate(cache=False)
def _tripled(x):
    return x * 3.0


@njit(cache=False)
def _use_tripled(x):
    return _tripled(x) + 1.0


def test_a_caller_compiles_before_its_callee_which_loads_at_its_first_call() -> None:
    waits: list[int] = []
    assert jitdefer.expect(_tripled, (F8,), F8, wait=lambda: waits.append(1))
    _use_tripled.compile((F8,))
    assert _tripled.overloads == {} and waits == []  # typed against the declared signature
    assert [e.disp for e in jitdefer.pending()].count(_tripled) == 1
    assert _use_tripled(2.0) == 7.0
    assert waits == [1] and (F8,) in _tripled.overloads
    assert _tripled not in [e.disp for e in jitdefer.pending()]
    assert _use_tripled(-1.0) == -2.0 and waits == [1]  # loaded once
    entry = next(e for e in jitdefer._entries if e.disp is _tripled)
    ir = _use_tripled.inspect_llvm((F8,))
    own = _tripled.overloads[(F8,)].fndesc.llvm_func_name
    assert any(ln.startswith("declare") and f"@{entry.name}(" in ln for ln in ir.splitlines())
    assert own not in ir  # called through the trampoline: no copy, not even its name
    assert entry.cell.value  # the trampoline's pointer: the overload, published as usual
    name = jitlink.symbol_of(_tripled, (F8,))
    assert jitlink.published()[name] == (_tripled, (F8,)) and name != entry.name


@jitlink.separate(cache=False)
def _halved(x):
    return x / 2


@njit(cache=False)
def _use_halved(n):
    return _halved(n)


def test_a_caller_passing_other_types_compiles_the_callee_as_numba_does() -> None:
    waits: list[int] = []
    assert jitdefer.expect(_halved, (F8,), F8, wait=lambda: waits.append(1))
    assert _use_halved(5) == 2.5  # int64, not the declared float64
    assert list(_halved.overloads) == [(I8,)] and waits == []


@jitlink.separate(cache=False)
def _counted(x):
    return x + 1


@njit(cache=False)
def _use_counted(x):
    return _counted(x)


def test_a_wrong_declared_return_type_fails_the_call_instead_of_misreading_it() -> None:
    assert jitdefer.expect(_counted, (I8,), F8, wait=lambda: None)  # it returns int64
    with pytest.raises(SystemError):
        _use_counted(1)
    failure = jitdefer.take_failure()
    assert isinstance(failure, jitlink.StaleLink) and "returns int64, not float64" in str(failure)
    assert jitdefer.take_failure() is None  # taken
    with pytest.raises(SystemError):  # and again: the trampoline never calls it
        _use_counted(2)
    assert "returns int64" in str(jitdefer.take_failure())


@jitlink.separate(cache=False)
def _negated(x):
    return -x


@njit(cache=False)
def _use_negated(x, out):
    out[0] = _negated(x)
    out[1] = 1.0  # after the call: the event runs to its end


def test_ctrl_c_while_waiting_compiles_here_lets_the_caller_finish_and_is_handed_back() -> None:
    import numpy as np

    waits: list[int] = []

    def wait() -> None:
        waits.append(1)
        raise KeyboardInterrupt

    assert jitdefer.expect(_negated, (F8,), F8, wait=wait)
    out = np.zeros(2)
    _use_negated(2.0, out)
    assert list(out) == [-2.0, 1.0] and waits == [1]
    assert jitdefer.take_failure() is None  # not a failure: the function is there
    with pytest.raises(KeyboardInterrupt):
        jitdefer.reraise_interrupt()
    jitdefer.reraise_interrupt()  # once
    _use_negated(3.0, out)
    assert out[0] == -3.0 and waits == [1]
    jitdefer.reraise_interrupt()


@jitlink.separate(cache=False)
def _squared(x):
    return x * x


@njit(cache=False)
def _use_squared(x):
    return _squared(x)


def test_an_interrupt_is_raised_after_the_block_or_dropped_when_the_block_fails() -> None:
    def wait() -> None:
        raise KeyboardInterrupt

    assert jitdefer.expect(_squared, (F8,), F8, wait=wait)
    with pytest.raises(ValueError, match="engine error"), jitdefer.interrupts_after():
        assert _use_squared(3.0) == 9.0  # the wait was interrupted: compiled here
        raise ValueError("engine error")  # ... and the block failed after that
    jitdefer.reraise_interrupt()  # dropped: nothing left to surface in later work
    with pytest.raises(KeyboardInterrupt), jitdefer.interrupts_after():
        jitdefer._local.interrupt = KeyboardInterrupt()  # as the trampoline's callback does
    with jitdefer.interrupts_after():  # one left from before a block is not the block's
        pass
    jitdefer._local.interrupt = KeyboardInterrupt()
    with jitdefer.interrupts_after():
        pass
    with pytest.raises(KeyboardInterrupt), jitdefer.interrupts_after():  # nested: the outer's
        jitdefer._local.interrupt = KeyboardInterrupt()
        with jitdefer.interrupts_after():
            pass


@jitlink.separate(cache=False)
def _plus(x):
    return x + 1.0


@njit(cache=False)
def _use_plus(x):
    return _plus(x)


def test_threads_that_expect_and_call_at_once_share_one_trampoline() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def go(k: int) -> float:
        jitdefer.expect(_plus, (F8,), F8, wait=lambda: None)
        return float(_use_plus(float(k)))

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(go, range(8))) == [k + 1.0 for k in range(8)]
    assert [e.disp for e in jitdefer._entries].count(_plus) == 1
    assert sorted(e.index for e in jitdefer._entries) == list(range(len(jitdefer._entries)))


def test_a_deferred_hook_has_a_format_older_versions_reject() -> None:
    entry = next(e for e in jitdefer._entries if e.disp is _tripled)
    hook = jitlink._hooks[entry.name]
    # load() before deferred signatures took exactly 4 items and made anything else a cache
    # miss: a cache this version writes never reaches an older one's linker
    assert hook.func is jitlink.load and len(hook.args) == 5


def _make() -> object:
    @jitlink.separate(cache=False)
    def inner(x):
        return x

    return inner


@jitlink.separate(cache=False)
def _with_default(x, k=2.0):
    return x * k


def test_expect_declines_what_it_cannot_defer() -> None:
    # numba folds an omitted default into the types: (x) is not a signature of all parameters
    assert not jitdefer.expect(_with_default, (F8,), F8, wait=lambda: None)
    plain = njit(lambda x: x)
    assert not jitdefer.expect(plain, (F8,), F8, wait=lambda: None)  # not separate
    assert not jitdefer.expect(_make(), (F8,), F8, wait=lambda: None)  # not found by name
    _tripled.compile((I8,))
    assert not jitdefer.expect(_tripled, (I8,), F8, wait=lambda: None)  # compiled already


CALLEE = """
from quantkit.jitlink import separate

@separate
def grow(x, k):
    return x * k + 1.0
"""
CALLER = """
from numba import njit
from callee import grow

@njit(cache=True)
def use(x):
    return grow(x, 2.0) - 1.0
"""
FIRST = """
import json, quantkit
from numba import types
from quantkit import jitdefer
import callee, caller
F8 = types.float64
waits = []
deferred = jitdefer.expect(callee.grow, (F8, F8), F8, wait=lambda: waits.append(1))
caller.use.compile((F8,))
compiled_first = len(callee.grow.overloads)
print(json.dumps({"deferred": deferred, "before": compiled_first, "value": caller.use(5.0),
                  "waits": len(waits)}))
"""
SECOND = """
import json, quantkit, caller, callee
value = caller.use(5.0)
hits = {f.__name__: sum(f.stats.cache_hits.values()) for f in (caller.use, callee.grow)}
print(json.dumps({"value": value, "hits": hits}))
"""


def _fresh(tmp: Path, code: str, **env: str) -> dict:
    full = {**os.environ, "NUMBA_CACHE_DIR": str(tmp / "cache"), **env,
            "PYTHONPATH": f"{tmp}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_caller_cached_before_its_callee_compiled_loads_in_a_new_process(tmp_path: Path) -> None:
    (tmp_path / "callee.py").write_text(textwrap.dedent(CALLEE))
    (tmp_path / "caller.py").write_text(textwrap.dedent(CALLER))
    first = _fresh(tmp_path, FIRST)
    assert first == {"deferred": True, "before": 0, "value": 10.0, "waits": 1}
    second = _fresh(tmp_path, SECOND)
    assert second == {"value": 10.0, "hits": {"use": 1, "grow": 1}}


# --------------------------------------------------------------------------- the engine

ENGINE_RUN = """
import json, sys, time
from numba.core import event
import quantkit as qk
from quantkit.engine import prefetch
compiled = []
class Seen(event.Listener):
    def on_start(self, ev): compiled.append(ev.data["dispatcher"].py_func.__name__)
    def on_end(self, ev): pass
event.register("numba:compile", Seen())
def run():
    return qk.backtest(sys.argv[1], strategies=[qk.strategies.momentum(span=20)],
                       latency_ms=1.0)
if sys.argv[2] == "fails":
    prefetch._CHILD = "import sys; sys.exit(3)"
elif sys.argv[2] == "hangs":
    prefetch._CHILD = "import time; time.sleep(60)"
    prefetch.WAIT_S = 0.5
elif sys.argv[2] == "interrupted":
    def wait(self): raise KeyboardInterrupt
    prefetch._Child.wait = wait
    try:
        run()
    except BaseException as exc:
        print(json.dumps({"raised": type(exc).__name__}))
    sys.exit(0)
if sys.argv[2] == "threads":
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(lambda _: run(), range(3)))
    assert all(r.fills.rows() == runs[0].fills.rows() for r in runs), "threads differ"
    res = runs[0]
else:
    res = run()
child = prefetch._child
print(json.dumps({"compiled": sorted(set(compiled)), "package": qk.__file__,
                  "child": None if child is None else child.proc.poll(),
                  "fills": res.fills.rows(), "orders": res.orders.rows(),
                  "summary": res.summary.rows()}, default=str))
"""
HELPERS = ["accept_orders", "close_open", "log_order", "match_slot", "record_fill"]


def _engine(tmp: Path, sample: Path, child: str = "normal", **env: str) -> dict:
    cache = tmp / f"cache-{child}-{'-'.join(env.values())}"
    full = {**os.environ, **env, "NUMBA_CACHE_DIR": str(cache), "QUANTKIT_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", ENGINE_RUN, str(sample), child],
        env=full, capture_output=True, text=True, cwd=tmp,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_cold_backtest_compiles_the_helpers_in_another_process_with_the_same_results(
    tmp_path: Path, bundled_sample: Path
) -> None:
    on = _engine(tmp_path, bundled_sample)
    off = _engine(tmp_path, bundled_sample, QUANTKIT_NUMBA_PREFETCH="0")
    assert on["child"] == 0
    assert not set(HELPERS) & set(on["compiled"])  # its signatures are the drivers' calls
    assert {"replay_one", "_slow"} <= set(on["compiled"])
    assert off["child"] is None and set(HELPERS) <= set(off["compiled"])
    assert len(on["fills"]) > 10
    for table in ("fills", "orders", "summary"):
        assert on[table] == off[table]
    again = _engine(tmp_path, bundled_sample)  # the same cache: everything loads
    assert again["compiled"] == [] and again["child"] is None and again["fills"] == on["fills"]


def test_threads_running_cold_backtests_at_once_share_one_process(
    tmp_path: Path, bundled_sample: Path
) -> None:
    run = _engine(tmp_path, bundled_sample, "threads")
    off = _engine(tmp_path, bundled_sample, QUANTKIT_NUMBA_PREFETCH="0")
    assert run["child"] == 0 and not set(HELPERS) & set(run["compiled"])
    assert run["fills"] == off["fills"]


def test_a_package_imported_through_a_symlink_shares_the_other_process_s_cache(
    tmp_path: Path, bundled_sample: Path
) -> None:
    link = tmp_path / "link"
    link.symlink_to(Path(__file__).resolve().parents[1], target_is_directory=True)
    path = f"{link}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    run = _engine(tmp_path, bundled_sample, PYTHONPATH=path)
    assert run["package"].startswith(str(link))
    assert run["child"] == 0 and not set(HELPERS) & set(run["compiled"])


SESSION_RUN = """
import json, sys
import quantkit as qk
from quantkit.engine import prefetch
sys.path.insert(0, sys.argv[1])
from my_strategy import MyStrategy
calls = []
def wait(self):
    calls.append(1)
    if len(calls) == 1:
        raise KeyboardInterrupt
prefetch._Child.wait = wait
sess = qk.Session([MyStrategy(), qk.strategies.momentum(span=2)], instruments=["X"], sim=False)
sess.start(1)
got, raised = [], None
for k in range(1, 4):
    try:
        events = sess.on_quote(1000 * k, "X", 99.0 + k, 100.0 + k)
        got += [(e.ts, e.instance, e.event) for e in events]
    except KeyboardInterrupt:
        raised = k
seen = [int(g.ctxs["ts"][0]) for g in sess.engine.groups]
print(json.dumps({"raised": raised, "rows": sess.rows, "seen": seen, "got": got}))
"""


def test_ctrl_c_while_an_order_waits_for_the_helpers_leaves_every_strategy_consistent(
    tmp_path: Path,
) -> None:
    research = Path(__file__).resolve().parents[1] / "research"
    cache = tmp_path / "cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "QUANTKIT_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", SESSION_RUN, str(research)],
        env=env, capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    run = json.loads(out.stdout.strip().splitlines()[-1])
    # my_strategy's first quote placed an order: the wait for the helpers was interrupted
    assert run["raised"] == 1 and run["rows"] == 3
    assert run["seen"] == [3000, 3000]  # both strategies got every quote, the first one too
    first = [g for g in run["got"] if g[0] == 1000]
    assert first == [[1000, 0, "new"]]  # its order was not lost: the next call returned it


@jitlink.separate(cache=False)
def _doubled(x):
    return 2 * x


@njit(cache=False)
def _use_doubled(x):
    return _doubled(x)


def test_a_failure_left_by_jitted_code_outside_the_engine_is_not_the_engine_s(
    bundled_sample: Path,
) -> None:
    import quantkit as qk

    assert jitdefer.expect(_doubled, (I8,), F8, wait=lambda: None)  # it returns int64
    with pytest.raises(SystemError):
        _use_doubled(5)  # the trampoline failed, and its cause is left in this thread
    res = qk.backtest(bundled_sample, strategies=[qk.strategies.momentum(span=20)])
    assert len(res.fills) > 10


def test_ctrl_c_while_the_first_order_waits_is_not_blamed_on_the_strategy(
    tmp_path: Path, bundled_sample: Path
) -> None:
    assert _engine(tmp_path, bundled_sample, "interrupted") == {"raised": "KeyboardInterrupt"}


def test_no_second_process_with_one_cpu_in_a_pool_worker_or_when_off(monkeypatch) -> None:
    from quantkit.engine import prefetch

    monkeypatch.delenv("QUANTKIT_NUMBA_PREFETCH", raising=False)
    assert prefetch._worth_it() == (len(os.sched_getaffinity(0)) >= 2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert not prefetch._worth_it()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert prefetch._worth_it()
    monkeypatch.setattr("multiprocessing.parent_process", lambda: object())
    assert not prefetch._worth_it()
    monkeypatch.undo()
    monkeypatch.setenv("QUANTKIT_NUMBA_PREFETCH", "0")
    assert not prefetch._worth_it()


def test_with_the_drivers_cached_the_helpers_compile_here_without_a_second_process(
    tmp_path: Path, bundled_sample: Path
) -> None:
    first = _engine(tmp_path, bundled_sample)
    cache = tmp_path / "cache-normal-"
    helpers = [f for f in cache.rglob("matching.*") if f.suffix in (".nbi", ".nbc")]
    assert helpers and first["child"] == 0
    for f in helpers:  # what jitcache does after an edit of the package (drivers stay)
        f.unlink()
    again = _engine(tmp_path, bundled_sample)
    assert again["child"] is None and set(HELPERS) <= set(again["compiled"])
    assert "replay_one" not in again["compiled"] and again["fills"] == first["fills"]


def test_the_engine_compiles_uncached_drivers_before_loading_cached_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import quantkit as qk
    from quantkit.engine import group, run

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "research"))
    from my_strategy import MyStrategy

    cached = qk.strategies.momentum(span=5)
    warmed: list[str] = []
    monkeypatch.setattr(group.StrategyGroup, "warm", lambda g: warmed.append(g.strategy.name))
    monkeypatch.setattr(run, "prefetch", lambda callers: False)
    monkeypatch.setattr(
        run, "has_cache_entries", lambda disp: disp.py_func.__module__ == group_module[0]
    )
    group_module: list[str] = []
    original = run.StrategyGroup.__init__

    def init(g, strategy, *args, **kwargs):  # note the cached strategy's driver module
        original(g, strategy, *args, **kwargs)
        if strategy is cached.strategy:
            group_module.append(g.driver.__name__)

    monkeypatch.setattr(run.StrategyGroup, "__init__", init)
    run.Engine([cached, MyStrategy()], instruments=["X"])
    # a cached driver's hooks would wait for the helpers' process: the new one compiles first
    assert warmed == ["my_strategy", "momentum"]


def test_the_second_process_ignores_ctrl_c_and_stops_between_functions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal
    import time

    from quantkit.engine import prefetch

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    child = prefetch._Child(prefetch._start())
    deadline = time.monotonic() + 120
    while not list(tmp_path.rglob("*.nbi")) and child.proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)  # until its first function is cached: it is compiling
    child.proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    assert child.proc.poll() is None  # Ctrl-C is for the process that started it
    child.stop()
    assert child.returncode == 0  # it finished the function, then stopped


def test_a_cpu_quota_below_two_cpus_means_no_second_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quantkit.engine import prefetch

    root, proc = tmp_path / "cgroup", tmp_path / "proc-self-cgroup"
    monkeypatch.setattr(prefetch, "CGROUP_ROOT", root)
    monkeypatch.setattr(prefetch, "PROC_CGROUP", proc)
    monkeypatch.delenv("QUANTKIT_NUMBA_PREFETCH", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert prefetch._cgroup_cpus() == float("inf") and prefetch._worth_it()  # no cgroups
    root.mkdir()
    (root / "cpu.max").write_text("100000 100000\n")  # no /proc/self/cgroup: the mount's
    assert prefetch._cgroup_cpus() == 1.0 and not prefetch._worth_it()
    (root / "cpu.max").unlink()
    # cgroup v1: the cpu controller's quota of the process's cgroup or a parent (-1: none)
    proc.write_text("5:memory:/box\n3:cpu,cpuacct:/box/job\n0::/\n")
    job = root / "cpu,cpuacct" / "box" / "job"
    job.mkdir(parents=True)
    (job / "cpu.cfs_quota_us").write_text("-1\n")
    (job / "cpu.cfs_period_us").write_text("100000\n")
    assert prefetch._cgroup_cpus() == float("inf")
    (job.parent / "cpu.cfs_quota_us").write_text("150000\n")
    (job.parent / "cpu.cfs_period_us").write_text("100000\n")
    assert prefetch._cgroup_cpus() == 1.5 and not prefetch._worth_it()
    # cgroup v2: cpu.max of the cgroup or a parent ("max": none)
    proc.write_text("0::/user.slice/app\n")
    app = root / "user.slice" / "app"
    app.mkdir(parents=True)
    (app / "cpu.max").write_text("max 100000\n")
    assert prefetch._cgroup_cpus() == float("inf") and prefetch._worth_it()
    (app.parent / "cpu.max").write_text("200000 100000\n")
    assert prefetch._cgroup_cpus() == 2.0 and prefetch._worth_it()
    (app / "cpu.max").write_text("50000 100000\n")
    assert prefetch._cgroup_cpus() == 0.5 and not prefetch._worth_it()


@pytest.mark.parametrize("child", ["fails", "hangs"])
def test_when_the_other_process_fails_the_helpers_compile_here(
    tmp_path: Path, bundled_sample: Path, child: str
) -> None:
    run = _engine(tmp_path, bundled_sample, child)
    off = _engine(tmp_path, bundled_sample, QUANTKIT_NUMBA_PREFETCH="0")
    assert run["child"] == (3 if child == "fails" else -15)  # stopped with SIGTERM
    assert set(HELPERS) <= set(run["compiled"])
    for table in ("fills", "orders", "summary"):
        assert run[table] == off[table]
