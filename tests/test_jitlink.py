"""Functions that callers call at run time instead of linking in (quantkit.jitlink): no copy in
the caller's machine code, right results and errors, and numba's on-disk cache still works when
the caller is cached and its callee is not, or when linking is turned off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from numba import njit

from quantkit import jitlink, jitmemo

pytestmark = pytest.mark.skipif(
    not jitmemo.checked_numba(), reason="numba outside the versions jitlink was checked with"
)


@jitlink.separate(cache=False)
def _scale(x, k):
    if k < 0:
        raise ValueError("negative factor")
    return x * k


@njit
def _use(x):
    return _scale(x, 3) + _scale(float(x), 0.5)


def test_a_caller_calls_the_separate_function_instead_of_linking_a_copy() -> None:
    assert _use(4) == 14.0
    ir = _use.inspect_llvm(_use.signatures[0])
    defined = [line for line in ir.splitlines() if line.startswith("define")]
    declared = [line for line in ir.splitlines() if line.startswith("declare")]
    assert len(_scale.overloads) == 2  # (int64, Literal[int](3)) and (float64, float64)
    for argtypes, cres in _scale.overloads.items():
        name = jitlink.symbol_of(_scale, argtypes)
        assert any(f"@{name}(" in line for line in declared)  # one per signature
        assert not any(cres.fndesc.llvm_func_name in line for line in defined)
    assert all("test_jitlink4_use" in line for line in defined)  # _use and its wrappers only


def test_an_error_raised_in_a_separate_function_reaches_the_callers_caller() -> None:
    @njit
    def use_negative(x):
        return _scale(x, -1)

    with pytest.raises(ValueError, match="negative factor"):
        use_negative(2)


def test_the_symbol_is_the_same_in_every_process_and_differs_by_signature() -> None:
    code = (
        "import json, quantkit.jitlink as j, tests.test_jitlink as t; t._use(4);"
        "print(json.dumps(sorted(j.symbol_of(t._scale, a) for a in t._scale.overloads)))"
    )
    root = Path(__file__).resolve().parents[1]
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    names = [r.stdout.strip().splitlines()[-1] for r in runs]
    assert names[0] == names[1] and len(set(json.loads(names[0]))) == 2


MODULE = """
import numpy as np
from numba import njit
from quantkit.jitlink import separate

ROW = np.dtype([("price", np.float64), ("qty", np.float64)])

@separate
def add_tax(row, rate):
    return row.price * row.qty * (1.0 + rate)

@njit(cache=True)
def total(rows):
    return add_tax(rows[0], 0.25) + add_tax(rows[1], 0.5)
"""
#: numba numbers record types in the order a process creates them: the second and later runs
#: create one first, so the record type of ``ROW`` gets another number than when compiled
CALL = """
import json, sys
import numba, numpy as np
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "shift":
    numba.typeof(np.zeros(1, [("other", np.int32)])[0])
import quantkit, linked_mod as m
rows = np.zeros(2, m.ROW)
rows["price"], rows["qty"] = 2.0, 4.0
value = m.total(rows)
hits = {f.__name__: sum(f.stats.cache_hits.values()) for f in (m.total, m.add_tax)}
print(json.dumps({"value": value, "hits": hits, "linked": quantkit.jitlink.enabled()}))
"""


def _call(tmp: Path, link: str = "1", shift: bool = True) -> dict:
    return _fresh(tmp, "-c", CALL, str(tmp), "shift" if shift else "-", link=link)


def test_a_cached_caller_loads_its_callee_first_from_the_cache_or_by_compiling_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "linked_mod.py").write_text(MODULE)
    first = _call(tmp_path, shift=False)
    assert first == {"value": 22.0, "hits": {"total": 0, "add_tax": 0}, "linked": True}
    assert _call(tmp_path)["hits"] == {"total": 1, "add_tax": 1}  # both from the cache
    for path in (tmp_path / "cache").rglob("linked_mod.add_tax-*"):
        path.unlink()  # the callee's cache is gone, the caller's is not
    again = _call(tmp_path)
    assert again == {"value": 22.0, "hits": {"total": 1, "add_tax": 0}, "linked": True}


def test_a_caller_cached_with_separate_calls_loads_with_linking_turned_off(
    tmp_path: Path,
) -> None:
    (tmp_path / "linked_mod.py").write_text(MODULE)
    assert _call(tmp_path, shift=False)["value"] == 22.0
    off = _call(tmp_path, link="0")
    assert off == {"value": 22.0, "hits": {"total": 1, "add_tax": 1}, "linked": False}


def _files(tmp: Path, **sources: str) -> None:
    for name, text in sources.items():
        (tmp / f"{name}.py").write_text(textwrap.dedent(text))


def _fresh(tmp: Path, *args: str, link: str = "1") -> Any:
    """Run Python with ``args`` (``"-c", code`` or a script) in a new process, modules from
    ``tmp`` and numba's cache in ``tmp/cache``; returns the JSON it prints last."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp / "cache"), "QUANTKIT_NUMBA_LINK": link,
           "PYTHONPATH": f"{tmp}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}  # fmt: skip
    out = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


