"""Agreement between the grader's verdicts and human labels.

Per criterion (and language): accuracy, precision and recall of each verdict
class, and Cohen's kappa over the three classes (agreement beyond chance: 1 is
perfect, 0 is what guessing from the label frequencies gives).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

VERDICTS = ("met", "missed", "na")


@dataclass
class Agreement:
    """Expected vs predicted verdicts for one criterion (or all of them)."""

    pairs: list[tuple[str, str]] = field(default_factory=list)

    def add(self, expected: str, predicted: str) -> None:
        self.pairs.append((expected, predicted))

    @property
    def n(self) -> int:
        return len(self.pairs)

    @property
    def accuracy(self) -> float | None:
        if not self.pairs:
            return None
        return sum(e == p for e, p in self.pairs) / len(self.pairs)

    def precision(self, verdict: str) -> float | None:
        predicted = [e for e, p in self.pairs if p == verdict]
        return sum(e == verdict for e in predicted) / len(predicted) if predicted else None

    def recall(self, verdict: str) -> float | None:
        actual = [p for e, p in self.pairs if e == verdict]
        return sum(p == verdict for p in actual) / len(actual) if actual else None

    @property
    def kappa(self) -> float | None:
        if not self.pairs:
            return None
        n = len(self.pairs)
        observed = sum(e == p for e, p in self.pairs) / n
        expected_counts = Counter(e for e, _ in self.pairs)
        predicted_counts = Counter(p for _, p in self.pairs)
        chance = sum(expected_counts[v] * predicted_counts[v] for v in VERDICTS) / (n * n)
        if chance >= 1.0:
            return 1.0 if observed >= 1.0 else 0.0
        return (observed - chance) / (1 - chance)

    def confusion(self) -> dict[str, dict[str, int]]:
        """confusion[expected][predicted] = count."""
        table = {e: dict.fromkeys(VERDICTS, 0) for e in VERDICTS}
        for e, p in self.pairs:
            table[e][p] += 1
        return table

    def summary(self) -> dict[str, object]:
        return {
            "n": self.n,
            "accuracy": _round(self.accuracy),
            "kappa": _round(self.kappa),
            "precision": {v: _round(self.precision(v)) for v in ("met", "missed")},
            "recall": {v: _round(self.recall(v)) for v in ("met", "missed")},
            "confusion": self.confusion(),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def mean_absolute_error(errors: Iterable[float]) -> float | None:
    values = list(errors)
    return round(sum(values) / len(values), 2) if values else None


def flip_rate(runs: Sequence[Sequence[str]]) -> float:
    """Share of repeats that disagree with the first run (0 when all agree)."""
    if len(runs) < 2:
        return 0.0
    first = runs[0]
    flips = sum(1 for run in runs[1:] if list(run) != list(first))
    return round(flips / (len(runs) - 1), 4)
