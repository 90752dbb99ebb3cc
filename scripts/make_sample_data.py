"""Build the bundled synthetic sample ``data/sample_ticks.parquet`` (fixed seed, reproducible).

Three hours of Deribit-like quotes on 2024-12-20 (12:00-15:00 UTC): BTC-PERPETUAL and
ETH-PERPETUAL (random-walk mids, Deribit ticks, sizes in USD), and four BTC and four ETH options
(two expiries, calls and puts around the money) quoted in coin around the Black-76 price of a
smile-plus-drift ``mark_iv`` on the forward ``underlying_price``. Options update less often than
perps. A few option quotes have an empty side, a few perp quotes are locked or crossed. At the
end the greeks columns are added by ``quantkit data greeks`` and ``data/instruments.json`` is
written as a copy of the package's contract-spec table.

Usage::

    python scripts/make_sample_data.py            # writes data/sample_ticks.parquet
    python scripts/make_sample_data.py --out /tmp/sample.parquet --no-greeks
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from quantkit.instruments import Option, parse, spec
from quantkit.options import black76_vec, year_fraction

SEED = 20241220
START = datetime(2024, 12, 20, 12, 0, tzinfo=UTC)
HOURS = 3
ROW_GROUP_ROWS = 50_000
NS = 1_000_000_000
GRID_NS = 100_000_000  # the latent prices move on a 100 ms grid
REPO = Path(__file__).resolve().parents[1]
METADATA_KEY = "quantkit.sample"  # Parquet key-value metadata: seed and numpy version used


@dataclass(frozen=True)
class Underlying:
    """One coin: its perpetual and the latent price / vol processes that drive its options."""

    perp: str
    start: float
    vol: float  # annualised, for the random walk
    perp_rate: float  # perp quote updates per second
    perp_size_usd: float  # median quote size, USD
    option_size: float  # median option quote size, coin
    atm_iv: dict[str, float]  # expiry text -> ATM mark_iv (percent) at START


BTC = Underlying(
    "BTC-PERPETUAL", 97_000.0, 0.60, 4.0, 40_000.0, 8.0, {"27DEC24": 58.0, "31JAN25": 56.0}
)
ETH = Underlying(
    "ETH-PERPETUAL", 3_400.0, 0.75, 3.0, 15_000.0, 80.0, {"27DEC24": 72.0, "31JAN25": 68.0}
)


@dataclass(frozen=True)
class Market:
    """The latent state options of one coin are priced from: perp mid path and ATM vol shift."""

    underlying: Underlying
    mids: np.ndarray  # on the 100 ms grid
    atm_shift: np.ndarray  # vol points, per minute


OPTIONS: dict[str, tuple[str, ...]] = {
    "BTC-PERPETUAL": (
        "BTC-27DEC24-95000-P",
        "BTC-27DEC24-100000-C",
        "BTC-31JAN25-100000-C",
        "BTC-31JAN25-100000-P",
    ),
    "ETH-PERPETUAL": (
        "ETH-27DEC24-3300-P",
        "ETH-27DEC24-3600-C",
        "ETH-31JAN25-3500-C",
        "ETH-31JAN25-3500-P",
    ),
}
OPTION_RATE = 0.2  # option quote updates per second (perps: several per second)
# forward = perp mid * exp(basis * t): Deribit's dated futures trade at a premium
BASIS_PER_YEAR = 0.08
# iv = atm * (1 + skew z + curve z^2), z = ln(K/F) / (atm sqrt t)
SMILE_SKEW = -0.05
SMILE_CURVE = 0.04
Columns = dict[str, np.ndarray]


def event_times(rng: np.random.Generator, rate: float, start_ns: int, end_ns: int) -> np.ndarray:
    """Poisson-like update times (ns, sorted) whose rate varies minute by minute (bursts)."""
    minutes = (end_ns - start_ns) // (60 * NS)
    factor = rng.lognormal(0.0, 0.5, minutes)
    counts = rng.poisson(rate * 60.0 * factor)
    offsets = rng.integers(0, 60 * NS, counts.sum())
    minute_of = np.repeat(np.arange(minutes, dtype=np.int64), counts)
    times = start_ns + minute_of * 60 * NS + offsets
    return np.sort((times // 1_000) * 1_000)  # microsecond resolution


def latent_paths(rng: np.random.Generator, n_steps: int) -> dict[str, np.ndarray]:
    """Correlated (rho 0.8) log-normal random walks for BTC and ETH on the 100 ms grid."""
    dt_years = GRID_NS / NS / (365 * 86_400)
    z = rng.standard_normal((2, n_steps))
    z[1] = 0.8 * z[0] + 0.6 * z[1]
    paths = {}
    for row, und in enumerate((BTC, ETH)):
        steps = und.vol * np.sqrt(dt_years) * z[row] - 0.5 * und.vol**2 * dt_years
        paths[und.perp] = und.start * np.exp(np.concatenate([[0.0], np.cumsum(steps[:-1])]))
    return paths


def on_tick(price: np.ndarray, tick: float, decimals: int) -> np.ndarray:
    """Round to the tick grid and to clean decimals (0.05 * n is not exact in binary)."""
    return np.round(np.round(price / tick) * tick, decimals)


def lot_sizes(rng: np.random.Generator, median: float, lot: float, n: int) -> np.ndarray:
    """Log-normal quote sizes rounded to whole lots (min one lot)."""
    lots = np.maximum(np.round(rng.lognormal(np.log(median / lot), 1.0, n)), 1.0)
    return np.round(lots * lot, 6)


def perp_rows(
    rng: np.random.Generator, und: Underlying, mids: np.ndarray, ts: np.ndarray, t0: int
) -> Columns:
    """Quotes of a perpetual: mid +- spread of 1..4 ticks, USD sizes, ~15% rows carry a trade."""
    s = spec(und.perp)
    n = ts.size
    mid = mids[(ts - t0) // GRID_NS]
    spread = np.minimum(rng.geometric(0.7, n), 4)
    bid = on_tick(mid - spread * s.tick_size / 2.0, s.tick_size, 2)
    ask = np.round(bid + spread * s.tick_size, 2)
    return _with_trades(rng, und.perp, ts, bid, ask, und.perp_size_usd, s.contract_size, 0.15)


def option_rows(
    rng: np.random.Generator, market: Market, name: str, ts: np.ndarray, t0: int
) -> Columns:
    """Quotes of one option in coin around its Black-76 price; forward, mark_iv as published."""
    und, inst, s = market.underlying, parse(name), spec(name)
    assert isinstance(inst, Option)
    t = year_fraction(ts, inst.expiry_ns)
    forward = np.round(market.mids[(ts - t0) // GRID_NS] * np.exp(BASIS_PER_YEAR * t), 2)
    atm = und.atm_iv[name.split("-")[1]] + market.atm_shift[(ts - t0) // (60 * NS)]
    iv = np.round(smile(atm, inst.strike, forward, t), 2)
    coin = black76_vec(forward, inst.strike, t, iv / 100.0, inst.is_call).price / forward
    half = np.maximum(0.02 * coin, s.tick_size) * rng.uniform(0.6, 1.6, ts.size)
    bid = np.floor(np.round((coin - half) / s.tick_size, 6)) * s.tick_size
    ask = np.ceil(np.round((coin + half) / s.tick_size, 6)) * s.tick_size
    bid = np.where(bid > 0.0, np.round(bid, 4), np.nan)
    rows = _with_trades(
        rng, name, ts, bid, np.round(ask, 4), und.option_size, s.min_trade_amount, 0.03
    )
    rows["underlying_price"], rows["mark_iv"] = forward, iv
    return rows


def smile(atm: np.ndarray, strike: float, forward: np.ndarray, t: np.ndarray) -> np.ndarray:
    """mark_iv (percent) in standardised moneyness z = ln(K/F) / (atm sqrt t) around ``atm``."""
    z = np.log(strike / forward) / (atm / 100.0 * np.sqrt(np.maximum(t, 1e-9)))
    return atm * (1.0 + SMILE_SKEW * z + SMILE_CURVE * z * z)


def atm_shift(rng: np.random.Generator, und: Underlying, mids: np.ndarray) -> np.ndarray:
    """Per-minute shift of the ATM vol (points) shared by all options of one coin: a slow
    random walk (~0.6 points per sqrt hour) plus spot-vol: vol rises when the coin falls."""
    minutes = HOURS * 60 + 1
    walk = np.cumsum(rng.normal(0.0, 0.08, minutes))
    per_minute = mids[np.minimum(np.arange(minutes) * (60 * NS // GRID_NS), mids.size - 1)]
    return walk - 40.0 * np.log(per_minute / und.start)


def _with_trades(
    rng: np.random.Generator,
    name: str,
    ts: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    median: float,
    lot: float,
    trade_share: float,
) -> Columns:
    """Quote columns plus sizes, and a trade at the bid or ask on ``trade_share`` of the rows."""
    n = ts.size
    traded = rng.random(n) < trade_share
    buy = rng.random(n) < 0.5
    last = np.where(traded, np.where(buy, ask, bid), np.nan)
    last_size = np.where(np.isfinite(last), lot_sizes(rng, median / 10.0, lot, n), np.nan)
    return {
        "ts": ts,
        "instrument": np.full(n, name, dtype=object),
        "bid": bid,
        "ask": ask,
        "bid_size": np.where(np.isfinite(bid), _sticky_sizes(rng, bid, median, lot), np.nan),
        "ask_size": np.where(np.isfinite(ask), _sticky_sizes(rng, ask, median, lot), np.nan),
        "last": last,
        "last_size": last_size,
    }


def _sticky_sizes(
    rng: np.random.Generator, price: np.ndarray, median: float, lot: float
) -> np.ndarray:
    """Sizes change with the price level, else on ~40% of updates (the other side moved)."""
    n = price.size
    redraw = rng.random(n) < 0.4
    redraw[1:] |= price[1:] != price[:-1]
    redraw[:1] = True
    source = np.maximum.accumulate(np.where(redraw, np.arange(n), 0))
    return lot_sizes(rng, median, lot, n)[source]


def add_quirks(rng: np.random.Generator, cols: Columns) -> None:
    """A few realistic blemishes: pulled option quotes (empty side), locked and crossed perps."""
    is_option = np.isfinite(cols["underlying_price"])
    for side in ("bid", "ask"):
        pulled = rng.choice(np.flatnonzero(is_option), 6, replace=False)
        cols[side][pulled] = np.nan
        cols[f"{side}_size"][pulled] = np.nan
    perps = {name: np.flatnonzero(cols["instrument"] == name) for name in OPTIONS}
    locked = rng.choice(perps["BTC-PERPETUAL"], 3, replace=False)
    cols["ask"][locked] = cols["bid"][locked]
    crossed = rng.choice(perps["ETH-PERPETUAL"], 2, replace=False)
    cols["ask"][crossed] = np.round(cols["bid"][crossed] - spec("ETH-PERPETUAL").tick_size, 2)


def build(seed: int = SEED) -> pa.Table:
    """The whole sample as an Arrow table sorted by ts (strictly increasing), canonical schema."""
    rng = np.random.default_rng(seed)
    t0 = int(START.timestamp()) * NS
    t1 = t0 + HOURS * 3600 * NS
    paths = latent_paths(rng, (t1 - t0) // GRID_NS + 1)
    parts = []
    for und in (BTC, ETH):
        mids = paths[und.perp]
        market = Market(und, mids, atm_shift(rng, und, mids))
        parts.append(perp_rows(rng, und, mids, event_times(rng, und.perp_rate, t0, t1), t0))
        for name in OPTIONS[und.perp]:
            ts = event_times(rng, OPTION_RATE, t0, t1)
            parts.append(option_rows(rng, market, name, ts, t0))
    cols = _concat(parts)
    order = np.argsort(cols["ts"], kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    cols["ts"] = _strictly_increasing(cols["ts"])
    add_quirks(rng, cols)
    return _to_table(cols)


def _concat(parts: list[Columns]) -> Columns:
    names = ["ts", "instrument", "bid", "ask", "bid_size", "ask_size", "last", "last_size"]
    names += ["underlying_price", "mark_iv"]
    out = {}
    for name in names:
        fill = np.nan if name not in ("ts", "instrument") else None
        out[name] = np.concatenate(
            [p[name] if name in p else np.full(p["ts"].size, fill) for p in parts]
        )
    return out


def _strictly_increasing(ts: np.ndarray) -> np.ndarray:
    """Nudge equal timestamps apart by 1 ns steps so ts is strictly increasing."""
    ts = ts.astype(np.int64)
    bumped = np.maximum.accumulate(ts - np.arange(ts.size)) + np.arange(ts.size)
    return bumped


def _to_table(cols: Columns) -> pa.Table:
    arrays = {
        "ts": pa.array(cols["ts"], pa.int64()),
        "instrument": pa.array(cols["instrument"].tolist(), pa.string()),
    }
    for name, values in cols.items():
        if name not in arrays:
            arrays[name] = pa.array(values.astype(np.float64), pa.float64())
    return pa.table(arrays)


def write(table: pa.Table, path: Path, seed: int) -> None:
    """Parquet, zstd, row groups of ROW_GROUP_ROWS, delta-encoded ts, dictionaries elsewhere.

    The key-value metadata ``quantkit.sample`` records the seed and numpy version used.
    """
    column = table.schema.get_field_index("instrument")
    table = table.set_column(column, "instrument", table["instrument"].cast(pa.string()))
    built_with = {"seed": seed, "numpy": np.__version__, "script": "scripts/make_sample_data.py"}
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(built_with)})
    pq.write_table(
        table,
        path,
        row_group_size=ROW_GROUP_ROWS,
        compression="zstd",
        use_dictionary=[name for name in table.column_names if name != "ts"],
        column_encoding={"ts": "DELTA_BINARY_PACKED"},
    )


def add_greeks(path: Path, seed: int) -> bool:
    """Add delta/gamma/vega/theta with ``quantkit data greeks``; False if it is not available.

    The command's output is re-written with :func:`write` so the file layout stays ours.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "with_greeks.parquet"
        code = "import sys; from quantkit.cli.main import main; sys.exit(main(sys.argv[1:]))"
        cmd = [sys.executable, "-c", code, "data", "greeks", str(path), "--out", str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.exists():
            print(f"note: greeks not added ({done.stderr.strip()[-300:]})", file=sys.stderr)
            return False
        write(pq.read_table(out), path, seed)
    return True


def copy_instrument_table(dest: Path) -> None:
    """Write data/instruments.json: the contract-spec table shipped in quantkit.instruments."""
    table = resources.files("quantkit.instruments").joinpath("instruments.json")
    dest.write_text(table.read_text(encoding="utf-8"), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Write the sample parquet (and data/instruments.json), then add greeks."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "data" / "sample_ticks.parquet")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--no-greeks", action="store_true", help="skip quantkit data greeks")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table = build(args.seed)
    write(table, args.out, args.seed)
    greeks = not args.no_greeks and add_greeks(args.out, args.seed)
    if args.out.parent == REPO / "data":
        copy_instrument_table(args.out.parent / "instruments.json")
    size = args.out.stat().st_size
    print(f"wrote {args.out}: {table.num_rows} rows, {size / 1e6:.2f} MB, greeks={greeks}")


if __name__ == "__main__":
    main()