HITS = "sum(f.stats.cache_hits.values())"


def test_a_plain_cached_function_passes_its_callees_hook_on_to_a_caller_that_links_it(
    tmp_path: Path,
) -> None:
    """``a`` links ``b`` (a plain cached function that calls ``c`` by symbol) from numba's cache:
    ``a``'s cache must still load ``c`` first."""
    _files(
        tmp_path,
        mod_c="""
            from numba import njit
            from quantkit.jitlink import separate

            @separate
            def c(x):
                return x + 1

            @njit(cache=True)
            def b(x):
                return c(x) * 2
        """,
        mod_a="""
            from numba import njit
            from mod_c import b

            @njit(cache=True)
            def a(x):
                return b(x) + 1
        """,
    )
    assert _fresh(tmp_path, "-c", "import json, mod_c; print(json.dumps([mod_c.b(1)]))") == [4]
    run_a = f"import json, mod_a; v = mod_a.a(1); f = mod_a.a; print(json.dumps([v, {HITS}]))"
    assert _fresh(tmp_path, "-c", run_a) == [5, 0]
    assert _fresh(tmp_path, "-c", run_a) == [5, 1]


def test_caches_written_with_linking_on_load_with_it_off_and_on_again(tmp_path: Path) -> None:
    """With linking off, ``b`` is a plain function loaded from a cache written with it on, whose
    code calls ``c`` by symbol; a new caller linking ``b`` in must load ``c`` first."""
    _files(
        tmp_path,
        mod_m="""
            from numba import njit
            from quantkit.jitlink import separate

            @separate
            def c(x):
                return x * 3

            @separate
            def b(x):
                return c(x) + 1

            @njit(cache=True)
            def a1(x):
                return b(x)

            @njit(cache=True)
            def a2(x):
                return b(x) * 2
        """,
    )
    code = "import json, mod_m; print(json.dumps([mod_m.{f}(1), {hits}]))"
    a1 = code.format(f="a1", hits=HITS.replace("f.", "mod_m.a1."))
    a2 = code.format(f="a2", hits=HITS.replace("f.", "mod_m.a2."))
    assert _fresh(tmp_path, "-c", a1, link="1") == [4, 0]
    assert _fresh(tmp_path, "-c", a2, link="0") == [8, 0]
    assert _fresh(tmp_path, "-c", a2, link="0") == [8, 1]
    assert _fresh(tmp_path, "-c", a2, link="1") == [8, 1]


