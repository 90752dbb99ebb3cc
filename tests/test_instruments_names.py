"""Deribit instrument names -> typed instruments (quantkit.instruments.names)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantkit.errors import InstrumentError
from quantkit.instruments import Dated, Future, Instrument, Option, Perpetual, parse

DATA = Path(__file__).parent / "data"
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def _ns(dt: datetime) -> int:
    return int(dt.timestamp()) * 1_000_000_000


@pytest.mark.parametrize(
    ("name", "cls", "base", "quote", "settlement", "inverse"),
    [
        ("BTC-PERPETUAL", Perpetual, "BTC", "USD", "BTC", True),
        ("ETH-PERPETUAL", Perpetual, "ETH", "USD", "ETH", True),
        ("BTC_USDC-PERPETUAL", Perpetual, "BTC", "USDC", "USDC", False),
        ("SOL_USDC-PERPETUAL", Perpetual, "SOL", "USDC", "USDC", False),
        ("BTC-27DEC24", Future, "BTC", "USD", "BTC", True),
        ("ETH-30JUL21-2800-C", Option, "ETH", "USD", "ETH", True),
        ("BTC_USDC-27DEC24-100000-C", Option, "BTC", "USDC", "USDC", False),
        ("XRP_USDC-30AUG24-0d625-C", Option, "XRP", "USDC", "USDC", False),
    ],
)
def test_currencies_and_kind(
    name: str, cls: type, base: str, quote: str, settlement: str, inverse: bool
) -> None:
    inst = parse(name)
    assert type(inst) is cls
    assert (inst.name, inst.base, inst.quote, inst.settlement, inst.inverse) == (
        name,
        base,
        quote,
        settlement,
        inverse,
    )
    assert inst.kind == {Perpetual: "perpetual", Future: "future", Option: "option"}[cls]


def test_future_expires_at_0800_utc() -> None:
    fut = parse("BTC-27DEC24")
    assert isinstance(fut, Future)
    assert fut.expiry == datetime(2024, 12, 27, 8, 0, tzinfo=UTC)
    assert fut.expiry.utcoffset() is not None
    assert fut.expiry_ns == _ns(datetime(2024, 12, 27, 8, 0, tzinfo=UTC))


def test_option_fields() -> None:
    opt = parse("ETH-30JUL21-2800-C")
    assert isinstance(opt, Option)
    assert opt.expiry == datetime(2021, 7, 30, 8, tzinfo=UTC)
    assert opt.strike == 2800.0
    assert opt.option_type == "call" and opt.is_call
    put = parse("ETH-30JUL21-2800-P")
    assert isinstance(put, Option) and put.option_type == "put" and not put.is_call


def test_decimal_strike_and_one_digit_day() -> None:
    opt = parse("XRP_USDC-30AUG24-0d625-C")
    assert isinstance(opt, Option) and opt.strike == 0.625
    fut = parse("BTC-1AUG21")
    assert isinstance(fut, Future) and fut.expiry == datetime(2021, 8, 1, 8, tzinfo=UTC)


def test_names_are_canonicalised() -> None:
    assert parse("BTC-01AUG21").name == "BTC-1AUG21"
    assert parse("XRP_USDC-30AUG24-00d6250-C").name == "XRP_USDC-30AUG24-0d625-C"
    assert parse("BTC-27DEC24-0100000-C").name == "BTC-27DEC24-100000-C"


def test_option_and_future_are_distinct_dated_types() -> None:
    opt, fut, perp = parse("BTC-27DEC24-100000-C"), parse("BTC-27DEC24"), parse("BTC-PERPETUAL")
    assert isinstance(opt, Dated) and isinstance(fut, Dated) and not isinstance(perp, Dated)
    assert not isinstance(opt, Future)
    assert all(isinstance(i, Instrument) for i in (opt, fut, perp))


def test_instruments_are_frozen_and_hashable() -> None:
    inst = parse("BTC-PERPETUAL")
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.name = "ETH-PERPETUAL"  # type: ignore[misc]
    assert len({parse("BTC-PERPETUAL"), inst}) == 1


def test_expiries_match_the_real_get_instruments_replies() -> None:
    """Deribit's own expiration_timestamp (ms) equals the expiry parsed from each name."""
    checked = 0
    for line in (DATA / "deribit_get_instruments_2021.txt").read_text().splitlines():
        if " -> " not in line:
            continue
        for entry in json.loads(line.split(": ", 1)[1])["result"]:
            inst = parse(entry["instrument_name"])
            if isinstance(inst, Dated):
                assert inst.expiry_ns == entry["expiration_timestamp"] * 1_000_000
                checked += 1
            if isinstance(inst, Option):
                assert inst.strike == entry["strike"]
                assert inst.option_type == entry["option_type"]
    assert checked > 10


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("BTC-30FOO21-2800-C", "'BTC-30FOO21-2800-C': expiry 30FOO21 is not a date like 30JUL21"),
        ("BTC-30JUL21-abc-C", "strike 'abc' is not a number"),
        ("BTC-30JUL21-2800-X", "option type 'X' must be C or P"),
        ("BTC-31FEB24", "expiry 31FEB24 is not a real date (FEB 2024 has days 1 to 29)"),
        ("BTC-27DEC24-0-C", "strike '0' must be a positive"),
        ("BTC-27DEC24-28.5-C", "strike '28.5' is not a number like 2800 or 0d625"),
        ("BTC-PERPETUA", "(did you mean 'PERPETUAL'?)"),
        ("btc-perpetual", "upper case (did you mean 'BTC-PERPETUAL'?)"),
        ("eth-30jul21-2800-c", "(did you mean 'ETH-30JUL21-2800-C'?)"),
        ("BTC-27DEC24-100000", "expected CUR-PERPETUAL, CUR-DMMMYY or CUR-DMMMYY-STRIKE-C|P"),
        ("BTC_USDC", "not a Deribit instrument name"),
        ("", "currency '' is not like BTC"),
        ("B$C-PERPETUAL", "currency 'B$C' is not like BTC"),
    ],
)
def test_malformed_names_say_what_is_wrong(name: str, message: str) -> None:
    with pytest.raises(InstrumentError) as info:
        parse(name)
    assert message in str(info.value)


