"""Functions that callers call at run time instead of linking in (quantkit.jitlink): no copy in
the caller's machine code, right results and errors, and numba's on-disk cache still works when
the caller is cached and its callee is not, or when linking is turned off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

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
    for cres in _scale.overloads.values():
        callee = cres.fndesc
        assert any(f"@{jitlink.symbol(callee)}(" in line for line in declared)  # one per signature
        assert not any(callee.llvm_func_name in line for line in defined)
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
        "print(json.dumps(sorted(j.symbol(c.fndesc) for c in t._scale.overloads.values())))"
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
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp / "cache"), "QUANTKIT_NUMBA_LINK": link}
    out = subprocess.run(
        [sys.executable, "-c", CALL, str(tmp), "shift" if shift else "-"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


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


def test_the_engine_gives_the_same_results_with_and_without_linking(
    cold_engine_run: Callable[..., dict],
) -> None:
    on, off = cold_engine_run(QUANTKIT_NUMBA_LINK="1"), cold_engine_run(QUANTKIT_NUMBA_LINK="0")
    assert on["linked"] is True and off["linked"] is False
    assert len(on["fills"]) > 0
    for table in ("fills", "orders", "summary"):
        assert on[table] == off[table], table
