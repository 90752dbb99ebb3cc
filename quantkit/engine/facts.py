"""Instrument facts the kernels need per slot, taken from quantkit.instruments.

Names that parse as Deribit instruments get their contract spec (tick, contract size, inverse or
coin-quoted, strike, expiry); any other name is a plain linear instrument (tick and contract size
NaN/1). ``accounting="linear"`` makes every instrument linear.

Usage::

    fill_slot_facts(ctx_view, ["BTC-PERPETUAL"], [0], "auto")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quantkit.engine.layout import COIN_QUOTED, INVERSE, LINEAR
from quantkit.errors import InstrumentError
from quantkit.instruments import parse, spec


@dataclass(frozen=True)
class SlotFacts:
    """What the engine knows of one instrument."""

    kind: int
    contract_size: float
    tick_size: float
    strike: float
    expiry_ns: int
    is_call: int
    underlying: str


def facts_for(name: str, accounting: str = "auto") -> SlotFacts:
    """Facts for instrument ``name`` (Deribit names get their spec; others are linear)."""
    try:
        inst = parse(name)
        sp = spec(name)
    except InstrumentError:
        return SlotFacts(LINEAR, 1.0, math.nan, math.nan, 0, -1, name)
    kind = LINEAR
    if accounting == "auto" and sp.inverse:
        kind = COIN_QUOTED if sp.kind == "option" else INVERSE
    is_call = -1 if sp.option_type is None else int(sp.option_type == "call")
    return SlotFacts(
        kind=kind,
        contract_size=float(sp.contract_size),
        tick_size=float(sp.tick_size),
        strike=float(sp.strike) if sp.strike is not None else math.nan,
        expiry_ns=int(sp.expiry_ns or 0),
        is_call=is_call,
        underlying=inst.base,
    )


def fill_slot_facts(
    ctx: np.ndarray, slots: Sequence[str], codes: Sequence[int], accounting: str
) -> None:
    """Write the facts of ``slots`` into the one-element ctx array ``ctx``."""
    underlyings: dict[str, int] = {}
    for s, (name, code) in enumerate(zip(slots, codes, strict=True)):
        f = facts_for(name, accounting)
        ctx["inst_code"][0, s] = code
        ctx["inst_kind"][0, s] = f.kind
        ctx["contract_size"][0, s] = f.contract_size
        ctx["tick_size"][0, s] = f.tick_size
        ctx["strike"][0, s] = f.strike
        ctx["expiry_ns"][0, s] = f.expiry_ns
        ctx["is_call"][0, s] = f.is_call
        ctx["underlying_id"][0, s] = underlyings.setdefault(f.underlying, len(underlyings))
