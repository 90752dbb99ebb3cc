"""Shared pytest fixtures.

Usage: fixtures are found by name, e.g. ``def test_x(engine_synth): ...``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
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


COLD_RUN = """
import json, sys
import quantkit as qk, quantkit.jitlink as link, quantkit.jitmemo as memo
res = qk.backtest(sys.argv[1], strategies=[qk.strategies.momentum(span=20)], latency_ms=1.0)
tables = {"fills": res.fills.rows(), "orders": res.orders.rows(), "summary": res.summary.rows()}
flags = {"memo": memo.installed(), "memo_stats": memo.stats(), "linked": link.enabled()}
print(json.dumps({**flags, **tables}, default=str))
"""


@pytest.fixture
def cold_engine_run(tmp_path: Path, bundled_sample: Path) -> Callable[..., dict]:
    """``run(**environment)``: a momentum backtest of the bundled sample in a new process that
    compiles everything (empty caches), with these environment variables set. Returns its fill,
    order and summary rows, and whether quantkit.jitmemo and quantkit.jitlink were on."""

    def run(**env: str) -> dict:
        cache = tmp_path / "-".join(["cache", *(f"{k}={v}" for k, v in sorted(env.items()))])
        full = {**os.environ, **env, "NUMBA_CACHE_DIR": str(cache),
                "QUANTKIT_CACHE_DIR": str(cache)}  # fmt: skip
        out = subprocess.run(
            [sys.executable, "-c", COLD_RUN, str(bundled_sample)],
            env=full, capture_output=True, text=True,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    return run
