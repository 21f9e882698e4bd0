"""Exit codes of the commands that spend: one per reason a run ends with work left.

0 done; 1 an unexpected error (a bug: please report it); 2 bad input or config (the message
says what to fix); 3 the budget stopped the run with items pending; 4 the backend kept failing
with items pending; 5 another run holds the project (``--wait`` queues instead); 6 the gold
questions showed the annotator below ``gold.target`` (``gold.action: stop``); 130 interrupted.
"""
from __future__ import annotations

from typing import Any

OK, BUG, BAD_INPUT, BUDGET, BACKEND, LOCKED, GOLD, INTERRUPTED = 0, 1, 2, 3, 4, 5, 6, 130
HELP = ("Exit codes: 0 done; 2 bad input or config; 3 stopped by the budget with items pending; "
        "4 the backend kept failing, items pending; 5 another run holds the project; 6 gold questions below "
        "gold.target; 130 interrupted.")


def exit_for(summary: Any) -> int:
    """The exit code for a finished ``RunSummary``: 0 only when nothing is left pending."""
    if summary.pending <= 0:
        return OK
    return {"budget": BUDGET, "gold": GOLD}.get(summary.stop_cause or "", BACKEND)
