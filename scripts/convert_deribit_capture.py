"""Convert a recorded Deribit WebSocket session into a canonical tick file.

Input: one frame a line, ``<unix_ts>: <json>`` for frames received; lines holding ``<-`` (sent)
or ``<->`` (connection events) are skipped. Rows (ts = the message's ``timestamp``, ms -> ns):

- every ``ticker`` message: bid/ask = best_bid_price/best_ask_price (0 or null -> NaN, with its
  size), underlying_price, mark_iv, greeks, mark_price, index_price, open_interest, bid_iv/ask_iv.
  ``last``/``last_size`` only when a trade happened since the instrument's previous ticker
  (``stats.volume`` grew; last_size = the growth) and the session has no ``trades`` messages for
  that instrument (then those are the trades). ``last_price`` alone is the last trade ever made,
  often hours old, so it is not a trade at this row;
- every ``book`` message (snapshot + deltas kept per instrument) that changes the instrument's
  top of book (best prices or their amounts) relative to the last row emitted for it. A delta
  whose ``prev_change_id`` is not the previous ``change_id`` makes the book unknown until the next
  snapshot (counted in ``stats``);
- every trade of a ``trades`` message: last/last_size at the current top of book.

Book and trade rows carry forward the instrument's latest ticker values (underlying_price,
mark_iv, greeks, mark_price, index_price, open_interest), as a live aggregator holding the last
ticker would; bid_iv/ask_iv belong to the ticker's own quotes and are NaN there. A book row's ts
is never earlier than the previous row of its instrument (snapshots carry the time of the book's
last change, before the subscription). Rows are sorted by ts, stably.

Usage::

    python scripts/convert_deribit_capture.py \\
        ../shared/fixtures/deribit/cryptofeed_capture_2021.ws.txt \\
        --out data/deribit_capture_2021.parquet
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from quantkit.errors import DataError

NAN = math.nan
NS_PER_MS = 1_000_000
TICKER_FIELDS = ("underlying_price", "mark_iv", "mark_price", "index_price", "open_interest")
GREEKS = ("delta", "gamma", "vega", "theta")
CARRIED = (*TICKER_FIELDS, *GREEKS)
COLUMNS = (
    "ts",
    "instrument",
    "bid",
    "ask",
    "bid_size",
    "ask_size",
    "last",
    "last_size",
    "underlying_price",
    "mark_iv",
    *GREEKS,
    "mark_price",
    "index_price",
    "open_interest",
    "bid_iv",
    "ask_iv",
)
Top = tuple[float, float, float, float]  # bid, ask, bid_size, ask_size
EMPTY_TOP: Top = (NAN, NAN, NAN, NAN)


@dataclass
class _Instrument:
    """What the converter remembers about one instrument."""

    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    change_id: int | None = None  # None: book unknown (no snapshot yet, or a gap)
    carried: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CARRIED, NAN))
    top: Top | None = None  # top of book of the last row emitted
    last_ts: int = 0
    volume: float | None = None

    def book_top(self) -> Top:
        bid = max(self.bids) if self.bids else NAN
        ask = min(self.asks) if self.asks else NAN
        return bid, ask, self.bids.get(bid, NAN), self.asks.get(ask, NAN)


def frames(text: str, source: str = "capture") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, decoded JSON) of every received frame; DataError names the line.

    Usage::

        for lineno, msg in frames(Path("capture.ws.txt").read_text()): ...
    """
    for lineno, line in enumerate(text.splitlines(), start=1):
        _ts, sep, body = line.partition(": ")
        if not line.strip() or "<-" in _ts:
            continue
        try:
            message = json.loads(body) if sep else None
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise DataError(f"{source} line {lineno}: expected '<unix_ts>: <json object>'")
        yield lineno, message


def convert(text: str, source: str = "capture") -> tuple[pa.Table, Counter[str]]:
    """Turn a recorded session into (canonical table sorted by ts, message/row counts).

    Usage::

        table, stats = convert(Path("capture.ws.txt").read_text())
    """
    messages = list(_subscriptions(text, source))
    traded = {t["instrument_name"] for _, kind, data in messages if kind == "trades" for t in data}
    state: dict[str, _Instrument] = {}
    rows: list[dict[str, Any]] = []
    stats: Counter[str] = Counter()
    for lineno, kind, data in messages:
        stats[f"{kind} messages"] += 1
        try:
            new = _HANDLERS[kind](data, state, traded, stats) if kind in _HANDLERS else []
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{source} line {lineno}: malformed {kind} message ({exc!r})") from None
        rows += new
        stats[f"{kind} rows"] += len(new)
    rows.sort(key=lambda row: row["ts"])  # list.sort is stable
    return _table(rows), stats


def _subscriptions(text: str, source: str) -> Iterator[tuple[int, str, Any]]:
    """(line, channel kind, data) of every subscription notification; trades data is checked."""
    for lineno, message in frames(text, source):
        if message.get("method") != "subscription":
            continue
        params = message.get("params")
        if not isinstance(params, dict) or not isinstance(params.get("channel"), str):
            raise DataError(f"{source} line {lineno}: a subscription needs params.channel/data")
        channel: str = params["channel"]
        if "data" not in params:
            raise DataError(f"{source} line {lineno}: a subscription needs params.channel/data")
        kind = channel.split(".", 1)[0]
        data = params["data"]
        if kind == "trades" and not all(
            isinstance(t, dict) and "instrument_name" in t for t in data
        ):
            raise DataError(f"{source} line {lineno}: trades data must be a list of trades")
        yield lineno, kind, data