def test_a_callee_that_compiles_to_another_symbol_makes_its_cached_caller_compile_again(
    tmp_path: Path,
) -> None:
    """The callee's return type changed (the caller's own file did not), or it was compiled
    under the caller's error model and now alone: never a call with the old convention."""
    _files(
        tmp_path,
        mod_f="""
            from quantkit.jitlink import separate

            @separate
            def f(x):
                return x + 1
        """,
        mod_g="""
            from numba import njit
            from mod_f import f

            @njit(cache=True, error_model="numpy")
            def g(x):
                return f(x) * 2
        """,
    )
    run = f"import json, mod_g; v = mod_g.g(1); f = mod_g.g; print(json.dumps([v, {HITS}]))"
    assert _fresh(tmp_path, "-c", run) == [4, 0]
    assert _fresh(tmp_path, "-c", run) == [4, 1]
    with (tmp_path / "mod_f.py").open("a") as f:
        f.write("# touched: f compiles again, alone, with the default error model\n")
    assert _fresh(tmp_path, "-c", run) == [4, 0]
    _files(tmp_path, mod_f="from quantkit.jitlink import separate\n\n"
           "@separate\ndef f(x):\n    return x + 0.5\n")  # fmt: skip
    assert _fresh(tmp_path, "-c", run) == [3.0, 0]
    assert _fresh(tmp_path, "-c", run) == [3.0, 1]


def _make_adder(k):
    @jitlink.separate(cache=False)
    def add(x):
        return x + k

    return add


def _first_impl(p):
    return p[0] - p[1]


_first = jitlink.separate(_first_impl, cache=False)  # not found again as _first_impl


def test_functions_that_cannot_be_found_again_by_name_are_linked_in() -> None:
    """A factory's functions share one qualified name, and a function bound under another name
    cannot be loaded by a cached caller: their callers link them in, as numba does."""
    add1, add100 = _make_adder(1), _make_adder(100)
    use1 = njit(lambda x: add1(x))
    use100 = njit(lambda x: add100(x))
    use1_again = njit(lambda x: add1(x))
    assert (use1(0), use100(0), use1_again(0)) == (1, 100, 1)
    use_first = njit(lambda a, b: _first((a, b)))
    assert use_first(5, 2) == 3
    assert not any(disp in (add1, add100, _first) for disp, _ in jitlink._published.values())


def test_overloads_whose_types_print_the_same_do_not_share_a_symbol(tmp_path: Path) -> None:
    _files(
        tmp_path,
        nt_a="from collections import namedtuple\nP = namedtuple('P', ['x', 'y'])\n",
        nt_b="from collections import namedtuple\nP = namedtuple('P', ['y', 'x'])\n",
        mod_p="""
            import nt_a, nt_b
            from numba import njit
            from quantkit.jitlink import separate

            @separate
            def first(p):
                return p.x - p.y

            @njit(cache=True)
            def use_a(x, y):
                return first(nt_a.P(x, y))

            @njit(cache=True)
            def use_b(x, y):
                return first(nt_b.P(y, x))
        """,
    )
    assert _fresh(tmp_path, "-c", "import json, mod_p; print(json.dumps([mod_p.use_b(5, 2)]))") == [
        3
    ]
    both = "import json, mod_p; print(json.dumps([mod_p.use_a(5, 2), mod_p.use_b(5, 2)]))"
    assert _fresh(tmp_path, "-c", both) == [3, 3]
    assert _fresh(tmp_path, "-c", both) == [3, 3]


def test_a_cached_caller_whose_hook_has_another_format_is_a_cache_miss(tmp_path: Path) -> None:
    """A cache written by another quantkit version (whose hook takes other arguments) is
    compiled again, not an error on every run."""
    _files(
        tmp_path,
        mod_h="""
            from numba import njit
            from quantkit.jitlink import separate

            @separate
            def f(x):
                return x - 1

            @njit(cache=True)
            def g(x):
                return f(x) * 3
        """,
    )
    old_format = (
        "import functools, json, quantkit.jitlink as j\n"
        "publish = j._publish\n"
        "def three_arguments(disp, cres, name):\n"
        "    publish(disp, cres, name)\n"
        "    d = cres.fndesc\n"
        "    j._hooks[name] = functools.partial(j.load, d.modname, d.qualname, tuple(d.argtypes))\n"
        "j._publish = three_arguments\n"
        "import mod_h; print(json.dumps([mod_h.g(5)]))\n"
    )
    assert _fresh(tmp_path, "-c", old_format) == [12]
    run = f"import json, mod_h; v = mod_h.g(5); f = mod_h.g; print(json.dumps([v, {HITS}]))"
    assert _fresh(tmp_path, "-c", run) == [12, 0]  # a miss, compiled again with this format
    assert _fresh(tmp_path, "-c", run) == [12, 1]
    with pytest.raises(jitlink.StaleLink, match="another format"):
        jitlink.load("mod_h", "f", ())


