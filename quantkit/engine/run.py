"""The engine: several strategies advanced together over the same events.

An instrument table fixes the global code of each instrument; every strategy instance gets slots
for the instruments it subscribed to, and a routing table per strategy delivers each event only
to the instances that asked for its instrument. Instances share market data, never positions.

Usage::

    eng = Engine([momentum(span=50)], instruments=("BTC-PERPETUAL",), settings=EngineSettings())
    eng.start(t0)
    for batch in scan.batches():
        eng.feed(batch.ts, batch.code, batch.columns)
    eng.finish()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from quantkit.data.schema import OPTIONAL_FLOAT, REQUIRED_FLOAT, SIZE_COLUMNS
from quantkit.data.times import ns_to_iso
from quantkit.engine.columns import EventColumns
from quantkit.engine.group import StrategyGroup
from quantkit.engine.layout import C_STATUS, EVENT_COLUMNS, INVERSE, MORE_COLUMNS
from quantkit.engine.prefetch import has_cache_entries, prefetch
from quantkit.engine.settings import EngineSettings
from quantkit.engine.strategy import StrategyConfig
from quantkit.errors import ConfigError, DataError, KernelError
from quantkit.jitdefer import interrupts_after

#: columns the engine books with (fills, equity, option delta): +-inf is bad data, NaN missing
_FINITE_COLUMNS = ("bid", "ask", "underlying_price", "mark_iv", "delta", "gamma", "vega", "theta")
_FINITE_RULE = "it must be finite (NaN: missing, or an empty side)"
_SIZE_RULE = "a displayed size must be >= 0 (NaN: unknown)"
_INVERSE_RULE = "the price of an inverse contract must be > 0 (an empty side is NaN)"


class Engine:
    """Strategy groups over one instrument table; feed it batches or single events."""

    def __init__(
        self,
        configs: Sequence[StrategyConfig],
        instruments: Sequence[str],
        settings: EngineSettings | None = None,
        float_columns: Sequence[str] = (),
        sim: bool = True,
        more: bool | None = None,
    ) -> None:
        """``float_columns``: the data's numeric columns; ``more``: whether events carry any of
        ``layout.MORE_COLUMNS`` (None: those of ``float_columns`` the run needs; the step API
        passes True). Without them the drivers are compiled without that code."""
        if not configs:
            raise ConfigError("no strategies to run: give at least one")
        self.settings = settings or EngineSettings()
        self.instruments = tuple(instruments)
        #: the instances in the order given: instance ``i`` is ``configs[i]`` in every result
        self.configs = list(_unique_labels(configs))
        self.groups: list[StrategyGroup] = []
        by_strategy: dict[int, list[int]] = {}  # instances of each strategy share one driver
        for i, cfg in enumerate(self.configs):
            by_strategy.setdefault(id(cfg.strategy), []).append(i)
        located: dict[int, tuple[StrategyGroup, int]] = {}
        for ids in by_strategy.values():
            cfgs = [self.configs[i] for i in ids]
            g = StrategyGroup(
                cfgs[0].strategy, cfgs, self.instruments, self.settings, ids, float_columns, sim
            )
            self.groups.append(g)
            located.update((i, (g, j)) for j, i in enumerate(ids))
        #: instance number -> (its group, its row in the group)
        self.instances: list[tuple[StrategyGroup, int]] = [
            located[i] for i in range(len(self.configs))
        ]
        #: codes of the instruments some instance accounts as inverse (None: there are none)
        inverse = np.zeros(len(self.instruments), np.bool_)
        for g in self.groups:
            for ctx in g.ctxs:
                k = int(ctx["n_slots"])
                inverse[ctx["inst_code"][:k][ctx["inst_kind"][:k] == INVERSE]] = True
        self._inverse = inverse if inverse.any() else None
        needed = self.columns_needed()
        if more is None:
            more = any(c in float_columns and c in needed for c in MORE_COLUMNS)
        self.more = more
        # a cold start: the helpers compile in another process while the drivers compile
        entries = {id(g): g.driver.replay_one if g.single else g.driver.replay for g in self.groups}
        prefetch(list(entries.values()))
        # drivers to compile first: a cached one's hooks would wait for the helpers
        for g in sorted(self.groups, key=lambda g: has_cache_entries(entries[id(g)])):
            g.more = more
            g.warm()
        self.rows = 0
        self.last_ts: int | None = None

    def columns_needed(self) -> tuple[str, ...]:
        """Data columns the run reads: what the kernels need, the fill model's touch and sizes,
        and, when an option is subscribed, the option columns (greeks, forward, mark_iv)."""
        cols = set(REQUIRED_FLOAT)
        if any(g.options for g in self.groups):
            cols.update(OPTIONAL_FLOAT[2:])
        for g in self.groups:
            needs = g.strategy.needs
            cols.update(EVENT_COLUMNS if needs is None else needs)
            cols.update(g.strategy.columns)
        return tuple(sorted(cols))

    def start(self, t0: int) -> None:
        """Call ``on_start`` of every strategy instance."""
        with interrupts_after():  # Ctrl-C while an order waited for the engine's helpers
            for g in self.groups:
                g.start(t0)

    def feed(self, ts: np.ndarray, code: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        """Advance every strategy over one batch (ts int64, code int32, float64 columns; of
        ``layout.MORE_COLUMNS`` only those are read when ``more`` is set)."""
        n = len(ts)
        if n == 0:
            return
        self._check_values(ts, code, columns)
        known = EventColumns.of(columns, n)
        with interrupts_after():  # raised once every strategy has the batch
            for g in self.groups:
                g.feed(ts, code, known, columns, self.rows)
            self.rows += n
            self.last_ts = int(ts[-1])

    def _check_values(
        self, ts: np.ndarray, code: np.ndarray, columns: Mapping[str, np.ndarray]
    ) -> None:
        """Values the engine cannot book, as DataErrors naming the first bad event: a price,
        underlying price or greek of +-inf (missing is NaN; a fill or an equity sample would
        be infinite), a negative displayed size (unknown is NaN), and a bid or ask <= 0 of an
        inverse contract (its PnL divides by the price). One pass per column present."""
        for col in _FINITE_COLUMNS:
            x = columns.get(col)
            if x is not None and np.isinf(x).any():
                self._bad_value(ts, code, col, x, np.isinf(x), _FINITE_RULE)
        for col in SIZE_COLUMNS:
            x = columns.get(col)
            if x is not None and (x < 0.0).any():
                self._bad_value(ts, code, col, x, x < 0.0, _SIZE_RULE)
        if self._inverse is None:
            return
        for col in ("bid", "ask"):
            low = columns[col] <= 0.0  # False for NaN
            if low.any():
                bad = low & self._inverse[code]
                if bad.any():
                    self._bad_value(ts, code, col, columns[col], bad, _INVERSE_RULE)

    def _bad_value(
        self, ts: np.ndarray, code: np.ndarray, col: str, x: np.ndarray, bad: np.ndarray, rule: str
    ) -> None:
        """Raise DataError naming the first ``bad`` event: its place in the run, ts, instrument,
        column and value."""
        i = int(np.argmax(bad))
        where = f"counted from 0; ts {ns_to_iso(int(ts[i]))}, {self.instruments[code[i]]}"
        raise DataError(
            f"event {self.rows + i} of the run ({where}): {col} is {float(x[i])}; {rule}"
        )

    def finish(self) -> None:
        """Take the closing equity sample and flush every log."""
        with interrupts_after():
            if self.last_ts is not None:
                for g in self.groups:
                    g.close(self.last_ts)
                    if g.counters[C_STATUS]:
                        raise KernelError("equity log overflow at the end of the run")
            for g in self.groups:
                g.flush()


def _unique_labels(configs: Sequence[StrategyConfig]) -> list[StrategyConfig]:
    seen: dict[str, int] = {}
    out = []
    for cfg in configs:
        name = cfg.name
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            from dataclasses import replace

            cfg = replace(cfg, label=f"{name}#{seen[name]}")
        out.append(cfg)
    return out
