"""``quantkit data greeks IN --out OUT``: add or refresh Black-76 greeks on every option row.

For rows whose instrument is a Deribit option name (``BTC-24SEP21-8000-P``) the command computes
``delta gamma vega theta`` (Deribit's conventions, see :mod:`quantkit.options.black76`) from
``mark_iv`` (percent) and ``underlying_price`` (the forward, USD), with time measured from the
row's ``ts`` to 08:00 UTC of the expiry date. Where ``mark_iv`` is absent or NaN it is first
implied from the mid: (bid + ask) / 2, a coin price for inverse options (``BTC-...``, times
``underlying_price`` gives USD) or a USD price for linear ones (``XRP_USDC-...``); a side <= 0
counts as absent. The filled ``mark_iv`` is written back. Other rows (perpetuals, futures, spot)
get NaN greeks: their delta is 1 by construction, but NaN keeps "not an option" visible.
All other columns are kept; Parquet row groups of 1M rows.

Usage::

    quantkit data greeks ticks.parquet --out ticks_greeks.parquet
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import polars as pl

from quantkit.data import scan
from quantkit.data.schema import INSTRUMENT, TS
from quantkit.errors import ConfigError, DataError
from quantkit.options.black76 import black76_vec
from quantkit.options.expiry import _parse_option, _quoted_in_coin, year_fraction
from quantkit.options.greeks import FloatArray
from quantkit.options.implied_vol import implied_vol_vec

GREEK_COLUMNS = ("delta", "gamma", "vega", "theta")
ROW_GROUP_ROWS = 1_000_000


@dataclass(frozen=True, slots=True)
class GreeksReport:
    """Counts of one ``add_greeks`` run. Usage: ``frame, report = add_greeks(df, "ticks")``."""

    rows: int
    option_rows: int
    iv_from_mid: int
    without_greeks: int


@dataclass(frozen=True, slots=True)
class _Terms:
    """Per-row option terms; rows that are not options have NaN strike and ``option`` False."""

    option: np.ndarray
    expiry_ns: np.ndarray
    strike: FloatArray
    is_call: np.ndarray
    in_coin: np.ndarray


def _row_terms(instrument: pl.Series) -> _Terms:
    names = instrument.unique().to_list()
    parsed = {n: t for n in names if n is not None and (t := _parse_option(n)) is not None}
    # the last entry is a sentinel for non-options: code -1 indexes it
    expiry = np.array([t[0] for t in parsed.values()] + [0], dtype=np.int64)
    strike = np.array([t[1] for t in parsed.values()] + [np.nan], dtype=np.float64)
    is_call = np.array([t[2] for t in parsed.values()] + [False], dtype=np.bool_)
    in_coin = np.array([_quoted_in_coin(n) for n in parsed] + [False], dtype=np.bool_)
    codes = instrument.replace_strict(
        list(parsed), list(range(len(parsed))), default=-1, return_dtype=pl.Int64
    ).to_numpy()
    return _Terms(codes >= 0, expiry[codes], strike[codes], is_call[codes], in_coin[codes])


def _floats(frame: pl.DataFrame, name: str) -> FloatArray:
    if name not in frame.columns:
        return np.full(frame.height, np.nan)
    return frame[name].cast(pl.Float64).to_numpy().astype(np.float64, copy=True)


def _forward(frame: pl.DataFrame, option: np.ndarray, source: str) -> FloatArray:
    if option.any() and "underlying_price" not in frame.columns:
        raise DataError(
            f"{source}: has option rows but no 'underlying_price' column (the forward, USD) "
            f"needed for greeks; columns are {', '.join(frame.columns)}"
        )
    forward = _floats(frame, "underlying_price")
    bad = np.flatnonzero(option & ~(forward > 0.0))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{source}: {bad.size} option row(s) lack a positive 'underlying_price' (first: row "
            f"{i}, ts {frame[TS][i]}, {frame[INSTRUMENT][i]}); fill or drop them before 'greeks'"
        )
    return forward


def _mid_usd(frame: pl.DataFrame, forward: FloatArray, in_coin: np.ndarray) -> FloatArray:
    bid, ask = _floats(frame, "bid"), _floats(frame, "ask")
    mid = np.where((bid > 0.0) & (ask > 0.0), 0.5 * (bid + ask), np.nan)
    return np.where(in_coin, mid * forward, mid)


def add_greeks(frame: pl.DataFrame, source: str = "input") -> tuple[pl.DataFrame, GreeksReport]:
    """Return ``frame`` with ``mark_iv`` filled and ``delta gamma vega theta`` (re)computed.

    Raises DataError (naming ``source``) when option rows lack ``underlying_price``.
    Usage: ``out, report = add_greeks(qk.data.scan("ticks.parquet").to_polars(), "ticks")``
    """
    for column in (TS, INSTRUMENT):
        if column not in frame.columns:
            raise DataError(f"{source}: no '{column}' column; is this a quantkit tick file?")
    terms = _row_terms(frame[INSTRUMENT])
    forward = _forward(frame, terms.option, source)
    t = year_fraction(frame[TS].to_numpy(), terms.expiry_ns)
    iv = _floats(frame, "mark_iv")
    need = np.flatnonzero(terms.option & np.isnan(iv))
    if need.size:
        usd = _mid_usd(frame, forward, terms.in_coin)
        iv[need] = 100.0 * implied_vol_vec(
            usd[need], forward[need], terms.strike[need], t[need], terms.is_call[need]
        )
    rows = np.flatnonzero(terms.option)
    ga = black76_vec(
        forward[rows], terms.strike[rows], t[rows], iv[rows] / 100.0, terms.is_call[rows]
    )
    columns = [pl.Series("mark_iv", iv)]
    for name in GREEK_COLUMNS:
        values = np.full(frame.height, np.nan)
        values[rows] = getattr(ga, name)
        columns.append(pl.Series(name, values))
    report = GreeksReport(
        rows=frame.height,
        option_rows=int(rows.size),
        iv_from_mid=int(np.count_nonzero(~np.isnan(iv[need]))),
        without_greeks=int(np.count_nonzero(np.isnan(ga.delta))),
    )
    return frame.with_columns(columns), report


def _check_out(out: Path) -> None:
    parent = out.parent
    if not parent.is_dir():
        raise ConfigError(
            f"--out {out}: directory '{parent}' does not exist; create it (mkdir -p {parent}) "
            "or choose another path"
        )
    if out.is_dir():
        raise ConfigError(
            f"--out {out} is a directory; give a file name such as {out}/ticks.parquet"
        )


def _write(frame: pl.DataFrame, out: Path) -> None:
    tmp = out.with_name(f".{out.name}.tmp")
    frame.write_parquet(tmp, row_group_size=ROW_GROUP_ROWS)
    os.replace(tmp, out)  # IN may be OUT: never leave a half-written file


@click.command("greeks")
@click.argument("src", metavar="IN", type=click.Path(path_type=Path))
@click.option(
    "--out", "out", required=True, type=click.Path(path_type=Path), help="Parquet file to write."
)
def greeks(src: Path, out: Path) -> None:
    """Add or refresh delta, gamma, vega, theta (and fill mark_iv) on the option rows of IN."""
    _check_out(out)
    frame, report = add_greeks(scan(src).to_polars(), source=str(src))
    _write(frame, out)
    click.echo(
        f"wrote {out}: {report.rows:,} rows, {report.option_rows:,} option rows, "
        f"{report.iv_from_mid:,} mark_iv implied from the mid, "
        f"{report.without_greeks:,} option rows without greeks (no usable mark_iv or mid)"
    )
