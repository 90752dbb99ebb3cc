"""prefetch(): same items in the same order, errors raised in the caller, threads that stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.data.prefetch import prefetch


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "quantkit-read"]


def _wait_for_no_readers() -> None:
    deadline = time.monotonic() + 5
    while _readers() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _readers()


@settings(max_examples=30, deadline=None)
@given(items=st.lists(st.integers()), depth=st.integers(1, 3))
def test_yields_the_same_items_in_order(items: list[int], depth: int) -> None:
    assert list(prefetch(iter(items), depth=depth)) == items
    _wait_for_no_readers()


def test_nothing_runs_before_the_first_next() -> None:
    started = []

    def source() -> Iterator[int]:
        started.append(True)
        yield 1

    it = prefetch(source())
    time.sleep(0.05)
    assert started == [] and not _readers()
    assert next(it) == 1 and started == [True]


def test_errors_reach_the_caller_after_the_earlier_items() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("row 3 is bad")

    it = prefetch(source())
    assert next(it) == 1 and next(it) == 2
    with pytest.raises(ValueError, match="row 3 is bad"):
        next(it)
    _wait_for_no_readers()


def test_stopping_early_stops_the_thread_and_closes_the_source() -> None:
    produced, closed = [], []

    def source() -> Iterator[int]:
        try:
            for i in range(1_000):
                produced.append(i)
                yield i
        finally:
            closed.append(True)

    it = prefetch(source(), depth=1)
    assert next(it) == 0
    it.close()
    _wait_for_no_readers()
    assert closed == [True]
    assert len(produced) <= 3  # one handed over, one queued, one being produced