def test_a_scripts_functions_are_linked_in(tmp_path: Path) -> None:
    """numba caches a script's functions by file, but ``__main__`` is another file in the next
    process: a function of it must not be published under the name ``__main__.f``."""
    _files(
        tmp_path,
        tools="""
            import json
            from numba import njit
            from quantkit.jitlink import separate

            @separate
            def f(x):
                return x + 1

            @njit(cache=True)
            def g(x):
                return f(x) * 10

            if __name__ == "__main__":
                print(json.dumps([g(1)]))
        """,
        main2="""
            import json
            from quantkit.jitlink import separate

            @separate
            def f(x):
                return x - 1000

            import tools
            print(json.dumps([tools.g(1)]))
        """,
    )
    for script in ("tools.py", "main2.py"):
        assert _fresh(tmp_path, str(tmp_path / script)) == [20], script


def test_two_copies_of_the_callee_at_other_paths_share_the_callers_cache(tmp_path: Path) -> None:
    """Two installs of the same code (a worktree, two venvs) share the cache of generated
    drivers: where the callee's file is must not make the caller miss."""
    for copy in ("a", "b"):
        (tmp_path / copy / "pkg").mkdir(parents=True)
        (tmp_path / copy / "pkg" / "__init__.py").write_text(
            "from quantkit.jitlink import separate\n\n@separate\ndef f(x):\n    return x + 1.0\n"
        )
    (tmp_path / "shared").mkdir()
    _files(
        tmp_path / "shared",
        caller="""
            from numba import njit
            from pkg import f

            @njit(cache=True)
            def caller(x):
                return f(x) * 2.0
        """,
    )
    run = "import json, caller as c; v = c.caller(1.0); f = c.caller; print(json.dumps([v, {h}]))"
    hits = []
    for copy in ("a", "a", "b", "b", "a"):
        path = [str(tmp_path / copy), str(tmp_path / "shared")]
        hits.append(
            _fresh(tmp_path, "-c", f"import sys; sys.path[:0] = {path!r}\n" + run.format(h=HITS))
        )
    assert hits == [[4.0, 0], [4.0, 1], [4.0, 1], [4.0, 1], [4.0, 1]]


def test_a_cached_cfunc_loads_the_functions_its_callee_calls(tmp_path: Path) -> None:
    """numba builds a cfunc without loading it, so it never copies the library's hooks into
    what it caches; the cfunc links ``f`` in, and ``f`` calls ``g`` by symbol."""
    _files(
        tmp_path,
        mod_cf="""
            from numba import cfunc
            from quantkit.jitlink import separate

            @separate
            def g(x):
                return x * 2.0

            @separate
            def f(x):
                return g(x) + 1.0

            @cfunc("float64(float64)", cache=True)
            def cb(x):
                return f(x)
        """,
    )
    run = "import json, mod_cf; print(json.dumps([mod_cf.cb.ctypes(3.0), mod_cf.cb.cache_hits]))"
    assert _fresh(tmp_path, "-c", run) == [7.0, 0]
    assert _fresh(tmp_path, "-c", run) == [7.0, 1]


def test_the_engine_gives_the_same_results_with_and_without_linking(
    cold_engine_run: Callable[..., dict],
) -> None:
    on, off = cold_engine_run(QUANTKIT_NUMBA_LINK="1"), cold_engine_run(QUANTKIT_NUMBA_LINK="0")
    assert on["linked"] is True and off["linked"] is False
    assert len(on["fills"]) > 0
    for table in ("fills", "orders", "summary"):
        assert on[table] == off[table], table
