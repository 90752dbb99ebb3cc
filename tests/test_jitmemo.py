"""The memo of numba's function-type resolution (quantkit.jitmemo): installed by ``import
quantkit``, serves repeated resolutions within one compilation, keeps each compilation's own
flags, and leaves the engine's results as they are."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
from numba import njit
from numba.extending import overload

from quantkit import jitmemo

#: a newer numba than the memo was checked with runs without it (install() declines)
pytestmark = pytest.mark.skipif(
    not jitmemo.checked_numba(), reason="numba outside the versions the memo was checked with"
)


def test_import_installs_the_memo_and_the_environment_can_turn_it_off() -> None:
    assert jitmemo.installed()
    code = "import quantkit.jitmemo as m, quantkit; print(m.installed())"
    env = {**os.environ, "QUANTKIT_NUMBA_MEMO": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_repeated_resolutions_within_one_compilation_are_served_from_the_memo() -> None:
    @njit
    def ema(xs, alpha):
        e = xs[0]
        for i in range(1, xs.shape[0]):
            e = e + alpha * (xs[i] - e)
        return e

    before = jitmemo.stats()
    assert ema(np.array([1.0, 2.0, 4.0]), 0.5) == 2.75
    after = jitmemo.stats()
    assert after["resolved"] > before["resolved"]
    assert after["served"] > before["served"]  # the loop is typed more than once, then lowered


def _overloaded_ratio():
    """A new function with an ``@overload`` (``a / b``): numba keeps what it chose for a
    function on its type for the rest of the process, so each test needs its own."""

    def ratio(a, b):
        return a / b

    @overload(ratio)
    def _impl(a, b):
        def impl(a, b):
            return a / b

        return impl

    return ratio


_ratio = _overloaded_ratio()


def test_each_compilation_resolves_with_its_own_flags() -> None:
    """``@overload`` implementations are compiled with the caller's flags: a memo shared by two
    compilations would give the second the first one's error model."""

    @njit(error_model="numpy")
    def quiet(a, b):
        return _ratio(a, b)

    @njit(error_model="python")
    def loud(a, b):
        return _ratio(a, b)

    assert quiet(1.0, 0.0) == np.inf
    with pytest.raises(ZeroDivisionError):
        loud(1.0, 0.0)


_share = _overloaded_ratio()


def test_a_callee_compiled_with_other_flags_does_not_change_the_callers_implementation() -> None:
    """numba records the chosen implementation on the function type, shared by compilations:
    a callee compiled (with other flags) while the caller is typed overwrites it, and the
    caller must still be built with its own (numpy's error model: 1/0 is inf)."""

    @njit(error_model="python")
    def inner(a, b):
        return _share(a, b) + _share(a, b)

    @njit(error_model="numpy")
    def outer(a, b):
        x = _share(a, b)  # resolved with outer's flags
        y = inner(1.0, 1.0)  # compiles inner, with python's error model, in the middle
        return x + y + _share(a, b)

    assert outer(1.0, 0.0) == np.inf
    with pytest.raises(ZeroDivisionError):
        inner(1.0, 0.0)


def test_the_engine_compiled_with_and_without_the_memo_gives_the_same_results(
    cold_engine_run: Callable[..., dict],
) -> None:
    on, off = cold_engine_run(QUANTKIT_NUMBA_MEMO="1"), cold_engine_run(QUANTKIT_NUMBA_MEMO="0")
    assert on["memo"] is True and off["memo"] is False
    stats = on["memo_stats"]
    assert stats["served"] > stats["resolved"] > 0  # the memo did serve repeats
    assert len(on["fills"]) > 0
    for table in ("fills", "orders", "summary"):
        assert on[table] == off[table], table


def test_resolutions_made_by_an_inlined_overload_are_not_memoised() -> None:
    """numba inlines ``bool(None)`` (an ``@overload(..., inline="always")``) and keeps its typed
    code on the template, shared by compilations: such resolutions are made anew each time."""
    from numba import types
    from numba.core.registry import cpu_target

    @njit
    def truth(x):
        return bool(None) or bool(x)

    assert truth(3) is True
    bool_type = cpu_target.typing_context.resolve_value_type(bool)
    assert jitmemo._inlined(bool_type, (types.none,))
    assert not jitmemo._inlined(bool_type, (types.int64,))


def test_the_memo_installs_only_on_the_numba_versions_it_was_checked_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import numba

    monkeypatch.setattr(numba, "__version__", "0.70.0")
    assert not jitmemo.checked_numba()
    monkeypatch.setattr(numba, "__version__", "0.59.1")
    assert not jitmemo.checked_numba()
    monkeypatch.setattr(numba, "__version__", "0.68.1")
    assert jitmemo.checked_numba()
