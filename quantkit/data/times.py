"""Time conversions: user time bounds and Arrow timestamps to int64 ns since the epoch (UTC).

Usage::

    from quantkit.data.times import to_ns, ns_to_iso
    to_ns("2024-01-01T10:00:00Z")  # 1704103200000000000
    ns_to_iso(1704103200000000000)  # '2024-01-01T10:00:00Z'
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa

from quantkit.data.arrays import to_numpy
from quantkit.errors import ConfigError

NS_PER_UNIT: dict[str, int] = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FRACTION = re.compile(r"^(?P<head>.*\d{2}:?\d{2}:?\d{2})[.,](?P<frac>\d+)(?P<tail>.*)$")
_EXAMPLES = "e.g. 1704067200000000000, '2024-01-01' or '2024-01-01T10:00:00Z'"


def to_ns(value: object, name: str = "time") -> int:
    """Convert an int (ns), datetime (naive = UTC), date, numpy datetime64 or ISO string to ns.

    Usage: ``to_ns("2024-01-01T10:00:00.5Z", "start")``; raises ConfigError naming ``name``.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} is not a time; give {_EXAMPLES}")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, datetime):
        return _datetime_to_ns(value)
    if isinstance(value, date):
        return _datetime_to_ns(datetime(value.year, value.month, value.day, tzinfo=UTC))
    if isinstance(value, str):
        return _parse_iso(value, name)
    raise ConfigError(f"{name}={value!r} ({type(value).__name__}) is not a time; give {_EXAMPLES}")


def _datetime_to_ns(value: datetime) -> int:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(microseconds=1) * 1_000


def _parse_iso(text: str, name: str) -> int:
    """Parse ISO 8601 with up to 9 fractional digits; naive means UTC."""
    stripped = text.strip()
    extra_ns = 0
    match = _FRACTION.match(stripped)
    if match:
        frac = match["frac"]
        if len(frac) > 9:
            raise ConfigError(f"{name}={text!r}: at most 9 fractional second digits (ns)")
        extra_ns = int(frac.ljust(9, "0"))
        stripped = match["head"] + match["tail"]
    try:
        parsed = datetime.fromisoformat(stripped)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not an ISO 8601 time; give {_EXAMPLES}") from None
    return _datetime_to_ns(parsed) + extra_ns


def ns_to_iso(ns: int) -> str:
    """Format ns since the epoch as ISO 8601 UTC with a ``Z``, trailing zero digits trimmed.

    Usage: ``ns_to_iso(1_500_000_000)  # '1970-01-01T00:00:01.5Z'``
    """
    seconds, frac = divmod(int(ns), 1_000_000_000)
    text = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def is_ts_type(dtype: pa.DataType) -> bool:
    """True for the Arrow types a ``ts`` column may have: any timestamp, or an integer (ns).

    Usage: ``is_ts_type(pa.timestamp("ms", tz="UTC"))  # True``
    """
    return bool(pa.types.is_timestamp(dtype) or pa.types.is_integer(dtype))


def ts_array_to_ns(arr: pa.Array) -> np.ndarray:
    """Return an int64 ns numpy array for a null-free timestamp (any unit/tz) or integer array.

    Usage: ``ts_array_to_ns(pa.array([1, 2], pa.timestamp("s")))  # array([1e9, 2e9])``;
    raises ``pa.ArrowInvalid`` when a value does not fit in int64 nanoseconds. The result is
    writeable; it reuses Arrow's buffer when that is freshly decoded (no copy).
    """
    if pa.types.is_timestamp(arr.type):
        if arr.type.unit != "ns":
            arr = arr.cast(pa.timestamp("ns", tz=arr.type.tz))  # checks overflow
        arr = arr.view(pa.int64())
    elif arr.type != pa.int64():
        arr = arr.cast(pa.int64())  # safe cast: uint64 above int64 max raises
    return to_numpy(arr, np.int64)
