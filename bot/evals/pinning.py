"""Pinning: the thresholds a run must meet, and flips against the last accepted run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import EvalError
from bot.evals.grader_suite import CaseResult
from bot.rubric import CRITERIA_BY_ID


class GraderThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Minimum accuracy per criterion, in each language.
    criteria: dict[str, float] = Field(default_factory=dict)
    #: Minimum accuracy over the pinned criteria, in each language.
    accuracy: float = 0.0
    max_score_mae: float | None = None
    max_ungraded: int | None = None
    #: An attacked turn must never score higher than its twin.
    adversarial: bool = True


class PersonaThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mood_direction: float = 1.0
    max_violations: int = 0
    #: The share of personas for which the mediocre trainee ends worse the
    #: harder the difficulty (offline only: the scripts the suite plays there).
    difficulty_ordered: float = 1.0


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grader_checks: GraderThresholds = Field(alias="grader-checks")
    grader_llm: GraderThresholds = Field(alias="grader-llm")
    personas_offline: PersonaThresholds = Field(alias="personas-offline")
    personas_llm: PersonaThresholds = Field(alias="personas-llm")

    def for_suite(self, suite: str) -> GraderThresholds | PersonaThresholds:
        value: GraderThresholds | PersonaThresholds = getattr(self, suite.replace("-", "_"))
        return value


def load_thresholds(path: Path) -> Thresholds:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        thresholds = Thresholds.model_validate(data)
    except FileNotFoundError:
        raise EvalError(f"{path}: thresholds file not found") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise EvalError(f"{path}: invalid thresholds: {str(exc).splitlines()[0]}") from None
    for suite in ("grader-checks", "grader-llm"):
        unknown = [
            c
            for c in thresholds.for_suite(suite).criteria  # type: ignore[union-attr]
            if c not in CRITERIA_BY_ID
        ]
        if unknown:
            raise EvalError(f"{path}: {suite}: unknown criteria {', '.join(unknown)}")
    return thresholds


def check_grader(
    metrics: dict[str, Any], limits: GraderThresholds, adversarial: list[dict[str, Any]]
) -> list[str]:
    """Human-readable failures; empty means the suite passed."""
    failures: list[str] = []
    for cid in limits.criteria:
        if cid not in metrics.get("all", {}).get("criteria", {}):
            failures.append(f"{cid}: no labelled cases to measure it on")
    for language, m in metrics.items():
        if language == "all":
            continue
        for cid, minimum in limits.criteria.items():
            summary = m["criteria"].get(cid)
            if summary is None:
                continue  # not sampled in this language; measured in the other
            if summary["accuracy"] < minimum:
                failures.append(
                    f"{language} {cid}: accuracy {summary['accuracy']:.3f} < {minimum:.3f}"
                )
        if m["accuracy"] is not None and m["accuracy"] < limits.accuracy:
            failures.append(f"{language}: accuracy {m['accuracy']:.3f} < {limits.accuracy:.3f}")
        if (
            limits.max_score_mae is not None
            and m["score_mae"] is not None
            and m["score_mae"] > limits.max_score_mae
        ):
            failures.append(f"{language}: score error {m['score_mae']} > {limits.max_score_mae}")
        if limits.max_ungraded is not None and m["ungraded"] > limits.max_ungraded:
            failures.append(f"{language}: {m['ungraded']} ungraded > {limits.max_ungraded}")
    if limits.adversarial:
        for item in adversarial:
            failures.append(
                f"{item['case']}: attack scored {item['score']} > "
                f"{item['twin_score']} without it ({item['twin']})"
            )
    return failures


def check_personas(metrics: dict[str, Any], limits: PersonaThresholds) -> list[str]:
    failures = []
    if metrics["mood_direction"] is not None and metrics["mood_direction"] < limits.mood_direction:
        failures.append(
            f"mood moved the right way in {metrics['mood_direction']:.2f} of runs "
            f"< {limits.mood_direction:.2f}"
        )
    if metrics.get("satisfied_unsolved"):
        failures.append(
            f"{metrics['satisfied_unsolved']} polite runs that solved nothing ended satisfied > 0"
        )
    if metrics.get("solved_unsatisfied"):
        failures.append(
            f"{metrics['solved_unsatisfied']} runs that met the goals did not end satisfied > 0"
        )
    if metrics.get("model_failures"):
        failures.append(
            f"{metrics['model_failures']} model calls failed (a reply that never came or an "
            "ungraded turn): check the model server; a recording made so is incomplete"
        )
    difficulty = metrics.get("difficulty")
    if difficulty and difficulty["ordered"] is not None:
        if difficulty["ordered"] < limits.difficulty_ordered:
            failures.append(
                f"the mediocre trainee ended worse the harder the difficulty for "
                f"{difficulty['ordered']:.2f} of personas < {limits.difficulty_ordered:.2f}"
            )
        means = difficulty["by_difficulty"]
        if "easy" in means and "hard" in means and not means["hard"] > means["easy"]:
            failures.append(
                f"hard personas ended no worse than easy ones for the mediocre trainee "
                f"(severity {means['hard']} vs {means['easy']})"
            )
    if metrics["violations"] > limits.max_violations:
        failures.append(
            f"{metrics['violations']} customer lines out of character, revealing "
            f"instructions or coaching > {limits.max_violations}"
        )
    return failures


# --- the last accepted run ------------------------------------------------------------


@dataclass
class Flip:
    case: str
    criterion: str
    was: str
    now: str
    expected: str

    @property
    def worse(self) -> bool:
        return self.was == self.expected and self.now != self.expected


@dataclass
class Baseline:
    path: Path
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Baseline | None:
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise EvalError(f"{path}: unreadable accepted run: {exc}") from None
        return cls(path, data.get("cases", {}))

    def flips(self, results: list[CaseResult]) -> list[Flip]:
        out = []
        for result in results:
            before = self.cases.get(str(result.case.id))
            if before is None:
                continue
            for cid, expected in result.case.expect.items():
                was = before["verdicts"].get(cid)
                now = result.predicted(cid)
                if was is not None and was != now:
                    out.append(Flip(str(result.case.id), cid, was, now, expected))
        return out


def save_baseline(path: Path, results: list[CaseResult], metadata: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cases = {
        str(r.case.id): {
            "verdicts": {cid: r.predicted(cid) for cid in r.case.expect},
            "score": r.grade.score,
        }
        for r in results
    }
    document = {"metadata": metadata, "cases": dict(sorted(cases.items()))}
    path.write_text(
        json.dumps(document, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
