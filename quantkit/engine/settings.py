"""Run settings shared by the backtest, sweeps and paper trading (frozen, validated).

Usage::

    s = EngineSettings(fee_bps_taker=5.0, latency_ms=2.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from quantkit.errors import ConfigError

ACCOUNTING_MODES = ("auto", "linear")


@dataclass(frozen=True)
class EngineSettings:
    """Fees (basis points of notional; negative maker = rebate), latency, sampling, accounting.

    ``accounting="auto"`` treats Deribit BTC/ETH perpetuals and futures as inverse and their
    options as coin-quoted; ``"linear"`` treats every instrument as linear (PnL = size x change).
    """

    fee_bps_maker: float = 0.0
    fee_bps_taker: float = 0.0
    latency_ms: float = 0.0
    market_timeout_ms: float = 5_000.0
    equity_interval_ms: float = 60_000.0
    accounting: str = "auto"

    def __post_init__(self) -> None:
        for name in (
            "fee_bps_maker",
            "fee_bps_taker",
            "latency_ms",
            "market_timeout_ms",
            "equity_interval_ms",
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.latency_ms < 0:
            raise ConfigError(f"latency_ms must be >= 0, got {self.latency_ms}")
        if self.market_timeout_ms < 0:
            raise ConfigError(f"market_timeout_ms must be >= 0, got {self.market_timeout_ms}")
        if self.equity_interval_ms <= 0:
            raise ConfigError(f"equity_interval_ms must be > 0, got {self.equity_interval_ms}")
        if self.fee_bps_taker < 0:
            raise ConfigError(
                f"fee_bps_taker must be >= 0 (only maker fees may be rebates), "
                f"got {self.fee_bps_taker}"
            )
        if self.accounting not in ACCOUNTING_MODES:
            raise ConfigError(
                f"accounting must be one of {ACCOUNTING_MODES}, got {self.accounting!r}"
            )

    @property
    def sample_ns(self) -> int:
        """Equity sampling interval in ns."""
        return int(self.equity_interval_ms * 1_000_000)

    def as_array(self) -> np.ndarray:
        """The vector the jitted driver reads: latency ns, timeout ns, fees bps, sample ns."""
        return np.array(
            [
                round(self.latency_ms * 1e6),
                round(self.market_timeout_ms * 1e6),
                self.fee_bps_maker,
                self.fee_bps_taker,
                self.sample_ns,
            ],
            dtype=np.float64,
        )
