"""The project database: records, annotations, the response cache and the ledger."""
from .cache import cache_key
from .database import Store

__all__ = ["Store", "cache_key"]
