"""Gold questions as an early warning: the annotator's accuracy on the gold items of its own
stream, with an exact interval, tested against a target while the run goes on.

Gold items look exactly like the others (same template, no mark in the prompt; a mixed-in gold
file's ids are namespaced only in the database), so the annotator cannot treat them apart.
After each gold answer the one-sided Clopper–Pearson upper bound on accuracy (confidence
1 - delta) is compared with the target: once it falls below, the annotator is shown, at that
confidence, to be worse than required, and the watch says so -- the run then warns or stops
before its next paid call (``gold.action``). An errored answer counts as wrong.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..routing.bounds import clopper_pearson_upper


def same_label(label: Any, gold: Any, as_sets: bool = False) -> bool:
    """An answer matches gold: equal labels (a NER tag sequence tag by tag); ``as_sets`` for
    multi-label, where a label set's order means nothing."""
    if isinstance(label, (list, tuple)) and isinstance(gold, (list, tuple)):
        return set(label) == set(gold) if as_sets else list(label) == list(gold)
    return label == gold


def accuracy_bounds(correct: int, n: int, delta: float) -> tuple[float, float]:
    """One-sided (1 - delta) Clopper–Pearson lower and upper bounds on accuracy; (0, 1) for n = 0."""
    if n == 0:
        return 0.0, 1.0
    return 1.0 - clopper_pearson_upper(n - correct, n, delta), clopper_pearson_upper(correct, n, delta)


@dataclass
class GoldWatch:
    target: float
    delta: float = 0.05
    min_items: int = 10
    as_sets: bool = False
    n: int = 0
    correct: int = 0

    def add(self, label: Any, gold: Any, error: str | None = None) -> None:
        self.n += 1
        self.correct += int(error is None and label is not None and same_label(label, gold, self.as_sets))

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    def bounds(self) -> tuple[float, float]:
        return accuracy_bounds(self.correct, self.n, self.delta)

    def below_target(self) -> bool:
        """Shown worse than the target: the upper bound is below it (after ``min_items`` answers)."""
        return self.n >= self.min_items and self.bounds()[1] < self.target

    def message(self) -> str:
        lo, hi = self.bounds()
        acc = "-" if self.accuracy is None else f"{self.accuracy:.0%}"
        return (f"gold questions: {self.correct} of {self.n} right ({acc}); accuracy is between {lo:.0%} and "
                f"{hi:.0%} with {1 - self.delta:.0%} confidence each side, target {self.target:.0%}")

    def as_json(self) -> dict[str, Any]:
        lo, hi = self.bounds()
        return {"n": self.n, "correct": self.correct, "accuracy": self.accuracy, "lower": lo, "upper": hi,
                "target": self.target, "delta": self.delta, "below_target": self.below_target()}
