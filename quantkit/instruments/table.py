"""The contract-spec table shipped inside the package, and Deribit defaults derived from names.

``instruments.json`` (package data, same shape as a get_instruments result list) holds the
instruments of the bundled sample data and of the 2021 capture, plus Deribit's USDC linear
perpetuals. Names not in it fall back to Deribit's standard terms for their kind and currency.

Usage::

    from quantkit.instruments import spec
    spec("ETH-PERPETUAL").tick_size  # 0.05
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from importlib import resources

from quantkit.errors import InstrumentError, did_you_mean
from quantkit.instruments.names import Dated, Instrument, Option, parse
from quantkit.instruments.specs import ContractSpec, parse_specs

TABLE_RESOURCE = "instruments.json"

# (tick_size, min_trade_amount, contract_size) of Deribit's coin-settled instruments, as in its
# get_instruments replies (tests/data/deribit_get_instruments_2021.txt). Perpetual terms apply
# to the dated futures of the same coin; options are priced in coin, amounts in coin.
_INVERSE_FUTURE_TERMS: dict[str, tuple[float, float, float]] = {
    "BTC": (0.5, 10.0, 10.0),
    "ETH": (0.05, 1.0, 1.0),
    "SOL": (0.01, 10.0, 10.0),
}
_INVERSE_OPTION_TERMS: dict[str, tuple[float, float, float]] = {
    "BTC": (0.0005, 0.1, 1.0),
    "ETH": (0.0005, 1.0, 1.0),
    "SOL": (0.001, 1.0, 1.0),
}


@functools.cache
def bundled_specs() -> dict[str, ContractSpec]:
    """The specs of the table shipped in the package, keyed by instrument name (cached).

    Usage::

        sorted(bundled_specs())[:3]
    """
    text = resources.files(__package__).joinpath(TABLE_RESOURCE).read_text(encoding="utf-8")
    return parse_specs(json.loads(text), f"quantkit/instruments/{TABLE_RESOURCE}")


def spec(name: str) -> ContractSpec:
    """Contract spec of a Deribit instrument: the bundled table, else Deribit's default terms.

    Raises InstrumentError for a malformed name or one with neither a table entry nor a default
    (e.g. linear USDC options: load the venue's reply with ``load_specs`` instead).

    Usage::

        spec("BTC-PERPETUAL").contract_size  # 10.0 (USD per contract)
    """
    inst = parse(name)
    table = bundled_specs()
    found = table.get(inst.name)
    if found is not None:
        return found
    derived = default_spec(inst)
    if derived is None:
        raise InstrumentError(
            f"no contract spec for {inst.name!r}: it is not in the bundled table and Deribit has "
            f"no standard terms quantkit knows for a {_describe(inst)}; load the venue's "
            f"get_instruments reply with qk.instruments.load_specs(path)"
            f"{did_you_mean(inst.name, table)}"
        )
    return derived


def default_spec(inst: Instrument) -> ContractSpec | None:
    """Deribit's standard terms for a parsed instrument, or None when there are none to derive.

    Usage::

        default_spec(parse("BTC-28MAR25-120000-C")).min_trade_amount  # 0.1
    """
    if inst.inverse:
        terms = _INVERSE_OPTION_TERMS if inst.kind == "option" else _INVERSE_FUTURE_TERMS
        found = terms.get(inst.base)
        if found is None:
            return None
        tick, minimum, size = found
        quote = inst.base if inst.kind == "option" else inst.quote
        return _build(inst, tick, minimum, size, quote)
    if inst.kind == "option":
        return None
    perpetual = bundled_specs().get(f"{inst.base}_{inst.quote}-PERPETUAL")
    if perpetual is None:
        return None
    return replace(perpetual, instrument=inst.name, kind=inst.kind, expiry_ns=_expiry_ns(inst))


def _build(inst: Instrument, tick: float, minimum: float, size: float, quote: str) -> ContractSpec:
    return ContractSpec(
        instrument=inst.name,
        tick_size=tick,
        min_trade_amount=minimum,
        contract_size=size,
        inverse=inst.inverse,
        settlement_currency=inst.settlement,
        quote_currency=quote,
        kind=inst.kind,
        option_type=inst.option_type if isinstance(inst, Option) else None,
        strike=inst.strike if isinstance(inst, Option) else None,
        expiry_ns=_expiry_ns(inst),
    )


def _expiry_ns(inst: Instrument) -> int | None:
    return inst.expiry_ns if isinstance(inst, Dated) else None


def _describe(inst: Instrument) -> str:
    settled = "coin-settled" if inst.inverse else f"{inst.settlement}-settled"
    return f"{settled} {inst.base} {inst.kind}"
