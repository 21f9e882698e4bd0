"""A budget in money, calls and tokens that is reserved before a call and can never be exceeded.

A call reserves its *upper bound* (all prompt bytes as tokens, the full ``max_tokens``) under a
lock, so concurrent calls cannot together overshoot; after the answer the reservation is settled
to the real usage and the difference returns to the pool.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from ..errors import BudgetExhausted


@dataclass(frozen=True)
class Reservation:
    money: float
    calls: int
    tokens: int


class Budget:
    def __init__(self, money: float | None = None, calls: int | None = None, tokens: int | None = None,
                 spent_money: float = 0.0, spent_calls: int = 0, spent_tokens: int = 0) -> None:
        self.limit = {"money": money, "calls": calls, "tokens": tokens}
        self.used = {"money": spent_money, "calls": spent_calls, "tokens": spent_tokens}
        self._lock = threading.Lock()

    def reserve(self, money: float, tokens: int, calls: int = 1) -> Reservation:
        want = {"money": money, "calls": calls, "tokens": tokens}
        with self._lock:
            for k, limit in self.limit.items():
                if limit is not None and self.used[k] + want[k] > limit + 1e-12:
                    raise BudgetExhausted(
                        f"budget for {k} reached: {self._fmt(k, self.used[k])} used of {self._fmt(k, limit)}, "
                        f"the next call may need {self._fmt(k, want[k])}; raise budget.{k} in labelwise.yaml")
            for k in want:
                self.used[k] += want[k]
        return Reservation(money, calls, tokens)

    def settle(self, r: Reservation, money: float, tokens: int) -> None:
        """Replace the reserved upper bound with what the call really used."""
        with self._lock:
            self.used["money"] += money - r.money
            self.used["tokens"] += tokens - r.tokens

    def release(self, r: Reservation) -> None:
        """The call was never answered (error, cancelled): give the reservation back."""
        with self._lock:
            self.used["money"] -= r.money
            self.used["calls"] -= r.calls
            self.used["tokens"] -= r.tokens

    def remaining(self) -> dict[str, float | None]:
        with self._lock:
            return {k: (None if lim is None else lim - self.used[k]) for k, lim in self.limit.items()}

    @staticmethod
    def _fmt(kind: str, v: float) -> str:
        return f"${v:.4f}" if kind == "money" else f"{int(v)} {kind}"
