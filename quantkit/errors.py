"""quantkit's exceptions: one root, a few clear branches.

::

    QuantkitError                 root; the CLI prints ``error: <message>`` and exits 2
    ├── DataError                 unreadable or invalid tick data (names file, column, row/ts)
    ├── ConfigError               bad option, parameter, strategy name or run.toml key
    │   └── InstrumentError       malformed or unknown instrument name
    ├── KernelError               a jitted kernel reported a status code it cannot continue from
    └── ExchangeError             a venue answered with an error (live trading)
        └── OrderRejected         the venue or the engine refused an order

Usage::

    try:
        qk.data.scan("ticks.parquet")
    except qk.QuantkitError as exc:
        print(exc)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class QuantkitError(Exception):
    """Root of every error quantkit raises on purpose."""


class DataError(QuantkitError):
    """Tick data that cannot be read or does not follow the canonical schema."""


class ConfigError(QuantkitError):
    """A bad option, parameter, strategy name or configuration key."""


class InstrumentError(ConfigError):
    """A malformed or unknown instrument name."""


class KernelError(QuantkitError):
    """A jitted kernel stopped with an error status."""


class ExchangeError(QuantkitError):
    """A venue answered with an error."""


class OrderRejected(ExchangeError):
    """An order was refused by the venue or by the engine."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``.

    >>> did_you_mean("momentm", ["momentum", "gamma_scalp"])
    " (did you mean 'momentum'?)"
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
