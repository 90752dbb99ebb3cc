"""Arrow arrays to writeable numpy arrays, without a copy when Arrow's buffer is ours to reuse.

A column freshly decoded from Parquet lives in a mutable buffer that nothing else references, so
numpy can use it in place (and write to it). Anything else (immutable or shared buffers, nulls,
casts) is copied once.

Usage::

    from quantkit.data.arrays import to_float64, to_numpy
    ts = to_numpy(record_batch.column(0), np.int64)
    bid, nulls = to_float64(record_batch.column(2))
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def to_numpy(arr: pa.Array, dtype: type[np.generic]) -> np.ndarray:
    """A writeable, C-contiguous ``dtype`` view of a null-free fixed-width Arrow array.

    Zero-copy when Arrow's data buffer is mutable (freshly decoded); otherwise a copy.
    Usage: ``to_numpy(pa.array([1, 2]), np.int64)``
    """
    view = _buffer_view(arr, np.dtype(dtype))
    if view is not None:
        return view
    out = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=dtype)
    return out if out.flags.writeable and out.flags.c_contiguous else out.copy()


def _buffer_view(arr: pa.Array, dtype: np.dtype) -> np.ndarray | None:
    if arr.null_count or isinstance(arr, pa.ChunkedArray):
        return None
    if not pa.types.is_primitive(arr.type) or arr.type.bit_width != 8 * dtype.itemsize:
        return None
    buffers = arr.buffers()
    data = buffers[1] if len(buffers) == 2 else None
    if data is None or not data.is_mutable:
        return None
    return np.frombuffer(data, dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


def to_float64(arr: pa.Array) -> tuple[np.ndarray, int]:
    """Any numeric (or all-null) Arrow array as writeable float64 with NaN for nulls, and its
    null count.

    Usage: ``values, nulls = to_float64(pa.array([1, None]))  # [1.0, nan], 1``
    """
    if arr.type != pa.float64():
        arr = arr.cast(pa.float64(), safe=False)
    nulls = arr.null_count
    if nulls == 0:
        return to_numpy(arr, np.float64), 0
    out = arr.to_numpy(zero_copy_only=False)
    return (out if out.flags.writeable else out.copy()), nulls
