"""``quantkit data inspect|synth``: output, and one-line errors with exit code 2 for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_run import run_main

GOOD = {
    "ts": [1, 2, 3],
    "instrument": ["A", "B", "A"],
    "bid": [1.0, 2.0, 3.0],
    "ask": [1.5, 2.5, 2.5],
    "bid_size": [1.0, 1.0, 1.0],
    "ask_size": [1.0, 1.0, 1.0],
}


def _write(path: Path, **changes: object) -> Path:
    cols = {k: v for k, v in (GOOD | changes).items() if v is not None}
    pq.write_table(pa.table(cols), path)
    return path


def _user_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run_main(args, capsys)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""
    return err


def test_inspect_human(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "t.parquet")
    code, out, _ = run_main(["data", "inspect", str(path)], capsys)
    assert code == 0
    assert "3 rows" in out and "crossed quotes (bid > ask): 1" in out


def test_inspect_json_is_one_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "t.parquet")
    code, out, _ = run_main(["data", "inspect", str(path), "--json"], capsys)
    assert code == 0 and out.count("\n") == 1
    report = json.loads(out)
    assert report["rows"] == 3 and report["instruments"]["A"]["rows"] == 2


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    (tmp / "text.parquet").write_text("not parquet")
    (tmp / "empty.parquet").touch()
    return {
        "missing": (tmp / "nope.parquet", "no such file or directory"),
        "not parquet": (tmp / "text.parquet", "not a Parquet file"),
        "empty": (tmp / "empty.parquet", "empty (0 byte) file"),
        "missing column": (_write(tmp / "m.parquet", bid=None), "missing required column(s) 'bid'"),
        "bad type": (
            _write(tmp / "b.parquet", ask=["x", "y", "z"]),
            "column 'ask' has type string",
        ),
        "ts backwards": (_write(tmp / "o.parquet", ts=[1, 3, 2]), "ts goes backwards at row 2"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "not parquet", "empty", "missing column", "bad type", "ts backwards"]
)
def test_inspect_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    path, expect = _bad_files(tmp_path)[case]
    err = _user_error(["data", "inspect", str(path)], capsys)
    assert str(path) in err and expect in err


def test_synth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "s.parquet"
    args = ["data", "synth", "--out", str(out_path), "--rows", "1_000", "--instrument", "ETH-X"]
    code, out, _ = run_main([*args, "--start", "2024-02-01", "--seed", "5"], capsys)
    assert code == 0 and out.startswith("wrote 1,000 rows to")
    table = pq.read_table(out_path)
    assert table.num_rows == 1_000
    assert set(table["instrument"].to_pylist()) == {"ETH-X"}


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--rows", "0"], "rows=0 must be an integer >= 1"),
        (["--rows", "-3"], "rows=-3"),
        (["--rows", "many"], "'many' is not a valid integer"),
        (["--rows", "10", "--start", "2024-99-01"], "start='2024-99-01' is not an ISO 8601"),
        (["--rows", "10", "--seed", "-1"], "seed=-1"),
        ([], "Missing option '--rows'"),
    ],
)
def test_synth_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expect: str
) -> None:
    err = _user_error(["data", "synth", "--out", str(tmp_path / "s.parquet"), *extra], capsys)
    assert expect in err
    assert not (tmp_path / "s.parquet").exists()


def test_real_process_prints_one_line(tmp_path: Path) -> None:
    code = "from quantkit.cli.main import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "data", "inspect", str(tmp_path / "nope.parquet")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert proc.stdout == ""
