"""The backtest engine: kernel contract, jitted replay, fill model and accounting.

Usage::

    from quantkit.engine import Strategy, BUY, SELL, MARKET, LIMIT, submit, buy_market
"""

from quantkit.engine.accounting import portfolio_delta, portfolio_greek, slot_unrealized
from quantkit.engine.layout import (
    BUY,
    CANCEL,
    EV_FILL,
    EV_QUOTE,
    EV_START,
    EV_TIMER,
    LIMIT,
    MARKET,
    MAX_SLOTS,
    POST_ONLY,
    REDUCE_ONLY,
    SELL,
)
from quantkit.engine.orders import (
    Order,
    OrderType,
    Side,
    buy_limit,
    buy_market,
    cancel,
    cancel_all,
    sell_limit,
    sell_market,
    submit,
)
from quantkit.engine.settings import EngineSettings
from quantkit.engine.strategy import ParamText, Strategy, StrategyConfig
from quantkit.engine.timers import cancel_timer, set_timer

__all__ = [
    "BUY", "CANCEL", "EV_FILL", "EV_QUOTE", "EV_START", "EV_TIMER", "LIMIT", "MARKET", "MAX_SLOTS",
    "POST_ONLY", "REDUCE_ONLY", "SELL", "EngineSettings", "Order", "OrderType", "ParamText", "Side",
    "Strategy", "StrategyConfig", "buy_limit", "buy_market", "cancel", "cancel_all",
    "cancel_timer", "portfolio_delta", "portfolio_greek", "sell_limit", "sell_market",
    "set_timer", "slot_unrealized", "submit",
]  # fmt: skip
