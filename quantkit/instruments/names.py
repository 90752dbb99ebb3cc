"""Deribit instrument names parsed into typed, frozen objects.

Deribit spells its instruments ``BTC-PERPETUAL`` (inverse perpetual), ``BTC-27DEC24`` (dated
future, expiring at 08:00 UTC), ``ETH-30JUL21-2800-C`` (option; ``-P`` for puts) and, for the
linear USDC-settled products, ``SOL_USDC-PERPETUAL`` or ``XRP_USDC-30AUG24-0d625-C`` (``d`` is the
decimal point of the strike). Coin-settled ("reversed") instruments are *inverse*: quoted in USD,
margined and settled in the coin.

Usage::

    from quantkit.instruments import parse
    opt = parse("BTC-27DEC24-100000-C")
    opt.strike, opt.is_call, opt.expiry  # 100000.0, True, 2024-12-27 08:00:00+00:00
"""

from __future__ import annotations

import calendar
import contextlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Literal

from quantkit.errors import InstrumentError, did_you_mean

Kind = Literal["perpetual", "future", "option"]
OptionType = Literal["call", "put"]

MONTHS: tuple[str, ...] = tuple(m.upper() for m in calendar.month_abbr[1:])
EXPIRY_HOUR_UTC = 8
_NS_PER_S = 1_000_000_000
_SHAPES = "CUR-PERPETUAL, CUR-DMMMYY or CUR-DMMMYY-STRIKE-C|P (CUR may be BASE_USDC)"

_CURRENCY = re.compile(r"[A-Z][A-Z0-9]{0,9}")
_EXPIRY = re.compile(r"([0-9]{1,2})([A-Z]{3})([0-9]{2})")
_STRIKE = re.compile(r"([0-9]+)(?:d([0-9]+))?")


@dataclass(frozen=True, slots=True)
class Instrument:
    """What every Deribit instrument has: name, currencies and whether it is inverse.

    ``quote`` is the currency the underlying is priced in (USD for inverse, USDC for linear);
    ``settlement`` the currency of margin and P&L (the coin for inverse, USDC for linear).

    Usage::

        inst = parse("BTC-PERPETUAL"); inst.kind, inst.inverse  # "perpetual", True
    """

    name: str
    base: str
    quote: str
    settlement: str
    inverse: bool
    kind: ClassVar[Kind]


@dataclass(frozen=True, slots=True)
class Perpetual(Instrument):
    """A perpetual swap, e.g. ``BTC-PERPETUAL`` or ``SOL_USDC-PERPETUAL``.

    Usage::

        parse("ETH-PERPETUAL").base  # "ETH"
    """

    kind: ClassVar[Kind] = "perpetual"


@dataclass(frozen=True, slots=True)
class Dated(Instrument):
    """An instrument that expires (a Future or an Option); ``expiry`` is tz-aware UTC, 08:00.

    Usage::

        inst = parse("BTC-27DEC24"); isinstance(inst, Dated), inst.expiry_ns
    """

    expiry: datetime

    @property
    def expiry_ns(self) -> int:
        """Expiry as int nanoseconds since the Unix epoch (the tick files' ``ts`` unit)."""
        return calendar.timegm(self.expiry.utctimetuple()) * _NS_PER_S


@dataclass(frozen=True, slots=True)
class Future(Dated):
    """A dated future, e.g. ``BTC-27DEC24`` (expiry 2024-12-27 08:00 UTC).

    Usage::

        parse("BTC-27DEC24").expiry_ns  # 1735286400000000000
    """

    kind: ClassVar[Kind] = "future"


@dataclass(frozen=True, slots=True)
class Option(Dated):
    """A European option, e.g. ``ETH-30JUL21-2800-C``; ``strike`` is in ``quote`` currency.

    Usage::

        opt = parse("XRP_USDC-30AUG24-0d625-C"); opt.strike, opt.option_type  # 0.625, "call"
    """

    strike: float
    option_type: OptionType
    kind: ClassVar[Kind] = "option"

    @property
    def is_call(self) -> bool:
        """True for a call, False for a put."""
        return self.option_type == "call"


def parse(name: str) -> Perpetual | Future | Option:
    """Parse a Deribit instrument name; raise InstrumentError naming the part that is wrong.

    The returned ``name`` is Deribit's canonical spelling (``BTC-01AUG21`` becomes ``BTC-1AUG21``).

    Usage::

        parse("BTC-PERPETUAL"), parse("BTC-1AUG21"), parse("BTC_USDC-27DEC24-100000-C")
    """
    if not isinstance(name, str):
        raise InstrumentError(f"instrument name must be a string, got {type(name).__name__}")
    try:
        return _parse(name)
    except InstrumentError:
        hint = _upper_case_hint(name)
        if not hint:
            raise
        raise InstrumentError(f"{name!r}: Deribit instrument names are upper case{hint}") from None


