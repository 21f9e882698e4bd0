"""A budget in money, paid requests, bought items and tokens that is reserved before a call
and can never be exceeded, also by several processes on one project.

A call reserves its *upper bound* (all prompt bytes as tokens, the full ``max_tokens``); the
reservation is settled to the real usage in the same transaction that writes the answer to the
ledger. The state lives in the project database (``Store.budget_reserve``): settled spend and
what calls in flight hold. "Spent" always means settled spend; calls in flight are "reserved".

Units: ``requests`` counts paid HTTP requests (one item scored with a probe and 5 sampled votes
is 6), ``items`` counts items that needed at least one paid call, ``money`` and ``tokens`` are
what the backend reported. ``calls`` is the old name of ``requests``.
"""
from __future__ import annotations

from typing import Any

from ..errors import BudgetExhausted

KINDS = ("money", "requests", "items", "tokens")


class Budget:
    def __init__(self, money: float | None = None, requests: int | None = None, tokens: int | None = None,
                 items: int | None = None, *, store: Any = None, calls: int | None = None) -> None:
        self._store = store  # None: kept in the database of the run that uses it (``on``)
        self.limit: dict[str, float | None] = {"money": money, "requests": requests if requests is not None else calls,
                                               "items": items, "tokens": tokens}

    @property
    def store(self) -> Any:
        if self._store is None:  # used on its own, outside any run: an in-memory database
            from ..store import Store
            self._store = Store(":memory:")
        return self._store

    def on(self, store: Any) -> "Budget":
        """The same limits, kept in ``store`` (the engine settles a call in the transaction that
        writes it to that store's ledger, so the budget must live there)."""
        if self._store is store:
            return self
        b = Budget(store=store)
        b.limit = dict(self.limit)
        return b

    def reserve(self, money: float = 0.0, tokens: int = 0, requests: int = 0, items: int = 0) -> int:
        """Hold the upper bound of one call (or one item); BudgetExhausted if it would not fit."""
        rid, over = self.store.budget_reserve(self.limit, {"money": money, "requests": requests, "items": items,
                                                           "tokens": tokens})
        if rid is None:
            raise BudgetExhausted(self._message(over), **over)
        return rid

    def extend(self, reservation: int, money: float = 0.0, tokens: int = 0, requests: int = 0) -> None:
        """Hold more for a call already reserved (it needs more requests than first bounded)."""
        _, over = self.store.budget_reserve(self.limit, {"money": money, "requests": requests, "tokens": tokens},
                                            extend=reservation)
        if over:
            raise BudgetExhausted(self._message(over), **over)

    def release(self, reservation: int) -> None:
        """The call was never answered (error, cancelled): give the reservation back."""
        self.store.budget_release(reservation)

    def overspent(self) -> str | None:
        """A message when settled spend is past a limit (a server billed more than the bound
        it was reserved at), else None: no further call may be sent."""
        spent, _ = self.store.budget_state()
        for k, lim in self.limit.items():
            if lim is not None and spent[k] > lim + 1e-9:
                return (f"budget.{k} exceeded by {_fmt(k, spent[k] - lim)}: {_fmt(k, spent[k])} spent of "
                        f"{_fmt(k, lim)} (the backend billed more than the bound each call reserved); no further "
                        "call is sent")
        return None

    def remaining(self) -> dict[str, float | None]:
        spent, _ = self.store.budget_state()
        return {k: (None if lim is None else lim - spent[k]) for k, lim in self.limit.items()}

    def state(self) -> dict[str, dict[str, float]]:
        spent, held = self.store.budget_state()
        return {"spent": spent, "reserved": held}

    @staticmethod
    def _message(over: dict[str, Any]) -> str:
        k = over["kind"]
        held = f" (+{_fmt(k, over['held'])} reserved by calls in flight)" if over["held"] else ""
        return (f"budget for {k} reached: {_fmt(k, over['spent'])} spent{held} of {_fmt(k, over['limit'])}, "
                f"the next call may need up to {_fmt(k, over['want'])}; raise budget.{k} in labelwise.yaml")


def _fmt(kind: str, v: float) -> str:
    return f"${v:.4f}" if kind == "money" else f"{int(v)} {kind}"
