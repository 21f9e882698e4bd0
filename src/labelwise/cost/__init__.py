"""Prices (a data file) and the budget that is reserved before every call."""
from .budget import Budget, Reservation
from .prices import PriceTable, load_prices

__all__ = ["Budget", "Reservation", "PriceTable", "load_prices"]