def _parse(name: str) -> Perpetual | Future | Option:
    parts = name.split("-")
    base, quote, settlement, inverse = _currencies(name, parts[0])
    if len(parts) == 2 and parts[1] == "PERPETUAL":
        return Perpetual(f"{parts[0]}-PERPETUAL", base, quote, settlement, inverse)
    if len(parts) == 2:
        expiry, text = _expiry(name, parts[1], did_you_mean(parts[1], ["PERPETUAL"]))
        return Future(f"{parts[0]}-{text}", base, quote, settlement, inverse, expiry)
    if len(parts) == 4:
        expiry, text = _expiry(name, parts[1])
        strike, strike_text = _strike(name, parts[2])
        option_type = _option_type(name, parts[3])
        canonical = f"{parts[0]}-{text}-{strike_text}-{parts[3]}"
        return Option(canonical, base, quote, settlement, inverse, expiry, strike, option_type)
    raise InstrumentError(f"{name!r}: not a Deribit instrument name; expected {_SHAPES}")


def _currencies(name: str, text: str) -> tuple[str, str, str, bool]:
    """``BTC`` -> (BTC, USD, BTC, inverse); ``SOL_USDC`` -> (SOL, USDC, USDC, linear)."""
    base, sep, quote = text.partition("_")
    if not _CURRENCY.fullmatch(base) or (sep and not _CURRENCY.fullmatch(quote)):
        raise InstrumentError(
            f"{name!r}: currency {text!r} is not like BTC or BTC_USDC; expected {_SHAPES}"
        )
    if sep:
        return base, quote, quote, False
    return base, "USD", base, True


def _upper_case_hint(name: str) -> str:
    """``" (did you mean 'BTC-PERPETUAL'?)"`` when the upper-case spelling is valid, else ``""``."""
    upper = _upper(name)
    if upper != name:
        with contextlib.suppress(InstrumentError):
            return f" (did you mean {_parse(upper).name!r}?)"
    return ""


def _upper(name: str) -> str:
    """Upper-case a name but keep the strike's decimal ``d`` (``xrp_usdc-..-0d5-c``)."""
    parts = name.upper().split("-")
    if len(parts) == 4:
        parts[2] = parts[2].replace("D", "d")
    return "-".join(parts)


def _expiry(name: str, text: str, hint: str = "") -> tuple[datetime, str]:
    """``27DEC24`` -> (2024-12-27 08:00 UTC, canonical text without a leading zero)."""
    match = _EXPIRY.fullmatch(text)
    if match is None or match.group(2) not in MONTHS:
        raise InstrumentError(f"{name!r}: expiry {text} is not a date like 30JUL21{hint}")
    day, month, year = (
        int(match.group(1)),
        MONTHS.index(match.group(2)) + 1,
        2000 + int(match.group(3)),
    )
    last_day = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last_day:
        raise InstrumentError(
            f"{name!r}: expiry {text} is not a real date "
            f"({match.group(2)} {year} has days 1 to {last_day})"
        )
    expiry = datetime(year, month, day, EXPIRY_HOUR_UTC, tzinfo=UTC)
    return expiry, f"{day}{match.group(2)}{match.group(3)}"


def _strike(name: str, text: str) -> tuple[float, str]:
    """``2800`` -> 2800.0, ``0d625`` -> 0.625; also return the canonical spelling."""
    match = _STRIKE.fullmatch(text)
    if match is None:
        raise InstrumentError(
            f"{name!r}: strike {text!r} is not a number like 2800 or 0d625 (d = decimal point)"
        )
    whole = match.group(1).lstrip("0") or "0"
    frac = (match.group(2) or "").rstrip("0")
    strike = float(f"{whole}.{frac or '0'}")
    if not 0.0 < strike < math.inf:
        raise InstrumentError(f"{name!r}: strike {text!r} must be a positive, finite number")
    return strike, f"{whole}d{frac}" if frac else whole


def _option_type(name: str, text: str) -> OptionType:
    """``C`` -> "call", ``P`` -> "put"."""
    if text == "C":
        return "call"
    if text == "P":
        return "put"
    raise InstrumentError(f"{name!r}: option type {text!r} must be C or P")
