"""Prices (a data file) and the budget that is reserved before every call."""
from .budget import Budget
from .prices import PriceTable, load_prices

__all__ = ["Budget", "PriceTable", "load_prices"]
