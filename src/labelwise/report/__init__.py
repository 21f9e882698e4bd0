"""The HTML report of active-learning runs (plots inline) and the JSON of its figures."""
from .aggregate import aggregate_rounds
from .html import write_report

__all__ = ["aggregate_rounds", "write_report"]
