"""rebatch(): exact batch sizes from any piece sizes; views when a batch fits in a piece, copies
otherwise; batches never share memory; row-count mismatches raise DataError."""

from __future__ import annotations

import re
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantkit.data.batch import Batch, rebatch
from quantkit.data.reader import CHANGED, Piece
from quantkit.errors import DataError

COLUMNS = ("bid", "ask")


def _pieces(sizes: list[int]) -> list[Piece]:
    """Pieces whose rows are numbered 0, 1, 2... across pieces (ts = row, bid = -row...)."""
    out, first = [], 0
    for n in sizes:
        rows = np.arange(first, first + n)
        floats = {"bid": -rows.astype(np.float64), "ask": rows + 0.5}
        out.append(Piece(rows.astype(np.int64), (rows % 3).astype(np.int32), floats, {}))
        first += n
    return out


def _arrays(b: Batch) -> list[np.ndarray]:
    return [b.ts, b.code, *b.columns.values()]


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=8),
    batch_size=st.one_of(st.just(0), st.integers(1, 50)),
)
def test_rebatch_cuts_exact_sizes_and_keeps_every_row(sizes: list[int], batch_size: int) -> None:
    total = sum(sizes)
    batches = list(rebatch(iter(_pieces(sizes)), total, batch_size, COLUMNS))
    lengths = [len(b) for b in batches]
    size = total if batch_size == 0 else batch_size
    assert sum(lengths) == total and all(n == size for n in lengths[:-1])
    assert (not batches) == (total == 0)
    if batches:
        ts = np.concatenate([b.ts for b in batches])
        assert ts.tolist() == list(range(total))
        assert np.concatenate([b.code for b in batches]).tolist() == [r % 3 for r in range(total)]
        assert np.array_equal(np.concatenate([b.columns["bid"] for b in batches]), -ts)
        assert tuple(batches[0].columns) == COLUMNS
    for b in batches:
        assert all(a.flags.c_contiguous and a.flags.writeable for a in _arrays(b))
    for one, other in combinations(batches, 2):
        assert not any(np.shares_memory(x, y) for x in _arrays(one) for y in _arrays(other))


def test_a_batch_inside_a_piece_is_a_view_and_a_straddling_one_a_copy() -> None:
    pieces = _pieces([10, 7])
    batches = list(rebatch(iter(pieces), 17, 4, COLUMNS))  # rows 0-3, 4-7, 8-11, 12-15, 16
    shares = [[np.shares_memory(b.ts, p.ts) for p in pieces] for b in batches]
    assert shares == [[True, False], [True, False], [False, False], [False, True], [False, True]]
    batches[0].columns["bid"][:] = 99.0  # writing into one batch leaves the others alone
    assert batches[1].columns["bid"].tolist() == [-4.0, -5.0, -6.0, -7.0]


def test_straddling_batches_are_copied() -> None:
    pieces = _pieces([3, 3, 3])
    (whole,) = rebatch(iter(pieces), 9, 0, COLUMNS)
    assert whole.ts.tolist() == list(range(9))
    assert not any(np.shares_memory(whole.ts, p.ts) for p in pieces)


@pytest.mark.parametrize(("sizes", "total"), [([5, 5], 9), ([5, 4], 10), ([], 3)])
def test_row_count_mismatch_says_the_data_changed(sizes: list[int], total: int) -> None:
    with pytest.raises(DataError, match=re.escape(CHANGED)):
        list(rebatch(iter(_pieces(sizes)), total, 4, COLUMNS))


def test_empty_batch_shape() -> None:
    b = Batch.empty(3, COLUMNS)
    assert len(b) == 3 and b.ts.dtype == np.int64 and b.code.dtype == np.int32
    assert tuple(b.columns) == COLUMNS and b.columns["ask"].dtype == np.float64
