"""Arrow -> numpy: writeable results, no copy of freshly decoded buffers, a copy otherwise."""

from __future__ import annotations

import decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantkit.data.arrays import to_float64, to_numpy


def _address(arr: np.ndarray) -> int:
    return int(arr.__array_interface__["data"][0])


def test_mutable_buffer_is_used_in_place() -> None:
    arr = pa.array(np.arange(10, dtype=np.int64) * 3).slice(2, 5)  # Arrow-owned, offset 2
    assert arr.buffers()[1].is_mutable
    out = to_numpy(arr, np.int64)
    assert out.tolist() == [6, 9, 12, 15, 18]
    assert _address(out) == arr.buffers()[1].address + 2 * 8
    assert out.flags.writeable and out.flags.c_contiguous


def test_immutable_buffer_is_copied() -> None:
    data = pa.py_buffer(np.arange(4, dtype=np.float64).tobytes())  # wraps immutable bytes
    arr = pa.Array.from_buffers(pa.float64(), 4, [None, data])
    assert not data.is_mutable
    values, nulls = to_float64(arr)
    assert values.tolist() == [0.0, 1.0, 2.0, 3.0] and nulls == 0
    assert values.flags.writeable and _address(values) != data.address


@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=False)), max_size=50))
def test_nulls_become_nan_and_are_counted(values: list[float | None]) -> None:
    out, nulls = to_float64(pa.array(values, pa.float64()))
    assert nulls == sum(v is None for v in values)
    assert out.flags.writeable and len(out) == len(values)
    for got, want in zip(out.tolist(), values, strict=True):
        assert (np.isnan(got) and want is None) or got == want


@pytest.mark.parametrize(
    ("arr", "want"),
    [
        (pa.array([1, None, 3], pa.int32()), [1.0, np.nan, 3.0]),
        (pa.array([1.5, 2.5], pa.float32()), [1.5, 2.5]),
        (pa.array([decimal.Decimal("1.25")], pa.decimal128(5, 2)), [1.25]),
        (pa.array([None, None], pa.null()), [np.nan, np.nan]),
    ],
)
def test_numbers_of_any_type_become_float64(arr: pa.Array, want: list[float]) -> None:
    out, nulls = to_float64(arr)
    assert out.dtype == np.float64 and out.flags.writeable
    np.testing.assert_array_equal(out, np.array(want))
    assert nulls == arr.null_count
