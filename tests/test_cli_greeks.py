"""``quantkit data greeks``: recorded Deribit tickers in, Deribit's published greeks out."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from cli_run import run_main

TICKERS = Path(__file__).parent / "data" / "deribit_tickers_2021.jsonl"
ROWS: list[dict[str, Any]] = sorted(
    (json.loads(line) for line in TICKERS.read_text().splitlines()), key=lambda r: r["timestamp"]
)


def _absent(price: float) -> float:
    return price if price > 0.0 else math.nan  # Deribit sends 0 for an empty side


def _ticks(mark_iv: bool = True) -> pl.DataFrame:
    """The recorded option tickers as canonical ticks, plus one perpetual row; stale greeks."""
    data: dict[str, list[Any]] = {
        "ts": [r["timestamp"] * 1_000_000 for r in ROWS] + [ROWS[-1]["timestamp"] * 1_000_000],
        "instrument": [r["instrument_name"] for r in ROWS] + ["BTC-PERPETUAL"],
        "bid": [_absent(r["best_bid_price"]) for r in ROWS] + [32200.0],
        "ask": [_absent(r["best_ask_price"]) for r in ROWS] + [32200.5],
        "bid_size": [1.0] * len(ROWS) + [1000.0],
        "ask_size": [2.0] * len(ROWS) + [500.0],
        "underlying_price": [r["underlying_price"] for r in ROWS] + [math.nan],
        "delta": [9.0] * (len(ROWS) + 1),  # stale values that must be refreshed
    }
    if mark_iv:
        data["mark_iv"] = [r["mark_iv"] for r in ROWS] + [math.nan]
    return pl.DataFrame(data)


def _greeks(
    tmp_path: Path, frame: pl.DataFrame, capsys: pytest.CaptureFixture[str]
) -> pl.DataFrame:
    src, dst = tmp_path / "in.parquet", tmp_path / "out.parquet"
    frame.write_parquet(src)
    code, out, err = run_main(["data", "greeks", str(src), "--out", str(dst)], capsys)
    assert (code, err) == (0, ""), err
    assert f"wrote {dst}" in out
    return pl.read_parquet(dst)


def test_recomputes_deribit_greeks_and_keeps_other_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = _ticks()
    out = _greeks(tmp_path, frame, capsys)
    assert out.height == frame.height
    assert out.select(frame.columns[:-2]).equals(frame.select(frame.columns[:-2]))
    options = out.head(len(ROWS))
    for name in ("delta", "gamma"):
        published = np.array([r["greeks"][name] for r in ROWS])
        # one unit in the 5th decimal plus the rounding of mark_iv / underlying_price
        np.testing.assert_allclose(options[name].to_numpy(), published, rtol=0, atol=2e-5)
    for name in ("vega", "theta"):
        published = np.array([r["greeks"][name] for r in ROWS])
        np.testing.assert_allclose(options[name].to_numpy(), published, rtol=2e-4, atol=5e-5)
    perp = out.row(-1, named=True)
    assert all(math.isnan(perp[name]) for name in ("delta", "gamma", "vega", "theta"))
    assert perp["bid"] == 32200.0


def test_fills_mark_iv_from_the_mid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _greeks(tmp_path, _ticks(mark_iv=False), capsys)
    iv = out["mark_iv"].to_numpy()[: len(ROWS)]
    delta = out["delta"].to_numpy()[: len(ROWS)]
    two_sided = np.array([r["best_bid_price"] > 0 and r["best_ask_price"] > 0 for r in ROWS])
    assert two_sided.sum() > 40
    assert np.isnan(iv[~two_sided]).all() and np.isnan(delta[~two_sided]).all()
    # the mid's vol lies between Deribit's published bid_iv and ask_iv (vol rises with price)
    bid_iv = np.array([r["bid_iv"] for r in ROWS])[two_sided]
    ask_iv = np.array([r["ask_iv"] for r in ROWS])[two_sided]
    assert (iv[two_sided] > bid_iv - 0.05).all() and (iv[two_sided] < ask_iv + 0.05).all()
    assert np.isfinite(delta[two_sided]).all()


def test_input_equal_to_output_is_rewritten_safely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ticks.parquet"
    _ticks().write_parquet(path)
    code, _, err = run_main(["data", "greeks", str(path), "--out", str(path)], capsys)
    assert (code, err) == (0, "")
    assert pl.read_parquet(path)["delta"][0] != 9.0
    assert [p.name for p in tmp_path.iterdir()] == ["ticks.parquet"]


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("missing_input", ["nope.parquet"]),
        ("missing_out_dir", ["does not exist", "mkdir -p"]),
        ("no_underlying", ["3 option row(s)", "underlying_price", "row 0"]),
    ],
)
def test_user_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, words: list[str]
) -> None:
    src, dst = tmp_path / "in.parquet", tmp_path / "out.parquet"
    frame = _ticks()
    if case == "no_underlying":
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) < 3)
            .then(math.nan)
            .otherwise(pl.col("underlying_price"))
            .alias("underlying_price")
        )
    frame.write_parquet(src)
    if case == "missing_input":
        src = tmp_path / "nope.parquet"
    if case == "missing_out_dir":
        dst = tmp_path / "no" / "out.parquet"
    code, _, err = run_main(["data", "greeks", str(src), "--out", str(dst)], capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    for word in words:
        assert word in err
    assert not dst.exists()


def test_real_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from quantkit.cli.main import main; main()",
            "data",
            "greeks",
            str(tmp_path / "missing.parquet"),
            "--out",
            str(tmp_path / "o.parquet"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
