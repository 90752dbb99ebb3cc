"""Shared pytest fixtures.

Usage: fixtures are found by name, e.g. ``def test_x(engine_synth): ...``
"""

from __future__ import annotations

from pathlib import Path

import pytest

# --------------------------------------------------------------------------- engine tests

ENGINE_SYNTH_INSTRUMENTS = ("BTC-PERPETUAL", "ETH-PERPETUAL", "XYZ")


@pytest.fixture(scope="session")
def engine_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20k synthetic ticks of BTC-PERPETUAL, ETH-PERPETUAL and XYZ (seed 11), written once."""
    import quantkit as qk

    out = tmp_path_factory.mktemp("engine_synth") / "synth.parquet"
    return qk.data.synth(out, rows=20_000, instruments=ENGINE_SYNTH_INSTRUMENTS, seed=11)


@pytest.fixture(scope="session")
def bundled_sample() -> Path:
    """The sample shipped in the repository: data/sample_ticks.parquet."""
    path = Path(__file__).resolve().parents[1] / "data" / "sample_ticks.parquet"
    assert path.exists(), f"{path} is missing (regenerate it with scripts/make_sample_data.py)"
    return path
