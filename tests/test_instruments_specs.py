"""Contract specs from get_instruments replies and the bundled table (quantkit.instruments)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from quantkit.errors import DataError, InstrumentError
from quantkit.instruments import (
    ContractSpec,
    bundled_specs,
    default_spec,
    load_specs,
    parse,
    parse_specs,
    spec,
)

DATA = Path(__file__).parent / "data"
REPLY = DATA / "deribit_get_instruments.json"
RECORDED = DATA / "deribit_get_instruments_2021.txt"


def _recorded_entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for line in RECORDED.read_text().splitlines():
        if " -> " in line:
            entries += json.loads(line.split(": ", 1)[1])["result"]
    return entries


def _assert_matches_entry(got: ContractSpec, entry: dict[str, Any]) -> None:
    assert got.instrument == entry["instrument_name"]
    assert got.tick_size == entry["tick_size"]
    assert got.min_trade_amount == entry["min_trade_amount"]
    assert got.contract_size == entry["contract_size"]
    assert got.quote_currency == entry["quote_currency"]
    if entry["kind"] == "option":
        assert (got.option_type, got.strike) == (entry["option_type"], entry["strike"])
    else:
        assert got.option_type is None and got.strike is None


def test_envelope_reply_skips_combos() -> None:
    entries = json.loads(REPLY.read_text())["result"]
    specs = load_specs(REPLY)
    wanted = [e for e in entries if e["kind"] in ("future", "option")]
    assert sorted(specs) == sorted(e["instrument_name"] for e in wanted)
    for entry in wanted:
        got = specs[entry["instrument_name"]]
        _assert_matches_entry(got, entry)
        assert got.inverse == (entry["instrument_type"] == "reversed")
        assert got.settlement_currency == entry["settlement_currency"]


def test_perpetual_and_option_fields() -> None:
    specs = load_specs(REPLY)
    perp, opt = specs["BTC-PERPETUAL"], specs["BTC-27DEC24-100000-C"]
    assert (perp.kind, perp.expiry_ns, perp.inverse) == ("perpetual", None, True)
    assert opt.kind == "option" and opt.expiry_ns == parse("BTC-27DEC24").expiry_ns  # type: ignore[union-attr]


def test_bare_list_is_accepted(tmp_path: Path) -> None:
    entries = json.loads(REPLY.read_text())["result"]
    path = tmp_path / "list.json"
    path.write_text(json.dumps(entries))
    assert load_specs(path) == load_specs(REPLY)


def test_recorded_replies_without_instrument_type() -> None:
    """2021 replies lack instrument_type/settlement_currency: derived from the name."""
    entries = _recorded_entries()
    specs = load_specs(RECORDED)
    assert len(specs) == len(entries)
    for entry in entries:
        got = specs[entry["instrument_name"]]
        _assert_matches_entry(got, entry)
        linear = "_" in entry["instrument_name"]
        assert got.inverse is not linear
        assert got.settlement_currency == ("USDC" if linear else entry["base_currency"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tick_size": None}, "field 'tick_size' must be a number, got None"),
        ({"contract_size": -1}, "field 'contract_size' must be positive and finite, got -1"),
        ({"min_trade_amount": True}, "field 'min_trade_amount' must be a number"),
        ({"kind": "option"}, "kind 'option' does not match the name (a perpetual)"),
        ({"instrument_type": "weird"}, "'instrument_type' must be 'reversed' or 'linear'"),
        ({"settlement_currency": 7}, "field 'settlement_currency' must be a currency"),
        ({"instrument_name": "BTC-PERP"}, "instrument_name: 'BTC-PERP': expiry PERP"),
    ],
)
def test_bad_entries_name_file_entry_and_field(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    entries = json.loads(REPLY.read_text())["result"]
    entries[0].update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"jsonrpc": "2.0", "result": entries}))
    with pytest.raises(DataError) as info:
        load_specs(path)
    assert str(path) in str(info.value) and "entry 0" in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"jsonrpc": "2.0", "error": {"code": 10001}}', "the venue answered with an error"),
        ('{"jsonrpc": "2.0"}', "needs a 'result' list"),
        ('"hello"', "expected a list of instruments"),
        ("not json at all", "neither a JSON get_instruments reply nor recorded"),
        ("https://x -> 1.0: {broken", "line 1: expected '<url> -> <ts>: <json>'"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "reply.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=r"reply\.txt") as info:
        load_specs(path)
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read instrument file"):
        load_specs(tmp_path / "nope.json")


def test_parse_specs_takes_decoded_json() -> None:
    payload = json.loads(REPLY.read_text())
    assert parse_specs(payload) == load_specs(REPLY)


# --- bundled table and defaults -----------------------------------------------------------------


def test_bundled_table_is_package_data_and_parses() -> None:
    raw = json.loads(
        resources.files("quantkit.instruments").joinpath("instruments.json").read_text()
    )
    specs = bundled_specs()
    assert sorted(specs) == sorted(e["instrument_name"] for e in raw)
    for entry in raw:
        _assert_matches_entry(specs[entry["instrument_name"]], entry)


def test_bundled_table_covers_the_capture_instruments() -> None:
    text = (DATA / "deribit_capture_2021.ws.txt").read_text()
    subscribe = next(line for line in text.splitlines() if "public/subscribe" in line)
    channels = json.loads(subscribe.split(": ", 1)[1])["params"]["channels"]
    names = {ch.split(".")[1] for ch in channels}
    assert len(names) == 10
    assert names <= set(bundled_specs())


def test_spec_looks_up_the_table() -> None:
    assert spec("BTC-PERPETUAL") == bundled_specs()["BTC-PERPETUAL"]
    eth = spec("ETH-PERPETUAL")
    assert (eth.tick_size, eth.contract_size, eth.min_trade_amount) == (0.05, 1.0, 1.0)
    sol = spec("SOL_USDC-PERPETUAL")
    assert not sol.inverse and sol.settlement_currency == "USDC"


def test_defaults_agree_with_the_real_entries() -> None:
    """Every coin-settled BTC/ETH/SOL entry we have equals the defaults derived from its name."""
    entries = _recorded_entries() + json.loads(REPLY.read_text())["result"]
    checked = 0
    for entry in entries:
        name = entry["instrument_name"]
        if entry["kind"] not in ("future", "option") or "_" in name:
            continue
        got = parse_specs([entry])[name]
        assert default_spec(parse(name)) == got, name
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize(
    ("name", "tick", "minimum", "size", "quote"),
    [
        ("BTC-28MAR25-120000-C", 0.0005, 0.1, 1.0, "BTC"),
        ("ETH-28MAR25-4000-P", 0.0005, 1.0, 1.0, "ETH"),
        ("BTC-28MAR25", 0.5, 10.0, 10.0, "USD"),
        ("ETH-28MAR25", 0.05, 1.0, 1.0, "USD"),
    ],
)
def test_spec_falls_back_to_deribit_defaults(
    name: str, tick: float, minimum: float, size: float, quote: str
) -> None:
    assert name not in bundled_specs()
    got = spec(name)
    assert (got.tick_size, got.min_trade_amount, got.contract_size) == (tick, minimum, size)
    assert got.quote_currency == quote and got.inverse
    assert got.expiry_ns == parse(name).expiry_ns  # type: ignore[union-attr]


def test_linear_dated_future_uses_its_perpetual_terms() -> None:
    got, perp = spec("ETH_USDC-28MAR25"), spec("ETH_USDC-PERPETUAL")
    assert (got.kind, got.tick_size, got.contract_size) == (
        "future",
        perp.tick_size,
        perp.contract_size,
    )
    assert got.expiry_ns is not None


def test_unknown_instruments_raise_instrument_error() -> None:
    with pytest.raises(InstrumentError, match=r"no contract spec for 'DOGE-PERPETUAL'.*load_specs"):
        spec("DOGE-PERPETUAL")
    with pytest.raises(InstrumentError, match="USDC-settled BTC option"):
        spec("BTC_USDC-27DEC24-100000-C")
    with pytest.raises(InstrumentError, match="did you mean 'PERPETUAL'"):
        spec("BTC-PERPETUA")
