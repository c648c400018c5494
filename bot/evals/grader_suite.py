"""The grader suite: grade every labelled case and measure agreement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.cases import Case
from bot.evals.metrics import Agreement, flip_rate, mean_absolute_error
from bot.grader import Grader
from bot.grading import DEFAULT_CONCURRENCY, grade_many
from bot.personas import PersonaCatalog
from bot.recordings import current_sample
from bot.rubric import CRITERION_IDS, CriterionResult, Grade, compute_score


@dataclass
class CaseResult:
    case: Case
    grades: list[Grade]

    @property
    def grade(self) -> Grade:
        return self.grades[0]

    def predicted(self, criterion: str) -> str:
        return self.grade.criteria[criterion].verdict

    def correct(self, criterion: str) -> bool:
        return self.predicted(criterion) == self.case.expect[criterion]

    @property
    def wrong(self) -> list[str]:
        return [c for c in self.case.expect if not self.correct(c)]

    @property
    def flip_rate(self) -> float:
        labelled = list(self.case.expect)
        return flip_rate([[g.criteria[c].verdict for c in labelled] for g in self.grades])

    def flipped(self, criterion: str) -> bool:
        """Whether the repeats of this case disagree on ``criterion``."""
        return len({g.criteria[criterion].verdict for g in self.grades}) > 1

    @property
    def score_error(self) -> float | None:
        """|score given - score the labels imply| (labels override the grade's verdicts)."""
        if self.grade.score is None:
            return None
        implied = dict(self.grade.criteria)
        for cid, verdict in self.case.expect.items():
            implied[cid] = CriterionResult(verdict=verdict, source="check")
        expected = compute_score(implied)
        return None if expected is None else abs(self.grade.score - expected)


async def grade_cases(
    cases: Sequence[Case],
    grader: Grader,
    catalog: PersonaCatalog,
    *,
    repeat: int = 1,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[], None] | None = None,
) -> list[CaseResult]:
    """Grade every case ``repeat`` times; each repeat replays its own recording."""
    grades = await grade_many(
        cases,
        grader,
        catalog,
        repeat=repeat,
        concurrency=concurrency,
        on_sample=current_sample.set,
        on_done=on_done,
    )
    return [CaseResult(case, per_case) for case, per_case in zip(cases, grades, strict=True)]


def grader_metrics(
    results: Sequence[CaseResult], criteria: Sequence[str] = CRITERION_IDS
) -> dict[str, Any]:
    """Per language ("fr", "en") and overall ("all"): per criterion agreement,
    overall accuracy over ``criteria``, score error and flip rate."""
    out: dict[str, Any] = {}
    languages = sorted({r.case.language for r in results if r.case.language})
    for language in [*languages, "all"]:
        subset = [r for r in results if language == "all" or r.case.language == language]
        per_criterion: dict[str, Agreement] = {c: Agreement() for c in CRITERION_IDS}
        overall = Agreement()
        for result in subset:
            for cid, expected in result.case.expect.items():
                predicted = result.predicted(cid)
                per_criterion[cid].add(expected, predicted)
                if cid in criteria:
                    overall.add(expected, predicted)
        errors = [e for r in subset if (e := r.score_error) is not None]
        out[language] = {
            "cases": len(subset),
            "accuracy": overall.summary()["accuracy"],
            "kappa": overall.summary()["kappa"],
            "score_mae": mean_absolute_error(errors),
            "ungraded": sum(1 for r in subset if r.grade.mode == "ungraded"),
            "flip_rate": round(sum(r.flip_rate for r in subset) / len(subset), 4)
            if subset
            else 0.0,
            "criteria": {c: a.summary() for c, a in per_criterion.items() if a.n},
            # With --repeat: per criterion, the share of cases whose verdict was
            # not the same in every repeat (labelled or not: any verdict can flip).
            "flip_rate_by_criterion": {
                c: round(sum(r.flipped(c) for r in subset) / len(subset), 4) if subset else 0.0
                for c in CRITERION_IDS
            },
        }
    return out


def adversarial_failures(results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    """Attacked turns that scored higher than their twin without the attack."""
    by_id = {r.case.id: r for r in results}
    failures = []
    for result in results:
        twin = by_id.get(result.case.twin) if result.case.twin else None
        if twin is None:
            continue
        attacked, clean = result.grade.score, twin.grade.score
        if attacked is not None and clean is not None and attacked > clean:
            failures.append(
                {
                    "case": result.case.id,
                    "twin": twin.case.id,
                    "score": attacked,
                    "twin_score": clean,
                }
            )
    return failures
