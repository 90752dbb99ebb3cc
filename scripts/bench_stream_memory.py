"""Stream synthetic ticks through ``scan().batches()``; print rows, elapsed, rows/s and peak RSS.

The dataset is written by ``qk.data.synth`` in a child process (so its memory does not count),
into a temporary directory that is removed afterwards, or into/from ``--path``.

Usage::

    python scripts/bench_stream_memory.py                 # 100M rows (a few GB on disk)
    python scripts/bench_stream_memory.py --rows 10_000_000 --batch-size 250_000
    python scripts/bench_stream_memory.py --path ticks.parquet --max-rss-mb 1024
    python scripts/bench_stream_memory.py --path ticks.parquet --columns bid,ask --batch-size 0
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import quantkit as qk

SYNTH = "import sys, quantkit as qk; qk.data.synth(sys.argv[1], int(sys.argv[2]))"


def _rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def _synth(path: Path, rows: int) -> None:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", SYNTH, str(path), str(rows)], check=True)
    elapsed = time.perf_counter() - began
    size_gb = path.stat().st_size / 2**30
    print(
        f"synth:  {elapsed:8.2f} s  {rows / elapsed / 1e6:6.2f} M rows/s  {size_gb:.2f} GiB  "
        f"peak RSS {_rss_mb(resource.RUSAGE_CHILDREN):.0f} MiB (child)"
    )


def _stream(path: Path, batch_size: int, columns: tuple[str, ...] | None) -> float:
    """Stream the file, print timings; return the peak RSS in MiB."""
    baseline = _rss_mb()
    began = time.perf_counter()
    scan = qk.data.scan(path, batch_size=batch_size)
    opened = time.perf_counter()
    rows, volume, width = 0, 0.0, 0
    for batch in scan.batches(columns=columns):
        rows += len(batch)
        width = len(batch.columns)
        first = next(iter(batch.columns.values()), None)
        volume += 0.0 if first is None else float(np.nansum(first))
    done = time.perf_counter()
    peak = _rss_mb()
    print(f"scan:   {opened - began:8.2f} s  (footers + instrument pre-pass)")
    print(
        f"stream: {done - opened:8.2f} s  {rows / (done - opened) / 1e6:6.2f} M rows/s  "
        f"{rows:,} rows x {width} float columns  (checksum {volume:.6g})"
    )
    print(f"total:  {done - began:8.2f} s  {rows / (done - began) / 1e6:6.2f} M rows/s")
    print(f"peak RSS: {peak:.0f} MiB  (after imports: {baseline:.0f} MiB)")
    return peak


def main() -> int:
    """Parse arguments, build or reuse the dataset, stream it; exit 1 if over --max-rss-mb."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=100_000_000)
    parser.add_argument("--path", type=Path, help="reuse this file (written first if missing)")
    parser.add_argument("--batch-size", type=int, default=1_000_000)
    parser.add_argument("--columns", help="comma-separated float columns to read [all]")
    parser.add_argument("--max-rss-mb", type=float, help="fail when peak RSS exceeds this")
    args = parser.parse_args()
    columns = None if args.columns is None else tuple(args.columns.split(","))
    with tempfile.TemporaryDirectory(prefix="quantkit-bench-") as tmp:
        path = args.path or Path(tmp) / "ticks.parquet"
        if not path.exists():
            _synth(path, args.rows)
        peak = _stream(path, args.batch_size, columns)
    if args.max_rss_mb is not None and peak > args.max_rss_mb:
        print(f"FAIL: peak RSS {peak:.0f} MiB > {args.max_rss_mb:.0f} MiB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