def test_non_string_name() -> None:
    with pytest.raises(InstrumentError, match="must be a string, got int"):
        parse(123)  # type: ignore[arg-type]


# --- property tests -----------------------------------------------------------------------------

_currency = st.from_regex(r"[A-Z][A-Z0-9]{0,5}", fullmatch=True)
_strike_text = st.one_of(
    st.integers(1, 10**7).map(str),
    st.tuples(st.integers(0, 999), st.integers(1, 9999)).map(
        lambda p: f"{p[0]}d{str(p[1]).rstrip('0')}"
    ),
)


@st.composite
def _valid_names(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    base = draw(_currency)
    quote = draw(st.one_of(st.none(), _currency))
    head = f"{base}_{quote}" if quote else base
    expected: dict[str, object] = {
        "base": base,
        "quote": quote or "USD",
        "settlement": quote or base,
        "inverse": quote is None,
    }
    kind = draw(st.sampled_from(["perpetual", "future", "option"]))
    expected["kind"] = kind
    if kind == "perpetual":
        return f"{head}-PERPETUAL", expected
    day = draw(st.dates(date(2000, 1, 1), date(2099, 12, 31)))
    date_text = f"{day.day}{MONTHS[day.month - 1]}{day.year % 100:02d}"
    expected["expiry"] = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    if kind == "future":
        return f"{head}-{date_text}", expected
    strike = draw(_strike_text)
    cp = draw(st.sampled_from("CP"))
    expected["strike"] = float(strike.replace("d", "."))
    expected["option_type"] = "call" if cp == "C" else "put"
    return f"{head}-{date_text}-{strike}-{cp}", expected


@given(_valid_names())
def test_generated_valid_names_round_trip(case: tuple[str, dict[str, object]]) -> None:
    name, expected = case
    inst = parse(name)
    assert inst.name == name
    for field, value in expected.items():
        assert getattr(inst, field) == value, field
    if isinstance(inst, Dated):
        assert inst.expiry_ns == _ns(inst.expiry)


_name_alphabet = st.sampled_from(list("BTCETHUSDC_-PERPETUAL0123456789dJANFEBDECJULXPbtc. "))


@given(st.one_of(st.text(max_size=40), st.text(_name_alphabet, max_size=30)))
def test_random_strings_only_raise_instrument_error(text: str) -> None:
    try:
        inst = parse(text)
    except InstrumentError:
        return
    assert parse(inst.name) == inst  # whatever parses, parses again to itself
