"""The seed run: what ``quantkit backtest`` does with no arguments on the bundled sample.

``gamma_scalp`` long a BTC call, delta-hedged with ``BTC-PERPETUAL``, and ``momentum`` on the
sample's ETH options (trading the options' coin prices), in one pass over the data.

Usage::

    qk.backtest("data/sample_ticks.parquet", strategies=seed_configs())
"""

from __future__ import annotations

from quantkit.engine.strategy import StrategyConfig
from quantkit.strategies.gamma_scalp import gamma_scalp
from quantkit.strategies.momentum import momentum

SEED_BTC_OPTION = "BTC-27DEC24-100000-C"
SEED_ETH_OPTIONS = (
    "ETH-27DEC24-3300-P",
    "ETH-27DEC24-3600-C",
    "ETH-31JAN25-3500-C",
    "ETH-31JAN25-3500-P",
)


def seed_configs() -> list[StrategyConfig]:
    """The two seed strategies configured for the bundled sample's instruments."""
    return [
        gamma_scalp(
            instruments=[SEED_BTC_OPTION],
            option_size=1.0,
            delta_band=0.02,
            hedge_instrument="BTC-PERPETUAL",
        ),
        momentum(instruments=list(SEED_ETH_OPTIONS), span=200, threshold=0.03, size=1.0),
    ]
