"""The mid-price process of synthetic ticks: stochastic volatility plus jumps, per instrument.

Each instrument's log-mid is a driftless random walk, moved on each of its ticks by

* a diffusion step ``sigma * exp(x) * z``. The log-volatility ``x`` of each instrument is a
  mean-reverting (Ornstein-Uhlenbeck) process stepped every ``VOL_STEP_ROWS`` rows: calm
  stretches alternate with bursts of several times the usual volatility that last minutes
  (volatility clustering);
* occasional jumps of a few basis points (median ``JUMP_MEDIAN``, random sign), more frequent
  when the volatility is high (intensity proportional to ``exp(x)``). A share ``OVERSHOOT`` of
  each jump fades away (half-life ``OVERSHOOT_HALF_LIFE_S``), as after a sweep of the book or a
  liquidation; the rest is permanent.

Parameters are per second, so the process looks the same whatever the number of instruments.
The long-run annualized volatility is ``ANNUAL_VOL`` (a share ``JUMP_SHARE`` of the variance
from the permanent part of jumps); over seconds the realized volatility is higher because of
the overshoots, as in real tick data. The state (log-mid, log-vol, overshoot) is carried from
one ``advance`` call to the next: the same random blocks give the same path, however the rows
are later cut into row groups.

Usage::

    process = MidProcess(np.log([60_000.0, 3_000.0]))
    mid = process.advance(rng, code)  # one mid per row; row i moves instrument code[i]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist

import numpy as np
from numba import njit

NS_PER_YEAR = 365.25 * 24 * 3600 * 1e9
MEAN_GAP_NS = 1_000_000.0  # mean exponential inter-arrival between ticks (all instruments)
ANNUAL_VOL = 0.7  # long-run, diffusion and jumps together
JUMP_SHARE = 0.5  # share of the long-run variance that comes from jumps
JUMP_MEDIAN = 6e-4  # median jump size in log-price (6 bp)
JUMP_DISPERSION = 0.3  # log-normal spread of the jump size
OVERSHOOT = 0.5  # share of a jump that reverts
OVERSHOOT_HALF_LIFE_S = 5.0  # how long an overshoot takes to halve
VOL_OF_VOL = 0.7  # stationary standard deviation of the log-volatility
VOL_HALF_LIFE_S = 120.0  # how long a volatility burst takes to halve
VOL_STEP_ROWS = 256  # the log-volatility steps every this many rows (~0.26 s)
JUMP_CANDIDATES = 8.0  # thinning: candidate jumps per expected jump


@cache
def normal_table(size: int = 1 << 16) -> np.ndarray:
    """Quantiles of a standard normal: indexing it with uniform uint16 samples it, fast.

    Usage: ``normal_table()[rng.integers(0, 1 << 16, 10, dtype=np.uint16)]``
    """
    normal = NormalDist()
    return np.array([normal.inv_cdf((i + 0.5) / size) for i in range(size)])


@njit(cache=True)
def _ar1(shocks: np.ndarray, persistence: float, state: np.ndarray) -> np.ndarray:
    """Rows of ``state = persistence * state + shocks[k]`` (``state`` updated in place)."""
    out = np.empty_like(shocks)
    for k in range(shocks.shape[0]):
        for c in range(shocks.shape[1]):
            state[c] = persistence * state[c] + shocks[k, c]
            out[k, c] = state[c]
    return out


@njit(cache=True)
def _log_mid(
    code: np.ndarray,
    burst: np.ndarray,
    draws: np.ndarray,
    normal: np.ndarray,
    jump_rows: np.ndarray,
    jump_sizes: np.ndarray,
    params: np.ndarray,
    log_mid: np.ndarray,
    overshoot: np.ndarray,
) -> np.ndarray:
    """Each row's log quoted mid: permanent part plus fading overshoot (states updated in place).

    Row i moves instrument ``code[i]`` by ``sigma * burst[i // VOL_STEP_ROWS, code[i]] *
    normal[draws[i]]`` plus the jumps of ``jump_rows`` (sorted). ``params``: sigma, overshoot
    share, overshoot persistence per tick.
    """
    sigma, share, fade = params[0], params[1], params[2]
    out = np.empty(code.shape[0])
    j = 0
    for i in range(code.shape[0]):
        c = code[i]
        jump = 0.0
        while j < jump_rows.shape[0] and jump_rows[j] == i:
            jump += jump_sizes[j]
            j += 1
        step = sigma * burst[i // VOL_STEP_ROWS, c] * normal[draws[i]]
        log_mid[c] += step + (1.0 - share) * jump
        overshoot[c] = fade * overshoot[c] + share * jump
        out[i] = log_mid[c] + overshoot[c]
    return out


@dataclass(frozen=True)
class ProcessParams:
    """Per-tick and per-vol-step parameters derived from the per-second constants above.

    Usage: ``ProcessParams.for_instruments(2).jumps_per_row``
    """

    sigma: float  # diffusion per tick of one instrument, at log-vol 0
    vol_persistence: float  # log-vol AR(1) coefficient per vol step
    vol_scale: float  # log-vol innovation per vol step
    jumps_per_row: float  # expected jumps per row (at average volatility)
    fade: float  # overshoot AR(1) coefficient per tick of one instrument

    @classmethod
    def for_instruments(cls, count: int) -> ProcessParams:
        """Parameters when ``count`` instruments share the tick stream.

        Usage: ``ProcessParams.for_instruments(1).sigma``
        """
        tick_s = count * MEAN_GAP_NS / 1e9  # mean time between ticks of one instrument
        variance = ANNUAL_VOL**2 * tick_s * 1e9 / NS_PER_YEAR  # long-run, per tick
        jump_square = JUMP_MEDIAN**2 * math.exp(2 * JUMP_DISPERSION**2)  # E[J^2]
        permanent = (1 - OVERSHOOT) ** 2 * jump_square  # long-run variance of one jump
        step = 0.5 ** (VOL_STEP_ROWS * MEAN_GAP_NS / 1e9 / VOL_HALF_LIFE_S)
        return cls(
            # E[exp(2x)] = exp(2 VOL_OF_VOL^2): the diffusion keeps its share on average
            sigma=math.sqrt((1 - JUMP_SHARE) * variance) / math.exp(VOL_OF_VOL**2),
            vol_persistence=step,
            vol_scale=VOL_OF_VOL * math.sqrt(1 - step**2),
            jumps_per_row=JUMP_SHARE * variance / permanent,  # each row is a tick
            fade=0.5 ** (tick_s / OVERSHOOT_HALF_LIFE_S),
        )


class MidProcess:
    """The running log-mid, log-vol and overshoot of every instrument; ``advance`` moves them.

    Usage: ``MidProcess(np.log([60_000.0, 3_000.0])).advance(rng, code)``
    """

    def __init__(self, log_mid: np.ndarray) -> None:
        self.log_mid = np.array(log_mid, dtype=np.float64)
        self.log_vol = np.zeros(len(self.log_mid))
        self.overshoot = np.zeros(len(self.log_mid))
        self.params = ProcessParams.for_instruments(len(self.log_mid))
        self._kernel = np.array([self.params.sigma, OVERSHOOT, self.params.fade])

    def advance(self, rng: np.random.Generator, code: np.ndarray) -> np.ndarray:
        """Mids of the next ``len(code)`` rows, a whole number of ``VOL_STEP_ROWS``."""
        n = len(code)
        if n % VOL_STEP_ROWS:
            raise ValueError(f"advance() takes whole vol steps of {VOL_STEP_ROWS} rows, got {n}")
        burst = np.exp(self._log_vols(rng, n // VOL_STEP_ROWS))
        rows, sizes = self._jumps(rng, code, burst)
        draws = rng.integers(0, 1 << 16, n, dtype=np.uint16)
        log_mid = _log_mid(code, burst, draws, normal_table(), rows, sizes, self._kernel,
                           self.log_mid, self.overshoot)  # fmt: skip
        return np.exp(log_mid, out=log_mid)

    def _log_vols(self, rng: np.random.Generator, steps: int) -> np.ndarray:
        """(steps, instruments) log-vols, each instrument an AR(1) continuing from its state."""
        shocks = rng.standard_normal((steps, len(self.log_vol)))
        shocks *= self.params.vol_scale
        return _ar1(shocks, self.params.vol_persistence, self.log_vol)

    def _jumps(
        self, rng: np.random.Generator, code: np.ndarray, burst: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sorted jump rows and log sizes: candidates thinned by the row's volatility burst."""
        n = len(code)
        rate = min(1.0, self.params.jumps_per_row * JUMP_CANDIDATES)
        rows = np.sort(rng.integers(0, n, rng.binomial(n, rate)))
        level = burst[rows // VOL_STEP_ROWS, code[rows]]
        keep = rng.random(len(rows)) * JUMP_CANDIDATES * math.exp(VOL_OF_VOL**2 / 2) < level
        sizes = JUMP_MEDIAN * np.exp(JUMP_DISPERSION * rng.standard_normal(len(rows)))
        sizes *= np.where(rng.random(len(rows)) < 0.5, -1.0, 1.0)
        return rows[keep], sizes[keep]