def _ticker(data: dict, state: dict, traded: set, stats: Counter) -> list[dict[str, Any]]:
    name = data["instrument_name"]
    inst = state.setdefault(name, _Instrument())
    greeks = data.get("greeks") or {}
    inst.carried = {f: _num(data.get(f)) for f in TICKER_FIELDS} | {
        g: _num(greeks.get(g)) for g in GREEKS
    }
    bid, bid_size = _side(data.get("best_bid_price"), data.get("best_bid_amount"))
    ask, ask_size = _side(data.get("best_ask_price"), data.get("best_ask_amount"))
    last, last_size = _ticker_trade(inst, data, name in traded)
    row = _row(inst, name, data["timestamp"] * NS_PER_MS, (bid, ask, bid_size, ask_size))
    row |= {
        "last": last,
        "last_size": last_size,
        "bid_iv": _num(data.get("bid_iv")) if bid == bid else NAN,
        "ask_iv": _num(data.get("ask_iv")) if ask == ask else NAN,
    }
    return [row]


def _ticker_trade(inst: _Instrument, data: dict, has_trades: bool) -> tuple[float, float]:
    """(last, last_size) when stats.volume grew since the previous ticker, else NaNs."""
    volume = (data.get("stats") or {}).get("volume")
    previous, inst.volume = inst.volume, volume if volume is not None else inst.volume
    if has_trades or volume is None or previous is None or not volume > previous:
        return NAN, NAN
    return _num(data.get("last_price")), float(volume) - previous


def _book(data: dict, state: dict, traded: set, stats: Counter) -> list[dict[str, Any]]:
    name = data["instrument_name"]
    inst = state.setdefault(name, _Instrument())
    if data.get("type") == "snapshot" or data.get("prev_change_id") is None:
        inst.bids, inst.asks = {}, {}
    elif data["prev_change_id"] != inst.change_id:
        if inst.change_id is not None:
            stats["book gaps"] += 1
        inst.change_id = None  # unknown until the next snapshot
        return []
    for side, levels in ((inst.bids, data["bids"]), (inst.asks, data["asks"])):
        for action, price, amount in levels:
            if action == "delete" or amount == 0:
                side.pop(float(price), None)
            else:
                side[float(price)] = float(amount)
    inst.change_id = data["change_id"]
    top = inst.book_top()
    if inst.top is not None and _same(top, inst.top):
        return []
    row = _row(inst, name, data["timestamp"] * NS_PER_MS, top)
    return [row | {"last": NAN, "last_size": NAN, "bid_iv": NAN, "ask_iv": NAN}]


def _trades(data: list, state: dict, traded: set, stats: Counter) -> list[dict[str, Any]]:
    rows = []
    for trade in data:
        name = trade["instrument_name"]
        inst = state.setdefault(name, _Instrument())
        top = inst.book_top() if inst.change_id is not None else (inst.top or EMPTY_TOP)
        row = _row(inst, name, trade["timestamp"] * NS_PER_MS, top)
        last = {"last": float(trade["price"]), "last_size": float(trade["amount"])}
        rows.append(row | last | {"bid_iv": NAN, "ask_iv": NAN})
    return rows


Handler = Callable[[Any, dict[str, _Instrument], set[str], Counter[str]], list[dict[str, Any]]]
_HANDLERS: dict[str, Handler] = {"ticker": _ticker, "book": _book, "trades": _trades}


def _row(inst: _Instrument, name: str, ts: int, top: Top) -> dict[str, Any]:
    """A row at ``ts`` (not before the instrument's previous row) with the carried values."""
    inst.last_ts = max(ts, inst.last_ts)
    inst.top = top
    bid, ask, bid_size, ask_size = top
    quote = {"bid": bid, "ask": ask, "bid_size": bid_size, "ask_size": ask_size}
    return {"ts": inst.last_ts, "instrument": name} | quote | inst.carried


def _side(price: Any, amount: Any) -> tuple[float, float]:
    """Deribit sends 0 or null for an empty side: both become NaN."""
    price_f = _num(price)
    if not price_f > 0.0:
        return NAN, NAN
    return price_f, _num(amount)


def _num(value: Any) -> float:
    return NAN if value is None else float(value)


def _same(a: Top, b: Top) -> bool:
    return all(x == y or (x != x and y != y) for x, y in zip(a, b, strict=True))


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    arrays = {
        "ts": pa.array([r["ts"] for r in rows], pa.int64()),
        "instrument": pa.array([r["instrument"] for r in rows], pa.string()),
    }
    for column in COLUMNS[2:]:
        arrays[column] = pa.array([float(r[column]) for r in rows], pa.float64())
    return pa.table(arrays)


def main(argv: list[str] | None = None) -> None:
    """Convert SOURCE to --out (Parquet, zstd) and print what was converted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="recorded session, '<unix_ts>: <json>' lines")
    parser.add_argument("--out", type=Path, required=True, help="Parquet file to write")
    args = parser.parse_args(argv)
    table, stats = convert(args.source.read_text(encoding="utf-8"), str(args.source))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, args.out, compression="zstd")
    counts = ", ".join(f"{k}={v}" for k, v in sorted(stats.items()))
    print(f"wrote {args.out}: {table.num_rows} rows ({counts})")


if __name__ == "__main__":
    main()
