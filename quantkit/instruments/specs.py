"""Contract specifications read from Deribit ``public/get_instruments`` replies.

A reply is the JSON-RPC envelope ``{"jsonrpc": "2.0", "result": [...]}`` or the bare result list;
recorded sessions hold one reply a line as ``<url> -> <unix_ts>: <json>``. Only futures (incl.
perpetuals) and options are kept; combos and spot pairs are skipped. Older replies (2021) lack
``instrument_type`` and ``settlement_currency``: those are then derived from the name.

Usage::

    from quantkit.instruments import load_specs
    specs = load_specs("get_instruments.json")
    specs["BTC-PERPETUAL"].tick_size  # 0.5
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantkit.errors import DataError, InstrumentError
from quantkit.instruments.names import Dated, Instrument, Kind, Option, OptionType, parse

#: ``kind`` values of get_instruments entries that quantkit models
SUPPORTED_KINDS: tuple[str, ...] = ("future", "option")
_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """How an instrument trades: price tick, order size step and what one contract is worth.

    ``tick_size`` is in price units (USD for inverse futures, coin for inverse options);
    ``min_trade_amount`` and ``contract_size`` are in order-amount units (USD for inverse
    futures, coin for options and linear futures). ``option_type``/``strike`` are None except
    for options, ``expiry_ns`` is None for perpetuals.

    Usage::

        ContractSpec("BTC-PERPETUAL", 0.5, 10.0, 10.0, True, "BTC", "USD", "perpetual")
    """

    instrument: str
    tick_size: float
    min_trade_amount: float
    contract_size: float
    inverse: bool
    settlement_currency: str
    quote_currency: str
    kind: Kind
    option_type: OptionType | None = None
    strike: float | None = None
    expiry_ns: int | None = None


def spec_from_entry(entry: Mapping[str, Any], where: str = "entry") -> ContractSpec:
    """Build a ContractSpec from one get_instruments result entry; DataError names field and entry.

    ``expiry_ns``, ``strike`` and ``option_type`` come from the name (expiry 08:00 UTC), which
    real replies agree with; the hand-made reference fixture's ``expiration_timestamp``
    1735300800000 for ``BTC-27DEC24`` is 12:00 UTC and is not used.

    Usage::

        spec_from_entry({"instrument_name": "BTC-PERPETUAL", "tick_size": 0.5, ...})
    """
    if not isinstance(entry, Mapping):
        raise DataError(f"{where}: expected a JSON object, got {type(entry).__name__}")
    name = entry.get("instrument_name")
    try:
        inst = parse(name)  # type: ignore[arg-type]
    except InstrumentError as exc:
        raise DataError(f"{where}: instrument_name: {exc}") from None
    where = f"{where} ({inst.name})"
    _check_kind(entry, inst.kind, where)
    return ContractSpec(
        instrument=inst.name,
        tick_size=_positive(entry, "tick_size", where),
        min_trade_amount=_positive(entry, "min_trade_amount", where),
        contract_size=_positive(entry, "contract_size", where),
        inverse=_inverse(entry, inst.inverse, where),
        settlement_currency=_text(entry, "settlement_currency", inst.settlement, where),
        quote_currency=_text(entry, "quote_currency", _default_quote(inst), where),
        kind=inst.kind,
        option_type=inst.option_type if isinstance(inst, Option) else None,
        strike=inst.strike if isinstance(inst, Option) else None,
        expiry_ns=inst.expiry_ns if isinstance(inst, Dated) else None,
    )


def parse_specs(payload: Any, where: str = "reply") -> dict[str, ContractSpec]:
    """Turn a decoded get_instruments reply (envelope or bare list) into specs keyed by name.

    Usage::

        parse_specs(json.loads(text))["BTC-27DEC24"].expiry_ns
    """
    if isinstance(payload, Mapping):
        if "error" in payload:
            raise DataError(f"{where}: the venue answered with an error: {payload['error']}")
        if "result" not in payload:
            raise DataError(f"{where}: a JSON-RPC reply needs a 'result' list of instruments")
        payload = payload["result"]
    if not isinstance(payload, list):
        raise DataError(
            f"{where}: expected a list of instruments (get_instruments 'result'), "
            f"got {type(payload).__name__}"
        )
    specs: dict[str, ContractSpec] = {}
    for i, entry in enumerate(payload):
        if isinstance(entry, Mapping) and entry.get("kind") not in SUPPORTED_KINDS:
            continue
        spec = spec_from_entry(entry, f"{where} entry {i}")
        specs[spec.instrument] = spec
    return specs


def load_specs(path: str | Path) -> dict[str, ContractSpec]:
    """Read get_instruments replies from a JSON file or a recorded ``<url> -> <ts>: <json>`` file.

    Usage::

        specs = load_specs("http_get_instruments.json")
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read instrument file {path}: {exc.strerror}") from None
    try:
        payload = json.loads(text)
    except ValueError:
        return _merge(_recorded_replies(text, path))
    return parse_specs(payload, str(path))


def _recorded_replies(text: str, path: Path) -> Iterable[dict[str, ContractSpec]]:
    """Yield the specs of every ``<url> -> <ts>: <json>`` line (other lines are skipped)."""
    found = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        url, arrow, rest = line.partition(" -> ")
        if not arrow or not url.strip():
            continue
        where = f"{path} line {lineno}"
        _ts, _sep, body = rest.partition(": ")
        try:
            payload = json.loads(body)
        except ValueError:
            raise DataError(f"{where}: expected '<url> -> <ts>: <json>' with valid JSON") from None
        found = True
        yield parse_specs(payload, where)
    if not found:
        raise DataError(
            f"{path}: neither a JSON get_instruments reply nor recorded "
            f"'<url> -> <ts>: <json>' lines"
        )


def _merge(parts: Iterable[dict[str, ContractSpec]]) -> dict[str, ContractSpec]:
    merged: dict[str, ContractSpec] = {}
    for part in parts:
        merged.update(part)
    return merged


def _check_kind(entry: Mapping[str, Any], kind: Kind, where: str) -> None:
    """The entry's ``kind`` must agree with the name (perpetuals are Deribit kind "future")."""
    venue_kind = entry.get("kind")
    expected = "option" if kind == "option" else "future"
    if venue_kind != expected:
        raise DataError(f"{where}: kind {venue_kind!r} does not match the name (a {kind})")


def _positive(entry: Mapping[str, Any], field: str, where: str) -> float:
    value = entry.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"{where}: field {field!r} must be a number, got {value!r}")
    if not 0.0 < float(value) < math.inf:
        raise DataError(f"{where}: field {field!r} must be positive and finite, got {value!r}")
    return float(value)


def _text(entry: Mapping[str, Any], field: str, default: str, where: str) -> str:
    value = entry.get(field, default)
    if not isinstance(value, str) or not value:
        raise DataError(f"{where}: field {field!r} must be a currency like 'BTC', got {value!r}")
    return value.upper()


def _inverse(entry: Mapping[str, Any], from_name: bool, where: str) -> bool:
    """``instrument_type`` (or older ``future_type``) "reversed" = inverse, "linear" = linear."""
    kind = entry.get("instrument_type", entry.get("future_type"))
    if kind is None:
        return from_name
    if kind not in ("reversed", "linear"):
        raise DataError(
            f"{where}: field 'instrument_type' must be 'reversed' or 'linear', got {kind!r}"
        )
    return kind == "reversed"


def _default_quote(inst: Instrument) -> str:
    """Deribit's quote_currency: the coin for inverse options (premium in BTC), else USD/USDC."""
    return inst.base if inst.inverse and inst.kind == "option" else inst.quote
