"""``quantkit data inspect`` and ``quantkit data synth``: thin click shells over quantkit.data.

Usage::

    quantkit data inspect ticks/ --json
    quantkit data synth --out synth.parquet --rows 10_000_000 --instrument BTC-PERPETUAL --seed 7
"""

from __future__ import annotations

import json
import time

import click

from quantkit.data import inspect as inspect_data
from quantkit.data import synth as synth_data
from quantkit.data.summary import format_report
from quantkit.data.synthetic import DEFAULT_ROW_GROUP_SIZE


@click.command(short_help="Summarize tick files: rows, instruments, NaNs.")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
def inspect(path: str, as_json: bool) -> None:
    """Summarize tick files: rows, instruments, columns, NaN counts, crossed/locked quotes.

    PATH is a Parquet file, a directory of them (recursive) or a glob.
    """
    report = inspect_data(path)
    click.echo(json.dumps(report) if as_json else format_report(report))


@click.command(short_help="Write reproducible synthetic ticks.")
@click.option("--out", required=True, help="Parquet file to write (parent dirs are created).")
@click.option("--rows", required=True, type=int, help="Number of ticks (> 0).")
@click.option(
    "--instrument",
    "instruments",
    multiple=True,
    help="Instrument name; repeat for several [default: BTC_USDC-PERPETUAL, ETH_USDC-PERPETUAL].",
)
@click.option("--start", default=None, help="ISO time of the first tick [default: 2024-01-01].")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed (>= 0).")
@click.option(
    "--row-group-size", default=DEFAULT_ROW_GROUP_SIZE, show_default=True, type=int, hidden=True
)
def synth(
    out: str,
    rows: int,
    instruments: tuple[str, ...],
    start: str | None,
    seed: int,
    row_group_size: int,
) -> None:
    """Write reproducible synthetic ticks (same seed -> byte-identical file)."""
    began = time.perf_counter()
    path = synth_data(
        out,
        rows,
        instruments=instruments or None,
        start=start,
        seed=seed,
        row_group_size=row_group_size,
    )
    elapsed = max(time.perf_counter() - began, 1e-9)
    size_mb = path.stat().st_size / 2**20
    click.echo(
        f"wrote {rows:,} rows to {path} ({size_mb:.1f} MB) in {elapsed:.2f} s "
        f"({rows / elapsed / 1e6:.1f} M rows/s)"
    )
