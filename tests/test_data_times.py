"""Time bounds and Arrow timestamps -> int64 ns since the epoch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantkit.data.times import NS_PER_UNIT, ns_to_iso, to_ns, ts_array_to_ns
from quantkit.errors import ConfigError

# int64 ns covers 1677-09-21 .. 2262-04-11; stay inside with a margin
NS_RANGE = st.integers(min_value=-(2**62), max_value=2**62)
DATETIMES = st.datetimes(min_value=datetime(1700, 1, 1), max_value=datetime(2200, 1, 1))  # noqa: DTZ001


def test_iso_examples() -> None:
    day = 1704067200 * 10**9  # 2024-01-01T00:00:00Z, from `date -u -d 2024-01-01 +%s`
    assert to_ns("2024-01-01") == day
    assert to_ns("2024-01-01T10:00:00Z") == day + 10 * 3600 * 10**9
    assert to_ns("2024-01-01T10:00:00+02:00") == day + 8 * 3600 * 10**9
    assert to_ns("2024-01-01 00:00:00.000000007") == day + 7
    assert to_ns("2024-01-01T00:00:00.5Z") == day + 500_000_000


def test_other_inputs() -> None:
    assert to_ns(123) == 123
    assert to_ns(np.int64(5)) == 5
    assert to_ns(date(1970, 1, 2)) == 86400 * 10**9
    assert to_ns(np.datetime64("1970-01-01T00:00:01", "s")) == 10**9
    aware = datetime(1970, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    assert to_ns(aware) == 0


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-01", "2024-01-01T00:00:00.1234567891", 1.5])
def test_bad_times_name_the_argument(bad: object) -> None:
    with pytest.raises(ConfigError, match="start="):
        to_ns(bad, "start")


def test_bool_is_not_a_time() -> None:
    with pytest.raises(ConfigError):
        to_ns(True)


@given(DATETIMES, st.integers(0, 999))
def test_naive_datetime_is_utc(dt: datetime, extra_ns: int) -> None:
    ns = to_ns(dt)
    assert ns == to_ns(dt.replace(tzinfo=UTC))
    assert to_ns(dt.isoformat()) == ns
    iso = dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{dt.microsecond * 1000 + extra_ns:09d}Z"
    assert to_ns(iso) == ns + extra_ns


@given(NS_RANGE)
def test_iso_round_trip(ns: int) -> None:
    text = ns_to_iso(ns)
    assert text.endswith("Z")
    assert to_ns(text) == ns


def test_ns_to_iso_trims_zeros() -> None:
    assert ns_to_iso(0) == "1970-01-01T00:00:00Z"
    assert ns_to_iso(1_500_000_000) == "1970-01-01T00:00:01.5Z"
    assert ns_to_iso(-1) == "1969-12-31T23:59:59.999999999Z"


@given(
    st.sampled_from(list(NS_PER_UNIT)),
    st.sampled_from([None, "UTC", "Europe/Paris"]),
    st.lists(st.integers(-(2**61) // 10**9, 2**61 // 10**9), max_size=20),
)
def test_timestamp_arrays_become_ns(unit: str, tz: str | None, values: list[int]) -> None:
    arr = pa.array(values, pa.timestamp(unit, tz=tz))
    out = ts_array_to_ns(arr)
    assert out.dtype == np.int64
    assert out.tolist() == [v * NS_PER_UNIT[unit] for v in values]


@given(
    st.sampled_from([pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint32()]),
    st.lists(st.integers(0, 100), max_size=20),
)
def test_integer_arrays_are_ns(dtype: pa.DataType, values: list[int]) -> None:
    assert ts_array_to_ns(pa.array(values, dtype)).tolist() == values


def test_overflowing_seconds_raise() -> None:
    with pytest.raises(pa.ArrowInvalid):
        ts_array_to_ns(pa.array([2**62], pa.timestamp("s")))
