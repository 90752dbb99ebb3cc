"""All instances of one strategy in a run: their records, routing table, driver and logs.

Usage (by :class:`quantkit.engine.run.Engine`)::

    g = StrategyGroup(strategy, configs, instruments, settings, instance_ids=[0, 2])
    g.feed(ts, code, known, columns, row0)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba.core.errors import NumbaError

from quantkit.data.times import ns_to_iso
from quantkit.engine.codegen import cache_dir, driver_for
from quantkit.engine.columns import EventColumns
from quantkit.engine.facts import fill_slot_facts
from quantkit.engine.layout import (
    C_EQUITY,
    C_FILLS,
    C_INSTANCE,
    C_ORDERS,
    C_ROW0,
    C_STATUS,
    CTX_DTYPE,
    EQUITY_LOG_DTYPE,
    EV_FILL,
    EV_START,
    EV_TIMER,
    EVENT_COLUMNS,
    FILL_LOG_DTYPE,
    MAX_OPEN,
    MAX_OUT,
    MAX_SLOTS,
    MAX_X,
    N_COUNTERS,
    NO_ROW,
    OE_CANCELLED,
    OE_EXPIRED,
    ORDER_LOG_DTYPE,
    R_BY_VENUE,
    R_MARKET_REST,
    STATUS_TEXT,
)
from quantkit.engine.matching import external_cancel
from quantkit.engine.settings import EngineSettings
from quantkit.engine.strategy import Strategy, StrategyConfig
from quantkit.errors import ConfigError, KernelError, QuantkitError, did_you_mean
from quantkit.jitdefer import reraise_interrupt, take_failure

LOG_CAPACITY = 1 << 16


def in_event_order(log: np.ndarray) -> np.ndarray:
    """Log lines (of several groups) in event order: by row (equity samples, which have none:
    by ts), then instance; each instance's lines keep the order it logged them in.

    Usage: ``fills = in_event_order(np.concatenate([g1_fills, g2_fills]))``
    """
    first = log["row"] if "row" in (log.dtype.names or ()) else log["ts"]
    return log[np.lexsort((log["instance"], first))]  # lexsort is stable


def _uint32(code: np.ndarray) -> np.ndarray:
    """Instrument codes as uint32 (a view of the int32 codes): indexing with an unsigned number
    needs no negative-index handling in the jitted loop."""
    if code.dtype == np.int32 and code.flags.c_contiguous:
        return code.view(np.uint32)
    return np.ascontiguousarray(code, dtype=np.uint32)


class StrategyGroup:
    """The instances of one :class:`Strategy`, advanced together over each batch."""

    def __init__(
        self,
        strategy: Strategy,
        configs: Sequence[StrategyConfig],
        instruments: Sequence[str],
        settings: EngineSettings,
        instance_ids: Sequence[int],
        float_columns: Sequence[str] = (),
        sim: bool = True,
    ) -> None:
        self.strategy = strategy
        self.configs = list(configs)
        self.instruments = list(instruments)
        self.settings = settings
        #: the run-wide number of each instance (its place in the strategies given)
        self.instance_ids = list(instance_ids)
        self.driver = driver_for(
            strategy.on_quote, strategy.on_fill, strategy.on_start, strategy.on_timer
        )
        self.slots = [self._slots_of(c) for c in self.configs]
        self.ctxs = np.zeros(len(configs), dtype=CTX_DTYPE)
        self.params = np.concatenate(
            [c.params_record(s) for c, s in zip(self.configs, self.slots, strict=True)]
        )
        self.states = np.zeros(len(configs), dtype=strategy.state_dtype)
        self._init_ctxs(sim)
        self._build_routes()
        self._check_columns(float_columns)
        self.settings_array = settings.as_array()
        self.more = True  #: events may carry layout.MORE_COLUMNS (the Engine decides)
        #: True when an instance holds an option, else None: the driver then compiles without
        #: the option delta (Black-76) in its equity samples
        self.options = (
            True if any((c["is_call"][: c["n_slots"]] >= 0).any() for c in self.ctxs) else None
        )
        #: True when the strategy has an on_timer hook, else None (its code is then not compiled)
        self.timers = True if strategy.on_timer is not None else None
        # room for everything one event can log: three drains (timer, match, hook) of 64 rounds
        # of MAX_OUT orders + MAX_OPEN fills
        margin = 64 * 3 * (MAX_OPEN + MAX_OUT)
        self.margin = margin
        cap = max(LOG_CAPACITY, 4 * margin)
        self.olog = np.zeros(cap, ORDER_LOG_DTYPE)
        self.flog = np.zeros(cap, FILL_LOG_DTYPE)
        self.elog = np.zeros(max(LOG_CAPACITY, 4 * len(configs)), EQUITY_LOG_DTYPE)
        self.counters = np.zeros(N_COUNTERS, np.int64)
        self.orders: list[np.ndarray] = []
        self.fills: list[np.ndarray] = []
        self.equity: list[np.ndarray] = []

    # ------------------------------------------------------------------ setup
    def _slots_of(self, cfg: StrategyConfig) -> tuple[str, ...]:
        slots = cfg.slots(self.instruments)
        for inst in slots:
            if inst not in self.instruments:
                raise ConfigError(
                    f"strategy {cfg.name!r}: instrument {inst!r} is not in the data"
                    f"{did_you_mean(inst, self.instruments)}"
                )
        if len(slots) > MAX_SLOTS:
            raise ConfigError(
                f"strategy {cfg.name!r} subscribes to {len(slots)} instruments; at most "
                f"{MAX_SLOTS} per instance: pass instruments=[...] or split it into instances"
            )
        return slots

    def _init_ctxs(self, sim: bool) -> None:
        for j, slots in enumerate(self.slots):
            ctx = self.ctxs[j : j + 1]
            ctx["sim"] = 1 if sim else 0
            ctx["instance"] = self.instance_ids[j]
            ctx["n_slots"] = len(slots)
            for name in (
                "q_mid",
                "q_bid",
                "q_ask",
                "q_underlying",
                "q_iv",
                "q_delta",
                "q_gamma",
                "q_vega",
                "q_theta",
                "strike",
                *EVENT_COLUMNS,
            ):
                ctx[name] = np.nan
            ctx["x"] = np.nan
            ctx["timer_held"] = NO_ROW
            codes = [self.instruments.index(s) for s in slots]
            fill_slot_facts(ctx, slots, codes, self.settings.accounting)

    def _build_routes(self) -> None:
        per_code: list[list[tuple[int, int]]] = [[] for _ in self.instruments]
        for j, slots in enumerate(self.slots):
            for s, inst in enumerate(slots):
                per_code[self.instruments.index(inst)].append((j, s))
        counts = np.array([len(r) for r in per_code], dtype=np.int64)
        self.route_ptr = np.zeros(len(per_code) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.route_ptr[1:])
        flat = [pair for r in per_code for pair in r]
        self.slot_of = np.array([r[0][1] if r else -1 for r in per_code], dtype=np.int64)
        self.route_inst = np.array([p[0] for p in flat], dtype=np.int64)
        self.route_slot = np.array([p[1] for p in flat], dtype=np.int64)
        self.max_routes = int(counts.max()) if len(counts) else 0

    def _check_columns(self, float_columns: Sequence[str]) -> None:
        cols = self.strategy.columns
        if len(cols) > MAX_X:
            raise ConfigError(f"strategy {self.strategy.name!r} asks for more than {MAX_X} columns")
        for c in cols:
            if c not in float_columns:
                raise ConfigError(
                    f"strategy {self.strategy.name!r} needs column {c!r}, which the data does not "
                    f"have{did_you_mean(c, float_columns)}"
                )

    # ------------------------------------------------------------------ running
    @property
    def single(self) -> bool:
        """One instance taking each instrument once: the driver's ``replay_one`` loop."""
        return len(self.configs) == 1 and self.max_routes <= 1

    def _replay(
        self,
        ts: np.ndarray,
        code: np.ndarray,
        known: EventColumns,
        extras: np.ndarray | None,
        r: int,
        k: int,
        close: bool = False,
    ) -> tuple[int, int]:
        """One driver call from (row, route) ``(r, k)``; returns where to resume.

        ``code`` is uint32; ``extras`` the strategy's extra columns (None when it has none);
        the optional event columns are passed only when ``self.more`` (set by the Engine).
        """
        more = known.more if self.more else None
        common = (self.ctxs, self.params, self.states, self.settings_array, self.olog)
        logs = (self.flog, self.elog, self.counters)
        if self.single:
            r = self._kernel(
                self.driver.replay_one, ts, code, known.quote, more, known.has_more, extras,
                self.slot_of, *common, *logs, r, self.margin, close, self.options, self.timers,
            )  # fmt: skip
            return r, -1
        return self._kernel(
            self.driver.replay, ts, code, known.quote, more, known.has_more, extras,
            self.route_ptr, self.route_inst, self.route_slot, *common, *logs, r, k, self.margin,
            close, self.options, self.timers,
        )  # fmt: skip

    def warm(self) -> None:
        """Load (or compile) the jitted driver now, with the exact argument types of a run."""
        empty = EventColumns.of({}, 0)
        cols = self.strategy.columns
        extras = np.empty((len(cols), 0), np.float64) if cols else None
        saved = self.counters.copy()
        self._replay(np.empty(0, np.int64), np.empty(0, np.uint32), empty, extras, 0, -1)
        self.counters[:] = saved

    def close(self, t: int) -> None:
        """Take the closing equity sample at ``t`` (through the driver, which has it compiled)."""
        empty = EventColumns.of({}, 0)
        ts = np.array([t], dtype=np.int64)
        cols = self.strategy.columns
        extras = np.empty((len(cols), 1), np.float64) if cols else None
        self._replay(ts, np.zeros(1, np.uint32), empty, extras, 1, -1, close=True)

    def start(self, t0: int) -> None:
        """Call every instance's ``on_start`` (orders are accepted at ``t0``)."""
        if self.strategy.on_start is None:  # what the driver's start() does around a no-op
            self.ctxs["kind"] = EV_START
            self.ctxs["ts"] = t0
            self.ctxs["slot"] = -1
            return
        self._kernel(
            self.driver.start,
            self.ctxs,
            self.params,
            self.states,
            t0,
            -1,
            self.settings_array,
            self.olog,
            self.flog,
            self.counters,
        )
        self._check_status()

    def feed(
        self,
        ts: np.ndarray,
        code: np.ndarray,
        known: EventColumns,
        columns: Mapping[str, np.ndarray],
        row0: int,
    ) -> None:
        """Replay one batch through every instance (flushing the logs whenever they fill up)."""
        cols = self.strategy.columns
        extras = np.ascontiguousarray(np.stack([columns[c] for c in cols])) if cols else None
        self.counters[C_ROW0] = row0
        code = _uint32(code)
        r, k, n = 0, -1, len(ts)
        while r < n:
            r, k = self._replay(ts, code, known, extras, r, k)
            self._check_status()
            self.flush()

    def fire_timers(self, t: int, row: int) -> None:
        """Run every instance's timer due at ``t`` (live trading, between quotes)."""
        if self.timers is None:
            return
        cap = len(self.olog) - self.margin
        self.counters[C_ROW0] = 0
        more = 1
        while more:  # 1: stopped to have the logs flushed
            more = self._kernel(
                self.driver.fire_timers, self.ctxs, self.params, self.states, t, row,
                self.settings_array, self.olog, self.flog, self.counters, cap, cap,
            )  # fmt: skip
            self._check_status()
            self.flush()

    def next_timer(self, row: int) -> int | None:
        """The earliest timer (ns) that ``fire_timers`` at ``row`` or later would run, or None
        (also when the strategy has no ``on_timer``). A timer re-armed not ahead at ``row``
        waits for the next row."""
        if self.timers is None:
            return None
        c = self.ctxs
        at = c["timer_at"][(c["timer_at"] > 0) & (c["timer_held"] != row)]
        return int(at.min()) if len(at) else None

    def external_fill(
        self,
        j: int,
        t: int,
        row: int,
        order_id: int,
        slot: int,
        side: int,
        price: float,
        size: float,
        fee: float,
        maker: bool,
    ) -> None:
        """Deliver a venue-reported fill to instance ``j`` (live trading); ``row`` is global."""
        self.counters[C_ROW0] = 0  # the driver logs C_ROW0 + row
        self._kernel(
            self.driver.external_fill,
            self.ctxs,
            self.params,
            self.states,
            j,
            t,
            row,
            order_id,
            slot,
            side,
            price,
            size,
            fee,
            int(maker),
            self.settings_array,
            self.olog,
            self.flog,
            self.counters,
        )
        self._check_status()

    def external_cancel(self, j: int, t: int, row: int, order_id: int, expired: bool) -> bool:
        """A venue cancelled (or expired) open order ``order_id`` of instance ``j``."""
        self.counters[C_ROW0] = 0
        event, reason = (OE_EXPIRED, R_MARKET_REST) if expired else (OE_CANCELLED, R_BY_VENUE)
        found = self._kernel(
            external_cancel, self.ctxs, j, t, row, order_id, event, reason, self.olog,
            self.counters,
        )  # fmt: skip
        self._check_status()
        return bool(found)

    def flush(self) -> None:
        """Move what the logs hold into Python lists and reset them."""
        c = self.counters
        for log, key, sink in (
            (self.olog, C_ORDERS, self.orders),
            (self.flog, C_FILLS, self.fills),
            (self.elog, C_EQUITY, self.equity),
        ):
            if c[key]:
                sink.append(log[: c[key]].copy())
                c[key] = 0

    def _kernel(self, fn: Any, *args: Any) -> Any:
        """Call jitted ``fn``. An exception while compiling it (a strategy numba cannot
        compile) or while running it (a division by zero, an exception the strategy raises)
        becomes a KernelError naming the strategy and, at run time, the instance and the
        event it was handling (the driver keeps the instance in ``counters[C_INSTANCE]``)."""
        if not fn.signatures:  # compile (or load from the cache) on its own, to tell the two
            try:
                fn.compile(tuple(fn.typeof_pyval(a) for a in args))
            except QuantkitError:
                raise
            except Exception as exc:
                caches = os.environ.get("NUMBA_CACHE_DIR") or (
                    "quantkit's __pycache__/*.nbi, *.nbc files"
                )
                hint = "" if isinstance(exc, NumbaError) else (
                    f" (if the strategy is not at fault, a damaged cache is: delete "
                    f"{cache_dir()} and {caches})"
                )  # fmt: skip
                raise KernelError(
                    f"strategy {self.strategy.name!r} does not compile with numba: "
                    f"{_describe(exc)}{hint}"
                ) from exc
        take_failure()  # (a leftover of jitted code called outside the engine is not ours)
        try:
            return fn(*args)
        except QuantkitError:
            raise
        except Exception as exc:
            failure = take_failure()  # loading a helper failed, not the strategy
            if failure is not None:
                raise KernelError(
                    f"the engine's order helpers could not be loaded: {_describe(failure)}"
                ) from failure
            reraise_interrupt()  # interrupted twice: waiting for the helpers, then compiling
            raise KernelError(f"{self._where()}: {_describe(exc)}") from exc

    def _where(self) -> str:
        """``strategy 'label' <event>``: the instance the driver was running and its event."""
        j = int(self.counters[C_INSTANCE])
        if not 0 <= j < len(self.configs):
            return f"strategy {self.strategy.name!r}"
        ctx, slots = self.ctxs[j], self.slots[j]
        kind = int(ctx["kind"])
        slot = int(ctx["fill_slot" if kind == EV_FILL else "slot"])
        known = 0 <= slot < len(slots)
        at = f"at ts {ns_to_iso(int(ctx['ts']))}"
        if kind == EV_START:
            at = "in on_start"
        elif kind == EV_TIMER:
            at += ", in its timer"
        elif kind == EV_FILL:
            at += f", in a fill of {slots[slot]}" if known else ", in a fill"
        elif known:
            at += f" on {slots[slot]}"
        return f"strategy {self.configs[j].name!r} {at}"

    def _check_status(self) -> None:
        status = int(self.counters[C_STATUS])
        if status:
            raise KernelError(f"strategy {self.strategy.name!r}: {STATUS_TEXT.get(status, status)}")

    def params_of(self, j: int) -> dict[str, Any]:
        """The parameters of instance ``j`` as given (instrument params as names)."""
        return dict(self.configs[j].params)


def _describe(exc: Exception) -> str:
    """``Type: message`` of an exception from numba or jitted code. In numba's own messages the
    record type names (which list every field of ``ctx``) are shortened to ``Record(...)``."""
    text = str(exc).strip()
    if not isinstance(exc, NumbaError):
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    out, i = [], 0
    while (start := text.find("Record(", i)) >= 0:
        depth, end = 0, -1
        for j in range(start + len("Record"), len(text)):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if depth == 0:
                end = j + 1
                break
        if end < 0:  # unbalanced: leave the rest as it is
            break
        out.append(text[i:start] + "Record(...)")
        i = end
    return ("".join(out) + text[i:]) or type(exc).__name__
