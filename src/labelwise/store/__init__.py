"""The project database (SQLite or PostgreSQL): records, annotations, the response cache, the ledger, claims."""
from .cache import cache_key
from .database import Store

__all__ = ["Store", "cache_key"]
